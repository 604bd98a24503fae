/**
 * Audit sinks (issue 4/10 §5–6): copies of the ledger's events and checkpoints sent OUTSIDE the
 * database — to a SIEM, and as witnesses: a signed checkpoint held elsewhere lets anyone detect
 * that the whole log (checkpoints included) was truncated or rewritten.
 *
 * No sink may slow down or block the ledger, so every sink is a `QueuedSink`: `publish` is a
 * synchronous push onto a bounded in-memory queue; one worker per sink takes batches from its head
 * and hands them to the sink's `SinkTransport`. A failed batch stays at the head and is retried,
 * with exponential back-off, until it succeeds (order is kept; delivery is at-least-once while the
 * process lives). When the queue is full the OLDEST waiting record is dropped and counted: after
 * an outage the most recent history — and the latest checkpoint, which covers everything before
 * it — is what gets through.
 */
import { randomUUID } from '../../crypto/primitives/index.js';
import { checkpointToJson, type Checkpoint, type CheckpointJson } from '../checkpoint.js';
import type { AuditLeaf } from '../event.js';

export const SINK_RECORD_VERSION = 1;

/**
 * What a sink carries. `event` is the leaf as recorded (its `seq` = `index`; sensitive values are
 * already HMACs — sinks never add anything); `correlationId` is the request id, for joining with
 * server logs in a SIEM; `leafHash` (base64) lets a holder check an inclusion proof later.
 */
export type SinkRecord =
  | { v: 1; type: 'event'; index: number; correlationId: string; leafHash: string; event: AuditLeaf }
  | { v: 1; type: 'checkpoint'; checkpoint: CheckpointJson };

export function eventRecord(index: number, event: Omit<AuditLeaf, 'seq'>, leafHash: Buffer): SinkRecord {
  return { v: SINK_RECORD_VERSION, type: 'event', index, correlationId: event.requestId, leafHash: leafHash.toString('base64'), event: { ...event, seq: index } };
}

export function checkpointRecord(c: Checkpoint): SinkRecord {
  return { v: SINK_RECORD_VERSION, type: 'checkpoint', checkpoint: checkpointToJson(c) };
}

export interface SinkStats {
  /** Records waiting, including the batch being sent. */
  queued: number;
  /** Records delivered. */
  sent: number;
  /** Delivery attempts that failed (each is followed by a back-off and a retry). */
  failedAttempts: number;
  /** Records dropped because the queue was full. */
  dropped: number;
  /** The last delivery error (never holds a secret), or null. */
  lastError: string | null;
}

export interface AuditSink {
  readonly name: string;
  /** Never throws, never waits: queues the record (dropping the oldest one if full). */
  publish(record: SinkRecord): void;
  stats(): SinkStats;
  /** Resolves once everything queued so far has been delivered (or the sink is closed). */
  flush(): Promise<void>;
  /** Waits up to `timeoutMs` (default 2000) for the queue to drain, then stops and releases resources. */
  close(timeoutMs?: number): Promise<void>;
}

/** One batch handed to a transport. A failed batch is retried as the same object (same `id`). */
export interface SinkBatch {
  /** Random, stable across retries of this batch (lets a receiver drop duplicates). */
  readonly id: string;
  readonly records: readonly SinkRecord[];
  /** 1 for the first try, 2 for the first retry, ... */
  attempt: number;
}

/** The sink-specific part: deliver one batch or throw (then it is retried). */
export interface SinkTransport {
  send(batch: SinkBatch): Promise<void>;
  close?(): Promise<void>;
}

export interface QueueOptions {
  /** Most records waiting (besides the batch in flight); default 10 000. */
  maxQueue?: number;
  /** Most records per batch; default 100. */
  batchSize?: number;
  /** First back-off after a failure, doubled after each further failure up to `maxBackoffMs`; default 250. */
  initialBackoffMs?: number;
  /** Default 30 000. */
  maxBackoffMs?: number;
}

export const QUEUE_DEFAULTS = { maxQueue: 10_000, batchSize: 100, initialBackoffMs: 250, maxBackoffMs: 30_000 } as const;

/** Back-off before retry number `failures` (1-based): initial · 2^(failures−1), capped. */
export function backoffMs(failures: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 30));
}

