/**
 * No secret, hash or token appears in the logs (issue 3/10 acceptance). A real `keywarden dev`
 * process runs at log level `trace`; the test drives every flow that handles a secret — good and
 * bad — and then scans everything the server wrote for each secret, its SHA-256 (hex and base64)
 * and the markers of stored hashes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { generate } from 'otplib';
import { startDevServer, type DevServer } from './helpers.js';

type Res = { status: number; json: any };

describe('logs carry no secrets', () => {
  let srv: DevServer;
  /** Every secret value the flows below saw; the scan looks for each. */
  const secrets = new Set<string>();

  async function call(method: string, path: string, body?: unknown, token?: string | null, headers: Record<string, string> = {}): Promise<Res> {
    const auth = token === null ? undefined : (token ?? srv.rootToken);
    const res = await fetch(srv.address + path, {
      method,
      headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  before(async () => {
    srv = await startDevServer({ extraArgs: ['--log-level', 'trace'] });
    secrets.add(srv.rootToken);
  });
  after(async () => srv?.stop());

  test('service accounts, access tokens, revocation', async () => {
    const sa = await call('POST', '/v1/principals', { name: 'logscan-app', roles: ['application'] });
    assert.equal(sa.status, 201, JSON.stringify(sa.json));
    secrets.add(sa.json.clientSecret);
    const tok = await call('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: sa.json.clientId, client_secret: sa.json.clientSecret }, null);
    assert.equal(tok.status, 200);
    secrets.add(tok.json.access_token);
    const wrong = 'kws_' + 'x'.repeat(43);
    secrets.add(wrong);
    assert.equal((await call('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: sa.json.clientId, client_secret: wrong }, null)).status, 401);
    const rot = await call('POST', '/v1/principals/logscan-app/rotate-secret', {});
    assert.equal(rot.status, 200, JSON.stringify(rot.json));
    secrets.add(rot.json.clientSecret);
    assert.equal((await call('POST', '/v1/auth/revoke', { token: tok.json.access_token }, tok.json.access_token)).status, 200);
    assert.equal((await call('GET', '/v1/keys', undefined, tok.json.access_token)).status, 401);
    const bogus = 'kwr_' + 'y'.repeat(40);
    secrets.add(bogus);
    assert.equal((await call('GET', '/v1/keys', undefined, bogus)).status, 401);
  });

  test('plaintexts and data keys', async () => {
    const k = await call('POST', '/v1/keys', { description: 'log scan' });
    assert.equal(k.status, 201);
    const plaintext = Buffer.from('log-scan-plaintext-' + 'z'.repeat(24)).toString('base64');
    secrets.add(plaintext);
    const enc = await call('POST', `/v1/keys/${k.json.key.id}/encrypt`, { plaintext, context: { tenant: 'log-scan' } });
    assert.equal(enc.status, 200, JSON.stringify(enc.json));
    assert.equal((await call('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext, context: { tenant: 'log-scan' } })).status, 200);
    assert.equal((await call('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext, context: { tenant: 'other' } })).status, 400);
    const dk = await call('POST', `/v1/keys/${k.json.key.id}/data-key`, {});
    assert.equal(dk.status, 200, JSON.stringify(dk.json));
    secrets.add(dk.json.plaintext);
    const rnd = await call('POST', '/v1/random', { bytes: 32 });
    assert.equal(rnd.status, 200, JSON.stringify(rnd.json));
    secrets.add(rnd.json.random);
  });

  test('users: passwords, TOTP secrets, recovery codes, session tokens, lockout', async () => {
    const password = 'correct-horse-battery-staple-42';
    secrets.add(password);
    assert.equal((await call('POST', '/v1/users', { name: 'logscan-alice', roles: ['auditor'], password })).status, 201);
    const generated = await call('POST', '/v1/users', { name: 'logscan-bob', roles: ['auditor'] });
    assert.equal(generated.status, 201, JSON.stringify(generated.json));
    secrets.add(generated.json.initialPassword);
    for (let i = 0; i < 6; i++) {
      const wrong = `wrong-password-attempt-${i}`;
      secrets.add(wrong);
      assert.ok([401, 429].includes((await call('POST', '/v1/auth/login', { username: 'logscan-bob', password: wrong }, null)).status));
    }
    const login = await call('POST', '/v1/auth/login', { username: 'logscan-alice', password }, null);
    assert.equal(login.status, 200, JSON.stringify(login.json));
    const session = login.json.token as string;
    secrets.add(session);
    const enrol = await call('POST', '/v1/users/logscan-alice/mfa/enroll', {}, session);
    assert.equal(enrol.status, 200, JSON.stringify(enrol.json));
    const totpSecret = new URL(enrol.json.otpauthUri).searchParams.get('secret')!;
    secrets.add(totpSecret);
    for (const c of enrol.json.recoveryCodes as string[]) secrets.add(c);
    const now = Math.floor(Date.now() / 1000);
    const confirmCode = await generate({ secret: totpSecret, epoch: now - 30 });
    assert.equal((await call('POST', '/v1/users/logscan-alice/mfa/confirm', { otp: confirmCode }, session)).status, 200);
    const mfaLogin = await call('POST', '/v1/auth/login', { username: 'logscan-alice', password, otp: await generate({ secret: totpSecret, epoch: now }) }, null);
    assert.equal(mfaLogin.status, 200, JSON.stringify(mfaLogin.json));
    secrets.add(mfaLogin.json.token);
    const recovery = await call('POST', '/v1/auth/login', { username: 'logscan-alice', password, otp: enrol.json.recoveryCodes[0] }, null);
    assert.equal(recovery.status, 200, JSON.stringify(recovery.json));
    secrets.add(recovery.json.token);
    const refreshed = await call('POST', '/v1/auth/refresh', undefined, recovery.json.token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    secrets.add(refreshed.json.token);
    assert.equal((await call('POST', '/v1/auth/logout', undefined, refreshed.json.token)).status, 200);
    assert.equal((await call('GET', '/v1/keys', undefined, refreshed.json.token)).status, 401);
  });

  test('signed JWT client assertions', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const sa = await call('POST', '/v1/principals', { name: 'logscan-jwt', roles: ['auditor'], publicKey: pem });
    assert.equal(sa.status, 201, JSON.stringify(sa.json));
    secrets.add(sa.json.clientSecret);
    const key = await importPKCS8(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'ES256');
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(sa.json.clientId)
      .setSubject(sa.json.clientId)
      .setAudience('keywarden')
      .setJti(`jti-${Date.now()}`)
      .setIssuedAt()
      .setExpirationTime('2m')
      .sign(key);
    secrets.add(assertion);
    const body = { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion };
    const tok = await call('POST', '/v1/auth/token', body, null);
    assert.equal(tok.status, 200, JSON.stringify(tok.json));
    secrets.add(tok.json.access_token);
    assert.equal((await call('POST', '/v1/auth/token', body, null)).status, 401, 'a replayed assertion is refused');
  });

  test('the scan: no secret, no digest of one, no stored-hash marker', async () => {
    // Let the process flush its log lines.
    await new Promise((r) => setTimeout(r, 200));
    const { stdout, stderr } = srv.output();
    // The dev banner prints the root token on purpose (like `vault server -dev`); everything after it is scanned.
    const afterBanner = stdout.slice(stdout.indexOf('Listening on'));
    const logs = afterBanner + '\n' + stderr;
    assert.ok(stderr.length > 0, 'the server logged something at trace level');
    assert.ok(secrets.size >= 8, `collected ${secrets.size} secrets`);
    for (const s of secrets) {
      const forms = [s, createHash('sha256').update(s).digest('hex'), createHash('sha256').update(s).digest('base64')];
      if (/^[A-Za-z0-9+/=]+$/.test(s) && s.length >= 16) forms.push(Buffer.from(s, 'base64').toString('hex'));
      for (const f of forms) assert.ok(!logs.includes(f), `a secret (or its digest) appears in the server output: ${f.slice(0, 6)}…`);
    }
    for (const marker of ['$argon2id$', 'otpauth://', 'kwu_', 'kws_']) assert.ok(!logs.includes(marker), `the server output contains ${marker}`);
  });
});
