import type { PgMigration } from '../migrations.js';

/** Key-compromise incidents: the same table as SQLite's migration 17 (append-only by trigger, one real incident per key). */
export const PG_V17_INCIDENTS: PgMigration = {
  version: 17,
  name: 'incidents',
  sql: `
    CREATE TABLE incidents (
      id TEXT COLLATE "C" PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('key-compromise')),
      key_id TEXT COLLATE "C" NOT NULL REFERENCES keys (id),
      drill BOOLEAN NOT NULL,
      reason TEXT NOT NULL,
      window_start BIGINT NOT NULL,
      created_at BIGINT NOT NULL,
      created_by TEXT NOT NULL,
      successor_id TEXT COLLATE "C",
      request_id TEXT NOT NULL,
      result TEXT NOT NULL,
      report TEXT NOT NULL,
      notification TEXT NOT NULL
    );
    CREATE INDEX incidents_by_created ON incidents (created_at, id);
    CREATE UNIQUE INDEX incidents_one_per_key ON incidents (key_id) WHERE NOT drill;
    CREATE TRIGGER incidents_no_change BEFORE UPDATE OR DELETE ON incidents FOR EACH ROW EXECUTE FUNCTION kw_append_only();
    CREATE TRIGGER incidents_no_truncate BEFORE TRUNCATE ON incidents FOR EACH STATEMENT EXECUTE FUNCTION kw_append_only();
  `,
};
