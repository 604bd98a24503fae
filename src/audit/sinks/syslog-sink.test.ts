/**
 * The syslog sink against REAL local listeners: a node `net` server that undoes RFC 6587 octet
 * counting and a `dgram` server, both parsing RFC 5424 independently of the sink's code (PRI,
 * version, timestamp, hostname, app-name, procid, msgid, structured data, BOM + JSON message).
 * Includes collector downtime: the sink starts while nothing listens and delivers everything, in
 * order, once the collector comes up.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { syslogSink } from './syslog-sink.js';
import { checkpointRecord, eventRecord, type AuditSink, type SinkRecord } from './sink.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

const event = (i: number, outcome: 'allow' | 'deny' | 'error' = 'allow') =>
  eventRecord(
    i,
    {
      v: 1,
      time: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, i)).toISOString(),
      requestId: `req-${i}`,
      principal: { id: 'sa-1', name: 'Zoë "billing" ]', kind: 'service-account' },
      authMethod: 'access-token',
      sourceIp: '10.0.0.7',
      operation: 'key:encrypt',
      keyId: 'k-1',
      keyVersion: 1,
      outcome,
      errorCode: outcome === 'allow' ? null : 'PermissionDenied',
      policy: null,
      approvalIds: [],
      context: {},
      tokenId: null,
    },
    Buffer.alloc(32, i),
  );
const checkpoint = (size: number) =>
  checkpointRecord({ size, rootHash: Buffer.alloc(32, 7), time: Date.UTC(2026, 0, 3), keyId: 'ab'.repeat(16), signature: Buffer.alloc(64, 1) });

interface Parsed {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: Record<string, Record<string, string>>;
  bom: boolean;
  record: SinkRecord;
}

/** An RFC 5424 parser written from the grammar (§6), not from the sink's code. */
function parse5424(msg: Buffer): Parsed {
  const text = msg.toString('utf8');
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(text);
  assert.ok(m, `RFC 5424 header: ${text.slice(0, 120)}`);
  let rest = text.slice(m[0].length);
  const sd: Record<string, Record<string, string>> = {};
  if (rest.startsWith('-')) rest = rest.slice(1);
  while (rest.startsWith('[')) {
    const el = /^\[([^ \]"=]+)((?: [^ \]"=]+="(?:[^"\\\]]|\\["\\\]])*")*)\]/.exec(rest);
    assert.ok(el, `SD-ELEMENT: ${rest.slice(0, 120)}`);
    const params: Record<string, string> = {};
    for (const p of el[2]!.matchAll(/ ([^ \]"=]+)="((?:[^"\\\]]|\\["\\\]])*)"/g)) params[p[1]!] = p[2]!.replace(/\\(["\\\]])/g, '$1');
    sd[el[1]!] = params;
    rest = rest.slice(el[0].length);
  }
  assert.ok(rest.startsWith(' '), 'SP before MSG');
  const bom = rest.startsWith(' \uFEFF');
  return {
    pri: Number(m[1]),
    version: m[2]!,
    timestamp: m[3]!,
    hostname: m[4]!,
    appName: m[5]!,
    procId: m[6]!,
    msgId: m[7]!,
    sd,
    bom,
    record: JSON.parse(rest.slice(bom ? 2 : 1)) as SinkRecord,
  };
}

