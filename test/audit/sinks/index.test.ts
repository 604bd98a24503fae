/**
 * Sink config validation, and witnessing end to end: a REAL LedgerService over SQLite with
 * attachSinks copies every committed event (index, correlation id, leaf hash) and every signed
 * checkpoint to a file sink and to a real HTTP receiver; a checkpoint held by the sink detects a
 * truncation of the whole log (checkpoints included) that the database alone cannot show.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeywardenError } from '../../../src/errors/catalog.js';
import { checkpointFromJson, trustedCheckpoint, verifyCheckpoint } from '../../../src/audit/checkpoint.js';
import { encodeLeaf } from '../../../src/audit/event.js';
import { LedgerService } from '../../../src/audit/ledger.service.js';
import { verifyLedger } from '../../../src/audit/verify.js';
import { attachSinks, closeSinks, createSinks, sinkStats, type SinkRecord } from '../../../src/audit/sinks/index.js';
import { openUnsealedStore } from '../../support/unsealed-store.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'keywarden-sinks-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const SECRET = 'sixteen-plus-chars-secret';

test('config: validated with TypeBox; unknown members, bad protocols, short secrets and non-http URLs are refused without echoing values', () => {
  const bad: unknown[] = [
    { file: { path: 'a.jsonl', maxBytes: 1 << 20, keep: 3, extra: 1 } },
    { nope: {} },
    { syslog: { host: 'h', port: 514, protocol: 'sctp' } },
    { syslog: { host: 'h', port: 70000, protocol: 'udp' } },
    { syslog: { host: 'h', port: 514, protocol: 'udp', facility: 'local9' } },
    { webhook: { url: 'http://x.test/', secret: 'short' } },
    { webhook: { url: 'file:///etc/passwd', secret: SECRET } },
    { file: { path: '', maxBytes: 1 << 20, keep: 3 } },
    'not an object',
  ];
  for (const c of bad) {
    assert.throws(
      () => createSinks(c),
      (e: unknown) => e instanceof KeywardenError && e.code === 'ValidationError' && !e.message.includes('short'),
      JSON.stringify(c),
    );
  }
  assert.deepEqual(createSinks({}), []);
  const d = tmp();
  const sinks = createSinks({
    file: { path: join(d, 'a.jsonl'), maxBytes: 1 << 20, keep: 3 },
    syslog: { host: '127.0.0.1', port: 514, protocol: 'udp', facility: 'authpriv', appName: 'kw' },
    webhook: { url: 'https://siem.example.test/hook', secret: SECRET, batchSize: 50, timeoutMs: 2000, maxQueue: 100 },
  });
  assert.deepEqual(sinks.map((s) => s.name), ['file', 'syslog-udp', 'webhook']);
  assert.deepEqual(Object.keys(sinkStats(sinks)), ['file', 'syslog-udp', 'webhook']);
  cleanups.push(() => closeSinks(sinks, 10));
});

async function ledgerSetup() {
  const dir = tmp();
  const { store, seal, clock } = await openUnsealedStore(join(dir, 'keywarden.db'));
  const ledger = new LedgerService({ store: store.audit, seal, clock }, { checkpointEvery: 4 });
  cleanups.push(async () => {
    await ledger.close();
    await store.close();
  });
  return { dir, ledger, clock };
}

test('witnessing: events and signed checkpoints reach a file and a real HTTP receiver; a sink-held checkpoint exposes a truncated log', async () => {
  const { dir, ledger, clock } = await ledgerSetup();
  const received: SinkRecord[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { records: SinkRecord[] }).records);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const port = (server.address() as { port: number }).port;

  const file = join(dir, 'audit.jsonl');
  const sinks = createSinks({ file: { path: file, maxBytes: 1 << 20, keep: 2 }, webhook: { url: `http://127.0.0.1:${port}/`, secret: SECRET } }, { clock });
  attachSinks(ledger, sinks);
  cleanups.push(() => closeSinks(sinks, 100));

  for (let i = 0; i < 10; i++) {
    await ledger.append({ requestId: `req-${i}`, principal: null, authMethod: 'none', operation: 'key:encrypt', outcome: 'deny', errorCode: 'Unauthenticated', tokenId: `jti-${i}` });
  }
  await ledger.checkpoint(); // size 10 (automatic ones every 4 events came before)
  await Promise.all(sinks.map((s) => s.flush()));
  const exp = await ledger.export();
  assert.ok(exp.checkpoints.length >= 2);

  const fromFile = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SinkRecord);
  for (const records of [fromFile, received]) {
    const events = records.filter((r) => r.type === 'event');
    assert.deepEqual(events.map((r) => r.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'every event, in index order');
    for (const r of events) {
      assert.equal(r.correlationId, `req-${r.index}`);
      assert.equal(r.event.seq, r.index);
      // The leaf hash is RFC 9162 over the canonical leaf: a holder can check inclusion proofs.
      const { seq, ...ev } = r.event;
      const leaf = encodeLeaf(ev, seq);
      assert.equal(r.leafHash, createHash('sha256').update(Buffer.from([0])).update(leaf).digest('base64'));
      assert.ok(!JSON.stringify(r).includes(`jti-${r.index}`), 'the token id went out only as its HMAC');
    }
    const cps = records.filter((r) => r.type === 'checkpoint').map((r) => r.checkpoint);
    assert.deepEqual(cps, exp.checkpoints, 'every checkpoint the ledger stored, signature included');
  }

  // The sink's copy of the latest checkpoint verifies with the ledger's key ...
  const { publicKey } = await ledger.checkpointPublicKey();
  const witnessed = fromFile.filter((r) => r.type === 'checkpoint').at(-1)!;
  assert.ok(witnessed.type === 'checkpoint' && verifyCheckpoint(checkpointFromJson(witnessed.checkpoint), publicKey));
  // ... and catches a log cut back to 6 events with its later checkpoints removed, which is
  // self-consistent on its own (the verifier without the witness accepts it).
  const cut = { ...exp, size: 6, events: exp.events.slice(0, 6), checkpoints: exp.checkpoints.filter((c) => c.size <= 6) };
  assert.equal((await verifyLedger(cut)).ok, true);
  const r = await verifyLedger(cut, { trustedCheckpoint: trustedCheckpoint(checkpointFromJson(witnessed.checkpoint), publicKey) });
  assert.equal(r.ok, false);
  assert.equal(r.reason, 'truncated');
  assert.equal(r.firstBadIndex, 6);
});

test('a throwing event listener does not fail an append; the error goes to onError', async () => {
  const dir = tmp();
  const { store, seal, clock } = await openUnsealedStore(join(dir, 'keywarden.db'));
  const seen: unknown[] = [];
  const ledger = new LedgerService({ store: store.audit, seal, clock }, { onError: (e) => seen.push(e) });
  cleanups.push(async () => (await ledger.close(), await store.close()));
  const got: number[] = [];
  ledger.onEvent(() => {
    throw new Error('listener bug');
  });
  ledger.onEvent((e) => got.push(e.index));
  assert.deepEqual(await ledger.append({ requestId: 'r', principal: null, authMethod: 'none', operation: 'sys:status', outcome: 'allow' }), { index: 0 });
  assert.deepEqual(got, [0], 'later listeners still run');
  assert.equal((seen[0] as Error).message, 'listener bug');
});

test('a sink that cannot deliver never slows or fails the ledger', async () => {
  const { ledger } = await ledgerSetup();
  // Nothing listens on this port: every delivery fails.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const [sink] = createSinks({ webhook: { url: `http://127.0.0.1:${port}/`, secret: SECRET, maxQueue: 5 } }, { queue: { initialBackoffMs: 5, maxBackoffMs: 10 } });
  attachSinks(ledger, [sink!]);
  cleanups.push(() => sink!.close(10));
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => ledger.append({ requestId: `r-${i}`, principal: null, authMethod: 'none', operation: 'sys:status', outcome: 'allow' })));
  assert.deepEqual(results.map((r) => r.index), Array.from({ length: 50 }, (_, i) => i), 'every append committed');
  await ledger.close(); // automatic checkpoints done: everything the sink was given is known
  const published = 50 + (await ledger.export()).checkpoints.length;
  const s = sink!.stats();
  assert.equal(s.sent, 0);
  assert.ok(s.dropped > 0, 'the overflow was dropped and counted, not waited for');
  assert.equal(s.queued + s.dropped, published, 'every record is either queued or counted as dropped');
});
