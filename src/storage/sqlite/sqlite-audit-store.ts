/**
 * SQLite implementation of AuditStore over the tables of migration 9. The caller owns the handle:
 * migrations MUST already be applied, and durability comes from synchronous=FULL (a resolved append
 * is on disk). Appends use BEGIN IMMEDIATE, so the next index is read and the batch written under
 * one write lock, even with several connections on the file; the insert trigger refuses any other
 * index as a second line of defence.
 *
 * For a database FILE, appends run on a writer thread with its own connection (audit-writer.ts):
 * better-sqlite3 is synchronous, and a commit with synchronous=FULL blocks its thread for the
 * fsync. On the main thread that would stall every request for milliseconds per batch; on the
 * writer thread requests keep flowing and the events arriving meanwhile form the next batch.
 * Encoding and hashing happen on the main thread (one buffer per batch crosses to the writer),
 * and checkpoint inserts go the same way. A `:memory:` database (tests) is written in-thread.
 */
import type Database from 'better-sqlite3';
import type { AuditAppend, AuditKeyRecord, AuditQuery, AuditRow, AuditSearch, AuditStore, CheckpointRecord } from '../../audit/audit.store.js';
import { encodeLeafText, type AuditEvent } from '../../audit/event.js';
import { sha256Into } from '../../crypto/primitives/index.js';
import { AuditWriter } from './audit-writer.js';
import { writeTx } from './tx.js';

type Row = Record<string, unknown>;
type Purpose = 'checkpoint-signing' | 'hmac';

/** Ledger rows indexed for search per statement (a few ms of work). */
const SEARCH_CHUNK = 2000;

const rowFrom = (r: Row): AuditRow => ({ index: r.idx as number, data: r.data as Buffer, leafHash: r.leaf_hash as Buffer });
const checkpointFrom = (r: Row): CheckpointRecord => ({
  size: r.size as number,
  rootHash: r.root_hash as Buffer,
  time: r.time as number,
  keyId: r.key_id as string,
  signature: r.signature as Buffer,
});
const keyFrom = (r: Row): AuditKeyRecord => ({
  keyId: r.key_id as string,
  wrappedKey: r.wrapped_key as Buffer,
  publicKey: (r.public_key as Buffer | null) ?? null,
  createdAt: r.created_at as number,
});

function prepare(db: Database.Database) {
  return {
    size: db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_events').pluck(),
    read: db.prepare('SELECT idx, data, leaf_hash FROM audit_events WHERE idx >= ? AND idx < ? ORDER BY idx'),
    leafHashes: db.prepare('SELECT leaf_hash FROM audit_events WHERE idx >= ? AND idx < ? ORDER BY idx').pluck(),
    latestCheckpoint: db.prepare('SELECT * FROM audit_checkpoints ORDER BY n DESC LIMIT 1'),
    listCheckpoints: db.prepare('SELECT * FROM audit_checkpoints ORDER BY n'),
    getKey: db.prepare('SELECT * FROM audit_keys WHERE purpose = ?'),
    // The next SEARCH_CHUNK ledger rows not yet in the search table (see search()).
    indexSearch: db.prepare(
      `INSERT INTO audit_search (idx, time, key_id, principal_id, principal_name, operation, outcome)
       SELECT idx, json_extract(j, '$.time'), json_extract(j, '$.keyId'), json_extract(j, '$.principal.id'),
              json_extract(j, '$.principal.name'), json_extract(j, '$.operation'), json_extract(j, '$.outcome')
       FROM (SELECT idx, CASE WHEN json_valid(CAST(data AS TEXT)) THEN CAST(data AS TEXT) ELSE '{}' END AS j FROM audit_events
             WHERE idx > (SELECT COALESCE(MAX(idx), -1) FROM audit_search) ORDER BY idx LIMIT ?)`,
    ),
    insertKey: db.prepare(
      `INSERT OR IGNORE INTO audit_keys (purpose, key_id, wrapped_key, public_key, created_at)
       VALUES (@purpose, @keyId, @wrappedKey, @publicKey, @createdAt)`,
    ),
  };
}

/** A batch of events encoded for the ledger table: leaf data and leaf hashes, from index `first`. */
export interface EncodedBatch {
  first: number;
  /**
   * The leaf data of every event, each preceded by the RFC 9162 leaf prefix byte 0x00 (so that
   * each leaf is hashed in place, without a copy): 1 + `lengths[i]` bytes per event.
   */
  data: Buffer;
  lengths: Uint32Array;
  /** 32 bytes per event. */
  hashes: Buffer;
}

/**
 * Leaf texts are written here first (a batch's size is not known before it is written: measuring
 * each text's UTF-8 length would cost a scan per event), then copied into the batch's own buffer.
 * encodeBatch is synchronous, so one per thread serves every call.
 */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/** Encodes and hashes `events` as the rows from index `first` (on the calling thread): one buffer for the batch. */
