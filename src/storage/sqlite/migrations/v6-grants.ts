import type { Migration } from '../migrations.js';

/**
 * Grants by tag selector, grant conditions, grant last use; key creator kept with the key (issue 3/10 §3–4).
 *
 * SQLite cannot drop NOT NULL from grants.key_id, so the table is rebuilt (nothing references it).
 * The creator moves from key_creators (written after the key, in a second statement) into
 * keys.created_by, written by the same INSERT as the key, so a crash can no longer lose it.
 */
export const V6_GRANTS: Migration = {
  version: 6,
  name: 'grant selectors and conditions',
  sql: `
    CREATE TABLE grants_v6 (
      id TEXT PRIMARY KEY,
      key_id TEXT,
      tag_selector TEXT,
      principal_id TEXT NOT NULL REFERENCES principals(id),
      operations TEXT NOT NULL,
      conditions TEXT NOT NULL DEFAULT '{}',
      created_by TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER,
      last_used_at INTEGER,
      approval_request_id TEXT,
      CHECK ((key_id IS NULL) <> (tag_selector IS NULL))
    ) STRICT;
    INSERT INTO grants_v6 (id, key_id, principal_id, operations, created_by, created_at, revoked_at)
      SELECT id, key_id, principal_id, operations, created_by, created_at, revoked_at FROM grants;
    DROP TABLE grants;
    ALTER TABLE grants_v6 RENAME TO grants;
    CREATE INDEX grants_principal_key ON grants (principal_id, key_id);
    CREATE INDEX grants_key ON grants (key_id);
    CREATE INDEX grants_selectors ON grants (created_at) WHERE tag_selector IS NOT NULL;

    ALTER TABLE keys ADD COLUMN created_by TEXT;
    UPDATE keys SET created_by = (SELECT c.principal_id FROM key_creators c WHERE c.key_id = keys.id);
    DROP TABLE key_creators;
  `,
};
