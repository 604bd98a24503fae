/**
 * Grants through the real HTTP server (fastify.inject) and real SQLite: every condition type
 * allowing and denying (single calls, batch items, data keys, re-encrypt, re-wrap), validity
 * windows with a ManualClock, tag-selector grants, the grant API and its views, last-use
 * recording, and the key creator stored atomically with the key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Role } from '../../src/auth/principal.model.js';
import type { Principal } from '../../src/auth/token.model.js';

type Res = { status: number; json: any; headers: Record<string, unknown> };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const HINT = 'that matches this request (conditions: encryption context, source address, validity window)';
const MIN = 60_000;

/** A JSON request with a bearer token, optionally from another source address. */
async function send(t: TestKeywarden, method: string, url: string, body: unknown, token: string, remoteAddress?: string): Promise<Res> {
  const res = await t.kw.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    ...(remoteAddress ? { remoteAddress } : {}),
  });
  return { status: res.statusCode, json: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
}

/** Creates a service account (as root) and returns a one-hour access token for it and its id. */
async function account(t: TestKeywarden, name: string, roles: Role[]): Promise<{ token: string; id: string }> {
  const c = await t.req('POST', '/v1/principals', { name, roles });
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret, expires_in: 3600 }, null);
  assert.equal(tok.status, 200, JSON.stringify(tok.json));
  return { token: tok.json.access_token, id: c.json.principal.id };
}

/** The common cast: a key administrator that creates keys and grants, and two applications. */
async function cast(t: TestKeywarden) {
  const ka = await account(t, 'ka', ['key-administrator']);
  const app = await account(t, 'app', ['application']);
  const other = await account(t, 'other', ['application']);
  const newKey = async (body: object = {}) => {
    const r = await send(t, 'POST', '/v1/keys', body, ka.token);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.key.id as string;
  };
  const grant = async (body: object) => {
    const r = await send(t, 'POST', '/v1/grants', { principal: 'app', ...body }, ka.token);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.grant;
  };
  return { ka, app, other, newKey, grant };
}

const denied = (action: string, op: string, ref: string) => `app is not allowed to perform key:${action}: it holds no grant for ${op} on key ${ref} ${HINT}`;