/** A TCP collector: splits the stream by octet counting (MSG-LEN SP MSG), however it is chunked. */
function tcpCollector(port = 0) {
  const messages: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString('ascii'));
        assert.ok(Number.isInteger(len) && len > 0, 'MSG-LEN is a positive decimal');
        if (buf.length < sp + 1 + len) break;
        messages.push(buf.subarray(sp + 1, sp + 1 + len));
        buf = buf.subarray(sp + 1 + len);
      }
    });
  });
  const listening = new Promise<number>((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return { messages, listening, close };
}

async function freePort(): Promise<number> {
  const c = tcpCollector();
  const port = await c.listening;
  await c.close();
  return port;
}

function track<T extends AuditSink>(s: T): T {
  cleanups.push(() => s.close(100));
  return s;
}

test('TCP: octet-counted RFC 5424 frames with PRI, version 1, the event time, hostname, app-name, msgid, SD and the record as BOM + JSON', async () => {
  const c = tcpCollector();
  cleanups.push(c.close);
  const port = await c.listening;
  const sink = track(syslogSink({ host: '127.0.0.1', port, protocol: 'tcp', appName: 'kw-test', facility: 'local4', hostname: 'vault-1' }));
  const records = [event(0), event(1, 'deny'), event(2, 'error'), checkpoint(3)];
  for (const r of records) sink.publish(r);
  await sink.flush();
  await waitFor(() => c.messages.length === 4, '4 frames');
  const p = c.messages.map(parse5424);

  // PRI = facility * 8 + severity: local4 = 20; allow -> 6 (info), deny -> 5 (notice), error -> 4 (warning), checkpoint -> 6.
  assert.deepEqual(p.map((x) => x.pri), [166, 165, 164, 166]);
  for (const x of p) {
    assert.equal(x.version, '1');
    assert.equal(x.hostname, 'vault-1');
    assert.equal(x.appName, 'kw-test');
    assert.equal(x.procId, String(process.pid));
    assert.ok(x.bom, 'UTF-8 MSG starts with the BOM (RFC 5424 §6.4)');
  }
  assert.deepEqual(p.map((x) => x.msgId), ['audit-event', 'audit-event', 'audit-event', 'audit-checkpoint']);
  assert.equal(p[0]!.timestamp, '2026-01-02T03:04:05.000Z', 'the event time, not the delivery time');
  assert.equal(p[3]!.timestamp, '2026-01-03T00:00:00.000Z');
  assert.deepEqual(p.map((x) => x.record), records, 'the MSG is the record, intact (multi-byte UTF-8 included)');
  assert.deepEqual(p[1]!.sd['keywarden@32473'], { index: '1', correlationId: 'req-1', operation: 'key:encrypt', outcome: 'deny', keyId: 'k-1', principal: 'sa-1' });
  assert.deepEqual(p[3]!.sd['keywarden@32473'], { size: '3', rootHash: Buffer.alloc(32, 7).toString('base64'), keyId: 'ab'.repeat(16) });
  assert.equal(sink.stats().sent, 4);
});

test('TCP downtime: started while the collector is down, retries with back-off, then delivers everything in order', async () => {
  const port = await freePort();
  const sink = track(syslogSink({ host: '127.0.0.1', port, protocol: 'tcp' }, { batchSize: 3, initialBackoffMs: 5, maxBackoffMs: 40 }));
  for (let i = 0; i < 10; i++) sink.publish(event(i));
  await waitFor(() => sink.stats().failedAttempts >= 3, 'failed connection attempts');
  assert.equal(sink.stats().sent, 0);
  assert.match(sink.stats().lastError ?? '', /ECONNREFUSED/);

  const c = tcpCollector(port);
  cleanups.push(c.close);
  await c.listening;
  for (let i = 10; i < 15; i++) sink.publish(event(i)); // more arrive meanwhile
  await sink.flush();
  await waitFor(() => c.messages.length === 15, '15 frames');
  assert.deepEqual(c.messages.map((m) => (parse5424(m).record as { index: number }).index), Array.from({ length: 15 }, (_, i) => i));
  const s = sink.stats();
  assert.ok(s.failedAttempts >= 3);
  assert.deepEqual({ sent: s.sent, queued: s.queued, dropped: s.dropped }, { sent: 15, queued: 0, dropped: 0 });
});

test('TCP: a collector restart is survived (the broken connection is reopened)', async () => {
  const c1 = tcpCollector();
  const port = await c1.listening;
  const sink = track(syslogSink({ host: '127.0.0.1', port, protocol: 'tcp' }, { initialBackoffMs: 5, maxBackoffMs: 40 }));
  sink.publish(event(0));
  await sink.flush();
  await waitFor(() => c1.messages.length === 1, 'first frame');
  await c1.close();
  const c2 = tcpCollector(port);
  cleanups.push(c2.close);
  await c2.listening;
  // A write into the dead connection may still be accepted by the kernel (syslog has no ack), so
  // publish until the new collector sees frames; what it sees must be complete and in order.
  let i = 1;
  while (c2.messages.length === 0 && i < 500) {
    sink.publish(event(i++));
    await sink.flush();
    await new Promise((r) => setTimeout(r, 5));
  }
  const got = c2.messages.map((m) => (parse5424(m).record as { index: number }).index);
  assert.ok(got.length > 0, 'the restarted collector receives frames');
  assert.deepEqual(got, [...got].sort((a, b) => a - b));
});

test('UDP: one RFC 5424 message per datagram, default facility audit (13) and app-name keywarden', async () => {
  const server = createSocket('udp4');
  const got: Buffer[] = [];
  server.on('message', (m) => got.push(m));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const sink = track(syslogSink({ host: '127.0.0.1', port: server.address().port, protocol: 'udp' }));
  sink.publish(event(5));
  sink.publish(checkpoint(6));
  await sink.flush();
  await waitFor(() => got.length === 2, '2 datagrams');
  const p = got.map(parse5424);
  assert.deepEqual(p.map((x) => x.pri), [13 * 8 + 6, 13 * 8 + 6]);
  assert.deepEqual(p.map((x) => x.appName), ['keywarden', 'keywarden']);
  assert.equal((p[0]!.record as { correlationId: string }).correlationId, 'req-5');
  assert.equal(p[1]!.record.type, 'checkpoint');
});

test('a bad facility is refused', () => {
  assert.throws(() => syslogSink({ host: 'x', port: 1, protocol: 'udp', facility: 24 }), RangeError);
});
