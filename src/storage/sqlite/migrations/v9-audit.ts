import type { Migration } from '../migrations.js';

/**
 * The audit ledger (issue 4/10): append-only events, Merkle checkpoints, the checkpoint signing
 * key and the HMAC key. Triggers make the tables append-only for every writer of the file: UPDATE
 * and DELETE abort, events and checkpoints can only be inserted at the next position, and a key,
 * once stored, cannot be replaced (INSERT OR REPLACE deletes without firing DELETE triggers, so
 * the insert triggers close that path too). Someone with raw file access can drop the triggers;
 * the offline verifier (src/audit/verify.ts) catches what they change.
 */
export const V9_AUDIT: Migration = {
  version: 9,
  name: 'audit ledger',
  sql: `
    CREATE TABLE audit_events (
      idx INTEGER PRIMARY KEY CHECK (idx >= 0),
      data BLOB NOT NULL,
      leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
    ) STRICT;
    CREATE TABLE audit_checkpoints (
      n INTEGER PRIMARY KEY CHECK (n >= 0),
      size INTEGER NOT NULL CHECK (size >= 0),
      root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
      time INTEGER NOT NULL,
      key_id TEXT NOT NULL,
      signature BLOB NOT NULL
    ) STRICT;
    CREATE TABLE audit_keys (
      purpose TEXT PRIMARY KEY CHECK (purpose IN ('checkpoint-signing', 'hmac')),
      key_id TEXT NOT NULL,
      wrapped_key BLOB NOT NULL,
      public_key BLOB,
      created_at INTEGER NOT NULL
    ) STRICT;

    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
      BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
      BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
    CREATE TRIGGER audit_events_next_index BEFORE INSERT ON audit_events
      WHEN NEW.idx IS NOT (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_events)
      BEGIN SELECT RAISE(ABORT, 'audit events are appended at the next index only'); END;

    CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
      BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
    CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
      BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
    CREATE TRIGGER audit_checkpoints_next BEFORE INSERT ON audit_checkpoints
      WHEN NEW.n IS NOT (SELECT COALESCE(MAX(n) + 1, 0) FROM audit_checkpoints)
        OR NEW.size < (SELECT COALESCE(MAX(size), 0) FROM audit_checkpoints)
      BEGIN SELECT RAISE(ABORT, 'audit checkpoints are appended in order only'); END;

    CREATE TRIGGER audit_keys_no_update BEFORE UPDATE ON audit_keys
      BEGIN SELECT RAISE(ABORT, 'audit keys are write-once'); END;
    CREATE TRIGGER audit_keys_no_delete BEFORE DELETE ON audit_keys
      BEGIN SELECT RAISE(ABORT, 'audit keys are write-once'); END;
    CREATE TRIGGER audit_keys_write_once BEFORE INSERT ON audit_keys
      WHEN EXISTS (SELECT 1 FROM audit_keys WHERE purpose = NEW.purpose)
      BEGIN SELECT RAISE(IGNORE); END;
  `,
};
