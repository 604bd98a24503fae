/**
 * Versioned, forward-only schema migrations for SQLite. Each migration runs in a transaction with
 * the bump of `schema_migrations`, so a crash never leaves a half-applied version.
 * Contract: NEVER edit a released migration; add a new one.
 */
import { V5_USERS } from './migrations/v5-users.js';
import { V6_GRANTS } from './migrations/v6-grants.js';
import { V7_APPROVALS } from './migrations/v7-approvals.js';
import { V8_CLIENT_KEYS } from './migrations/v8-client-keys.js';
import { V9_AUDIT } from './migrations/v9-audit.js';
import { V10_AUDIT_INDEX } from './migrations/v10-audit-index.js';
import { V11_POLICY } from './migrations/v11-policy.js';
import { V12_HSM } from './migrations/v12-hsm.js';
import { V13_AWS } from './migrations/v13-aws.js';
import { V14_AWS_KEY_POLICY } from './migrations/v14-aws-key-policy.js';
import { V15_CANARIES } from './migrations/v15-canaries.js';
import { V16_ALERTS } from './migrations/v16-alerts.js';
import { V17_INCIDENTS } from './migrations/v17-incidents.js';

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
  {
    version: 2,
    name: 'key lifecycle: rotation, deletion window, revocation, usage, import',
    sql: `
      ALTER TABLE keys ADD COLUMN rotation_period_ms INTEGER;
      ALTER TABLE keys ADD COLUMN next_rotation_at INTEGER;
      ALTER TABLE keys ADD COLUMN min_decryption_version INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE keys ADD COLUMN usage_limit INTEGER;
      ALTER TABLE keys ADD COLUMN deletion_at INTEGER;
      ALTER TABLE keys ADD COLUMN destroyed_at INTEGER;
      ALTER TABLE keys ADD COLUMN compromised_at INTEGER;
      ALTER TABLE keys ADD COLUMN revocation_reason TEXT;
      ALTER TABLE keys ADD COLUMN exportable INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE keys ADD COLUMN material_expires_at INTEGER;
      CREATE INDEX keys_by_next_rotation ON keys (next_rotation_at) WHERE next_rotation_at IS NOT NULL;
      CREATE INDEX keys_by_deletion ON keys (deletion_at) WHERE deletion_at IS NOT NULL;
      CREATE INDEX keys_by_material_expiry ON keys (material_expires_at) WHERE material_expires_at IS NOT NULL;
      ALTER TABLE key_versions ADD COLUMN usage_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE key_versions ADD COLUMN last_used_at INTEGER;
      ALTER TABLE key_versions ADD COLUMN public_key BLOB;
      ALTER TABLE key_versions ADD COLUMN destroyed_at INTEGER;
      CREATE TABLE import_tokens (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES keys (id),
        wrapped_private_key BLOB NOT NULL,
        public_key BLOB NOT NULL,
        wrapping_algorithm TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'durable scheduled jobs',
    sql: `
      CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        interval_ms INTEGER NOT NULL,
        next_run_at INTEGER NOT NULL,
        last_run_at INTEGER,
        last_status TEXT,
        last_error TEXT,
        lease_owner TEXT,
        lease_expires_at INTEGER
      ) STRICT;
    `,
  },
  {
    version: 4,
    name: 'principals, client credentials, grants, key creators, revoked tokens, token signing key',
    sql: `
      CREATE TABLE principals (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('service-account', 'user')),
        roles TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE TABLE client_credentials (
        client_id TEXT PRIMARY KEY,
        principal_id TEXT NOT NULL REFERENCES principals(id),
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX client_credentials_principal ON client_credentials (principal_id);
      CREATE TABLE grants (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        principal_id TEXT NOT NULL REFERENCES principals(id),
        operations TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX grants_principal_key ON grants (principal_id, key_id);
      CREATE INDEX grants_key ON grants (key_id);
      CREATE TABLE key_creators (
        key_id TEXT PRIMARY KEY,
        principal_id TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE revoked_tokens (
        jti TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE token_signing_keys (
        slot INTEGER PRIMARY KEY CHECK (slot = 1),
        kid TEXT NOT NULL,
        wrapped_private_key BLOB NOT NULL,
        public_key BLOB NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  V5_USERS,
  V6_GRANTS,
  V7_APPROVALS,
  V8_CLIENT_KEYS,
  V9_AUDIT,
  V10_AUDIT_INDEX,
  V11_POLICY,
  V12_HSM,
  V13_AWS,
  V14_AWS_KEY_POLICY,
  V15_CANARIES,
  V16_ALERTS,
  V17_INCIDENTS,
];
