/**
 * The JSON-lines file sink on a real file system: size-based rotation keeps exactly `keep` rotated
 * files, no file exceeds maxBytes, every line of every file is a complete JSON record, the records
 * are contiguous and in order across the files, and a restart appends to the current file.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSink } from './file-sink.js';
import { checkpointRecord, eventRecord, type SinkRecord } from './sink.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keywarden-file-sink-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const event = (i: number) =>
  eventRecord(
    i,
    {
      v: 1,
      time: '2026-01-02T03:04:05.678Z',
      requestId: `req-${i}`,
      principal: { id: 'u-1', name: 'Zoë', kind: 'user' },
      authMethod: 'session',
      sourceIp: '::1',
      operation: 'key:rotate',
      keyId: 'k-1',
      keyVersion: 2,
      outcome: 'allow',
      errorCode: null,
      policy: { decision: 'allow', rule: 'role:admin' },
      approvalIds: ['ap-1'],
      context: {},
      tokenId: null,
    },
    Buffer.alloc(32, i),
  );

/** Every line of a file, parsed; fails on a line that is not complete JSON. */
function lines(path: string): SinkRecord[] {
  const text = readFileSync(path, 'utf8');
  assert.ok(text.endsWith('\n'), `${path} ends with a complete line`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l, n) => {
      try {
        return JSON.parse(l) as SinkRecord;
      } catch {
        assert.fail(`${path} line ${n + 1} is not valid JSON: ${l.slice(0, 80)}`);
      }
    });
}

const indexOf = (r: SinkRecord) => (r.type === 'event' ? r.index : -r.checkpoint.size);

test('rotation at maxBytes keeps N files; every line is valid JSON; the newest records are contiguous and in order', async () => {
  const path = join(dir(), 'audit.jsonl');
  const lineBytes = Buffer.byteLength(`${JSON.stringify(event(100))}\n`);
  const maxBytes = lineBytes * 5 + 10; // room for 5 lines of this size
  const sink = fileSink({ path, maxBytes, keep: 2 }, { batchSize: 7 });
  for (let i = 100; i < 140; i++) sink.publish(event(i));
  await sink.close();

  assert.ok(existsSync(`${path}.1`) && existsSync(`${path}.2`), 'two rotated files');
  assert.ok(!existsSync(`${path}.3`), 'no more than keep rotated files');
  const files = [`${path}.2`, `${path}.1`, path]; // oldest first
  for (const f of files) assert.ok(statSync(f).size <= maxBytes, `${f} is at most maxBytes`);
  const records = files.flatMap(lines);
  const idx = records.map(indexOf);
  assert.deepEqual(idx, Array.from({ length: idx.length }, (_, i) => idx[0]! + i), 'contiguous, in order across files');
  assert.equal(idx.at(-1), 139, 'the newest record is in the current file');
  assert.deepEqual(files.map((f) => lines(f).length), [5, 5, 5], 'equal-sized lines: 5 per file');
  assert.deepEqual(records.at(-1), event(139), 'records are written intact (UTF-8 included)');
});

test('a restart appends to the existing file and keeps counting its size toward rotation', async () => {
  const path = join(dir(), 'audit.jsonl');
  const lineBytes = Buffer.byteLength(`${JSON.stringify(event(0))}\n`);
  const o = { path, maxBytes: lineBytes * 3, keep: 3 };
  const a = fileSink(o);
  a.publish(event(0));
  a.publish(event(1));
  await a.close();
  const b = fileSink(o); // a new process
  b.publish(event(2));
  b.publish(event(3));
  b.publish(checkpointRecord({ size: 4, rootHash: Buffer.alloc(32), time: 1, keyId: 'k', signature: Buffer.alloc(64) }));
  await b.close();
  assert.deepEqual(lines(`${path}.1`).map(indexOf), [0, 1, 2]);
  assert.deepEqual(lines(path).map(indexOf), [3, -4]);
});

test('a line longer than maxBytes gets a file of its own and is never split', async () => {
  const path = join(dir(), 'audit.jsonl');
  const sink = fileSink({ path, maxBytes: 50, keep: 5 });
  for (let i = 0; i < 3; i++) sink.publish(event(i));
  await sink.close();
  assert.deepEqual([`${path}.2`, `${path}.1`, path].map((f) => lines(f).map(indexOf)), [[0], [1], [2]]);
});

test('a write failure is retried with back-off and counted; delivery resumes when the path works again', async () => {
  const d = dir();
  // A file where the sink's directory should be: it cannot create the directory, nor write.
  writeFileSync(join(d, 'blocked'), 'not a directory');
  const path = join(d, 'blocked', 'audit.jsonl');
  const sink = fileSink({ path, maxBytes: 1 << 20, keep: 1 }, { initialBackoffMs: 5, maxBackoffMs: 20 });
  cleanups.push(() => sink.close(50));
  sink.publish(event(0));
  for (let i = 0; i < 2000 && sink.stats().failedAttempts < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(sink.stats().failedAttempts >= 2);
  assert.match(sink.stats().lastError ?? '', /EEXIST|ENOTDIR/);
  rmSync(join(d, 'blocked')); // the sink creates the directory itself on the next attempt
  sink.publish(event(1));
  await sink.flush();
  assert.deepEqual(lines(path).map(indexOf), [0, 1]);
  assert.equal(sink.stats().sent, 2);
});
