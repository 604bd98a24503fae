/**
 * The webhook sink against a REAL local HTTP receiver that verifies each POST the way a SIEM
 * would: HMAC-SHA256 of the raw body recomputed here with node:crypto and compared in constant
 * time, the timestamp header equal to the signed `sentAt`, dedupe on the delivery id. Includes
 * receiver downtime (nothing listening, then 503s) with everything arriving in order afterwards.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { inspect } from 'node:util';
import { ManualClock } from '../../../src/util/clock.js';
import { eventRecord, type SinkRecord } from '../../../src/audit/sinks/sink.js';
import { webhookSink } from '../../../src/audit/sinks/webhook-sink.js';

const SECRET = 'webhook-secret-0123456789abcdef';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

const event = (i: number) =>
  eventRecord(
    i,
    {
      v: 1,
      time: '2026-01-02T03:04:05.678Z',
      requestId: `req-${i}`,
      principal: null,
      authMethod: 'none',
      sourceIp: null,
      operation: 'key:decrypt',
      keyId: null,
      keyVersion: null,
      outcome: 'deny',
      errorCode: 'Unauthenticated',
      policy: null,
      approvalIds: [],
      context: { tenant: 'ab'.repeat(32) },
      tokenId: null,
    },
    Buffer.alloc(32, i),
  );

interface Delivery {
  id: string;
  sentAt: number;
  records: SinkRecord[];
}

/**
 * A receiver: answers `fail` with 503 while it is > 0, rejects a bad signature with 401, and
 * otherwise accepts (a repeated delivery id is acknowledged but not stored twice).
 */
