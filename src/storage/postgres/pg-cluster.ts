/**
 * Several nodes on one PostgreSQL database (ADR 0012, docs/ha.md):
 *
 * - Change feed: LISTEN on one dedicated connection, channel `keywarden_changes`; publish is
 *   `pg_notify` through the pool after the change committed. The payload is small JSON (schema,
 *   origin node, topic, id): never a value or a secret. When the listening connection drops
 *   (PostgreSQL restarted, network), it reconnects with back-off and, once listening again,
 *   delivers `{ topic: 'all' }`: changes made meanwhile were missed, so every cache is dropped.
 * - Leader lock: a session-level advisory lock held on a second dedicated connection, so it is
 *   freed by PostgreSQL the moment the holder's session ends (process killed, connection lost).
 *   The holder stops calling itself leader as soon as that connection reports an error or end,
 *   and re-checks it (a round trip with a timeout) every time tryAcquire is called (each
 *   scheduler poll); a check that fails or times out drops leadership (fail closed).
 *
 * Both are scoped to the store's schema (`current_schema()`), so stores on separate schemas of one
 * database (tests) neither lead nor invalidate each other.
 */
import pg from 'pg';
import { Listeners, newNodeName, type Change, type ChangeTopic, type Cluster, type ClusterEvent } from '../../cluster/cluster.js';
import type { Db } from './db.js';

export const CHANGES_CHANNEL = 'keywarden_changes';
/** First key of the two-key advisory lock space (the second is hashtext(schema)): 'KW' + 1. */
const LEADER_LOCK_CLASS = 0x4b5701;
/** How long a connection attempt or the leader's live check may take before it counts as lost. */
export const CLUSTER_CONNECT_TIMEOUT_MS = 5_000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;
/** NOTIFY payloads are limited to 8000 bytes; an id too long to send is announced topic-wide. */
const MAX_ID_LENGTH = 512;

interface Wire {
  s: string;
  n: string;
  t: ChangeTopic;
  i?: string;
}

export interface PgClusterOptions {
  url: string;
  db: Db;
}

export class PgCluster implements Cluster {
  readonly node = newNodeName();
  readonly backend = 'postgres' as const;
  readonly #opts: PgClusterOptions;
  onEvent?: (event: ClusterEvent) => void;
  readonly #listeners = new Listeners();
  #schema: string | undefined;
  #listen: pg.Client | undefined;
  #lock: pg.Client | undefined;
  #leader = false;
  #closed = false;
  #started = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectDelay = RECONNECT_MIN_MS;
  /** One lock operation at a time (a poll and a shutdown must not interleave). */
  #lockChain: Promise<unknown> = Promise.resolve();

  constructor(opts: PgClusterOptions) {
    this.#opts = opts;
  }

