import type { Migration } from '../migrations.js';

/**
 * Anomaly alerts (issue 10/10 §4; src/alerts/). Mutable (acknowledge, resolve, folded repeats):
 * every change is a conditional UPDATE on `version`. Evidence, event indexes and responses are JSON.
 */
export const V16_ALERTS: Migration = {
  version: 16,
  name: 'anomaly alerts',
  sql: `
    CREATE TABLE alerts (
      id TEXT PRIMARY KEY,
      detector TEXT NOT NULL,
      severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
      status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
      subject_key TEXT NOT NULL,
      key_id TEXT,
      principal_id TEXT,
      principal_name TEXT,
      source_ip TEXT,
      summary TEXT NOT NULL,
      evidence TEXT NOT NULL,
      events TEXT NOT NULL,
      count INTEGER NOT NULL,
      first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      acknowledged_at INTEGER,
      acknowledged_by TEXT,
      resolved_at INTEGER,
      resolved_by TEXT,
      resolution_note TEXT,
      responses TEXT NOT NULL,
      version INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX alerts_by_created ON alerts (created_at, id);
    CREATE INDEX alerts_active ON alerts (detector, subject_key, last_seen) WHERE status <> 'resolved';
    CREATE INDEX alerts_by_key ON alerts (key_id, created_at);
    CREATE INDEX alerts_by_principal ON alerts (principal_id, created_at);
  `,
};
