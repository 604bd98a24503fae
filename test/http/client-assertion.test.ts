/**
 * Signed JWT client assertions (RFC 7523 §2.2) at POST /v1/auth/token through the real HTTP
 * server and SQLite: key registration (at creation and later), ES256 / EdDSA / RS256 assertions
 * made with jose in the test, and every refusal (replay, expiry, lifetime, audience, key,
 * algorithm, claims, disabled account) answered with the one invalid-client error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, exportSPKI, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { ManualClock } from '../../src/util/clock.js';
import { assertError } from '../support/assert.js';

const TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const INVALID = 'The client credentials are not valid';
type Res = { status: number; json: any; headers: Record<string, unknown> };

interface Pair {
  alg: 'ES256' | 'EdDSA' | 'RS256';
  privateKey: CryptoKey;
  pem: string;
}

async function pair(alg: Pair['alg']): Promise<Pair> {
  const k = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey: k.privateKey, pem: await exportSPKI(k.publicKey) };
}

describe('signed JWT client assertions (RFC 7523)', () => {
  const clock = new ManualClock();
  let t: TestKeywarden;
  let es: Pair;
  let ed: Pair;
  let clientId: string;
  let jtiCounter = 0;

  const nowS = () => Math.floor(clock.now() / 1000);

  /** A valid assertion for `clientId` unless `over` says otherwise. */
  async function assertion(p: Pair, id: string, over: { claims?: JWTPayload; header?: Record<string, unknown>; aud?: string | string[]; iat?: number; exp?: number; noJti?: boolean; sub?: string } = {}): Promise<string> {
    const iat = over.iat ?? nowS();
    const jwt = new SignJWT({ ...(over.noJti ? {} : { jti: `jti-${++jtiCounter}` }), ...over.claims })
      .setProtectedHeader({ alg: p.alg, ...over.header })
      .setIssuer(id)
      .setSubject(over.sub ?? id)
      .setAudience(over.aud ?? 'keywarden')
      .setIssuedAt(iat)
      .setExpirationTime(over.exp ?? iat + 120);
    return jwt.sign(p.privateKey);
  }

  const tokenJson = (jwt: string, extra: Record<string, unknown> = {}) =>
    t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: jwt, ...extra }, null);

  async function tokenForm(jwt: string): Promise<Res> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: jwt }).toString();
    const res = await t.kw.app.inject({ method: 'POST', url: '/v1/auth/token', payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return { status: res.statusCode, json: JSON.parse(res.body), headers: res.headers };
  }

  const refused = (res: Res) => assertError(res, 401, 'Unauthenticated', INVALID);

  before(async () => {
    t = await startInProcess({ clock });
    [es, ed] = await Promise.all([pair('ES256'), pair('EdDSA')]);
    const created = await t.req('POST', '/v1/principals', { name: 'jwt-app', roles: ['auditor'], publicKey: es.pem });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.key.alg, 'ES256');
    assert.match(created.json.key.id, /^ck_/);
    clientId = created.json.clientId;
  });
  after(() => t.close());

  test('ES256 assertion registered at creation, JSON body: token works and is short-lived', async () => {
    const res = await tokenJson(await assertion(es, clientId));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.token_type, 'Bearer');
    assert.equal(res.json.expires_in, 900);
    assert.equal((await t.req('GET', '/v1/keys', undefined, res.json.access_token)).status, 200);
    // client_id may accompany the assertion when it names the same client (RFC 7521 §4.2).
    assert.equal((await tokenJson(await assertion(es, clientId), { client_id: clientId, expires_in: 120 })).json.expires_in, 120);
    refused(await tokenJson(await assertion(es, clientId), { client_id: 'kwc_someoneelse' }));
  });

  test('EdDSA key added later, form body, kid header, token-endpoint audience', async () => {
    const add = await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: ed.pem });
    assert.equal(add.status, 201, JSON.stringify(add.json));
    assert.equal(add.json.key.alg, 'EdDSA');
    const kid = add.json.key.id as string;
    const list = await t.req('GET', '/v1/principals/jwt-app/keys');
    assert.deepEqual(list.json.keys.map((k: { alg: string }) => k.alg), ['ES256', 'EdDSA']);

    const res = await tokenForm(await assertion(ed, clientId, { header: { kid } }));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal((await t.req('GET', '/v1/keys', undefined, res.json.access_token)).status, 200);
    // fastify.inject sends Host: localhost:80; the token endpoint URL on that host is an accepted audience.
    assert.equal((await tokenJson(await assertion(ed, clientId, { aud: ['other', 'http://localhost:80/v1/auth/token'] }))).status, 200);
    // A kid naming another key of the account is refused even though the ES256 key exists.
    refused(await tokenJson(await assertion(ed, clientId, { header: { kid: 'ck_nope' } })));
  });

  test('replay of the same assertion is refused', async () => {
    const jwt = await assertion(es, clientId);
    assert.equal((await tokenJson(jwt)).status, 200);
    refused(await tokenJson(jwt));
    refused(await tokenForm(jwt));
    // The jti is scoped to the client and single use even once the first token is revoked.
    clock.advance(60_000);
    refused(await tokenJson(jwt));
  });

  test('expired, too long, not yet valid, issued in the future: refused', async () => {
    refused(await tokenJson(await assertion(es, clientId, { iat: nowS() - 400, exp: nowS() - 100 })));
    refused(await tokenJson(await assertion(es, clientId, { exp: nowS() + 301 })));
    refused(await tokenJson(await assertion(es, clientId, { iat: nowS() - 200, exp: nowS() + 200 })), );
    refused(await tokenJson(await assertion(es, clientId, { iat: nowS() + 120, exp: nowS() + 200 })));
    refused(await tokenJson(await assertion(es, clientId, { claims: { nbf: nowS() + 120 } })));
    // 300 s is the maximum lifetime and is accepted.
    assert.equal((await tokenJson(await assertion(es, clientId, { exp: nowS() + 300 }))).status, 200);
    // An assertion that was valid becomes useless once it expires (ManualClock).
    const jwt = await assertion(es, clientId, { exp: nowS() + 60 });
    clock.advance(91_000);
    refused(await tokenJson(jwt));
  });

  test('wrong audience, wrong key, wrong alg, bad claims: refused', async () => {
    refused(await tokenJson(await assertion(es, clientId, { aud: 'https://elsewhere.example/v1/auth/token' })));
    refused(await tokenJson(await assertion(es, clientId, { aud: 'http://localhost:81/v1/auth/token' })));
    const stranger = await pair('ES256');
    refused(await tokenJson(await assertion(stranger, clientId)));
    const rsa = await pair('RS256');
    refused(await tokenJson(await assertion(rsa, clientId)));
    refused(await tokenJson(await assertion(es, clientId, { noJti: true })));
    refused(await tokenJson(await assertion(es, clientId, { sub: 'kwc_other' })));
    refused(await tokenJson(await assertion(es, 'kwc_unknownclient')));
    // alg "none" and an HMAC with the public key as secret are never accepted.
    const [h, p] = (await assertion(es, clientId)).split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
    refused(await tokenJson(none));
    const hs = await new SignJWT({ jti: 'hs' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(clientId).setSubject(clientId).setAudience('keywarden').setIssuedAt(nowS()).setExpirationTime(nowS() + 60).sign(Buffer.from(es.pem));
    refused(await tokenJson(hs));
    refused(await tokenJson(`${h}.${p}.AAAA`));
    refused(await tokenJson('not-a-jwt'));
  });

  test('malformed requests are validation errors', async () => {
    const jwt = await assertion(es, clientId);
    assertError(await tokenJson(jwt, { client_assertion_type: 'urn:other' }), 400, 'ValidationError', `client_assertion_type must be ${TYPE} (RFC 7523 §2.2)`);
    assertError(await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_assertion_type: TYPE }, null), 400, 'ValidationError', 'client_assertion is required with client_assertion_type');
    assertError(await tokenJson(jwt, { client_secret: 'kws_x' }), 400, 'ValidationError', 'authenticate the client with one method: a client assertion or a client secret, not both');
  });

  test('key registration refuses weak, foreign and private keys; duplicates; deletion stops the key', async () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    assertError(await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: rsa1024 }), 400, 'ValidationError', 'RSA keys must have 2048–8192 bits; this one has 1024');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    assertError(await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: p384 }), 400, 'ValidationError', 'EC keys must use the P-256 curve (ES256); this one uses secp384r1');
    const priv = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    assertError(await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: priv }), 400, 'ValidationError', 'publicKey must be a PEM "PUBLIC KEY" (SPKI) block');
    assertError(await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }), 400, 'ValidationError', 'publicKey is not a valid SPKI public key');
    assertError(await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: es.pem }), 409, 'AlreadyExists', 'service account jwt-app already has this public key');
    assertError(await t.req('POST', '/v1/principals', { name: 'weak', roles: [], publicKey: rsa1024 }), 400, 'ValidationError', 'RSA keys must have 2048–8192 bits; this one has 1024');
    assert.equal((await t.req('GET', '/v1/principals')).json.principals.some((p: { name: string }) => p.name === 'weak'), false, 'a refused key creates no account');

    const rsa = await pair('RS256');
    const add = await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: rsa.pem });
    assert.equal(add.json.key.alg, 'RS256');
    assert.equal((await tokenJson(await assertion(rsa, clientId))).status, 200);
    assert.deepEqual((await t.req('DELETE', `/v1/principals/jwt-app/keys/${add.json.key.id}`)).json, { deleted: true });
    refused(await tokenJson(await assertion(rsa, clientId)));
    assertError(await t.req('DELETE', `/v1/principals/jwt-app/keys/${add.json.key.id}`), 404, 'NotFound', `service account jwt-app has no public key ${add.json.key.id}`);
  });

  test('who may manage keys: principal:manage to add, principal:read to list; not on oneself', async () => {
    const mk = async (name: string, roles: string[]) => {
      const c = (await t.req('POST', '/v1/principals', { name, roles })).json;
      return (await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret }, null)).json.access_token as string;
    };
    const admin = await mk('ca-admin', ['admin']);
    const auditor = await mk('ca-auditor', ['auditor']);
    const k = await pair('ES256');
    assertError(await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: k.pem }, auditor), 403, 'PermissionDenied', /^ca-auditor is not allowed to perform principal:manage/);
    assert.equal((await t.req('GET', '/v1/principals/jwt-app/keys', undefined, auditor)).status, 200);
    assert.equal((await t.req('POST', '/v1/principals/jwt-app/keys', { publicKey: k.pem }, admin)).status, 201);
    assertError(await t.req('POST', '/v1/principals/ca-admin/keys', { publicKey: k.pem }, admin), 403, 'PermissionDenied', 'separation of duties: ca-admin cannot change its own role bindings or status');
  });

  test('a rotated secret keeps the client id; a disabled account cannot use assertions', async () => {
    const rot = await t.req('POST', '/v1/principals/jwt-app/rotate-secret');
    assert.equal(rot.json.clientId, clientId);
    assert.equal((await tokenJson(await assertion(es, clientId))).status, 200);
    assert.equal((await t.req('POST', '/v1/principals/jwt-app/disable')).status, 200);
    refused(await tokenJson(await assertion(es, clientId)));
    assert.equal((await t.req('POST', '/v1/principals/jwt-app/enable')).status, 200);
    assert.equal((await tokenJson(await assertion(es, clientId))).status, 200);
  });
});
