/**
 * Envelope encryption against a real Keywarden (issue 9 §2): round trips (whole messages and
 * streams, frame-boundary sizes, 100 MiB streamed in bounded memory), wrong context, tampered,
 * truncated and reordered frames, a message re-targeted to another key, multiple wrapping keys.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Keywarden, InvalidMessageError, INVALID_MESSAGE, KeywardenError } from '../../src/sdk/index.js';
import { FRAME_PREFIX_BYTES, encodeHeader, extractKey, parseHeader, rewrapHeader } from '../../src/sdk/format.js';
import { startSdkServer, type SdkTestServer } from './helpers.js';

const TAG = 16;
let s: SdkTestServer;
let kw: Keywarden;
let keyA: string;
let keyB: string;

before(async () => {
  s = await startSdkServer();
  keyA = await s.createKey({ alias: 'alias/sdk-a' });
  keyB = await s.createKey({ alias: 'alias/sdk-b' });
  kw = new Keywarden({ address: s.address, token: s.t.token, clock: s.clock });
});
after(() => s.close());

/** Rejects with InvalidMessageError of this reason, uniform code and message. */
async function invalid(p: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InvalidMessageError, String(e));
    assert.equal(e.code, 'InvalidCiphertext');
    assert.equal(e.message, INVALID_MESSAGE);
    assert.equal(e.reason, reason);
    return true;
  });
}

