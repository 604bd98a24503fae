import type { PgMigration } from '../migrations.js';

/** Anomaly alerts (issue 10/10 §4): the same logical table as SQLite's migration 16 (epoch ms as BIGINT). */
export const PG_V16_ALERTS: PgMigration = {
  version: 16,
  name: 'anomaly alerts',
  sql: `
    CREATE TABLE alerts (
      id TEXT COLLATE "C" PRIMARY KEY,
      detector TEXT NOT NULL,
      severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
      status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
      subject_key TEXT COLLATE "C" NOT NULL,
      key_id TEXT COLLATE "C",
      principal_id TEXT COLLATE "C",
      principal_name TEXT,
      source_ip TEXT,
      summary TEXT NOT NULL,
      evidence TEXT NOT NULL,
      events TEXT NOT NULL,
      count INTEGER NOT NULL,
      first_seen BIGINT NOT NULL,
      last_seen BIGINT NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      acknowledged_at BIGINT,
      acknowledged_by TEXT,
      resolved_at BIGINT,
      resolved_by TEXT,
      resolution_note TEXT,
      responses TEXT NOT NULL,
      version INTEGER NOT NULL
    );
    CREATE INDEX alerts_by_created ON alerts (created_at, id);
    CREATE INDEX alerts_active ON alerts (detector, subject_key, last_seen) WHERE status <> 'resolved';
    CREATE INDEX alerts_by_key ON alerts (key_id, created_at);
    CREATE INDEX alerts_by_principal ON alerts (principal_id, created_at);
  `,
};