export function encodeBatch(events: readonly AuditEvent[], first: number): EncodedBatch {
  const n = events.length;
  const lengths = new Uint32Array(n);
  // Unpooled: each owns its whole ArrayBuffer, so posting the batch to the writer thread moves
  // (`data`, transferred) or copies (`hashes`) just these bytes, not a shared 8 KiB pool slab.
  const hashes = Buffer.allocUnsafeSlow(32 * n);
  let off = 0;
  for (let i = 0; i < n; i++) {
    const t = encodeLeafText(events[i]!, first + i);
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    const room = 1 + (typeof t === 'string' ? 3 * t.length : t.length);
    if (off + room > scratch.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(2 * scratch.length, off + room));
      scratch.copy(bigger, 0, 0, off);
      scratch = bigger;
    }
    scratch[off] = 0; // the RFC 9162 leaf prefix: each leaf is hashed in place
    const len = typeof t === 'string' ? scratch.write(t, off + 1, 'utf8') : t.copy(scratch, off + 1);
    lengths[i] = len;
    sha256Into(scratch.subarray(off, off + 1 + len), hashes, 32 * i);
    off += 1 + len;
  }
  const data = Buffer.allocUnsafeSlow(off);
  scratch.copy(data, 0, 0, off);
  return { first, data, lengths, hashes };
}

/**
 * The insert transaction for an encoded batch on `db` (in-thread, or on the writer thread). It
 * refuses a batch that does not start at the next index (another writer got there first).
 *
 * ONE statement per batch: SQLite cuts the rows out of the batch buffers itself (substr of a BLOB
 * is a BLOB), driven by a JSON array of each leaf's offset and length, instead of a statement run
 * (bindings, two Buffer views) per row from JavaScript. Still one row per event, and the insert
 * trigger still checks every row's index (json_each yields the array in order; were it ever not
 * to, the trigger would refuse the batch: fail closed, never a misplaced row).
 */
export function batchInserter(db: Database.Database): (b: EncodedBatch) => void {
  const size = db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_events').pluck();
  const insert = db.prepare(
    `INSERT INTO audit_events (idx, data, leaf_hash)
     SELECT ? + j.key, substr(?, (j.value >> 24) + 1, j.value & 16777215), substr(?, j.key * 32 + 1, 32)
     FROM json_each(?) AS j`,
  );
  return writeTx(db, (b: EncodedBatch) => {
    const next = size.get() as number;
    if (next !== b.first) throw new Error(`audit batch starts at index ${b.first} but the ledger is at ${next}`);
    // Each leaf as offset * 2^24 + length (< 16 MiB each; offsets stay exact integers far beyond any batch).
    let off = 0;
    let leaves = '[';
    for (let i = 0; i < b.lengths.length; i++) {
      const len = b.lengths[i]!;
      if (len >= 16777216) throw new Error('an audit event is larger than 16 MiB');
      leaves += (i ? ',' : '') + String((off + 1) * 16777216 + len); // past the leaf prefix byte
      off += 1 + len;
    }
    insert.run(b.first, b.data, b.hashes, leaves + ']');
  });
}

const splitHashes = (hashes: Buffer): Buffer[] => Array.from({ length: hashes.length / 32 }, (_, i) => hashes.subarray(i * 32, i * 32 + 32));

/** The in-thread append on `db`: the next index, encoding and insert under one write lock. */
export function auditAppender(db: Database.Database): (events: readonly AuditEvent[]) => AuditAppend {
  const size = db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_events').pluck();
  const insert = batchInserter(db);
  return writeTx(db, (events: readonly AuditEvent[]): AuditAppend => {
    const b = encodeBatch(events, size.get() as number);
    insert(b);
    return { first: b.first, leafHashes: splitHashes(b.hashes) };
  });
}

/** The checkpoint insert on `db` (used in-thread and by the writer thread). */
export function checkpointInserter(db: Database.Database): (c: CheckpointRecord) => void {
  const insert = db.prepare(
    `INSERT INTO audit_checkpoints (n, size, root_hash, time, key_id, signature)
     VALUES ((SELECT COALESCE(MAX(n) + 1, 0) FROM audit_checkpoints), @size, @rootHash, @time, @keyId, @signature)`,
  );
  return (c) => void insert.run({ size: c.size, rootHash: c.rootHash, time: c.time, keyId: c.keyId, signature: c.signature });
}

export class SqliteAuditStore implements AuditStore, AuditSearch {
  readonly #db: Database.Database;
  readonly #q: ReturnType<typeof prepare>;
  readonly #append: (events: readonly AuditEvent[]) => Promise<AuditAppend>;
  readonly #putCheckpoint: (c: CheckpointRecord) => Promise<void>;
  readonly #writer: AuditWriter | undefined;