describe('encryption-context conditions', () => {
  let t: TestKeywarden;
  let c: Awaited<ReturnType<typeof cast>>;
  before(async () => {
    t = await startInProcess();
    c = await cast(t);
  });
  after(() => t.close());

  test('contextEquals: encrypt and decrypt only with exactly that context', async () => {
    const key = await c.newKey();
    await c.grant({ key, operations: ['encrypt', 'decrypt'], conditions: { contextEquals: { tenant: 'acme', app: 'billing' } } });
    const ok = await send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('hi'), context: { app: 'billing', tenant: 'acme' } }, c.app.token);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    for (const context of [{ tenant: 'acme' }, { tenant: 'acme', app: 'billing', extra: 'x' }, { tenant: 'acme', app: 'other' }, undefined]) {
      assertError(await send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('hi'), ...(context ? { context } : {}) }, c.app.token), 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
    }
    const dec = await send(t, 'POST', '/v1/decrypt', { ciphertext: ok.json.ciphertext, context: { tenant: 'acme', app: 'billing' } }, c.app.token);
    assert.equal(dec.status, 200, JSON.stringify(dec.json));
    assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), 'hi');
    // A different context is refused by the grant before the ciphertext is even looked at.
    assertError(await send(t, 'POST', '/v1/decrypt', { ciphertext: ok.json.ciphertext, context: { tenant: 'evil', app: 'billing' } }, c.app.token), 403, 'PermissionDenied', denied('decrypt', 'decrypt', key));
  });

  test('contextIncludes: data keys (with and without plaintext) need the pairs, extra pairs allowed', async () => {
    const key = await c.newKey();
    await c.grant({ key, operations: ['generate-data-key'], conditions: { contextIncludes: { tenant: 'acme' } } });
    const withPt = await send(t, 'POST', `/v1/keys/${key}/data-key`, { context: { tenant: 'acme', purpose: 'backup' } }, c.app.token);
    assert.equal(withPt.status, 200, JSON.stringify(withPt.json));
    assert.ok(withPt.json.plaintext);
    const without = await send(t, 'POST', `/v1/keys/${key}/data-key`, { includePlaintext: false, context: { tenant: 'acme' } }, c.app.token);
    assert.equal(without.status, 200, JSON.stringify(without.json));
    assert.equal(without.json.plaintext, undefined);
    assertError(await send(t, 'POST', `/v1/keys/${key}/data-key`, { context: { tenant: 'other' } }, c.app.token), 403, 'PermissionDenied', denied('generate-data-key', 'generate-data-key', key));
    assertError(await send(t, 'POST', `/v1/keys/${key}/data-key`, { includePlaintext: false }, c.app.token), 403, 'PermissionDenied', denied('generate-data-key', 'generate-data-key', key));
  });

  test('batch encrypt: each item is authorized with its own context', async () => {
    const key = await c.newKey();
    await c.grant({ key, operations: ['encrypt'], conditions: { contextIncludes: { tenant: 'acme' } } });
    const r = await send(t, 'POST', `/v1/keys/${key}/encrypt`, {
      items: [
        { ref: 'a', plaintext: b64('1'), context: { tenant: 'acme' } },
        { ref: 'b', plaintext: b64('2'), context: { tenant: 'other' } },
        { ref: 'c', plaintext: b64('3') },
        { ref: 'd', plaintext: b64('4'), context: { tenant: 'acme', x: 'y' } },
      ],
    }, c.app.token);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.items.map((i: any) => [i.ref, i.ciphertext !== undefined, i.error?.code]), [
      ['a', true, undefined],
      ['b', false, 'PermissionDenied'],
      ['c', false, 'PermissionDenied'],
      ['d', true, undefined],
    ]);
    assert.equal(r.json.items[1].error.message, denied('encrypt', 'encrypt', key));
    // Without any grant on the key the whole batch is refused, exactly as for an unknown key.
    const bare = await c.newKey();
    const missing = '00000000-0000-4000-8000-000000000000';
    assertError(await send(t, 'POST', `/v1/keys/${bare}/encrypt`, { items: [{ plaintext: b64('1'), context: { tenant: 'acme' } }] }, c.app.token), 403, 'PermissionDenied', denied('encrypt', 'encrypt', bare));
    assertError(await send(t, 'POST', `/v1/keys/${missing}/encrypt`, { items: [{ plaintext: b64('1'), context: { tenant: 'acme' } }] }, c.app.token), 403, 'PermissionDenied', denied('encrypt', 'encrypt', missing));
  });

  test('batch decrypt: each item is authorized with its own context', async () => {
    const key = await c.newKey();
    await c.grant({ key, operations: ['decrypt'], conditions: { contextEquals: { tenant: 'acme' } } });
    const enc = async (context: Record<string, string>) => (await t.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('p'), context })).json.ciphertext as string;
    const good = await enc({ tenant: 'acme' });
    const bad = await enc({ tenant: 'other' });
    const r = await send(t, 'POST', '/v1/decrypt', {
      items: [
        { ref: 'good', ciphertext: good, context: { tenant: 'acme' } },
        { ref: 'bad', ciphertext: bad, context: { tenant: 'other' } },
      ],
    }, c.app.token);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(Buffer.from(r.json.items[0].plaintext, 'base64').toString(), 'p');
    assert.deepEqual(r.json.items[1].error, { code: 'PermissionDenied', message: denied('decrypt', 'decrypt', key) });
  });

  test('re-encrypt: source checked with the source context, destination with the destination context', async () => {
    const source = await c.newKey();
    const dest = await c.newKey();
    await c.grant({ key: source, operations: ['re-encrypt'], conditions: { contextEquals: { side: 'source' } } });
    await c.grant({ key: dest, operations: ['re-encrypt'], conditions: { contextEquals: { side: 'dest' } } });
    const ct = (await t.req('POST', `/v1/keys/${source}/encrypt`, { plaintext: b64('move me'), context: { side: 'source' } })).json.ciphertext;
    const ok = await send(t, 'POST', '/v1/re-encrypt', { ciphertext: ct, context: { side: 'source' }, destinationKey: dest, destinationContext: { side: 'dest' } }, c.app.token);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.keyId, dest);
    assert.equal(ok.json.sourceKeyId, source);
    assertError(
      await send(t, 'POST', '/v1/re-encrypt', { ciphertext: ct, context: { side: 'source' }, destinationKey: dest, destinationContext: { side: 'source' } }, c.app.token),
      403, 'PermissionDenied', denied('re-encrypt', 're-encrypt', dest),
    );
    assertError(
      await send(t, 'POST', '/v1/re-encrypt', { ciphertext: ct, context: { side: 'dest' }, destinationKey: dest, destinationContext: { side: 'dest' } }, c.app.token),
      403, 'PermissionDenied', denied('re-encrypt', 're-encrypt', source),
    );
  });

  test('re-wrap: checked with the ciphertext\u2019s context', async () => {
    const key = await c.newKey();
    await c.grant({ key, operations: ['re-wrap'], conditions: { contextIncludes: { tenant: 'acme' } } });
    const ct = (await t.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('w'), context: { tenant: 'acme' } })).json.ciphertext;
    const bad = (await t.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('w'), context: { tenant: 'x' } })).json.ciphertext;
    assert.equal((await send(t, 'POST', `/v1/keys/${key}/re-wrap`, { ciphertext: ct, context: { tenant: 'acme' } }, c.app.token)).status, 200);
    assertError(await send(t, 'POST', `/v1/keys/${key}/re-wrap`, { ciphertext: bad, context: { tenant: 'x' } }, c.app.token), 403, 'PermissionDenied', denied('re-wrap', 're-wrap', key));
  });

  test('a deny never reveals whether the key exists', async () => {
    const key = await c.newKey({ alias: 'alias/conditional' });
    await c.grant({ key, operations: ['encrypt'], conditions: { contextEquals: { a: 'b' } } });
    for (const ref of ['alias/conditional', 'alias/nothing-here']) {
      assertError(await send(t, 'POST', `/v1/keys/${ref}/encrypt`, { plaintext: b64('x'), context: { a: 'c' } }, c.app.token), 403, 'PermissionDenied', denied('encrypt', 'encrypt', ref));
    }
  });
});

