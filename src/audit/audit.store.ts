/**
 * Persistence of the audit ledger. Append-only BY CONTRACT: there is no method that updates or
 * deletes an event, a checkpoint or a key, and backends MUST also refuse such writes at the
 * database level (SQLite: triggers that ABORT every UPDATE and DELETE on the ledger tables), so a
 * bug elsewhere cannot rewrite history. Tampering by someone with file access is caught by the
 * verifier (src/audit/verify.ts), not prevented. Every write MUST be durable before its promise
 * resolves. Implemented in src/storage/*; conformance: test/conformance/audit-store.conformance.ts.
 */
import type { AuditEvent } from './event.js';

/** One ledger row: the event at `index`, its leaf data (canonical bytes) and RFC 9162 leaf hash. */
export interface AuditRow {
  index: number;
  data: Buffer;
  leafHash: Buffer;
}

/** A signed tree head (docs/audit-format.md): the first `size` events have Merkle root `rootHash`. */
export interface CheckpointRecord {
  size: number;
  rootHash: Buffer;
  /** Epoch ms. */
  time: number;
  keyId: string;
  /** Ed25519 over the checkpoint message (src/audit/checkpoint.ts). */
  signature: Buffer;
}

/** A ledger key, wrapped by the barrier under the root key. */
export interface AuditKeyRecord {
  keyId: string;
  wrappedKey: Buffer;
  /** SPKI DER of the checkpoint signing key; null for the HMAC key. */
  publicKey: Buffer | null;
  createdAt: number;
}

/** What a committed batch got: the index of its first event and every event's leaf hash, in order. */
export interface AuditAppend {
  first: number;
  leafHashes: Buffer[];
}

export interface AuditStore {
  /**
   * Appends a batch in ONE transaction at the next free indexes (first = the current size, read
   * under the write lock): event i gets index first + i, leaf data `encodeLeaf(event, index)` and
   * leaf hash `leafHash(data)` (src/audit/event.ts, src/audit/merkle.ts). All or nothing; resolves
   * once the transaction is durably committed. Events come from `buildEvent`, so they encode.
   */
  append(events: readonly AuditEvent[]): Promise<AuditAppend>;
  /** The stored rows with from <= index < to, by index. */
  read(from: number, to: number): Promise<AuditRow[]>;
  /** Leaf hashes of the rows with from <= index < to, by index. */
  leafHashes(from: number, to: number): Promise<Buffer[]>;
  /** The next index to be appended (highest stored index + 1; 0 when empty). */
  size(): Promise<number>;

  /** Stores a checkpoint; its size MUST NOT be smaller than any stored checkpoint's (else rejects). */
  putCheckpoint(c: CheckpointRecord): Promise<void>;
  /** The checkpoint stored last. */
  latestCheckpoint(): Promise<CheckpointRecord | undefined>;
  /** Every checkpoint, in the order stored (non-decreasing size). */
  listCheckpoints(): Promise<CheckpointRecord[]>;

  /** The checkpoint signing key (Ed25519), created once. */
  getSigningKey(): Promise<AuditKeyRecord | undefined>;
  /** Stores `k` unless a signing key exists; returns the stored one (first writer wins). */
  putSigningKeyIfAbsent(k: AuditKeyRecord): Promise<AuditKeyRecord>;
  /** The HMAC key for sensitive event values, created once. */
  getHmacKey(): Promise<AuditKeyRecord | undefined>;
  putHmacKeyIfAbsent(k: AuditKeyRecord): Promise<AuditKeyRecord>;
}

/** A search of the ledger (GET /v1/audit/events): every given field must match; newest first. */
export interface AuditQuery {
  keyId?: string;
  /** A principal id or name. */
  principal?: string;
  operation?: string;
  outcome?: 'allow' | 'deny' | 'error';
  /** ISO 8601 UTC times (the events' own format), inclusive. */
  since?: string;
  until?: string;
  /** Only events with index < before (the cursor of the previous page). */
  before?: number;
  limit: number;
}

/** Event search, beside the ledger (SQLite: indexed generated columns over the event data). */
export interface AuditSearch {
  search(q: AuditQuery): Promise<AuditRow[]>;
}