  /**
   * `db` MUST have migration 9 applied; the caller keeps ownership of the handle. With `path`
   * (the file `db` is open on), appends go through a writer thread; call close() before closing `db`.
   */
  constructor(db: Database.Database, path?: string, auditFsync: 'interval' | 'commit' = 'interval') {
    this.#db = db;
    this.#q = prepare(db);
    if (path !== undefined && path !== ':memory:' && path !== '') {
      const writer = new AuditWriter(path, auditFsync);
      this.#writer = writer;
      // Encoding and hashing stay on this thread (cheap); the thread gets one buffer per batch.
      // The next index is read from this connection when unknown (at start, after a failure):
      // the writer thread refuses a batch that does not start where the table ends.
      // Batches commit in the order sent, so the next index advances as each one is sent; after a
      // failure the batches behind it fail too (wrong start) and the index is read again.
      let next: number | undefined;
      this.#append = async (events) => {
        const b = encodeBatch(events, (next ??= this.#q.size.get() as number));
        next = b.first + events.length;
        try {
          await writer.append(b);
        } catch (e) {
          next = undefined;
          throw e;
        }
        return { first: b.first, leafHashes: splitHashes(b.hashes) };
      };
      this.#putCheckpoint = (c) => writer.putCheckpoint(c);
    } else {
      const append = auditAppender(db);
      const put = checkpointInserter(db);
      this.#append = async (events) => append(events);
      this.#putCheckpoint = async (c) => put(c);
    }
  }

  append(events: readonly AuditEvent[]): Promise<AuditAppend> {
    return this.#append(events);
  }

  /** Stops the writer thread (after the batches already sent). */
  async close(): Promise<void> {
    await this.#writer?.close();
  }

  async read(from: number, to: number): Promise<AuditRow[]> {
    return (this.#q.read.all(from, to) as Row[]).map(rowFrom);
  }

  async leafHashes(from: number, to: number): Promise<Buffer[]> {
    return this.#q.leafHashes.all(from, to) as Buffer[];
  }

  async size(): Promise<number> {
    return this.#q.size.get() as number;
  }

  /**
   * Over the search table of migration 10, first brought up to date with the rows appended since
   * (in chunks, yielding in between, so a long backlog does not stall the event loop). A row whose
   * data are not JSON (tampered) is indexed with nulls: the search still works, verify names it.
   */
  async search(q: AuditQuery): Promise<AuditRow[]> {
    while (this.#q.indexSearch.run(SEARCH_CHUNK).changes === SEARCH_CHUNK) await new Promise((r) => setImmediate(r));
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, ...v: unknown[]) => (where.push(sql), args.push(...v));
    if (q.keyId !== undefined) add('s.key_id = ?', q.keyId);
    if (q.principal !== undefined) add('(s.principal_id = ? OR s.principal_name = ?)', q.principal, q.principal);
    if (q.operation !== undefined) add('s.operation = ?', q.operation);
    if (q.outcome !== undefined) add('s.outcome = ?', q.outcome);
    if (q.since !== undefined) add('s.time >= ?', q.since);
    if (q.until !== undefined) add('s.time <= ?', q.until);
    if (q.before !== undefined) add('s.idx < ?', q.before);
    const sql = `SELECT e.idx, e.data, e.leaf_hash FROM audit_search s JOIN audit_events e ON e.idx = s.idx
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.idx DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, q.limit) as Row[]).map(rowFrom);
  }

  putCheckpoint(c: CheckpointRecord): Promise<void> {
    return this.#putCheckpoint(c);
  }

  async latestCheckpoint(): Promise<CheckpointRecord | undefined> {
    const r = this.#q.latestCheckpoint.get() as Row | undefined;
    return r && checkpointFrom(r);
  }

  async listCheckpoints(): Promise<CheckpointRecord[]> {
    return (this.#q.listCheckpoints.all() as Row[]).map(checkpointFrom);
  }

  getSigningKey(): Promise<AuditKeyRecord | undefined> {
    return this.#getKey('checkpoint-signing');
  }

  putSigningKeyIfAbsent(k: AuditKeyRecord): Promise<AuditKeyRecord> {
    return this.#putKey('checkpoint-signing', k);
  }

  getHmacKey(): Promise<AuditKeyRecord | undefined> {
    return this.#getKey('hmac');
  }

  putHmacKeyIfAbsent(k: AuditKeyRecord): Promise<AuditKeyRecord> {
    return this.#putKey('hmac', k);
  }

  async #getKey(purpose: Purpose): Promise<AuditKeyRecord | undefined> {
    const r = this.#q.getKey.get(purpose) as Row | undefined;
    return r && keyFrom(r);
  }

  async #putKey(purpose: Purpose, k: AuditKeyRecord): Promise<AuditKeyRecord> {
    return writeTx(this.#db, () => {
      this.#q.insertKey.run({ purpose, ...k });
      return keyFrom(this.#q.getKey.get(purpose) as Row);
    })();
  }
}
