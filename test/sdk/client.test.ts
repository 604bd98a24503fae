/**
 * The typed client (issue 9 §1) against a real Keywarden: the common operations, typed errors
 * with the catalog code and request id, retries with back-off on 429/503/network failures and
 * timeouts (never on other 4xx), and service-account credentials with automatic token refresh
 * (short-lived tokens, server and SDK on the same ManualClock).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Keywarden, KeywardenError } from '../../src/sdk/index.js';
import { startSdkServer, type SdkTestServer } from './helpers.js';

let s: SdkTestServer;
let kw: Keywarden;
let key: string;
before(async () => {
  s = await startSdkServer();
  key = await s.createKey({ alias: 'alias/app' });
  kw = new Keywarden({ address: s.address, token: s.t.token, clock: s.clock, backoff: { baseMs: 5, maxMs: 20 } });
});
after(() => s.close());

const rejectsWith = (p: Promise<unknown>, code: string, status?: number) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KeywardenError, String(e));
    assert.equal(e.code, code, e.message);
    if (status !== undefined) assert.equal(e.status, status);
    return true;
  });

describe('typed operations', () => {
  test('keys, encrypt/decrypt, re-encrypt, re-wrap, data keys, random, policy, grants, health', async () => {
    assert.equal((await kw.health()).sealed, false);
    const k = await kw.describeKey('alias/app');
    assert.equal(k.id, key);
    assert.equal(k.spec, 'SYMMETRIC_DEFAULT');
    assert.ok((await kw.listKeys({ limit: 10 })).keys.some((x) => x.id === key));
    const ct = await kw.encrypt('alias/app', Buffer.from('hello'), { a: 'b' });
    assert.equal(ct.keyId, key);
    const pt = await kw.decrypt(ct.ciphertext, { a: 'b' });
    assert.equal(pt.plaintext.toString(), 'hello');
    await rejectsWith(kw.decrypt(ct.ciphertext, { a: 'c' }), 'InvalidCiphertext', 400);

    const dest = await s.createKey();
    const re = await kw.reEncrypt(ct.ciphertext, dest, { context: { a: 'b' }, destinationContext: { z: '1' } });
    assert.equal(re.keyId, dest);
    assert.equal(re.sourceKeyId, key);
    assert.equal((await kw.decrypt(re.ciphertext, { z: '1' })).plaintext.toString(), 'hello');
    assert.equal((await s.t.req('POST', `/v1/keys/${key}/rotate`)).status, 200);
    const rw = await kw.reWrap(key, ct.ciphertext, { a: 'b' });
    assert.equal(rw.keyVersion, 2);
    assert.equal(rw.previousKeyVersion, 1);

    const dk = await kw.generateDataKey(key, { context: { d: '1' } });
    assert.equal(dk.plaintext?.length, 32);
    assert.deepEqual((await kw.decrypt(dk.ciphertext, { d: '1' })).plaintext, dk.plaintext);
    assert.equal((await kw.generateDataKey(key, { includePlaintext: false })).plaintext, undefined);
    assert.equal((await kw.random(24)).length, 24);
    assert.equal((await kw.keyPolicy(key)).keyId, key);
    assert.deepEqual(await kw.listGrants({ key }), []);
  });

  test('sign/verify, public key, MAC', async () => {
    const ec = await s.createKey({ spec: 'ECC_NIST_P256', usage: 'SIGN_VERIFY' });
    const sig = await kw.sign(ec, Buffer.from('msg'), 'ECDSA_SHA_256');
    assert.equal((await kw.verify(ec, Buffer.from('msg'), sig.signature, 'ECDSA_SHA_256')).valid, true);
    assert.equal((await kw.verify(ec, Buffer.from('msh'), sig.signature, 'ECDSA_SHA_256')).valid, false);
    assert.ok((await kw.publicKey(ec)).publicKey.length > 50);
    const hm = await s.createKey({ spec: 'HMAC_256', usage: 'GENERATE_VERIFY_MAC' });
    const mac = await kw.mac(hm, Buffer.from('m'), 'HMAC_SHA_256');
    assert.equal(mac.mac.length, 32);
    assert.equal((await kw.verifyMac(hm, Buffer.from('m'), mac.mac, 'HMAC_SHA_256')).valid, true);
  });
});

describe('errors, request ids and retries', () => {
  test('a typed error carries the catalog code, HTTP status, the server request id and details; 4xx is never retried', async () => {
    s.resetCounts();
    await assert.rejects(kw.describeKey('alias/missing'), (e: unknown) => {
      assert.ok(e instanceof KeywardenError);
      assert.equal(e.code, 'NotFound');
      assert.equal(e.status, 404);
      assert.match(e.requestId ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(e.retryable, false);
      return true;
    });
    assert.equal(s.total(), 1, 'one attempt');
    const bad = new Keywarden({ address: s.address, token: 'kwr_not-a-token', retries: 5 });
    await rejectsWith(bad.describeKey(key), 'Unauthenticated', 401);
    assert.equal(s.total(), 2);
  });

  test('every call sends a request id, the same on each of its attempts', async () => {
    s.requestIds.length = 0;
    s.inject('503');
    await kw.describeKey(key);
    await kw.describeKey(key);
    const [a, b, c] = s.requestIds;
    assert.match(a ?? '', /^[0-9a-f]{32}$/);
    assert.equal(a, b, 'the retry keeps the id');
    assert.notEqual(b, c);
  });

  test('503, 429 and dropped connections are retried with back-off; then the call succeeds', async () => {
    const c = new Keywarden({ address: s.address, token: s.t.token, retries: 4, backoff: { baseMs: 5, maxMs: 20 } });
    s.resetCounts();
    s.inject('503');
    s.inject('429');
    s.inject('reset');
    assert.equal((await c.describeKey(key)).id, key);
    assert.equal(s.count(`GET /v1/keys/${key}`), 4);
    assert.equal(c.stats().retries, 3);
  });

  test('after the last retry the retryable error is thrown; a timeout is retried too', async () => {
    const c = new Keywarden({ address: s.address, token: s.t.token, retries: 2, timeoutMs: 300, backoff: { baseMs: 1, maxMs: 5 } });
    s.inject('503', 3);
    await assert.rejects(c.describeKey(key), (e: unknown) => e instanceof KeywardenError && e.code === 'HsmUnavailable' && e.status === 503 && e.retryable);
    assert.equal(c.stats().requests, 3);
    s.inject('hang');
    assert.equal((await c.describeKey(key)).id, key);
    s.inject('hang', 3);
    await rejectsWith(c.describeKey(key), 'Timeout');
  });

  test('an address nobody listens on is a NetworkError', async () => {
    const c = new Keywarden({ address: 'http://127.0.0.1:9', token: 'x', retries: 1, backoff: { baseMs: 1, maxMs: 2 } });
    await rejectsWith(c.random(8), 'NetworkError');
    assert.throws(() => new Keywarden({ address: 'ftp://x' }), /http:\/\/ or https:\/\//);
    assert.throws(() => new Keywarden({ address: 'http://x', token: 't', clientId: 'a', clientSecret: 'b' }), /not both/);
  });
});

describe('service-account credentials', () => {
  test('client_credentials tokens are fetched once, refreshed before they expire, and after a revocation', async () => {
    const sa = await s.t.req('POST', '/v1/principals', { name: 'sdk-app', roles: ['application'] });
    assert.equal(sa.status, 201, JSON.stringify(sa.json));
    const g = await s.t.req('POST', '/v1/grants', { key, principal: 'sdk-app', operations: ['encrypt', 'decrypt', 'generate-data-key'] });
    assert.equal(g.status, 201, JSON.stringify(g.json));
    const app = new Keywarden({ address: s.address, clientId: sa.json.clientId, clientSecret: sa.json.clientSecret, tokenLifetimeSeconds: 60, clock: s.clock });
    s.resetCounts();
    const token = () => s.count('POST /v1/auth/token');

    const m = await app.envelope.encrypt(Buffer.from('as a service'), { key, context: { svc: '1' } });
    assert.equal(token(), 1);
    s.clock.advance(20_000);
    await app.encrypt(key, Buffer.from('x'));
    assert.equal(token(), 1, 'still fresh');
    s.clock.advance(15_000); // 35 s: within the 30 s refresh margin of the 60 s token
    await app.encrypt(key, Buffer.from('x'));
    assert.equal(token(), 2, 'refreshed before expiry');
    s.clock.advance(3_600_000); // long after expiry: refreshed first, never a 401
    const before401 = s.count('POST /v1/keys/' + key + '/encrypt');
    await app.encrypt(key, Buffer.from('x'));
    assert.equal(token(), 3);
    assert.equal(s.count('POST /v1/keys/' + key + '/encrypt'), before401 + 1, 'no failed attempt');
    assert.equal((await app.envelope.decrypt(m)).plaintext.toString(), 'as a service');
    assert.equal(app.stats().tokenRefreshes, 3);

    // The token in use is revoked: one 401, a new token, the call succeeds.
    const revoked = await s.t.req('POST', '/v1/auth/revoke', { token: s.lastBearer() });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    const calls = s.total();
    await app.encrypt(key, Buffer.from('x'));
    assert.equal(token(), 4);
    assert.equal(s.total() - calls, 3, 'refused call, token, retried call');

    // The secret is rotated: the old one gets no token (Unauthenticated, not retried).
    const rot = await s.t.req('POST', '/v1/principals/sdk-app/rotate-secret');
    assert.equal(rot.status, 200);
    const stale = new Keywarden({ address: s.address, clientId: sa.json.clientId, clientSecret: sa.json.clientSecret, clock: s.clock });
    await rejectsWith(stale.encrypt(key, Buffer.from('x')), 'Unauthenticated', 401);
    const rotated = new Keywarden({ address: s.address, clientId: rot.json.clientId, clientSecret: rot.json.clientSecret, clock: s.clock });
    assert.equal((await rotated.encrypt(key, Buffer.from('x'))).keyId, key);
    await rejectsWith(rotated.describeKey(await s.createKey()), 'PermissionDenied', 403);
  });
});