function receiver(port = 0, secret = SECRET) {
  const state = { fail: 0, requests: 0, badSignatures: 0, deliveries: [] as Delivery[], headers: [] as IncomingMessage['headers'][] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      const body = Buffer.concat(chunks);
      state.headers.push(req.headers);
      if (state.fail > 0) {
        state.fail--;
        res.writeHead(503).end();
        return;
      }
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
      const got = Buffer.from(String(req.headers['x-keywarden-signature'] ?? ''));
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
        state.badSignatures++;
        res.writeHead(401).end();
        return;
      }
      const d = JSON.parse(body.toString('utf8')) as Delivery & { format: string };
      assert.equal(d.format, 'keywarden-audit-sink/v1');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['x-keywarden-timestamp'], String(d.sentAt), 'the timestamp header is the signed sentAt');
      assert.equal(req.headers['x-keywarden-delivery'], d.id);
      if (!state.deliveries.some((x) => x.id === d.id)) state.deliveries.push(d);
      res.writeHead(204).end();
    });
  });
  const listening = new Promise<number>((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { state, listening, close, indexes: () => state.deliveries.flatMap((d) => d.records.map((r) => (r as { index: number }).index)) };
}

const fast = { initialBackoffMs: 5, maxBackoffMs: 40 };

test('each batch is one signed POST: HMAC-SHA256 over the body, timestamp header, delivery id; batchSize respected', async () => {
  const r = receiver();
  cleanups.push(r.close);
  const port = await r.listening;
  const clock = new ManualClock(Date.UTC(2026, 4, 1));
  const sink = webhookSink({ url: `http://127.0.0.1:${port}/audit`, secret: SECRET, batchSize: 4 }, fast, clock);
  cleanups.push(() => sink.close(100));
  for (let i = 0; i < 10; i++) sink.publish(event(i));
  await sink.flush();
  assert.equal(r.state.badSignatures, 0);
  assert.deepEqual(r.state.deliveries.map((d) => d.records.length), [4, 4, 2]);
  assert.deepEqual(r.indexes(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(r.state.deliveries.every((d) => d.sentAt === Date.UTC(2026, 4, 1)), 'time from the injected clock');
  assert.deepEqual(r.state.deliveries[0]!.records[0], event(0), 'records arrive intact');
  assert.deepEqual(sink.stats(), { queued: 0, sent: 10, failedAttempts: 0, dropped: 0, lastError: null });
});

test('the secret never shows: not in stats, errors or an inspected sink; a wrong secret is refused by the receiver and retried', async () => {
  const r = receiver(0, 'the-receivers-other-secret!!');
  cleanups.push(r.close);
  const port = await r.listening;
  const sink = webhookSink({ url: `http://127.0.0.1:${port}/`, secret: SECRET }, fast);
  cleanups.push(() => sink.close(50));
  sink.publish(event(0));
  await waitFor(() => sink.stats().failedAttempts >= 2, 'refused attempts');
  assert.equal(r.state.badSignatures, r.state.requests);
  assert.equal(sink.stats().lastError, 'webhook: HTTP 401');
  for (const text of [JSON.stringify(sink.stats()), inspect(sink, { depth: 10, showHidden: true }), JSON.stringify(r.state.headers)]) {
    assert.ok(!text.includes(SECRET), 'the secret is not visible');
  }
});

test('receiver DOWNTIME: nothing listening, then 503s, then up — everything arrives exactly once per id, in order, with the failed attempts counted', async () => {
  const probe = receiver();
  const port = await probe.listening;
  await probe.close();

  const sink = webhookSink({ url: `http://127.0.0.1:${port}/audit`, secret: SECRET, batchSize: 5 }, fast);
  cleanups.push(() => sink.close(100));
  for (let i = 0; i < 12; i++) sink.publish(event(i));
  await waitFor(() => sink.stats().failedAttempts >= 3, 'connection failures');
  assert.equal(sink.stats().sent, 0);
  assert.equal(sink.stats().lastError, 'webhook: ECONNREFUSED');

  const r = receiver(port);
  cleanups.push(r.close);
  r.state.fail = 2; // up, but answering 503 twice
  await r.listening;
  const before = sink.stats().failedAttempts;
  for (let i = 12; i < 20; i++) sink.publish(event(i));
  await sink.flush();

  assert.deepEqual(r.indexes(), Array.from({ length: 20 }, (_, i) => i), 'all 20, in order, once');
  const s = sink.stats();
  assert.equal(s.failedAttempts, before + 2, 'the two 503s were counted and retried');
  assert.deepEqual({ sent: s.sent, queued: s.queued, dropped: s.dropped }, { sent: 20, queued: 0, dropped: 0 });
  // The batch that met the 503s was retried as the same delivery (same id): a receiver can dedupe.
  const ids = r.state.headers.map((h) => h['x-keywarden-delivery']);
  assert.equal(ids[0], ids[1]);
  assert.equal(ids[1], ids[2]);
});

test('a full queue during downtime drops the oldest and counts them; the rest arrive once the receiver is up', async () => {
  const probe = receiver();
  const port = await probe.listening;
  await probe.close();
  const sink = webhookSink({ url: `http://127.0.0.1:${port}/`, secret: SECRET, batchSize: 2 }, { ...fast, maxQueue: 5 });
  cleanups.push(() => sink.close(100));
  sink.publish(event(0));
  sink.publish(event(1));
  await waitFor(() => sink.stats().failedAttempts >= 1, 'the first batch to fail'); // [0, 1] is in flight
  for (let i = 2; i < 12; i++) sink.publish(event(i)); // 10 into a queue of 5
  assert.equal(sink.stats().dropped, 5);
  assert.equal(sink.stats().queued, 7);

  const r = receiver(port);
  cleanups.push(r.close);
  await r.listening;
  await sink.flush();
  assert.deepEqual(r.indexes(), [0, 1, 7, 8, 9, 10, 11]);
  assert.equal(sink.stats().sent, 7);
});

test('a non-http(s) URL is refused', () => {
  assert.throws(() => webhookSink({ url: 'ftp://example.test/', secret: SECRET }), RangeError);
});