/** A FIFO with O(1) push and shift (Array#shift copies the whole array). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(v: T): void {
    this.#items.push(v);
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const v = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return v;
  }

  take(n: number): T[] {
    const out: T[] = [];
    while (out.length < n && this.length > 0) out.push(this.shift() as T);
    return out;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class QueuedSink implements AuditSink {
  readonly name: string;
  readonly #transport: SinkTransport;
  readonly #maxQueue: number;
  readonly #batchSize: number;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #queue = new Fifo<SinkRecord>();
  #inflight: SinkBatch | undefined;
  #running = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #idle: Array<() => void> = [];
  #stats = { sent: 0, failedAttempts: 0, dropped: 0, lastError: null as string | null };

  constructor(name: string, transport: SinkTransport, opts: QueueOptions = {}) {
    this.name = name;
    this.#transport = transport;
    this.#maxQueue = opts.maxQueue ?? QUEUE_DEFAULTS.maxQueue;
    this.#batchSize = opts.batchSize ?? QUEUE_DEFAULTS.batchSize;
    this.#initialMs = opts.initialBackoffMs ?? QUEUE_DEFAULTS.initialBackoffMs;
    this.#maxMs = opts.maxBackoffMs ?? QUEUE_DEFAULTS.maxBackoffMs;
    for (const [k, v] of Object.entries({ maxQueue: this.#maxQueue, batchSize: this.#batchSize, initialBackoffMs: this.#initialMs, maxBackoffMs: this.#maxMs })) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`sink option ${k} must be a positive integer`);
    }
  }

  publish(record: SinkRecord): void {
    if (this.#closed) {
      this.#stats.dropped++;
      return;
    }
    if (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.#stats.dropped++;
    }
    this.#queue.push(record);
    if (!this.#running) {
      this.#running = true;
      // Deliver on a later turn: the publisher (the ledger's commit path) returns at once.
      setImmediate(() => void this.#run());
    }
  }

  stats(): SinkStats {
    return { queued: this.#queue.length + (this.#inflight?.records.length ?? 0), ...this.#stats };
  }

  flush(): Promise<void> {
    if (!this.#running || this.#closed) return Promise.resolve();
    this.#timer?.ref(); // someone waits for delivery: a back-off must not let the process exit under them
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async close(timeoutMs = 2000): Promise<void> {
    if (this.#closed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs).unref()))]);
    clearTimeout(timer);
    this.#closed = true;
    this.#stats.dropped += this.#queue.length;
    this.#queue.take(this.#queue.length);
    this.#cancelBackoff();
    await this.#transport.close?.().catch(() => {});
    this.#settleIdle();
  }

  /** The worker: one batch at a time, in order; a failed batch is retried after a back-off. */
  async #run(): Promise<void> {
    let failures = 0;
    try {
      while (!this.#closed) {
        this.#inflight ??= this.#nextBatch();
        const batch = this.#inflight;
        if (batch === undefined) break;
        try {
          await this.#transport.send(batch);
          this.#stats.sent += batch.records.length;
          this.#inflight = undefined;
          failures = 0;
        } catch (e) {
          if (this.#closed) break;
          failures++;
          this.#stats.failedAttempts++;
          this.#stats.lastError = message(e);
          batch.attempt++;
          await this.#sleep(backoffMs(failures, this.#initialMs, this.#maxMs));
        }
      }
    } finally {
      if (this.#closed && this.#inflight !== undefined) {
        this.#stats.dropped += this.#inflight.records.length; // closed before it could be delivered
        this.#inflight = undefined;
      }
      this.#running = false;
      this.#settleIdle();
    }
  }

  #nextBatch(): SinkBatch | undefined {
    if (this.#queue.length === 0) return undefined;
    return { id: randomUUID(), records: this.#queue.take(this.#batchSize), attempt: 1 };
  }

  /** Unref'd unless someone awaits flush(): a sink in back-off never keeps the process alive by itself. close() cuts it short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
      if (this.#idle.length === 0) this.#timer.unref();
    });
  }

  #cancelBackoff(): void {
    clearTimeout(this.#timer);
    this.#wake?.();
    this.#wake = undefined;
  }

  #settleIdle(): void {
    if (this.#running && !this.#closed) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const r of idle) r();
  }
}
