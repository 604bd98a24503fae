import type { Migration } from '../migrations.js';

/**
 * Key-compromise incidents (issue 10/10 §5): one row per playbook run, drills included, with the
 * result (steps, exposure, re-wrap plan) as JSON and the rendered Markdown. Append-only: an
 * incident is a record of what was done, so triggers refuse UPDATE and DELETE. At most one real
 * (non-drill) incident per key: a second run would revoke and replace the key again.
 */
export const V17_INCIDENTS: Migration = {
  version: 17,
  name: 'incidents',
  sql: `
    CREATE TABLE incidents (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('key-compromise')),
      key_id TEXT NOT NULL REFERENCES keys (id),
      drill INTEGER NOT NULL CHECK (drill IN (0, 1)),
      reason TEXT NOT NULL,
      window_start INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      created_by TEXT NOT NULL,
      successor_id TEXT,
      request_id TEXT NOT NULL,
      result TEXT NOT NULL,
      report TEXT NOT NULL,
      notification TEXT NOT NULL
    ) STRICT;
    CREATE INDEX incidents_by_created ON incidents (created_at, id);
    CREATE UNIQUE INDEX incidents_one_per_key ON incidents (key_id) WHERE drill = 0;
    CREATE TRIGGER incidents_no_update BEFORE UPDATE ON incidents
      BEGIN SELECT RAISE(ABORT, 'incidents are append-only'); END;
    CREATE TRIGGER incidents_no_delete BEFORE DELETE ON incidents
      BEGIN SELECT RAISE(ABORT, 'incidents are append-only'); END;
  `,
};
