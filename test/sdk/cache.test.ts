/**
 * The data-key cache (issue 9 §3) against a real Keywarden: server calls counted at the proxy,
 * limits on age, messages and bytes, scoping by key and context, the policy's
 * dataKeyMaxLifetimeSeconds hint, hit/miss counters, and zeroization on eviction.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataKeyCache, Keywarden } from '../../src/sdk/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { startSdkServer, type SdkTestServer } from './helpers.js';

let s: SdkTestServer;
let key: string;
let other: string;
before(async () => {
  s = await startSdkServer();
  key = await s.createKey({ alias: 'alias/cached' });
  other = await s.createKey();
});
after(() => s.close());

const DATA_KEY = (k: string) => `POST /v1/keys/${k}/data-key`;
const client = (cache: ConstructorParameters<typeof Keywarden>[0]['cache']) => new Keywarden({ address: s.address, token: s.t.token, clock: s.clock, cache });
const msg = (n = 10) => Buffer.alloc(n, 1);

describe('server calls with the cache', () => {
  test('maxMessages: one data key per N messages; the policy is read once; counters match', async () => {
    const kw = client({ maxMessages: 3 });
    s.resetCounts();
    for (let i = 0; i < 7; i++) await kw.envelope.encrypt(msg(), { key, context: { t: 'a' } });
    assert.equal(s.count(DATA_KEY(key)), 3, 'messages 1-3, 4-6, 7');
    assert.equal(s.count(`GET /v1/keys/${key}/policy`), 1, 'the lifetime hint is reused');
    assert.equal(s.total(), 4);
    const st = kw.stats();
    assert.deepEqual(st.cache, { hits: 4, misses: 3, evictions: 2 }, 'a key that reached its limit is evicted (and zeroized) at once');
    assert.equal(st.requests, 4);
  });

  test('without the cache every message costs a data-key call', async () => {
    const kw = client(false);
    s.resetCounts();
    for (let i = 0; i < 5; i++) await kw.envelope.encrypt(msg(), { key });
    assert.equal(s.count(DATA_KEY(key)), 5);
    assert.equal(kw.stats().cache, undefined);
  });

  test('maxBytes: a data key encrypts at most that many plaintext bytes', async () => {
    const kw = client({ maxBytes: 100 });
    s.resetCounts();
    for (let i = 0; i < 6; i++) await kw.envelope.encrypt(msg(40), { key });
    assert.equal(s.count(DATA_KEY(key)), 3, '40 + 40 bytes per data key');
    await kw.envelope.encrypt(msg(100), { key });
    await kw.envelope.encrypt(msg(100), { key });
    assert.equal(s.count(DATA_KEY(key)), 5, 'a message as large as the limit is never cached');
  });

  test('maxAgeSeconds: an older entry is not used', async () => {
    const kw = client({ maxAgeSeconds: 60 });
    s.resetCounts();
    await kw.envelope.encrypt(msg(), { key });
    s.clock.advance(59_000);
    await kw.envelope.encrypt(msg(), { key });
    assert.equal(s.count(DATA_KEY(key)), 1);
    s.clock.advance(1_000);
    await kw.envelope.encrypt(msg(), { key });
    assert.equal(s.count(DATA_KEY(key)), 2);
  });

  test('entries are scoped by key and context (context order does not matter)', async () => {
    const kw = client({});
    s.resetCounts();
    await kw.envelope.encrypt(msg(), { key, context: { a: '1', b: '2' } });
    await kw.envelope.encrypt(msg(), { key, context: { b: '2', a: '1' } });
    await kw.envelope.encrypt(msg(), { key, context: { a: '1' } });
    await kw.envelope.encrypt(msg(), { key: other, context: { a: '1' } });
    await kw.envelope.encrypt(msg(), { key: [key, other], context: { a: '1' } });
    assert.equal(s.count(DATA_KEY(key)), 3);
    assert.equal(s.count(DATA_KEY(other)), 1);
    assert.equal(s.count(`POST /v1/keys/${other}/encrypt`), 1, 'the second wrapping key wraps the data key once');
    assert.deepEqual(kw.stats().cache, { hits: 1, misses: 4, evictions: 0 });
    const m = await kw.envelope.encrypt(msg(), { key, context: { a: '1', b: '2' } });
    const d = await kw.envelope.decrypt(m);
    assert.deepEqual(d.context, { a: '1', b: '2' });
  });

  test('decrypt caches unwrapped data keys per wrapped key and context', async () => {
    const kw = client({});
    const m = await kw.envelope.encrypt(msg(), { key, context: { x: 'y' } });
    s.resetCounts();
    for (let i = 0; i < 3; i++) assert.deepEqual((await kw.envelope.decrypt(m)).plaintext, msg());
    assert.equal(s.count('POST /v1/decrypt'), 1);
  });

  test("the key's policy hint dataKeyMaxLifetimeSeconds caps the cache age", async () => {
    const put = await s.t.req('PUT', '/v1/policy', { apiVersion: 'keywarden.io/v1', kind: 'Policy', defaults: { dataKeyMaxLifetimeSeconds: 30 } });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const kw = client({ maxAgeSeconds: 600 });
    s.resetCounts();
    await kw.envelope.encrypt(msg(), { key });
    s.clock.advance(29_000);
    await kw.envelope.encrypt(msg(), { key });
    assert.equal(s.count(DATA_KEY(key)), 1);
    s.clock.advance(1_000);
    await kw.envelope.encrypt(msg(), { key });
    assert.equal(s.count(DATA_KEY(key)), 2, '30 s from the policy, not the 600 s configured');
    const reset = await s.t.req('PUT', '/v1/policy', { apiVersion: 'keywarden.io/v1', kind: 'Policy' });
    assert.equal(reset.status, 200, JSON.stringify(reset.json));
  });
});

describe('DataKeyCache', () => {
  const material = (fill: number) => ({ dataKey: Buffer.alloc(32, fill), wrappedKeys: [{ keyId: 'k', ciphertext: Buffer.from([1]) }], keyId: 'k' });

  test('plaintext keys are zeroized on eviction: limits, age, capacity and clear()', () => {
    const clock = new ManualClock();
    const c = new DataKeyCache({ maxMessages: 2, maxAgeSeconds: 10, capacity: 2 }, clock);
    const used = material(7);
    c.put('used', used, 1);
    const copy = c.take('used', 1);
    assert.deepEqual(copy?.dataKey, Buffer.alloc(32, 7), 'the caller gets a copy');
    assert.deepEqual(used.dataKey, Buffer.alloc(32, 0), 'used up (2 messages): zeroized at once');

    const old = material(8);
    c.put('old', old, 1);
    clock.advance(10_000);
    assert.equal(c.take('old', 1), undefined);
    assert.deepEqual(old.dataKey, Buffer.alloc(32, 0), 'expired: zeroized when seen');

    const [a, b, d] = [material(1), material(2), material(3)];
    c.put('a', a, 1);
    c.put('b', b, 1);
    c.put('d', d, 1);
    assert.deepEqual(a.dataKey, Buffer.alloc(32, 0), 'the least recently used entry makes room');
    assert.equal(c.size, 2);
    c.clear();
    assert.deepEqual([b.dataKey, d.dataKey], [Buffer.alloc(32, 0), Buffer.alloc(32, 0)]);
    assert.equal(c.size, 0);

    const once = new DataKeyCache({ maxMessages: 1 }, clock);
    const m = material(9);
    once.put('x', m, 1);
    assert.deepEqual(m.dataKey, Buffer.alloc(32, 0), 'maxMessages 1: never stored');
    assert.deepEqual(c.stats, { hits: 1, misses: 1, evictions: 5 });
  });

  test('limits must be positive', () => {
    assert.throws(() => new DataKeyCache({ maxMessages: 0 }), /maxMessages must be a positive number/);
  });
});
