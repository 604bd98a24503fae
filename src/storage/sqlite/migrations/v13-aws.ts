import type { Migration } from '../migrations.js';

/**
 * AWS access keys for SigV4 (issue 8). The secret is barrier-wrapped under the root key (SigV4
 * verification needs the secret itself, so a hash cannot do). principal_id is a principal's id or
 * 'root' (the bootstrap root identity), hence no foreign key.
 */
export const V13_AWS: Migration = {
  version: 13,
  name: 'aws',
  sql: `
    CREATE TABLE aws_access_keys (
      access_key_id TEXT PRIMARY KEY,
      principal_id TEXT NOT NULL,
      wrapped_secret BLOB NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
      created_at INTEGER NOT NULL,
      created_by TEXT NOT NULL
    ) STRICT;
    CREATE INDEX aws_access_keys_principal ON aws_access_keys (principal_id);
  `,
};
