/**
 * The native REST contract of issue 1/10, through fastify.inject against a real SQLite store.
 * Every error case checks the code and the message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';
import { INVALID_CIPHERTEXT_MESSAGE } from '../../src/errors/catalog.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');


describe('REST API (dev seal, unsealed)', () => {
  let t: TestKeywarden;
  let keyA: any;
  let keyB: any;

  before(async () => {
    t = await startInProcess();
    keyA = (await t.req('POST', '/v1/keys', { description: 'orders', alias: 'alias/orders', tags: { team: 'pay', env: 'dev' } })).json.key;
    keyB = (await t.req('POST', '/v1/keys', { alias: ['alias/team/app', 'alias/b'] })).json.key;
  });
  after(() => t.close());

  test('health and seal status', async () => {
    const h = await t.req('GET', '/v1/sys/health', undefined, null);
    assert.equal(h.status, 200);
    assert.equal(h.json.initialized, true);
    assert.equal(h.json.sealed, false);
    assert.equal(h.json.sealType, 'dev');
    const s = await t.req('GET', '/v1/sys/seal-status', undefined, null);
    assert.deepEqual({ ...s.json }, { initialized: true, sealed: false, sealType: 'dev', threshold: 1, shares: 1, progress: 0 });
  });

  test('create key returns 201 with the key', async () => {
    const res = await t.req('POST', '/v1/keys', { description: 'd', alias: 'alias/created', tags: { a: 'b' }, spec: 'SYMMETRIC_DEFAULT' });
    assert.equal(res.status, 201);
    const k = res.json.key;
    assert.match(k.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(k.aliases, ['alias/created']);
    assert.equal(k.spec, 'SYMMETRIC_DEFAULT');
    assert.equal(k.usage, 'ENCRYPT_DECRYPT');
    assert.equal(k.state, 'Enabled');
    assert.equal(k.primaryVersion, 1);
    assert.equal(k.description, 'd');
    assert.deepEqual(k.tags, { a: 'b' });
    assert.ok(!Number.isNaN(Date.parse(k.createdAt)));
  });

  test('describe by id, by alias, and by an alias containing slashes', async () => {
    for (const ref of [keyA.id, 'alias/orders', encodeURIComponent('alias/orders')]) {
      const res = await t.req('GET', `/v1/keys/${ref}`);
      assert.equal(res.status, 200);
      assert.equal(res.json.key.id, keyA.id);
    }
    const res = await t.req('GET', '/v1/keys/alias/team/app');
    assert.equal(res.json.key.id, keyB.id);
    assert.deepEqual(res.json.key.aliases, ['alias/b', 'alias/team/app']);
  });

  test('list paginates over every key exactly once', async () => {
    for (let i = 0; i < 5; i++) await t.req('POST', '/v1/keys', { description: `page-${i}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: any = await t.req('GET', `/v1/keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      assert.ok(res.json.keys.length <= 2);
      seen.push(...res.json.keys.map((k: any) => k.id));
      cursor = res.json.nextCursor;
      pages++;
    } while (cursor);
    const all = (await t.req('GET', '/v1/keys?limit=1000')).json;
    assert.equal(all.nextCursor, null);
    assert.deepEqual(seen, all.keys.map((k: any) => k.id));
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(pages >= 4);
  });

  test('encrypt and decrypt round trip, with and without context', async () => {
    const plaintext = Buffer.from([...Array(256).keys()]);
    const enc = await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, { plaintext: b64(plaintext) });
    assert.equal(enc.status, 200);
    assert.equal(enc.json.keyId, keyA.id);
    assert.equal(enc.json.keyVersion, 1);
    const dec = await t.req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext });
    assert.equal(dec.status, 200);
    assert.equal(dec.json.plaintext, b64(plaintext));
    assert.equal(dec.json.keyId, keyA.id);

    const ctx = { tenant: 't-1', purpose: 'invoice' };
    const enc2 = await t.req('POST', '/v1/keys/alias/orders/encrypt', { plaintext: b64('hi'), context: ctx });
    const dec2 = await t.req('POST', '/v1/decrypt', { ciphertext: enc2.json.ciphertext, context: { purpose: 'invoice', tenant: 't-1' } });
    assert.equal(Buffer.from(dec2.json.plaintext, 'base64').toString(), 'hi');
  });

  test('wrong context, tampered, truncated and garbled ciphertexts all give the same InvalidCiphertext', async () => {
    const enc = await t.req('POST', '/v1/keys/alias/orders/encrypt', { plaintext: b64('secret'), context: { a: '1' } });
    const ct = Buffer.from(enc.json.ciphertext, 'base64');
    const tampered = Buffer.from(ct);
    tampered[tampered.length - 1]! ^= 1;
    const header = Buffer.from(ct);
    header[20]! ^= 1; // key version byte
    const cases: Array<[string, unknown]> = [
      ['wrong context', { ciphertext: enc.json.ciphertext, context: { a: '2' } }],
      ['missing context', { ciphertext: enc.json.ciphertext }],
      ['tampered body', { ciphertext: tampered.toString('base64'), context: { a: '1' } }],
      ['tampered header', { ciphertext: header.toString('base64'), context: { a: '1' } }],
      ['truncated', { ciphertext: ct.subarray(0, 30).toString('base64'), context: { a: '1' } }],
      ['garbled', { ciphertext: b64('this is not a ciphertext at all, just text'), context: { a: '1' } }],
      ['empty', { ciphertext: '', context: { a: '1' } }],
    ];
    for (const [name, body] of cases) {
      const res = await t.req('POST', '/v1/decrypt', body);
      assertError(res, 400, 'InvalidCiphertext', INVALID_CIPHERTEXT_MESSAGE);
      assert.ok(name);
    }
  });

  test('a ciphertext naming an unknown key is InvalidCiphertext too (no key-existence oracle)', async () => {
    const enc = await t.req('POST', '/v1/keys/alias/orders/encrypt', { plaintext: b64('x') });
    const ct = Buffer.from(enc.json.ciphertext, 'base64');
    ct[5]! ^= 0xff; // inside the key id
    assertError(await t.req('POST', '/v1/decrypt', { ciphertext: ct.toString('base64') }), 400, 'InvalidCiphertext', INVALID_CIPHERTEXT_MESSAGE);
  });

  test('bad input: malformed JSON, bad base64, oversize and empty plaintext, unknown fields, unknown key', async () => {
    assertError(await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, '{"plaintext": '), 400, 'ValidationError', 'the request body is not valid JSON');
    assertError(await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, { plaintext: 'not*base64!' }), 400, 'ValidationError', 'plaintext is not valid base64');
    assertError(await t.req('POST', '/v1/decrypt', { ciphertext: 'abc' }), 400, 'ValidationError', 'ciphertext is not valid base64');
    assertError(await t.req('POST', '/v1/keys', { spec: 'RSA_1024' }), 400, 'ValidationError', /^spec must be one of: SYMMETRIC_DEFAULT, HMAC_256, .*ECC_ED25519$/);
    assertError(
      await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, { plaintext: b64(Buffer.alloc(4097)) }),
      400,
      'ValidationError',
      'plaintext must be 1 to 4096 bytes; use envelope encryption (data keys) for larger data',
    );
    assertError(
      await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, { plaintext: '' }),
      400,
      'ValidationError',
      'plaintext must be 1 to 4096 bytes; use envelope encryption (data keys) for larger data',
    );
    assertError(await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, { plaintext: b64('x'), contxt: { a: 'b' } }), 400, 'ValidationError', 'body has an unknown field "contxt"');
    assertError(await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, {}), 400, 'ValidationError', 'body must contain "plaintext" (or "items" for a batch)');
    assertError(await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, { plaintext: 5 }), 400, 'ValidationError', 'plaintext must be string');
    assertError(await t.req('POST', `/v1/keys/${keyA.id}/encrypt`, { plaintext: b64('x'), context: { a: 1 } }), 400, 'ValidationError', 'context.a must be string');
    assertError(await t.req('POST', '/v1/keys/alias/nope/encrypt', { plaintext: b64('x') }), 404, 'NotFound', 'key "alias/nope" was not found');
    assertError(
      await t.req('POST', '/v1/keys/not-a-key/encrypt', { plaintext: b64('x') }),
      400,
      'ValidationError',
      '"not-a-key" is neither a key id (UUID) nor an alias (alias/...)',
    );
    assertError(await t.req('GET', '/v1/nothing-here'), 404, 'NotFound', 'no route for GET /v1/nothing-here');
    assertError(await t.req('POST', '/v1/keys', { alias: 'orders' }), 400, 'ValidationError', 'alias must match pattern "^alias/[a-zA-Z0-9/_-]+$"');
    assertError(await t.req('POST', '/v1/keys', { alias: 'alias/orders' }), 409, 'AlreadyExists', 'alias "alias/orders" is already in use');
    assertError(await t.req('POST', '/v1/keys', { alias: 'alias/aws/x' }), 400, 'ValidationError', 'alias "alias/aws/x" uses a reserved prefix');
    assertError(await t.req('GET', '/v1/keys?cursor=zzz'), 400, 'ValidationError', 'cursor is not a cursor returned by this API');
    assertError(await t.req('GET', '/v1/keys?limit=0'), 400, 'ValidationError', 'limit must be an integer between 1 and 1000');
    assertError(await t.req('GET', '/v1/keys?limit=abc'), 400, 'ValidationError', 'limit must match pattern "^[0-9]{1,6}$"');
    const res = await t.kw.app.inject({ method: 'POST', url: '/v1/random', headers: { authorization: `Bearer ${t.token}`, 'content-type': 'text/plain' }, payload: 'x' });
    assertError({ status: res.statusCode, json: res.json(), headers: res.headers }, 400, 'ValidationError', 'the request body must be JSON (Content-Type: application/json)');
  });

  test('authentication: missing and invalid tokens are 401 Unauthenticated', async () => {
    assertError(await t.req('GET', '/v1/keys', undefined, null), 401, 'Unauthenticated', 'A bearer token is required (Authorization: Bearer <token>)');
    assertError(await t.req('GET', '/v1/keys', undefined, 'kwr_wrong'), 401, 'Unauthenticated', 'The bearer token is not valid');
    assertError(await t.req('POST', '/v1/sys/seal', undefined, 'kwr_wrong'), 401, 'Unauthenticated', 'The bearer token is not valid');
    const res = await t.kw.app.inject({ method: 'GET', url: '/v1/keys', headers: { authorization: 'Basic abc' } });
    assert.equal(res.statusCode, 401);
  });

  test('generate data key: specs, byte counts, wrapped only; the wrapped key decrypts to the plaintext', async () => {
    const d = await t.req('POST', '/v1/keys/alias/orders/data-key', { context: { file: 'f1' } });
    assert.equal(d.status, 200);
    assert.equal(Buffer.from(d.json.plaintext, 'base64').length, 32);
    const back = await t.req('POST', '/v1/decrypt', { ciphertext: d.json.ciphertext, context: { file: 'f1' } });
    assert.equal(back.json.plaintext, d.json.plaintext);

    const d128 = await t.req('POST', '/v1/keys/alias/orders/data-key', { spec: 'AES_128' });
    assert.equal(Buffer.from(d128.json.plaintext, 'base64').length, 16);
    const d7 = await t.req('POST', '/v1/keys/alias/orders/data-key', { bytes: 7 });
    assert.equal(Buffer.from(d7.json.plaintext, 'base64').length, 7);
    const wrapped = await t.req('POST', '/v1/keys/alias/orders/data-key', { includePlaintext: false });
    assert.equal(wrapped.status, 200);
    assert.equal('plaintext' in wrapped.json, false);
    assert.equal((await t.req('POST', '/v1/decrypt', { ciphertext: wrapped.json.ciphertext })).status, 200);

    assertError(await t.req('POST', '/v1/keys/alias/orders/data-key', { spec: 'AES_256', bytes: 8 }), 400, 'ValidationError', 'give either spec or bytes, not both');
    assertError(await t.req('POST', '/v1/keys/alias/orders/data-key', { bytes: 1025 }), 400, 'ValidationError', 'bytes must be <= 1024');
    assertError(await t.req('POST', '/v1/keys/alias/orders/data-key', { spec: 'AES_512' }), 400, 'ValidationError', /^spec must/);
  });

  test('re-encrypt moves a ciphertext to another key and context without returning plaintext', async () => {
    const enc = await t.req('POST', '/v1/keys/alias/orders/encrypt', { plaintext: b64('move me'), context: { a: '1' } });
    const re = await t.req('POST', '/v1/re-encrypt', { ciphertext: enc.json.ciphertext, context: { a: '1' }, destinationKey: 'alias/b', destinationContext: { b: '2' } });
    assert.equal(re.status, 200);
    assert.deepEqual(Object.keys(re.json).sort(), ['ciphertext', 'keyId', 'keyVersion', 'sourceKeyId', 'sourceKeyVersion']);
    assert.equal(re.json.keyId, keyB.id);
    assert.equal(re.json.sourceKeyId, keyA.id);
    const dec = await t.req('POST', '/v1/decrypt', { ciphertext: re.json.ciphertext, context: { b: '2' } });
    assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), 'move me');
    assertError(
      await t.req('POST', '/v1/re-encrypt', { ciphertext: enc.json.ciphertext, context: { a: 'x' }, destinationKey: 'alias/b' }),
      400,
      'InvalidCiphertext',
      INVALID_CIPHERTEXT_MESSAGE,
    );
    assertError(await t.req('POST', '/v1/re-encrypt', { ciphertext: enc.json.ciphertext, destinationKey: 'alias/none' }), 404, 'NotFound', 'key "alias/none" was not found');
  });

  test('random bytes', async () => {
    const r = await t.req('POST', '/v1/random', { bytes: 32 });
    assert.equal(Buffer.from(r.json.random, 'base64').length, 32);
    const r2 = await t.req('POST', '/v1/random', { bytes: 32 });
    assert.notEqual(r.json.random, r2.json.random);
    assertError(await t.req('POST', '/v1/random', { bytes: 0 }), 400, 'ValidationError', 'bytes must be >= 1');
    assertError(await t.req('POST', '/v1/random', { bytes: 1025 }), 400, 'ValidationError', 'bytes must be <= 1024');
    assertError(await t.req('POST', '/v1/random', {}), 400, 'ValidationError', 'body is missing the required field "bytes"');
  });

  test('batch encrypt and decrypt: every item gets its own result or error', async () => {
    const items = [
      { plaintext: b64('one'), ref: 'a' },
      { plaintext: '', ref: 'bad' },
      { plaintext: b64('three'), context: { k: 'v' } },
    ];
    const enc = await t.req('POST', '/v1/keys/alias/orders/encrypt', { items });
    assert.equal(enc.status, 200);
    const [one, bad, three] = enc.json.items;
    assert.equal(one.ref, 'a');
    assert.equal(one.keyId, keyA.id);
    assert.equal(bad.ref, 'bad');
    assert.equal(bad.error.code, 'ValidationError');
    assert.equal(bad.error.message, 'plaintext must be 1 to 4096 bytes; use envelope encryption (data keys) for larger data');
    assert.equal(three.ref, '2');

    const dec = await t.req('POST', '/v1/decrypt', {
      items: [
        { ciphertext: one.ciphertext, ref: 'x' },
        { ciphertext: three.ciphertext, ref: 'y' },
        { ciphertext: three.ciphertext, context: { k: 'v' }, ref: 'z' },
      ],
    });
    assert.equal(dec.status, 200);
    assert.equal(Buffer.from(dec.json.items[0].plaintext, 'base64').toString(), 'one');
    assert.deepEqual(dec.json.items[1], { ref: 'y', error: { code: 'InvalidCiphertext', message: INVALID_CIPHERTEXT_MESSAGE } });
    assert.equal(Buffer.from(dec.json.items[2].plaintext, 'base64').toString(), 'three');

    const many = Array.from({ length: 1001 }, () => ({ plaintext: b64('x') }));
    assertError(await t.req('POST', '/v1/keys/alias/orders/encrypt', { items: many }), 413, 'LimitExceeded', 'a batch holds at most 1000 items');
    assertError(
      await t.req('POST', '/v1/keys/alias/orders/encrypt', { items: [{ plaintext: b64('x') }], plaintext: b64('y') }),
      400,
      'ValidationError',
      'send either plaintext (with context) or items, not both',
    );
    const full = await t.req('POST', '/v1/keys/alias/orders/encrypt', { items: Array.from({ length: 1000 }, (_, i) => ({ plaintext: b64(`item-${i}`) })) });
    assert.equal(full.json.items.length, 1000);
    assert.ok(full.json.items.every((it: any) => typeof it.ciphertext === 'string'));
  });

  test('GET /v1/openapi.json is generated from the validating schemas', async () => {
    const res = await t.req('GET', '/v1/openapi.json', undefined, null);
    assert.equal(res.status, 200);
    const doc = res.json;
    assert.match(doc.openapi, /^3\./);
    const enc = doc.paths['/v1/keys/{keyRef}/encrypt'].post;
    const schema = enc.requestBody.content['application/json'].schema;
    assert.equal(schema.additionalProperties, false);
    assert.ok(schema.properties.plaintext && schema.properties.items && schema.properties.context);
    for (const p of [
      '/v1/sys/health', '/v1/sys/init', '/v1/sys/unseal', '/v1/sys/seal', '/v1/sys/jobs', '/v1/keys', '/v1/keys/{keyRef}', '/v1/decrypt',
      '/v1/keys/{keyRef}/data-key', '/v1/re-encrypt', '/v1/random', '/v1/keys/{keyRef}/rotate', '/v1/keys/{keyRef}/versions',
      '/v1/keys/{keyRef}/versions/{version}/destroy', '/v1/keys/{keyRef}/schedule-deletion', '/v1/keys/{keyRef}/revoke', '/v1/aliases',
      '/v1/keys/{keyRef}/sign', '/v1/keys/{keyRef}/verify', '/v1/keys/{keyRef}/public-key', '/v1/keys/{keyRef}/mac', '/v1/keys/{keyRef}/verify-mac',
      '/v1/keys/{keyRef}/re-wrap', '/v1/keys/{keyRef}/import-parameters', '/v1/keys/{keyRef}/import', '/v1/keys/{keyRef}/export',
      '/v1/reports/unused-keys', '/v1/reports/unused-keys/purge',
    ]) {
      assert.ok(doc.paths[p], `openapi has ${p}`);
    }
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
  });
});

describe('shamir seal over the REST API', () => {
  let t: TestKeywarden;
  before(async () => {
    t = await startInProcess({ seal: 'shamir' });
  });
  after(() => t.close());

  test('lifecycle: not initialized -> init -> sealed -> unseal with threshold shares -> seal', async () => {
    const h0 = await t.req('GET', '/v1/sys/health', undefined, null);
    assert.equal(h0.status, 501);
    assert.equal(h0.json.initialized, false);
    assertError(await t.req('GET', '/v1/keys', undefined, null), 501, 'NotInitialized', 'Keywarden is not initialized: run `keywarden operator init`');

    assertError(await t.req('POST', '/v1/sys/init', { shares: 3, threshold: 4 }), 400, 'ValidationError', 'threshold must be between 1 and shares');
    const init = await t.req('POST', '/v1/sys/init', { shares: 5, threshold: 3 }, null);
    assert.equal(init.status, 200);
    assert.equal(init.json.shares.length, 5);
    assert.equal(new Set(init.json.shares).size, 5);
    assert.match(init.json.rootToken, /^kwr_/);
    const token: string = init.json.rootToken;
    assertError(await t.req('POST', '/v1/sys/init', { shares: 1, threshold: 1 }, null), 409, 'AlreadyInitialized', 'Keywarden is already initialized');

    const h1 = await t.req('GET', '/v1/sys/health', undefined, null);
    assert.equal(h1.status, 503);
    assert.equal(h1.json.sealed, true);
    assertError(await t.req('POST', '/v1/keys', {}, token), 503, 'Sealed', 'Keywarden is sealed: unseal it with the unseal shares before using keys');

    const [s1, s2, s3, s4] = init.json.shares as string[];
    let st = await t.req('POST', '/v1/sys/unseal', { share: s1 }, null);
    assert.deepEqual(st.json, { initialized: true, sealed: true, sealType: 'shamir', threshold: 3, shares: 5, progress: 1 });
    assertError(await t.req('POST', '/v1/sys/unseal', { share: s1 }, null), 400, 'InvalidShare', 'this unseal share was already submitted; submit a different one');
    const foreign = Buffer.from(s2!, 'base64');
    foreign[0]! ^= 1;
    assertError(
      await t.req('POST', '/v1/sys/unseal', { share: foreign.toString('base64') }, null),
      400,
      'InvalidShare',
      'this unseal share was not issued for this Keywarden (check for a typo or a share of another cluster)',
    );
    assertError(await t.req('POST', '/v1/sys/unseal', { share: 'short' }, null), 400, 'InvalidShare', 'an unseal share is 33 bytes in base64; this one is malformed');
    st = await t.req('POST', '/v1/sys/unseal', { share: s2 }, null);
    assert.equal(st.json.progress, 2);
    assert.equal(st.json.sealed, true);
    assert.equal((await t.req('GET', '/v1/sys/health', undefined, null)).status, 503, 'fewer than threshold shares keep it sealed');
    st = await t.req('POST', '/v1/sys/unseal', { reset: true }, null);
    assert.equal(st.json.progress, 0);
    for (const s of [s4, s3]) await t.req('POST', '/v1/sys/unseal', { share: s }, null);
    st = await t.req('POST', '/v1/sys/unseal', { share: s1 }, null);
    assert.equal(st.json.sealed, false);
    assert.equal(st.json.progress, 0);
    assert.equal((await t.req('GET', '/v1/sys/health', undefined, null)).status, 200);

    const key = (await t.req('POST', '/v1/keys', { alias: 'alias/s' }, token)).json.key;
    const enc = await t.req('POST', '/v1/keys/alias/s/encrypt', { plaintext: b64('sealed world') }, token);
    assert.equal(enc.status, 200);
    const material = await t.kw.keys.material(key.id, 1);
    const rootKey = t.kw.seal.rootKey();
    assert.ok(material && !material.disposed);
    const rootBytes = rootKey.expose();

    assertError(await t.req('POST', '/v1/sys/seal', undefined, null), 401, 'Unauthenticated', 'A bearer token is required (Authorization: Bearer <token>)');
    const sealed = await t.req('POST', '/v1/sys/seal', undefined, token);
    assert.deepEqual(sealed.json, { sealed: true });
    assert.equal(material.disposed, true, 'cached key material is dropped on seal');
    assert.equal(rootKey.disposed, true, 'root key is dropped on seal');
    assert.ok(rootBytes.every((b) => b === 0), 'root key bytes are zeroized');
    assertError(await t.req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext }, token), 503, 'Sealed', 'Keywarden is sealed: unseal it with the unseal shares before using keys');

    for (const s of [s2, s3, s4]) await t.req('POST', '/v1/sys/unseal', { share: s }, null);
    const dec = await t.req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext }, token);
    assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), 'sealed world');
  });
});
