import type { Migration } from '../migrations.js';

/**
 * Key version canaries (issue 9/10 §3; src/keys/canary.ts): one row per key version, written once
 * right after the version. Not secret (a plaintext's hash, a ciphertext, or a random message with
 * its signature / MAC), so it is backed up like any row. No append-only trigger: a changed canary
 * can only make a later check fail (nobody without the key can forge a passing one).
 */
export const V15_CANARIES: Migration = {
  version: 15,
  name: 'key version canaries',
  sql: `
    CREATE TABLE key_canaries (
      key_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('encrypt', 'rsa-oaep', 'sign', 'mac')),
      algorithm TEXT NOT NULL,
      challenge BLOB NOT NULL,
      proof BLOB NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (key_id, version),
      FOREIGN KEY (key_id, version) REFERENCES key_versions (key_id, version)
    ) STRICT;
  `,
};
