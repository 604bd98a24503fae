import type { Migration } from '../migrations.js';

/**
 * Policy engine (issue 5/10): the versioned policy document (append-only: a change adds a
 * version, none is ever updated or deleted; no stored version = version 0, the built-in default),
 * the policy scope of keys (classification, environment, protection) and principals (environment).
 */
export const V11_POLICY: Migration = {
  version: 11,
  name: 'policy engine',
  sql: `
    CREATE TABLE policy_versions (
      version INTEGER PRIMARY KEY CHECK (version >= 1),
      document TEXT NOT NULL,
      hash TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      created_by TEXT
    ) STRICT;
    ALTER TABLE keys ADD COLUMN classification TEXT CHECK (classification IN ('public', 'internal', 'confidential', 'restricted'));
    ALTER TABLE keys ADD COLUMN environment TEXT CHECK (environment IN ('dev', 'staging', 'prod'));
    ALTER TABLE keys ADD COLUMN protection TEXT NOT NULL DEFAULT 'software' CHECK (protection IN ('software', 'hsm'));
    ALTER TABLE principals ADD COLUMN environment TEXT CHECK (environment IN ('dev', 'staging', 'prod'));
  `,
};