async function collect(stream: NodeJS.ReadWriteStream, input: Buffer, chunk = 1000): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks = function* () {
    for (let i = 0; i < input.length; i += chunk) yield input.subarray(i, i + chunk);
  };
  await pipeline(Readable.from(chunks()), stream, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

/** Offsets of the frames of a message (after its header). */
function frames(msg: Buffer): { headerLength: number; offsets: number[] } {
  const { length } = parseHeader(msg);
  const offsets: number[] = [];
  for (let off = length; off < msg.length; off += FRAME_PREFIX_BYTES + msg.readUInt32BE(off + 5) + TAG) offsets.push(off);
  return { headerLength: length, offsets };
}

describe('round trips', () => {
  const F = 1024;
  for (const size of [0, 1, F - 1, F, F + 1, 2 * F, 3 * F + 7]) {
    test(`${size} bytes, frame length ${F}: whole message and stream, in both combinations`, async () => {
      const data = Buffer.from(Buffer.alloc(size, 0).map((_, i) => (i * 31 + 7) & 0xff));
      const context = { tenant: 'acme', purpose: 'test' };
      const msg = await kw.envelope.encrypt(data, { key: 'alias/sdk-a', context, frameLength: F });
      const { headerLength, offsets } = frames(msg);
      assert.equal(offsets.length, Math.max(1, Math.ceil(size / F)), 'frames: regular ones while more follows, then the final frame');
      assert.equal(msg[offsets.at(-1)! + 4], 1, 'the last frame carries the final flag');
      assert.ok(headerLength > 0);

      const d = await kw.envelope.decrypt(msg);
      assert.deepEqual(d.plaintext, data);
      assert.deepEqual(d.context, context);
      assert.equal(d.keyId, keyA, 'the key id, also when encrypting under an alias');

      const streamed = await collect(kw.envelope.encryptStream({ key: keyA, context, frameLength: F }), data, 333);
      assert.deepEqual((await kw.envelope.decrypt(streamed)).plaintext, data, 'stream out, whole message in');
      assert.deepEqual(await collect(kw.envelope.decryptStream(), msg, 100), data, 'whole message out, stream in');
    });
  }

  test('the default frame length, and the header event of decryptStream', async () => {
    const data = Buffer.alloc(200_000, 7);
    const msg = await kw.envelope.encrypt(data, { key: keyA });
    assert.equal(frames(msg).offsets.length, 4, '65536-byte frames');
    const d = kw.envelope.decryptStream();
    let header: unknown;
    d.on('header', (h) => (header = h));
    assert.deepEqual(await collect(d, msg, 65_536), data);
    assert.deepEqual(header, { context: {}, keyId: keyA });
  });

  test('a cached data key with another frame length or context order: each header is its own', async () => {
    const c = new Keywarden({ address: s.address, token: s.t.token, clock: s.clock });
    const data = Buffer.alloc(500, 9);
    for (const [context, frameLength] of [[{ a: '1', b: '2' }, 100], [{ b: '2', a: '1' }, 100], [{ a: '1', b: '2' }, 200], [{ a: '1', b: '2' }, undefined]] as const) {
      const msg = await c.envelope.encrypt(data, { key: keyA, context, ...(frameLength ? { frameLength } : {}) });
      const { header } = parseHeader(msg);
      assert.equal(header.frameLength, frameLength ?? 65_536);
      assert.deepEqual(header.context, { a: '1', b: '2' });
      assert.deepEqual((await c.envelope.decrypt(msg)).plaintext, data);
    }
    assert.equal(c.stats().cache?.misses, 2, 'one data key for all four messages (and one unwrap)');
  });

  test('100 MiB streamed through encryptStream and decryptStream in bounded memory', async () => {
    const MiB = 1024 * 1024;
    const block = Buffer.from(Buffer.alloc(MiB).map((_, i) => (i * 131) & 0xff));
    const inHash = createHash('sha256');
    const outHash = createHash('sha256');
    let outBytes = 0;
    globalThis.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    await pipeline(
      Readable.from((function* () {
        for (let i = 0; i < 100; i++) {
          const b = Buffer.from(block);
          b.writeUInt32BE(i, 0); // every block differs, so a reordered frame could not go unnoticed
          inHash.update(b);
          yield b;
        }
      })()),
      kw.envelope.encryptStream({ key: keyA, context: { file: 'big' } }),
      kw.envelope.decryptStream({ context: { file: 'big' } }),
      new Writable({ write: (c: Buffer, _e, cb) => (outHash.update(c), (outBytes += c.length), cb()) }),
    );
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(outBytes, 100 * MiB);
    assert.equal(outHash.digest('hex'), inHash.digest('hex'));
    assert.ok(peak - base < 48 * MiB, `rss grew by ${((peak - base) / MiB).toFixed(1)} MiB while streaming 100 MiB`);
  });
});

describe('context', () => {
  test('a context the message does not carry fails; the context is returned on decrypt', async () => {
    const msg = await kw.envelope.encrypt(Buffer.from('secret'), { key: keyA, context: { tenant: 'acme', app: 'x' } });
    assert.deepEqual((await kw.envelope.decrypt(msg, { context: { tenant: 'acme' } })).context, { app: 'x', tenant: 'acme' });
    await invalid(kw.envelope.decrypt(msg, { context: { tenant: 'other' } }), 'context');
    await invalid(kw.envelope.decrypt(msg, { context: { region: 'eu' } }), 'context');
    await invalid(collect(kw.envelope.decryptStream({ context: { tenant: 'other' } }), msg), 'context');
  });

  test('a context changed in the header does not unwrap: the data key is bound to it on the server', async () => {
    const msg = await kw.envelope.encrypt(Buffer.from('secret'), { key: keyA, context: { tenant: 'acme' } });
    const i = msg.indexOf(Buffer.from('acme'));
    const forged = Buffer.from(msg);
    forged.write('acmf', i);
    const fresh = new Keywarden({ address: s.address, token: s.t.token, cache: false });
    await invalid(fresh.envelope.decrypt(forged), 'unwrap');
  });
});

describe('tampering, truncation, reordering', () => {
  const F = 256;
  let msg: Buffer;
  let layout: ReturnType<typeof frames>;
  before(async () => {
    msg = await kw.envelope.encrypt(Buffer.alloc(3 * F + 10, 0x61), { key: keyA, context: { k: 'v' }, frameLength: F });
    layout = frames(msg);
    assert.equal(layout.offsets.length, 4);
  });
  const flip = (m: Buffer, at: number) => {
    const c = Buffer.from(m);
    c[at] = (c[at] as number) ^ 0x01;
    return c;
  };

  test('a flipped bit in a frame, a frame tag, a frame length or the header fails', async () => {
    const [f1, f2] = layout.offsets as [number, number];
    await invalid(kw.envelope.decrypt(flip(msg, f1 + FRAME_PREFIX_BYTES + 3)), 'frame');
    await invalid(kw.envelope.decrypt(flip(msg, f2 - 1)), 'frame');
    await invalid(kw.envelope.decrypt(flip(msg, f1 + 4)), 'frame'); // the final flag is authenticated
    // The commitment authenticates the header: the commitment itself, the message id, the frame length.
    await invalid(kw.envelope.decrypt(flip(msg, layout.headerLength - 1)), 'commitment');
    await invalid(kw.envelope.decrypt(flip(msg, 10)), 'commitment');
    await invalid(kw.envelope.decrypt(flip(msg, 1 + 2 + 32 + 3)), 'commitment'); // frame length 256 → 257
    await invalid(collect(kw.envelope.decryptStream(), flip(msg, 10)), 'commitment');
    await invalid(collect(kw.envelope.decryptStream(), flip(msg, f2 + 20)), 'frame');
  });

  test('a truncated message fails, whether cut inside a frame, at a frame boundary or in the header', async () => {
    const last = layout.offsets.at(-1) as number;
    await invalid(kw.envelope.decrypt(msg.subarray(0, last)), 'truncated');
    await invalid(kw.envelope.decrypt(msg.subarray(0, last + 5)), 'truncated');
    await invalid(kw.envelope.decrypt(msg.subarray(0, 50)), 'truncated');
    await invalid(collect(kw.envelope.decryptStream(), msg.subarray(0, last)), 'truncated');
    await invalid(collect(kw.envelope.decryptStream(), msg.subarray(0, 50)), 'truncated');
    await invalid(collect(kw.envelope.decryptStream(), Buffer.alloc(0)), 'truncated');
  });

  test('reordered, repeated or dropped frames and trailing bytes fail', async () => {
    const [f1, f2, f3] = layout.offsets as [number, number, number];
    const h = msg.subarray(0, f1);
    const fr = (a: number, b: number) => msg.subarray(a, b);
    const swapped = Buffer.concat([h, fr(f2, f3), fr(f1, f2), msg.subarray(f3)]);
    await invalid(kw.envelope.decrypt(swapped), 'frame');
    await invalid(collect(kw.envelope.decryptStream(), swapped), 'frame');
    await invalid(kw.envelope.decrypt(Buffer.concat([h, fr(f1, f2), fr(f1, f2), msg.subarray(f2)])), 'frame');
    await invalid(kw.envelope.decrypt(Buffer.concat([h, msg.subarray(f2)])), 'frame');
    await invalid(kw.envelope.decrypt(Buffer.concat([msg, Buffer.from([0])])), 'format');
    await invalid(collect(kw.envelope.decryptStream(), Buffer.concat([msg, Buffer.from([0])])), 'format');
    const other = await kw.envelope.encrypt(Buffer.alloc(3 * F + 10, 0x61), { key: keyA, context: { k: 'v' }, frameLength: F });
    const spliced = Buffer.concat([h, frames(other).offsets.length ? other.subarray(frames(other).offsets[0], frames(other).offsets[1]) : Buffer.alloc(0), msg.subarray(f2)]);
    await invalid(kw.envelope.decrypt(spliced), 'frame'); // a frame of another message (same key and context)
  });
});

describe('key commitment and wrapping keys', () => {
  test('a message re-targeted to another key fails: commitment first, then the frames', async () => {
    const context = { tenant: 'acme' };
    const msg = await kw.envelope.encrypt(Buffer.from('pay 10 to alice'), { key: keyA, context });
    const { header, length } = parseHeader(msg);
    // The attacker holds a data key of key B (same context) and its wrapped form.
    const dkB = await kw.generateDataKey(keyB, { context });
    const wrappedB = [{ keyId: dkB.keyId, ciphertext: dkB.ciphertext }];
    const body = msg.subarray(length);
    // 1. Only the wrapped key swapped: B's data key does not match the commitment.
    const fresh = new Keywarden({ address: s.address, token: s.t.token, cache: false });
    await invalid(fresh.envelope.decrypt(Buffer.concat([rewrapHeader(header, wrappedB), body])), 'commitment');
    // 2. A fully consistent header for B's data key: the frames (under A's data key) do not open.
    const { header: consistent, messageKey } = encodeHeader({ ...header, wrappedKeys: wrappedB }, extractKey(dkB.plaintext as Buffer));
    messageKey.fill(0);
    await invalid(fresh.envelope.decrypt(Buffer.concat([consistent, body])), 'frame');
  });

  test('rewrap changes only the wrapped keys: the commitment and the frames stay byte for byte', async () => {
    const context = { tenant: 'acme' };
    const msg = await kw.envelope.encrypt(Buffer.alloc(3000, 5), { key: keyA, context, frameLength: 1024 });
    const moved = await kw.envelope.rewrap(msg, { key: keyB });
    const [a, b] = [parseHeader(msg), parseHeader(moved)];
    assert.deepEqual(b.header.wrappedKeys.map((w) => w.keyId), [keyB]);
    assert.deepEqual([b.header.authenticated, b.header.commitment], [a.header.authenticated, a.header.commitment]);
    assert.deepEqual(moved.subarray(b.length), msg.subarray(a.length));
    const fresh = new Keywarden({ address: s.address, token: s.t.token, cache: false });
    const d = await fresh.envelope.decrypt(moved);
    assert.deepEqual([d.plaintext, d.keyId], [Buffer.alloc(3000, 5), keyB]);
  });

  test('several wrapping keys: any one decrypts; refusals the caller can act on are reported', async () => {
    const keyC = await s.createKey();
    const msg = await kw.envelope.encrypt(Buffer.from('shared'), { key: [keyC, 'alias/sdk-b'], context: { a: '1' } });
    assert.deepEqual(parseHeader(msg).header.wrappedKeys.map((w) => w.keyId), [keyC, keyB]);
    const fresh = () => new Keywarden({ address: s.address, token: s.t.token, cache: false });
    assert.equal((await fresh().envelope.decrypt(msg)).keyId, keyC);
    assert.equal((await s.t.req('POST', `/v1/keys/${keyC}/disable`)).status, 200);
    const d = await fresh().envelope.decrypt(msg);
    assert.equal(d.keyId, keyB, 'the second wrapping key unwraps while the first is disabled');
    assert.equal(d.plaintext.toString(), 'shared');
    assert.equal((await s.t.req('POST', `/v1/keys/${keyB}/disable`)).status, 200);
    await assert.rejects(fresh().envelope.decrypt(msg), (e: unknown) => e instanceof KeywardenError && e.code === 'Disabled' && e.status === 409);
    assert.equal((await s.t.req('POST', `/v1/keys/${keyB}/enable`)).status, 200);
  });

  test('a malformed message is refused before any server call', async () => {
    const before = s.total();
    await invalid(kw.envelope.decrypt(Buffer.from('not a message')), 'format');
    await invalid(kw.envelope.decrypt(Buffer.alloc(0)), 'truncated');
    assert.equal(s.total(), before);
  });
});
