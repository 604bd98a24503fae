import type { Migration } from '../migrations.js';

/**
 * AWS key policies (issue 8): one document per key (policy name `default`), and the retiring
 * principal of a grant made through CreateGrant. Key rows are never deleted (Destroyed keys stay),
 * grants are revoked, not deleted, so both reference their rows.
 */
export const V14_AWS_KEY_POLICY: Migration = {
  version: 14,
  name: 'aws key policies',
  sql: `
    CREATE TABLE aws_key_policies (
      key_id TEXT PRIMARY KEY REFERENCES keys (id),
      document TEXT NOT NULL CHECK (length(CAST(document AS BLOB)) <= 32768),
      updated_at INTEGER NOT NULL,
      updated_by TEXT NOT NULL
    ) STRICT;
    CREATE TABLE aws_grant_retirees (
      grant_id TEXT PRIMARY KEY REFERENCES grants (id),
      principal_id TEXT NOT NULL
    ) STRICT;
    CREATE INDEX aws_grant_retirees_principal ON aws_grant_retirees (principal_id);
  `,
};
