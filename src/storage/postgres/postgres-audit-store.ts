/**
 * AuditStore over PostgreSQL (the ledger tables of POSTGRES_MIGRATIONS). The ledger stays ONE
 * ordered log across connections and nodes: an append takes a transaction-scoped advisory lock,
 * reads the next index, and inserts the whole batch in one INSERT ... SELECT FROM unnest(...);
 * the insert trigger refuses any other index as a second line of defence. No writer thread: a
 * commit does not block the event loop (the driver is asynchronous), so group commit is simply
 * the caller's batch per transaction. Durability is PostgreSQL's `synchronous_commit` (on by
 * default: the commit is flushed to the WAL before it answers); `auditFsync` does not apply.
 */
import type { AuditAppend, AuditKeyRecord, AuditQuery, AuditRow, AuditSearch, AuditStore, CheckpointRecord } from '../../audit/audit.store.js';
import type { AuditEvent } from '../../audit/event.js';
import { encodeBatch } from '../sqlite/sqlite-audit-store.js';
import type { Db, Row } from './db.js';

type Purpose = 'checkpoint-signing' | 'hmac';

/** Advisory lock keys (arbitrary, fixed): one for the events, one for the checkpoints. */
const EVENTS_LOCK = 0x6b77_0a01;
const CHECKPOINTS_LOCK = 0x6b77_0a02;
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

/** The searchable fields of a ledger row, as UTF-8 bytes (null when absent or not JSON). */
function searchFields(data: Buffer): Array<Buffer | null> {
  let j: Record<string, unknown> = {};
  try {
    const v = JSON.parse(data.toString('utf8')) as unknown;
    if (v !== null && typeof v === 'object') j = v as Record<string, unknown>;
  } catch {
    // a tampered row: indexed with nulls, verify names it
  }
  const p = (j.principal ?? {}) as Record<string, unknown>;
  return [j.time, j.keyId, p.id, p.name, j.operation, j.outcome].map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : null));
}

export class PostgresAuditStore implements AuditStore, AuditSearch {
  constructor(private readonly db: Db) {}

  async append(events: readonly AuditEvent[]): Promise<AuditAppend> {
    return this.db.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [EVENTS_LOCK]);
      // READ COMMITTED: this statement's snapshot is taken after the lock, so it sees every committed batch.
      const first = (await c.query('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM audit_events')).rows[0]!.n as number;
      const b = encodeBatch(events, first);
      const idx: number[] = [];
      const data: Buffer[] = [];
      const hashes: Buffer[] = [];
      let off = 0;
      for (let i = 0; i < b.lengths.length; i++) {
        const end = off + 1 + b.lengths[i]!;
        idx.push(first + i);
        data.push(b.data.subarray(off + 1, end)); // past the leaf prefix byte
        hashes.push(b.hashes.subarray(i * 32, i * 32 + 32));
        off = end;
      }
      await c.query(
        'INSERT INTO audit_events (idx, data, leaf_hash) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) ORDER BY 1',
        [idx, data, hashes],
      );
      return { first, leafHashes: hashes };
    });
  }

  async read(from: number, to: number): Promise<AuditRow[]> {
    return (await this.db.rows('SELECT idx, data, leaf_hash FROM audit_events WHERE idx >= $1 AND idx < $2 ORDER BY idx', [from, to])).map(rowFrom);
  }

  async leafHashes(from: number, to: number): Promise<Buffer[]> {
    return (await this.db.rows('SELECT leaf_hash FROM audit_events WHERE idx >= $1 AND idx < $2 ORDER BY idx', [from, to])).map((r) => r.leaf_hash as Buffer);
  }

  async size(): Promise<number> {
    return (await this.db.row('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM audit_events'))!.n as number;
  }

  /** Brings the search table up to date (chunks parsed here, in JS), then queries it. */
  async search(q: AuditQuery): Promise<AuditRow[]> {
    for (;;) {
      const rows = await this.db.rows(
        'SELECT idx, data FROM audit_events WHERE idx > (SELECT COALESCE(MAX(idx), -1) FROM audit_search) ORDER BY idx LIMIT $1',
        [SEARCH_CHUNK],
      );
      if (rows.length === 0) break;
      const cols: Array<Array<Buffer | null>> = [[], [], [], [], [], []];
      for (const r of rows) searchFields(r.data as Buffer).forEach((v, i) => cols[i]!.push(v));
      // Concurrent searchers may index the same rows: the first one wins.
      await this.db.query(
        `INSERT INTO audit_search (idx, time, key_id, principal_id, principal_name, operation, outcome)
         SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[]) ON CONFLICT (idx) DO NOTHING`,
        [rows.map((r) => r.idx), ...cols],
      );
      if (rows.length < SEARCH_CHUNK) break;
    }
    const where: string[] = [];
    const args: unknown[] = [];
    const p = (v: unknown) => (args.push(typeof v === 'string' ? Buffer.from(v, 'utf8') : v), `$${args.length}`);
    if (q.keyId !== undefined) where.push(`s.key_id = ${p(q.keyId)}`);
    if (q.principal !== undefined) where.push(`(s.principal_id = ${p(q.principal)} OR s.principal_name = ${p(q.principal)})`);
    if (q.operation !== undefined) where.push(`s.operation = ${p(q.operation)}`);
    if (q.outcome !== undefined) where.push(`s.outcome = ${p(q.outcome)}`);
    if (q.since !== undefined) where.push(`s.time >= ${p(q.since)}`);
    if (q.until !== undefined) where.push(`s.time <= ${p(q.until)}`);
    if (q.before !== undefined) where.push(`s.idx < ${p(q.before)}`);
    const sql = `SELECT e.idx, e.data, e.leaf_hash FROM audit_search s JOIN audit_events e ON e.idx = s.idx
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.idx DESC LIMIT ${p(q.limit)}`;
    return (await this.db.rows(sql, args)).map(rowFrom);
  }

  async putCheckpoint(c: CheckpointRecord): Promise<void> {
    await this.db.tx(async (t) => {
      await t.query('SELECT pg_advisory_xact_lock($1)', [CHECKPOINTS_LOCK]);
      await t.query(
        `INSERT INTO audit_checkpoints (n, size, root_hash, time, key_id, signature)
         VALUES ((SELECT COALESCE(MAX(n) + 1, 0) FROM audit_checkpoints), $1, $2, $3, $4, $5)`,
        [c.size, c.rootHash, c.time, c.keyId, c.signature],
      );
    });
  }

  async latestCheckpoint(): Promise<CheckpointRecord | undefined> {
    const r = await this.db.row('SELECT * FROM audit_checkpoints ORDER BY n DESC LIMIT 1');
    return r && checkpointFrom(r);
  }

  async listCheckpoints(): Promise<CheckpointRecord[]> {
    return (await this.db.rows('SELECT * FROM audit_checkpoints ORDER BY n')).map(checkpointFrom);
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
    const r = await this.db.row('SELECT * FROM audit_keys WHERE purpose = $1', [purpose]);
    return r && keyFrom(r);
  }

  /** First writer wins: ON CONFLICT DO NOTHING waits for a concurrent insert of the same purpose. */
  async #putKey(purpose: Purpose, k: AuditKeyRecord): Promise<AuditKeyRecord> {
    await this.db.query(
      'INSERT INTO audit_keys (purpose, key_id, wrapped_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (purpose) DO NOTHING',
      [purpose, k.keyId, k.wrappedKey, k.publicKey, k.createdAt],
    );
    return (await this.#getKey(purpose))!;
  }
}
