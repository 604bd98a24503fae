/**
 * The audit ledger's writer thread, main-thread side: sends each batch of events to a worker that
 * holds its own connection to the database file and runs the append transaction there
 * (audit-writer.worker.ts), so the fsync of synchronous=FULL never blocks the event loop.
 *
 * The worker handles one message at a time, so batches commit in the order sent. It is started on
 * the first append, keeps the process alive only while a batch is in flight, and is restarted on
 * the next append if it dies (every batch in flight is then rejected: fail closed).
 */
import { Worker } from 'node:worker_threads';
import type { CheckpointRecord } from '../../audit/audit.store.js';
import type { EncodedBatch } from './sqlite-audit-store.js';

export type WriterRequest =
  | { id: number; batch: EncodedBatch }
  | { id: number; checkpoint: CheckpointRecord }
  | { close: true };
export type WriterReply = { id: number; done: true } | { id: number; error: string };

// From the TypeScript sources (tsx, tests) the worker must load tsx itself: workers do not inherit
// the loader hooks of the main thread. Dynamic import() only, so that the bootstrap runs both as a
// script and as a module (workers inherit --input-type).
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const ENTRY = new URL(`./audit-writer.worker.${FROM_SOURCES ? 'ts' : 'js'}`, import.meta.url).href;
const BOOTSTRAP = `import('node:worker_threads').then(async ({ workerData: d }) => {
  if (d.tsx) (await import(d.tsx)).register();
  await import(d.entry);
});`;

interface Pending {
  resolve(r: WriterReply): void;
  reject(e: Error): void;
}

export class AuditWriter {
  #worker: Worker | undefined;
  #next = 0;
  readonly #pending = new Map<number, Pending>();

  constructor(
    private readonly path: string,
    private readonly fsync: 'interval' | 'commit' = 'interval',
  ) {}

  /** Inserts an encoded batch; resolves once committed. */
  /**
   * Inserts an encoded batch; resolves once committed. `batch.data` is handed over to the thread
   * (transferred, not copied) when it owns its whole ArrayBuffer: the caller must not read it after.
   */
  async append(batch: EncodedBatch): Promise<void> {
    const d = batch.data;
    const owned = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && d.buffer instanceof ArrayBuffer;
    await this.#send({ id: this.#next++, batch }, owned ? [d.buffer as ArrayBuffer] : []);
  }

  /** Checkpoints go through the thread too: their fsync would stall the event loop as well. */
  async putCheckpoint(checkpoint: CheckpointRecord): Promise<void> {
    await this.#send({ id: this.#next++, checkpoint });
  }

  #send(req: WriterRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<WriterReply> {
    const w = (this.#worker ??= this.#spawn());
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) w.ref();
      this.#pending.set(req.id, { resolve, reject });
      w.postMessage(req, transfer);
    });
  }

  /** Lets the batches already sent finish, then stops the thread. */
  async close(): Promise<void> {
    const w = this.#worker;
    if (w === undefined) return;
    this.#worker = undefined;
    const exited = new Promise((r) => w.once('exit', r));
    w.ref(); // keep the process alive until the thread has closed its connection
    w.postMessage({ close: true } satisfies WriterRequest);
    await exited;
  }

  #spawn(): Worker {
    const tsx = FROM_SOURCES ? import.meta.resolve('tsx/esm/api') : null;
    const w = new Worker(BOOTSTRAP, { eval: true, workerData: { entry: ENTRY, tsx, path: this.path, fsync: this.fsync } });
    w.unref();
    w.on('message', (m: WriterReply) => {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) w.unref();
      if (p === undefined) return;
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(m);
    });
    const fail = (e: Error) => {
      if (this.#worker === w) this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the audit writer thread exited (code ${code})`)));
    return w;
  }
}