  #client(): pg.Client {
    const c = new pg.Client({ connectionString: this.#opts.url, keepAlive: true, connectionTimeoutMillis: CLUSTER_CONNECT_TIMEOUT_MS });
    return c;
  }

  readonly feed = {
    publish: async (change: Omit<Change, 'origin'>): Promise<void> => {
      const local: Change = { ...change, origin: this.node };
      queueMicrotask(() => this.#listeners.emit(local));
      if (!this.#started || this.#closed) return;
      const wire: Wire = { s: this.#schema ?? '', n: this.node, t: change.topic as ChangeTopic };
      if (change.id !== undefined && change.id.length <= MAX_ID_LENGTH) wire.i = change.id;
      try {
        await this.#opts.db.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify(wire)]);
      } catch {
        // PostgreSQL unreachable: the other nodes' listening connections broke as well and drop
        // everything when they reconnect; otherwise their cache TTLs bound the staleness.
      }
    },
    subscribe: (l: (c: Change) => void) => this.#listeners.add(l),
  };

  readonly leader = {
    tryAcquire: (): Promise<boolean> => this.#serial(() => this.#tryAcquire()),
    isLeader: (): boolean => this.#leader,
    release: (): Promise<void> => this.#serial(() => this.#release()),
  };

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#connectFeed();
  }

  async #connectFeed(): Promise<void> {
    const c = this.#client();
    c.on('error', () => this.#feedLost(c));
    c.on('end', () => this.#feedLost(c));
    c.on('notification', (msg) => {
      if (msg.channel === CHANGES_CHANNEL && msg.payload !== undefined) this.#deliver(msg.payload);
    });
    try {
      await c.connect();
      this.#schema = (await c.query('SELECT current_schema() AS s')).rows[0]?.s as string;
      await c.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (e) {
      c.end().catch(() => {});
      throw e;
    }
    if (this.#closed) {
      await c.end().catch(() => {});
      return;
    }
    this.#listen = c;
  }

  #deliver(payload: string): void {
    let w: Partial<Wire>;
    try {
      w = JSON.parse(payload) as Partial<Wire>;
    } catch {
      return;
    }
    // Our own changes were delivered locally when published; other schemas are other deployments.
    if (w.s !== this.#schema || w.n === this.node || typeof w.t !== 'string') return;
    this.#listeners.emit({ topic: w.t, origin: String(w.n), ...(typeof w.i === 'string' && { id: w.i }) });
  }

  #feedLost(c: pg.Client): void {
    if (this.#listen !== c) return; // an old connection's late event
    this.#listen = undefined;
    c.end().catch(() => {});
    if (this.#closed) return;
    this.onEvent?.('feed-lost');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== undefined) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connectFeed().then(
        () => {
          this.#reconnectDelay = RECONNECT_MIN_MS;
          if (this.#closed) return;
          this.onEvent?.('feed-restored');
          // Changes made while we were not listening are lost: every cache starts over.
          this.#listeners.emit({ topic: 'all', origin: this.node });
        },
        () => {
          this.#reconnectDelay = Math.min(this.#reconnectDelay * 2, RECONNECT_MAX_MS);
          this.#scheduleReconnect();
        },
      );
    }, this.#reconnectDelay);
    this.#reconnectTimer.unref();
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.#lockChain.then(f);
    this.#lockChain = p.catch(() => undefined);
    return p;
  }

  async #tryAcquire(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      if (this.#lock === undefined) {
        const c = this.#client();
        c.on('error', () => this.#lockLost(c));
        c.on('end', () => this.#lockLost(c));
        this.#lock = c;
        await c.connect();
      }
      const c = this.#lock;
      if (this.#leader) {
        // Still our session, so still our lock: a round trip proves the session is alive.
        await withTimeout(c.query('SELECT 1'), CLUSTER_CONNECT_TIMEOUT_MS);
        return this.#lock === c && this.#leader;
      }
      const r = await withTimeout(
        c.query('SELECT pg_try_advisory_lock($1, hashtext(current_schema())) AS ok', [LEADER_LOCK_CLASS]),
        CLUSTER_CONNECT_TIMEOUT_MS,
      );
      this.#leader = this.#lock === c && r.rows[0]?.ok === true;
      if (this.#leader) this.onEvent?.('leader-acquired');
      return this.#leader;
    } catch {
      if (this.#lock !== undefined) this.#lockLost(this.#lock);
      return false;
    }
  }

  #lockLost(c: pg.Client): void {
    if (this.#lock !== c) return;
    this.#lock = undefined;
    if (this.#leader) this.onEvent?.('leader-lost');
    this.#leader = false;
    // Ending the session frees the lock on the server, should it still be alive.
    c.end().catch(() => {});
  }

  async #release(): Promise<void> {
    const c = this.#lock;
    this.#lock = undefined;
    this.#leader = false;
    if (c !== undefined) await c.end().catch(() => {});
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    await this.leader.release();
    const l = this.#listen;
    this.#listen = undefined;
    if (l !== undefined) await l.end().catch(() => {});
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