describe('source-address conditions', () => {
  let t: TestKeywarden;
  let c: Awaited<ReturnType<typeof cast>>;
  let key: string;
  before(async () => {
    t = await startInProcess();
    c = await cast(t);
    key = await c.newKey();
    await c.grant({ key, operations: ['encrypt', 'generate-data-key'], conditions: { sourceCidrs: ['10.0.0.0/8', '2001:db8::/32'] } });
  });
  after(() => t.close());

  const cases: Array<[string, boolean]> = [
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true],
    ['2001:db8::7', true],
    ['192.0.2.1', false],
    ['::ffff:192.0.2.1', false],
    ['2001:db9::7', false],
    ['127.0.0.1', false],
  ];
  for (const [ip, allowed] of cases) {
    test(`encrypt from ${ip}: ${allowed ? 'allowed' : 'denied'}`, async () => {
      const r = await send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x') }, c.app.token, ip);
      if (allowed) assert.equal(r.status, 200, JSON.stringify(r.json));
      else assertError(r, 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
    });
  }

  test('batch items and data keys are bound by the address too', async () => {
    const batch = (ip: string) => send(t, 'POST', `/v1/keys/${key}/encrypt`, { items: [{ plaintext: b64('1') }, { plaintext: b64('2') }] }, c.app.token, ip);
    assert.deepEqual((await batch('10.0.0.9')).json.items.map((i: any) => i.error?.code), [undefined, undefined]);
    assertError(await batch('192.0.2.1'), 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
    assert.equal((await send(t, 'POST', `/v1/keys/${key}/data-key`, {}, c.app.token, '10.0.0.9')).status, 200);
    assertError(await send(t, 'POST', `/v1/keys/${key}/data-key`, {}, c.app.token, '192.0.2.1'), 403, 'PermissionDenied', denied('generate-data-key', 'generate-data-key', key));
  });
});

describe('validity window (ManualClock)', () => {
  const clock = new ManualClock();
  let t: TestKeywarden;
  let c: Awaited<ReturnType<typeof cast>>;
  before(async () => {
    t = await startInProcess({ clock });
    c = await cast(t);
  });
  after(() => t.close());

  test('not before, then allowed, and expiry bites at the exact millisecond (no cache delay)', async () => {
    const key = await c.newKey();
    const start = clock.now();
    const g = await c.grant({ key, operations: ['encrypt'], conditions: { notBefore: new Date(start + MIN).toISOString(), notAfter: new Date(start + 2 * MIN).toISOString() } });
    assert.deepEqual(g.conditions, { notBefore: new Date(start + MIN).toISOString(), notAfter: new Date(start + 2 * MIN).toISOString() });
    const enc = () => send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x') }, c.app.token);
    assertError(await enc(), 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
    clock.advance(MIN - 1);
    assertError(await enc(), 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
    clock.advance(1);
    assert.equal((await enc()).status, 200);
    clock.set(start + 2 * MIN - 1);
    assert.equal((await enc()).status, 200);
    // The grant list is still cached (< 1 s old): conditions are evaluated per call regardless.
    clock.advance(1);
    assertError(await enc(), 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
  });

  test('refused windows', async () => {
    const key = await c.newKey();
    const now = clock.now();
    const create = (conditions: object) => send(t, 'POST', '/v1/grants', { key, principal: 'app', operations: ['encrypt'], conditions }, c.ka.token);
    assertError(await create({ notAfter: new Date(now).toISOString() }), 400, 'ValidationError', 'conditions.notAfter is not in the future');
    assertError(await create({ notBefore: new Date(now + 2 * MIN).toISOString(), notAfter: new Date(now + MIN).toISOString() }), 400, 'ValidationError', 'conditions.notBefore must be earlier than conditions.notAfter');
    assertError(await create({ notAfter: 'tomorrow' }), 400, 'ValidationError', 'conditions.notAfter must match format "date-time"');
  });
});

describe('tag-selector grants', () => {
  let t: TestKeywarden;
  let c: Awaited<ReturnType<typeof cast>>;
  before(async () => {
    t = await startInProcess();
    c = await cast(t);
  });
  after(() => t.close());

  test('match the key\u2019s current tags: tagging and untagging change access at once', async () => {
    const tagged = await c.newKey({ tags: { team: 'payments', env: 'prod' } });
    const plain = await c.newKey({ tags: { team: 'search' } });
    const g = await c.grant({ tagSelector: { team: 'payments' }, operations: ['encrypt'] });
    assert.equal(g.keyId, null);
    assert.deepEqual(g.tagSelector, { team: 'payments' });
    const enc = (key: string) => send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x') }, c.app.token);
    assert.equal((await enc(tagged)).status, 200);
    assertError(await enc(plain), 403, 'PermissionDenied', denied('encrypt', 'encrypt', plain));
    assert.equal((await send(t, 'POST', `/v1/keys/${plain}/tags`, { tags: { team: 'payments' } }, c.ka.token)).status, 200);
    assert.equal((await enc(plain)).status, 200);
    assert.equal((await send(t, 'POST', `/v1/keys/${tagged}/untag`, { tagKeys: ['team'] }, c.ka.token)).status, 200);
    assertError(await enc(tagged), 403, 'PermissionDenied', denied('encrypt', 'encrypt', tagged));
    // Listing by key shows the selector grants that apply to it now.
    const forPlain = await send(t, 'GET', `/v1/grants?key=${plain}`, undefined, c.ka.token);
    assert.deepEqual(forPlain.json.grants.map((x: any) => x.id), [g.id]);
    assert.deepEqual((await send(t, 'GET', `/v1/grants?key=${tagged}`, undefined, c.ka.token)).json.grants, []);
  });

  test('a selector with conditions needs both', async () => {
    const key = await c.newKey({ tags: { tier: 'gold' } });
    await c.grant({ tagSelector: { tier: 'gold' }, operations: ['encrypt'], conditions: { contextIncludes: { tenant: 'acme' } } });
    assert.equal((await send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x'), context: { tenant: 'acme' } }, c.app.token)).status, 200);
    assertError(await send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x') }, c.app.token), 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
  });

  test('the creator of a key never uses it through a selector', async () => {
    const maker = await account(t, 'maker', ['key-administrator']);
    const own = (await send(t, 'POST', '/v1/keys', { tags: { pool: 'shared' } }, maker.token)).json.key.id;
    const others = await c.newKey({ tags: { pool: 'shared' } });
    // Roles change later (root rebinds): maker becomes an application.
    assert.equal((await t.req('DELETE', '/v1/principals/maker/roles/key-administrator')).status, 200);
    assert.equal((await t.req('POST', '/v1/principals/maker/roles', { roles: ['application'] })).status, 200);
    assert.equal((await t.req('POST', '/v1/grants', { tagSelector: { pool: 'shared' }, principal: 'maker', operations: ['encrypt'] })).status, 201);
    assert.equal((await send(t, 'POST', `/v1/keys/${others}/encrypt`, { plaintext: b64('x') }, maker.token)).status, 200);
    assertError(
      await send(t, 'POST', `/v1/keys/${own}/encrypt`, { plaintext: b64('x') }, maker.token),
      403, 'PermissionDenied', `maker is not allowed to perform key:encrypt: it holds no grant for encrypt on key ${own} ${HINT}`,
    );
    // A key grant to the creator is refused outright.
    assertError(await t.req('POST', '/v1/grants', { key: own, principal: 'maker', operations: ['encrypt'] }), 403, 'PermissionDenied', `separation of duties: maker created key ${own} and cannot be granted use of it`);
  });

  test('selector grants need grant:manage', async () => {
    assertError(
      await send(t, 'POST', '/v1/grants', { tagSelector: { a: 'b' }, principal: 'other', operations: ['encrypt'] }, c.app.token),
      403, 'PermissionDenied', 'app is not allowed to perform grant:manage: none of its roles (application) grants it',
    );
  });
});

describe('grant API', () => {
  const clock = new ManualClock();
  let t: TestKeywarden;
  let c: Awaited<ReturnType<typeof cast>>;
  before(async () => {
    t = await startInProcess({ clock });
    c = await cast(t);
  });
  after(() => t.close());

  test('the view shows target, conditions (ISO times), creator, times, last use and approval request', async () => {
    const key = await c.newKey();
    const notAfter = new Date(clock.now() + 3_600_000).toISOString();
    const g = await c.grant({ key, operations: ['encrypt', 'decrypt', 'encrypt'], conditions: { contextIncludes: { t: 'a' }, sourceCidrs: ['10.0.0.0/8'], notAfter } });
    assert.deepEqual(Object.keys(g).sort(), ['approvalRequestId', 'conditions', 'createdAt', 'createdBy', 'id', 'keyId', 'lastUsedAt', 'operations', 'principalId', 'revokedAt', 'tagSelector']);
    assert.equal(g.keyId, key);
    assert.equal(g.tagSelector, null);
    assert.equal(g.principalId, c.app.id);
    assert.deepEqual(g.operations, ['encrypt', 'decrypt']);
    assert.deepEqual(g.conditions, { contextIncludes: { t: 'a' }, sourceCidrs: ['10.0.0.0/8'], notAfter });
    assert.equal(g.createdBy, c.ka.id);
    assert.equal(g.createdAt, new Date(clock.now()).toISOString());
    assert.equal(g.revokedAt, null);
    assert.equal(g.lastUsedAt, null);
    assert.equal(g.approvalRequestId, null);
  });

  test('the plain form {key, principal, operations} still works; filters by key and principal', async () => {
    const key = await c.newKey();
    const a = await c.grant({ key, operations: ['encrypt'] });
    const b = (await send(t, 'POST', '/v1/grants', { key, principal: 'other', operations: ['decrypt'] }, c.ka.token)).json.grant;
    assert.deepEqual(a.conditions, {});
    const byKey = await send(t, 'GET', `/v1/grants?key=${key}`, undefined, c.ka.token);
    assert.deepEqual(byKey.json.grants.map((x: any) => x.id).sort(), [a.id, b.id].sort());
    const both = await send(t, 'GET', `/v1/grants?key=${key}&principal=other`, undefined, c.ka.token);
    assert.deepEqual(both.json.grants.map((x: any) => x.id), [b.id]);
    const byPrincipal = await send(t, 'GET', '/v1/grants?principal=other', undefined, c.ka.token);
    assert.ok(byPrincipal.json.grants.every((x: any) => x.principalId === c.other.id));
    assertError(await send(t, 'GET', '/v1/grants?principal=nobody', undefined, c.ka.token), 404, 'NotFound', 'principal nobody was not found');
    assertError(await send(t, 'GET', '/v1/grants?color=red', undefined, c.ka.token), 400, 'ValidationError', 'querystring has an unknown field "color"');
  });

  test('revoke stops a conditional grant at once', async () => {
    const key = await c.newKey();
    const g = await c.grant({ key, operations: ['encrypt'], conditions: { contextIncludes: { t: 'a' } } });
    const enc = () => send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x'), context: { t: 'a' } }, c.app.token);
    assert.equal((await enc()).status, 200);
    const del = await send(t, 'DELETE', `/v1/grants/${g.id}`, undefined, c.ka.token);
    assert.equal(del.status, 200);
    assert.equal(del.json.grant.revokedAt, new Date(clock.now()).toISOString());
    assertError(await enc(), 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
    assertError(await send(t, 'DELETE', `/v1/grants/${g.id}`, undefined, c.ka.token), 404, 'NotFound', `grant ${g.id} was not found or is already revoked`);
  });

  test('invalid requests are refused with the reason', async () => {
    const key = await c.newKey();
    const post = (body: object) => send(t, 'POST', '/v1/grants', { principal: 'app', operations: ['encrypt'], ...body }, c.ka.token);
    assertError(await post({ key, tagSelector: { a: 'b' } }), 400, 'ValidationError', 'give either key or tagSelector (exactly one)');
    assertError(await post({}), 400, 'ValidationError', 'give either key or tagSelector (exactly one)');
    assertError(await post({ tagSelector: {} }), 400, 'ValidationError', 'tagSelector must NOT have fewer than 1 properties');
    assertError(await post({ key, conditions: { sourceCidrs: ['300.1.1.1/8'] } }), 400, 'ValidationError', 'conditions.sourceCidrs: "300.1.1.1/8" is not an IPv4 or IPv6 address or CIDR range');
    assertError(await post({ key, conditions: { sourceCidrs: ['10.0.0.1/8'] } }), 400, 'ValidationError', 'conditions.sourceCidrs: 10.0.0.1/8 has address bits set beyond its prefix length');
    assertError(await post({ key, conditions: { contextEquals: { a: 'b' }, contextIncludes: { a: 'b' } } }), 400, 'ValidationError', 'conditions take either contextEquals or contextIncludes, not both');
    const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    assertError(await post({ key, conditions: { contextEquals: seventeen } }), 400, 'ValidationError', 'conditions.contextEquals must NOT have more than 16 properties');
    assertError(await post({ key, conditions: { ipRange: '10.0.0.0/8' } }), 400, 'ValidationError', 'conditions has an unknown field "ipRange"');
  });

  test('just-in-time grants keep their approval request (service call of the approvals flow)', async () => {
    const key = await c.newKey();
    const approver: Principal = { kind: 'service-account', id: c.ka.id, name: 'ka', roles: ['key-administrator'], accessor: 'test', displayName: 'ka', environment: null };
    const grantee = await t.kw.store.principals.getPrincipalByName('app');
    assert.ok(grantee);
    const g = await t.kw.grants.create(approver, { keyId: key }, grantee, ['encrypt'], { notAfter: clock.now() + MIN }, { approvalRequestId: 'req-123' });
    const listed = (await send(t, 'GET', `/v1/grants?key=${key}`, undefined, c.ka.token)).json.grants;
    assert.deepEqual(listed.map((x: any) => [x.id, x.approvalRequestId, x.createdBy]), [[g.id, 'req-123', c.ka.id]]);
    assert.equal((await send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x') }, c.app.token)).status, 200);
    clock.advance(MIN);
    assertError(await send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x') }, c.app.token), 403, 'PermissionDenied', denied('encrypt', 'encrypt', key));
  });

  test('last use: recorded in memory on each allowed use, written by the usage-flush job', async () => {
    const key = await c.newKey();
    const g = await c.grant({ key, operations: ['encrypt'] });
    clock.advance(5_000);
    const usedAt = clock.now();
    assert.equal((await send(t, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x') }, c.app.token)).status, 200);
    assert.equal((await t.kw.store.principals.getGrant(g.id))?.lastUsedAt, null, 'no store write on the request path');
    const listed = (await send(t, 'GET', `/v1/grants?key=${key}`, undefined, c.ka.token)).json.grants[0];
    assert.equal(listed.lastUsedAt, new Date(usedAt).toISOString(), 'the view includes unflushed uses');
    const run = await t.kw.scheduler.runNow('usage-flush');
    assert.equal(run?.status, 'ok', JSON.stringify(run));
    assert.equal((await t.kw.store.principals.getGrant(g.id))?.lastUsedAt, usedAt);
    // A denied call is not a use; a flush never moves lastUsedAt back.
    const conditional = await c.grant({ key: await c.newKey(), operations: ['encrypt'], conditions: { contextIncludes: { t: 'a' } } });
    assert.equal((await send(t, 'POST', `/v1/keys/${conditional.keyId}/encrypt`, { plaintext: b64('x'), context: { t: 'b' } }, c.app.token)).status, 403);
    await t.kw.scheduler.runNow('usage-flush');
    assert.equal((await t.kw.store.principals.getGrant(conditional.id))?.lastUsedAt, null);
    await t.kw.store.principals.recordGrantUse([{ id: g.id, lastUsedAt: usedAt - 10_000 }]);
    assert.equal((await t.kw.store.principals.getGrant(g.id))?.lastUsedAt, usedAt);
  });
});

describe('key creator stored with the key', () => {
  let t: TestKeywarden;
  before(async () => {
    t = await startInProcess();
  });
  after(() => t.close());

  test('createKey writes the creator in the same row, and getKeyCreator reads it', async () => {
    const ka = await account(t, 'ka', ['key-administrator']);
    const id = (await send(t, 'POST', '/v1/keys', {}, ka.token)).json.key.id;
    assert.equal((await t.kw.store.keys.getKey(id))?.createdBy, ka.id);
    assert.equal(await t.kw.store.principals.getKeyCreator(id), ka.id);
    // One row, one INSERT: there is no separate creator table left to fall out of step.
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(t.dbPath, { readonly: true });
    try {
      assert.equal(db.prepare('SELECT created_by FROM keys WHERE id = ?').pluck().get(id), ka.id);
      assert.equal(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'key_creators'").pluck().get(), 0);
    } finally {
      db.close();
    }
    // The key view does not expose it (it is an internal SoD fact).
    assert.equal((await t.req('GET', `/v1/keys/${id}`)).json.key.createdBy, undefined);
  });
});
