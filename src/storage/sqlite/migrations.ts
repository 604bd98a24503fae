/**
 * Versioned, forward-only schema migrations for SQLite. Each migration runs in a transaction with
 * the bump of `schema_migrations`, so a crash never leaves a half-applied version.
 * Contract: NEVER edit a released migration; add a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'seal, tokens, keys, key versions, aliases',
    sql: `
      CREATE TABLE seal_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        type TEXT NOT NULL,
        shares INTEGER NOT NULL,
        threshold INTEGER NOT NULL,
        wrapped_root_key BLOB NOT NULL,
        share_digests TEXT NOT NULL,
        share_check_salt BLOB NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        accessor TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        display_name TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        spec TEXT NOT NULL,
        usage TEXT NOT NULL,
        state TEXT NOT NULL,
        origin TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        primary_version INTEGER NOT NULL,
        tags TEXT NOT NULL
      ) STRICT;
      CREATE INDEX keys_by_created ON keys (created_at, id);
      CREATE TABLE key_versions (
        key_id TEXT NOT NULL REFERENCES keys (id),
        version INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        wrapped_material BLOB NOT NULL,
        PRIMARY KEY (key_id, version)
      ) STRICT;
      CREATE TABLE aliases (
        alias TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES keys (id),
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX aliases_by_key ON aliases (key_id);
    `,
  },
];
