/**
 * Access control through the real HTTP server (fastify.inject): the generated matrix is in
 * authz-matrix.test.ts; here: deny messages, separation-of-duties refusals,
 * client credentials (JSON, form, Basic), token expiry and revocation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { ManualClock } from '../../src/util/clock.js';
import { ROLES, type Role } from '../../src/auth/principal.model.js';
import { assertError } from '../support/assert.js';

type Res = { status: number; json: any; headers: Record<string, unknown> };
const b64 = (s: string) => Buffer.from(s).toString('base64');


async function form(t: TestKeywarden, url: string, body: string, headers: Record<string, string> = {}): Promise<Res> {
  const res = await t.kw.app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  return { status: res.statusCode, json: JSON.parse(res.body), headers: res.headers };
}

async function serviceAccount(t: TestKeywarden, name: string, roles: Role[]): Promise<{ token: string; clientId: string; clientSecret: string }> {
  const c = await t.req('POST', '/v1/principals', { name, roles });
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
  assert.equal(tok.status, 200, JSON.stringify(tok.json));
  return { token: tok.json.access_token, clientId: c.json.clientId, clientSecret: c.json.clientSecret };
}

describe('authorization: root, deny messages, revoked grants', () => {
  let t: TestKeywarden;
  const tokens = {} as Record<Role, string>;

  before(async () => {
    t = await startInProcess();
    for (const r of ROLES) tokens[r] = (await serviceAccount(t, `sa-${r}`, [r])).token;
  });
  after(() => t.close());

  test('root keeps every permission (bootstrap)', async () => {
    assert.equal((await t.req('POST', '/v1/keys', {})).status, 201);
    assert.equal((await t.req('GET', '/v1/principals')).status, 200);
  });

  test('a deny never reveals whether a key exists', async () => {
    const key = (await t.req('POST', '/v1/keys', {})).json.key;
    const missing = '00000000-0000-4000-8000-000000000000';
    const a = await t.req('GET', `/v1/keys/${key.id}`, undefined, tokens.application);
    const b = await t.req('GET', `/v1/keys/${missing}`, undefined, tokens.application);
    const c = await t.req('GET', '/v1/keys/alias/does-not-exist', undefined, tokens.application);
    assertError(a, 403, 'PermissionDenied', `sa-application is not allowed to perform key:describe: it holds no grant on key ${key.id}`);
    assertError(b, 403, 'PermissionDenied', `sa-application is not allowed to perform key:describe: it holds no grant on key ${missing}`);
    assertError(c, 403, 'PermissionDenied', 'sa-application is not allowed to perform key:describe: it holds no grant on key alias/does-not-exist');
  });

  test('the role deny names the missing permission', async () => {
    assertError(await t.req('POST', '/v1/keys', {}, tokens.auditor), 403, 'PermissionDenied', 'sa-auditor is not allowed to perform key:create: none of its roles (auditor) grants it');
  });

  test('a revoked grant stops working', async () => {
    const key = (await t.req('POST', '/v1/keys', {})).json.key;
    const g = (await t.req('POST', '/v1/grants', { key: key.id, principal: 'sa-application', operations: ['encrypt'] })).json.grant;
    assert.equal((await t.req('GET', `/v1/keys/${key.id}`, undefined, tokens.application)).status, 200);
    const listed = await t.req('GET', `/v1/grants?key=${key.id}`, undefined, tokens.auditor);
    assert.deepEqual(listed.json.grants.map((x: any) => x.id), [g.id]);
    const del = await t.req('DELETE', `/v1/grants/${g.id}`, undefined, tokens['security-officer']);
    assert.equal(del.status, 200);
    assert.ok(del.json.grant.revokedAt);
    assertError(await t.req('GET', `/v1/keys/${key.id}`, undefined, tokens.application), 403, 'PermissionDenied', /holds no grant on key/);
    assertError(await t.req('DELETE', `/v1/grants/${g.id}`), 404, 'NotFound', `grant ${g.id} was not found or is already revoked`);
  });
});

describe('separation of duties', () => {
  let t: TestKeywarden;
  let admin: string;
  before(async () => {
    t = await startInProcess();
    admin = (await serviceAccount(t, 'alice-admin', ['admin'])).token;
  });
  after(() => t.close());

  test('key-administrator and application cannot be held together', async () => {
    assertError(
      await t.req('POST', '/v1/principals', { name: 'both', roles: ['key-administrator', 'application'] }, admin),
      403, 'PermissionDenied', 'separation of duties: both cannot hold both key-administrator and application',
    );
    assert.equal((await t.req('POST', '/v1/principals', { name: 'ka', roles: ['key-administrator'] }, admin)).status, 201);
    assertError(await t.req('POST', '/v1/principals/ka/roles', { roles: ['application'] }, admin), 403, 'PermissionDenied', 'separation of duties: ka cannot hold both key-administrator and application');
    assertError(await t.req('POST', '/v1/principals/ka/roles', { roles: ['admin'] }, admin), 403, 'PermissionDenied', 'separation of duties: ka cannot hold both admin and key-administrator');
  });

  test('a principal cannot change its own role bindings', async () => {
    assertError(await t.req('POST', '/v1/principals/alice-admin/roles', { roles: ['auditor'] }, admin), 403, 'PermissionDenied', 'separation of duties: alice-admin cannot change its own role bindings or status');
  });

  test('the creator of a key cannot be granted use of it, even after a role change', async () => {
    const ka = await serviceAccount(t, 'creator', ['key-administrator']);
    const key = (await t.req('POST', '/v1/keys', {}, ka.token)).json.key;
    assert.equal((await t.req('DELETE', '/v1/principals/creator/roles/key-administrator', undefined, admin)).status, 200);
    assert.equal((await t.req('POST', '/v1/principals/creator/roles', { roles: ['application'] }, admin)).status, 200);
    assertError(
      await t.req('POST', '/v1/grants', { key: key.id, principal: 'creator', operations: ['encrypt', 'decrypt'] }),
      403, 'PermissionDenied', `separation of duties: creator created key ${key.id} and cannot be granted use of it`,
    );
    // Roles are read live: the former key administrator lost key:create at once.
    assertError(await t.req('POST', '/v1/keys', {}, ka.token), 403, 'PermissionDenied', 'creator is not allowed to perform key:create: none of its roles (application) grants it');
  });

  test('admin cannot use or manage keys', async () => {
    assertError(await t.req('POST', '/v1/keys', {}, admin), 403, 'PermissionDenied', /^alice-admin is not allowed to perform key:create/);
    assertError(await t.req('GET', '/v1/keys', undefined, admin), 403, 'PermissionDenied', /^alice-admin is not allowed to perform key:list/);
  });

  test('unknown roles and grant operations are refused', async () => {
    assertError(await t.req('POST', '/v1/principals', { name: 'x', roles: ['god'] }, admin), 400, 'ValidationError', /^unknown role "god"/);
    await serviceAccount(t, 'app1', ['application']);
    const key = (await t.req('POST', '/v1/keys', {})).json.key;
    assertError(await t.req('POST', '/v1/grants', { key: key.id, principal: 'app1', operations: ['fly'] }), 400, 'ValidationError', /^unknown grant operation "fly"/);
    assertError(await t.req('POST', '/v1/principals', { name: 'app1', roles: [] }, admin), 409, 'AlreadyExists', 'a principal named app1 already exists');
  });
});

describe('service-account tokens (OAuth 2.0 client credentials)', () => {
  let t: TestKeywarden;
  const clock = new ManualClock();
  let creds: { clientId: string; clientSecret: string };
  before(async () => {
    t = await startInProcess({ clock });
    const c = await t.req('POST', '/v1/principals', { name: 'reader', roles: ['auditor'] });
    creds = { clientId: c.json.clientId, clientSecret: c.json.clientSecret };
    assert.match(c.json.clientSecret, /^kws_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(c.json.principal.roles, ['auditor']);
  });
  after(() => t.close());

  const json = (extra: Record<string, unknown> = {}) => t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret, ...extra }, null);

  test('JSON body: RFC 6749 §5.1 answer, EdDSA JWT with jti', async () => {
    const res = await json();
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.json).sort(), ['access_token', 'expires_in', 'token_type']);
    assert.equal(res.json.token_type, 'Bearer');
    assert.equal(res.json.expires_in, 900);
    assert.equal(res.headers['cache-control'], 'no-store');
    const [h, p] = (res.json.access_token as string).split('.').slice(0, 2).map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()));
    assert.equal(h.alg, 'EdDSA');
    assert.equal(p.iss, 'keywarden');
    assert.equal(p.exp - p.iat, 900);
    assert.match(p.jti, /^[0-9a-f-]{36}$/);
    assert.equal((await t.req('GET', '/v1/keys', undefined, res.json.access_token)).status, 200);
  });

  test('form body and HTTP Basic client authentication', async () => {
    const f = await form(t, '/v1/auth/token', `grant_type=client_credentials&client_id=${encodeURIComponent(creds.clientId)}&client_secret=${encodeURIComponent(creds.clientSecret)}`);
    assert.equal(f.status, 200, JSON.stringify(f.json));
    assert.equal(f.json.token_type, 'Bearer');
    const basic = Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64');
    const b = await form(t, '/v1/auth/token', 'grant_type=client_credentials', { authorization: `Basic ${basic}` });
    assert.equal(b.status, 200, JSON.stringify(b.json));
    assertError(await form(t, '/v1/auth/token', 'grant_type=client_credentials&grant_type=client_credentials'), 400, 'ValidationError', 'the parameter grant_type is repeated');
    // Other routes never accept a form body.
    const other = await t.kw.app.inject({ method: 'POST', url: '/v1/keys', payload: 'description=x', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${t.token}` } });
    assert.equal(other.statusCode, 400);
  });

  test('wrong secret, unknown client and wrong grant type', async () => {
    const wrong = creds.clientSecret.slice(0, -1) + (creds.clientSecret.endsWith('A') ? 'B' : 'A');
    assertError(await json({ client_secret: wrong }), 401, 'Unauthenticated', 'The client credentials are not valid');
    assertError(await json({ client_id: 'kwc_nope' }), 401, 'Unauthenticated', 'The client credentials are not valid');
    assertError(await json({ grant_type: 'password' }), 400, 'ValidationError', 'grant_type must be client_credentials (RFC 6749 §4.4)');
    assertError(await json({ expires_in: 7200 }), 400, 'ValidationError', 'expires_in must be a whole number of seconds between 60 and 3600');
  });

  test('tokens expire (ManualClock), default 15 min, max 1 h', async () => {
    const short = (await json()).json.access_token;
    const long = (await json({ expires_in: 3600 })).json.access_token;
    clock.advance(15 * 60 * 1000);
    assertError(await t.req('GET', '/v1/keys', undefined, short), 401, 'Unauthenticated', 'The access token is not valid or has expired');
    assert.equal((await t.req('GET', '/v1/keys', undefined, long)).status, 200);
    clock.advance(45 * 60 * 1000);
    assertError(await t.req('GET', '/v1/keys', undefined, long), 401, 'Unauthenticated', 'The access token is not valid or has expired');
  });

  test('revocation takes effect immediately', async () => {
    const tok = (await json()).json.access_token;
    assert.equal((await t.req('GET', '/v1/keys', undefined, tok)).status, 200);
    const r = await t.req('POST', '/v1/auth/revoke', { token: tok }, tok);
    assert.deepEqual(r.json, { revoked: true });
    assertError(await t.req('GET', '/v1/keys', undefined, tok), 401, 'Unauthenticated', 'The access token has been revoked');
    // RFC 7009 §2.2: an invalid token is not an error.
    assert.deepEqual((await t.req('POST', '/v1/auth/revoke', { token: 'garbage' })).json, { revoked: false });
  });

  test('another principal\u2019s token needs token:revoke', async () => {
    const tok = (await json()).json.access_token;
    const other = await serviceAccount(t, 'app-x', ['application']);
    assertError(await t.req('POST', '/v1/auth/revoke', { token: tok }, other.token), 403, 'PermissionDenied', /^app-x is not allowed to perform token:revoke/);
    assert.deepEqual((await t.req('POST', '/v1/auth/revoke', { token: tok })).json, { revoked: true });
  });

  test('rotating the secret invalidates the old one; disabling stops tokens at once', async () => {
    const old = creds.clientSecret;
    const tok = (await json()).json.access_token;
    const rot = await t.req('POST', '/v1/principals/reader/rotate-secret');
    assert.equal(rot.status, 200);
    creds = { clientId: rot.json.clientId, clientSecret: rot.json.clientSecret };
    assert.notEqual(creds.clientSecret, old);
    assert.equal((await json()).status, 200);
    assertError(await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: old }, null), 401, 'Unauthenticated', 'The client credentials are not valid');
    assert.equal((await t.req('POST', '/v1/principals/reader/disable')).status, 200);
    assertError(await t.req('GET', '/v1/keys', undefined, tok), 401, 'Unauthenticated', 'The access token is not valid or has expired');
    assertError(await json(), 401, 'Unauthenticated', 'The client credentials are not valid');
  });

  test('a token with alg none is refused', async () => {
    const tok = (await t.req('POST', '/v1/principals', { name: 'z', roles: ['auditor'] })).json;
    const [, p] = ((await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: tok.clientId, client_secret: tok.clientSecret }, null)).json.access_token as string).split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    assertError(await t.req('GET', '/v1/keys', undefined, none), 401, 'Unauthenticated', /not valid/);
  });
});
