/**
 * The PostgreSQL connection layer: a `pg` Pool whose every query first waits for the migrations
 * (the store is built synchronously by openStore; a failed migration rejects every call), BIGINT
 * read back as a JS number (epoch ms and counters stay far below 2^53), and transactions that are
 * retried on serialization failures and deadlocks.
 */
import pg from 'pg';

/** int8 (BIGINT, COUNT(*)) as number instead of string. */
const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export type Row = Record<string, unknown>;
export type Queryable = { query(sql: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number }> };
export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

/** How long a call waits for a pooled connection (connecting, or all of them busy) before it fails. */
export const POOL_WAIT_MS = 10_000;

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

export class Db {
  readonly pool: pg.Pool;
  #ready: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(url: string, max: number) {
    // A request waits at most POOL_WAIT_MS for a connection (PostgreSQL down or unreachable): it
    // fails with a clean 5xx instead of hanging (docs/ha.md, failure modes).
    this.pool = new pg.Pool({ connectionString: url, max, types, connectionTimeoutMillis: POOL_WAIT_MS });
    // An idle client that loses its connection (server restart) must not crash the process.
    this.pool.on('error', () => {});
    // Nor a checked-out one (tx, snapshot, migrations): the pool removes its own error listener
    // while a client is out, and an 'error' event without a listener would kill the process. The
    // failure still reaches the caller (its queries reject), and the pool drops the dead client.
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  set ready(p: Promise<void>) {
    this.#ready = p;
    p.catch(() => {}); // surfaced by the next call
  }

  get ready(): Promise<void> {
    return this.#ready;
  }

  async query(sql: string, params: unknown[] = []): Promise<{ rows: Row[]; rowCount: number }> {
    await this.#ready;
    if (this.#closed) throw new Error('the store is closed');
    const r = await this.pool.query(sql, params);
    return { rows: r.rows as Row[], rowCount: r.rowCount ?? 0 };
  }

  async rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.query(sql, params)).rows;
  }

  async row(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.query(sql, params)).rows[0];
  }

  async changes(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount;
  }

  /** Runs `fn` in one transaction on one pooled connection; retried (whole) on 40001/40P01. */
  async tx<T>(fn: (c: Queryable) => Promise<T>, isolation: Isolation = 'read committed'): Promise<T> {
    await this.#ready;
    if (this.#closed) throw new Error('the store is closed');
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const c: Queryable = {
        query: async (sql, params) => {
          const r = await client.query(sql, params);
          return { rows: r.rows as Row[], rowCount: r.rowCount ?? 0 };
        },
      };
      let broken = false;
      try {
        await client.query(`BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`);
        const result = await fn(c);
        await client.query('COMMIT');
        return result;
      } catch (e) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone: do not hand it back to the pool
        }
        if (attempt < 5 && RETRYABLE.has((e as { code?: string }).code ?? '')) continue;
        throw e;
      } finally {
        client.release(broken);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ready.catch(() => {});
    await this.pool.end();
  }
}

/** The PostgreSQL error code of `e` (SQLSTATE), if any. */
export const pgCode = (e: unknown): string | undefined => (e as { code?: string } | undefined)?.code;
