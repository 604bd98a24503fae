/**
 * QueuedSink, the part every sink shares: synchronous publish, ordered batches, retry with
 * exponential back-off (same batch, same id), a bounded queue that drops the oldest and counts,
 * and close. The transport here is a scripted stand-in for a receiver; the real transports are
 * tested against real listeners in the other sink tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, QueuedSink, type SinkBatch, type SinkRecord, type SinkTransport } from './sink.js';

const rec = (i: number): SinkRecord => ({
  v: 1,
  type: 'checkpoint',
  checkpoint: { size: i, rootHash: Buffer.alloc(32, i).toString('base64'), time: i, keyId: 'k', signature: '' },
});
const sizeOf = (r: SinkRecord) => (r.type === 'checkpoint' ? r.checkpoint.size : r.index);

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

/** Records every attempt; `fail(n)` makes the next n attempts throw; `hold()` blocks sends until released. */
class Scripted implements SinkTransport {
  attempts: Array<{ id: string; attempt: number; items: number[] }> = [];
  delivered: number[] = [];
  failNext = 0;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  closed = false;

  hold(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }
  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  async send(b: SinkBatch): Promise<void> {
    this.attempts.push({ id: b.id, attempt: b.attempt, items: b.records.map(sizeOf) });
    if (this.#gate) await this.#gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('receiver unavailable');
    }
    this.delivered.push(...b.records.map(sizeOf));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const fast = { initialBackoffMs: 1, maxBackoffMs: 8 };

test('backoff doubles from the initial delay and is capped', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 100, 1000)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffMs(500, 100, 1000), 1000);
});

test('publish returns before anything is sent; records go out in order, in batches of at most batchSize', async () => {
  const t = new Scripted();
  const sink = new QueuedSink('t', t, { batchSize: 4, ...fast });
  for (let i = 0; i < 10; i++) sink.publish(rec(i));
  assert.equal(t.attempts.length, 0, 'publish is only an enqueue');
  assert.equal(sink.stats().queued, 10);
  await sink.flush();
  assert.deepEqual(t.delivered, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(t.attempts.every((a) => a.items.length <= 4));
  assert.deepEqual(sink.stats(), { queued: 0, sent: 10, failedAttempts: 0, dropped: 0, lastError: null });
  await sink.close();
  assert.ok(t.closed);
});

test('a failed batch is retried with back-off as the same batch (same id), before anything newer', async () => {
  const t = new Scripted();
  const sink = new QueuedSink('t', t, { batchSize: 2, ...fast });
  t.failNext = 3;
  for (let i = 0; i < 5; i++) sink.publish(rec(i));
  await sink.flush();
  assert.deepEqual(t.delivered, [0, 1, 2, 3, 4], 'order kept across retries');
  const first = t.attempts.slice(0, 4);
  assert.ok(first.every((a) => a.id === first[0]!.id && a.items.join() === '0,1'), 'the head batch is retried unchanged');
  assert.deepEqual(first.map((a) => a.attempt), [1, 2, 3, 4]);
  const s = sink.stats();
  assert.equal(s.failedAttempts, 3);
  assert.equal(s.sent, 5);
  assert.equal(s.lastError, 'receiver unavailable');
  await sink.close();
});

test('a full queue drops the OLDEST waiting records and counts them; the batch in flight is kept', async () => {
  const t = new Scripted();
  const sink = new QueuedSink('t', t, { batchSize: 1, maxQueue: 5, ...fast });
  t.hold();
  sink.publish(rec(0));
  await waitFor(() => t.attempts.length === 1, 'the first batch to be in flight');
  for (let i = 1; i <= 12; i++) sink.publish(rec(i)); // 12 into a queue of 5: 7 dropped
  assert.deepEqual({ queued: sink.stats().queued, dropped: sink.stats().dropped }, { queued: 6, dropped: 7 });
  t.release();
  await sink.flush();
  assert.deepEqual(t.delivered, [0, 8, 9, 10, 11, 12], 'the newest records survive');
  assert.equal(sink.stats().sent, 6);
  await sink.close();
});

test('close waits for the queue to drain; if the receiver stays down it gives up after the timeout and counts the rest as dropped', async () => {
  const ok = new Scripted();
  const a = new QueuedSink('a', ok, fast);
  for (let i = 0; i < 3; i++) a.publish(rec(i));
  await a.close();
  assert.deepEqual(ok.delivered, [0, 1, 2]);

  const down = new Scripted();
  down.failNext = Number.MAX_SAFE_INTEGER;
  const b = new QueuedSink('b', down, { batchSize: 2, ...fast });
  for (let i = 0; i < 3; i++) b.publish(rec(i));
  await waitFor(() => b.stats().failedAttempts >= 2, 'failed attempts');
  await b.close(20);
  b.publish(rec(9)); // after close: counted, not queued
  assert.equal(b.stats().sent, 0);
  assert.equal(b.stats().dropped, 4);
  assert.equal(b.stats().queued, 0);
  assert.ok(down.closed);
});

test('options are checked', () => {
  assert.throws(() => new QueuedSink('x', new Scripted(), { maxQueue: 0 }), RangeError);
  assert.throws(() => new QueuedSink('x', new Scripted(), { batchSize: 1.5 }), RangeError);
});
