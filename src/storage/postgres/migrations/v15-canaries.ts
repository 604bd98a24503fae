import type { PgMigration } from '../migrations.js';

/** Key version canaries (issue 9/10 §3), as SQLite's migration 15 (see there). */
export const PG_V15_CANARIES: PgMigration = {
  version: 15,
  name: 'key version canaries',
  sql: `
    CREATE TABLE key_canaries (
      key_id TEXT COLLATE "C" NOT NULL,
      version INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('encrypt', 'rsa-oaep', 'sign', 'mac')),
      algorithm TEXT NOT NULL,
      challenge BYTEA NOT NULL,
      proof BYTEA NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (key_id, version),
      FOREIGN KEY (key_id, version) REFERENCES key_versions (key_id, version)
    );
  `,
};
