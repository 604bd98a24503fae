/**
 * People through the real HTTP server (fastify.inject) and real SQLite, with a ManualClock:
 * users, argon2id passwords, TOTP MFA and recovery codes, session expiry / refresh / 8 h cap /
 * logout / revocation, restricted sessions before enrolment, step-up, lockout with back-off,
 * TOTP replay refusal, and no secret in the clear in the database file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ScureBase32Plugin, generate } from 'otplib';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';
import { ManualClock } from '../../src/util/clock.js';

const PW = 'correct horse battery staple';
const LOGIN_FAILED = 'The user name, password or one-time password is not valid';
const MIN = 60_000;

/** The base32 secret of an otpauth:// URI, and the TOTP code for a time (computed here with otplib, as an authenticator app would). */
const secretOf = (uri: string) => new URL(uri).searchParams.get('secret') as string;
const totp = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });

function harness(t: () => TestKeywarden, clock: ManualClock) {
  return {
    async createUser(name: string, roles: string[], password: string | null = PW) {
      const r = await t().req('POST', '/v1/users', { name, roles, ...(password === null ? {} : { password }) });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json;
    },
    login(username: string, password = PW, otp?: string) {
      return t().req('POST', '/v1/auth/login', { username, password, ...(otp === undefined ? {} : { otp }) }, null);
    },
    async token(username: string, password = PW, otp?: string): Promise<string> {
      const r = await this.login(username, password, otp);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json.token;
    },
    /** Enrols and confirms MFA for `name` with its session `token`; returns the secret and recovery codes. */
    async enrol(name: string, token: string): Promise<{ secret: string; codes: string[] }> {
      const e = await t().req('POST', `/v1/users/${name}/mfa/enroll`, {}, token);
      assert.equal(e.status, 200, JSON.stringify(e.json));
      const secret = secretOf(e.json.otpauthUri);
      const c = await t().req('POST', `/v1/users/${name}/mfa/confirm`, { otp: await totp(secret, clock.now()) }, token);
      assert.equal(c.status, 200, JSON.stringify(c.json));
      return { secret, codes: e.json.recoveryCodes };
    },
    /** A code for a step after every one used so far (the clock moves 30 s). */
    async nextCode(secret: string): Promise<string> {
      clock.advance(30_000);
      return totp(secret, clock.now());
    },
  };
}

describe('users', () => {
  const clock = new ManualClock();
  let t: TestKeywarden;
  const h = harness(() => t, clock);

  before(async () => {
    t = await startInProcess({ clock });
  });
  after(() => t.close());

  test('create and list users; passwords 12–1024 characters; a generated password is shown once', async () => {
    const a = await h.createUser('ann', ['auditor'], null);
    assert.equal(a.principal.kind, 'user');
    assert.deepEqual(a.principal.roles, ['auditor']);
    assert.match(a.initialPassword, /^[A-Za-z0-9_-]{24}$/);
    assert.equal((await h.login('ann', a.initialPassword)).status, 200);
    const b = await h.createUser('ben', ['application']);
    assert.equal(b.initialPassword, undefined);

    assertError(await t.req('POST', '/v1/users', { name: 'short', roles: [], password: 'x'.repeat(11) }), 400, 'ValidationError', 'password must NOT have fewer than 12 characters');
    assertError(await t.req('POST', '/v1/users', { name: 'ann', roles: [] }), 409, 'AlreadyExists', 'a principal named ann already exists');
    assertError(await t.req('POST', '/v1/users', { name: 'both', roles: ['key-administrator', 'application'] }), 403, 'PermissionDenied', 'separation of duties: both cannot hold both key-administrator and application');
    assertError(await t.req('POST', '/v1/users', { name: 'x', roles: [], extra: 1 }), 400, 'ValidationError', 'body has an unknown field "extra"');
    // An auditor may read users but not create them.
    const annToken = await h.token('ann', a.initialPassword);
    assertError(await t.req('POST', '/v1/users', { name: 'eve', roles: [] }, annToken), 403, 'PermissionDenied', /ann is not allowed to perform principal:manage/);

    const list = await t.req('GET', '/v1/users', undefined, annToken);
    assert.equal(list.status, 200);
    const ann = list.json.users.find((u: { name: string }) => u.name === 'ann');
    assert.equal(ann.mfaEnabled, false);
    assert.equal(ann.mfaEnabledAt, null);
    assert.ok((await t.req('GET', '/v1/principals')).json.principals.some((p: { name: string; kind: string }) => p.name === 'ben' && p.kind === 'user'));
    assert.equal((await t.kw.users.mfaStatus()).get(b.principal.id), false);
  });

  test('session tokens: 15 min idle expiry, refresh issues a new token, 8 h cap, logout, revocation, disabling', async () => {
    await h.createUser('cal', ['auditor']);
    const t0 = clock.now();
    const r = await h.login('cal');
    assert.equal(r.status, 200);
    assert.match(r.json.token, /^kwu_[A-Za-z0-9_-]{43}$/);
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(r.json.expires_in, 900);
    assert.equal(r.json.session.expiresAt, new Date(t0 + 15 * MIN).toISOString());
    assert.equal(r.json.session.absoluteExpiresAt, new Date(t0 + 8 * 60 * MIN).toISOString());
    assert.deepEqual(r.json.principal.name, 'cal');
    assert.equal(r.json.mfaEnrollmentRequired, false);
    assert.equal(r.headers.pragma, 'no-cache');
    let tok = r.json.token as string;
    assert.equal((await t.req('GET', '/v1/keys', undefined, tok)).status, 200);

    // Idle expiry without refresh.
    clock.advance(15 * MIN - 1000);
    assert.equal((await t.req('GET', '/v1/keys', undefined, tok)).status, 200);
    clock.advance(1000);
    assertError(await t.req('GET', '/v1/keys', undefined, tok), 401, 'Unauthenticated', 'The session token is not valid or has expired');
    assertError(await t.req('POST', '/v1/auth/refresh', undefined, tok), 401, 'Unauthenticated', 'The session token is not valid or has expired');

    // Refresh every 14 minutes: each refresh kills the old token; the session ends 8 h after login.
    const t1 = clock.now();
    tok = await h.token('cal');
    for (let i = 1; i * 14 * MIN < 8 * 60 * MIN; i++) {
      clock.set(t1 + i * 14 * MIN);
      const f = await t.req('POST', '/v1/auth/refresh', undefined, tok);
      assert.equal(f.status, 200, JSON.stringify(f.json));
      assert.notEqual(f.json.token, tok);
      assertError(await t.req('GET', '/v1/keys', undefined, tok), 401, 'Unauthenticated', 'The session token is not valid or has expired');
      tok = f.json.token;
      assert.equal(f.json.expires_in, Math.min(900, (t1 + 8 * 60 * MIN - clock.now()) / 1000));
      assert.equal(f.json.session.absoluteExpiresAt, new Date(t1 + 8 * 60 * MIN).toISOString());
    }
    assert.equal((await t.req('GET', '/v1/keys', undefined, tok)).status, 200);
    clock.set(t1 + 8 * 60 * MIN);
    assertError(await t.req('GET', '/v1/keys', undefined, tok), 401, 'Unauthenticated', 'The session token is not valid or has expired');
    assertError(await t.req('POST', '/v1/auth/refresh', undefined, tok), 401, 'Unauthenticated', 'The session token is not valid or has expired');

    // Logout ends the session at once.
    tok = await h.token('cal');
    assert.deepEqual((await t.req('POST', '/v1/auth/logout', undefined, tok)).json, { revoked: true });
    assertError(await t.req('GET', '/v1/keys', undefined, tok), 401, 'Unauthenticated', 'The session token is not valid or has expired');

    // An administrator (token:revoke) ends every session of a user at once; the user cannot.
    const s1 = await h.token('cal');
    const s2 = await h.token('cal');
    assert.equal((await t.req('GET', '/v1/keys', undefined, s1)).status, 200); // cached now
    assertError(await t.req('POST', '/v1/users/cal/sessions/revoke', undefined, s1), 403, 'PermissionDenied', /cal is not allowed to perform token:revoke/);
    assert.deepEqual((await t.req('POST', '/v1/users/cal/sessions/revoke')).json, { revoked: 2 });
    for (const s of [s1, s2]) assertError(await t.req('GET', '/v1/keys', undefined, s), 401, 'Unauthenticated', 'The session token is not valid or has expired');
    assertError(await t.req('POST', '/v1/users/nobody/sessions/revoke'), 404, 'NotFound', 'user nobody was not found');

    // Disabling the user kills its sessions at once on this node, though cached (for good:
    // enabling it again does not revive them).
    const s3 = await h.token('cal');
    assert.equal((await t.req('GET', '/v1/keys', undefined, s3)).status, 200); // cached now
    assert.equal((await t.req('POST', '/v1/principals/cal/disable')).status, 200);
    assertError(await t.req('GET', '/v1/keys', undefined, s3), 401, 'Unauthenticated', 'The session token is not valid or has expired');
    assertError(await h.login('cal'), 401, 'Unauthenticated', LOGIN_FAILED);
    assert.equal((await t.req('POST', '/v1/principals/cal/enable')).status, 200);
    assertError(await t.req('GET', '/v1/keys', undefined, s3), 401, 'Unauthenticated', 'The session token is not valid or has expired');

    // Refresh and logout are for sessions only.
    const sa = await t.req('POST', '/v1/principals', { name: 'sa-cal', roles: ['auditor'] });
    const at = (await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: sa.json.clientId, client_secret: sa.json.clientSecret }, null)).json.access_token;
    assertError(await t.req('POST', '/v1/auth/refresh', undefined, at), 400, 'ValidationError', /^only a user session can refresh/);
    assertError(await t.req('POST', '/v1/auth/logout'), 400, 'ValidationError', /^only a user session can log out/);
  });

  test('MFA: enrolment, MFA required at login, TOTP replay refused, recovery codes single use', async () => {
    await h.createUser('dee', ['application']);
    await h.createUser('eli', ['application']);
    const tok = await h.token('dee');
    const eli = await h.token('eli');
    assertError(await t.req('POST', '/v1/users/dee/mfa/enroll', {}, eli), 403, 'PermissionDenied', 'eli is not allowed to enrol MFA for dee: a user can only enrol MFA for itself');
    assertError(await t.req('POST', '/v1/users/dee/mfa/enroll', {}), 403, 'PermissionDenied', /a user can only enrol MFA for itself/);
    assertError(await t.req('POST', '/v1/users/dee/mfa/confirm', { otp: '123456' }, tok), 409, 'InvalidState', /^dee has no MFA enrolment to confirm/);

    const e = await t.req('POST', '/v1/users/dee/mfa/enroll', {}, tok);
    assert.equal(e.status, 200);
    assert.match(e.json.otpauthUri, /^otpauth:\/\/totp\/Keywarden:dee\?secret=[A-Z2-7]{32}&issuer=Keywarden$/);
    assert.equal(e.json.recoveryCodes.length, 10);
    assert.equal(new Set(e.json.recoveryCodes).size, 10);
    for (const c of e.json.recoveryCodes) assert.match(c, /^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/);
    const secret = secretOf(e.json.otpauthUri);
    const codes = e.json.recoveryCodes as string[];
    // Pending until confirmed: login needs no otp yet, and a wrong code does not confirm.
    assert.equal((await h.login('dee')).json.mfaEnrollmentRequired, false);
    assertError(await t.req('POST', '/v1/users/dee/mfa/confirm', { otp: '000000' }, tok), 401, 'MfaRequired', 'The one-time password is not valid for the secret being enrolled');
    const c = await t.req('POST', '/v1/users/dee/mfa/confirm', { otp: await totp(secret, clock.now()) }, tok);
    assert.equal(c.status, 200);
    assert.equal(c.json.user.mfaEnabled, true);
    assert.equal(c.json.user.mfaEnabledAt, new Date(clock.now()).toISOString());
    assert.equal((await t.kw.users.mfaStatus()).get(c.json.user.id), true);

    // Login: no otp -> MfaRequired; wrong otp -> the uniform failure; right otp -> session.
    assertError(await h.login('dee'), 401, 'MfaRequired', 'dee has MFA enabled: send otp (a TOTP code from the authenticator app, or a recovery code)');
    assertError(await h.login('dee', PW, '000000'), 401, 'Unauthenticated', LOGIN_FAILED);
    assertError(await h.login('dee', 'wrong password!!', await h.nextCode(secret)), 401, 'Unauthenticated', LOGIN_FAILED);
    const code = await h.nextCode(secret);
    assert.equal((await h.login('dee', PW, code)).status, 200);
    // The same code again (same time step): a replay.
    assertError(await h.login('dee', PW, code), 401, 'Unauthenticated', LOGIN_FAILED);
    // The previous step's code is also refused now (at or before the last accepted step).
    clock.advance(30_000);
    assertError(await h.login('dee', PW, await totp(secret, clock.now() - 30_000)), 401, 'Unauthenticated', LOGIN_FAILED);
    // One step of drift either way is accepted.
    assert.equal((await h.login('dee', PW, await totp(secret, clock.now() + 30_000))).status, 200);

    // Recovery codes: each works once, typed in any case, with or without dashes.
    assert.equal((await h.login('dee', PW, codes[0])).status, 200);
    assertError(await h.login('dee', PW, codes[0]), 401, 'Unauthenticated', LOGIN_FAILED);
    assert.equal((await h.login('dee', PW, codes[1]!.replaceAll('-', '').toLowerCase())).status, 200);

    // Re-enrolling while enabled needs a fresh second factor; the old secret stays until confirmed.
    const s2 = await h.token('dee', PW, codes[3]);
    clock.advance(6 * MIN); // the session's verification is stale now
    assertError(await t.req('POST', '/v1/users/dee/mfa/enroll', {}, s2), 401, 'MfaRequired', /^dee already has MFA enabled: re-enrolling needs a fresh one-time password/);
    const re = await t.req('POST', '/v1/users/dee/mfa/enroll', { otp: await h.nextCode(secret) }, s2);
    assert.equal(re.status, 200);
    assert.equal((await h.login('dee', PW, await h.nextCode(secret))).status, 200);
    const secret2 = secretOf(re.json.otpauthUri);
    assert.notEqual(secret2, secret);
    assert.equal((await t.req('POST', '/v1/users/dee/mfa/confirm', { otp: await totp(secret2, clock.now()) }, s2)).status, 200);
    assertError(await h.login('dee', PW, await h.nextCode(secret)), 401, 'Unauthenticated', LOGIN_FAILED);
    assertError(await h.login('dee', PW, codes[4]), 401, 'Unauthenticated', LOGIN_FAILED); // old codes replaced
    assert.equal((await h.login('dee', PW, re.json.recoveryCodes[0])).status, 200);
    assert.equal((await h.login('dee', PW, await h.nextCode(secret2))).status, 200);
  });

  test('a user whose role requires MFA gets a restricted session until it enrols', async () => {
    await h.createUser('fay', ['security-officer']);
    const r = await h.login('fay');
    assert.equal(r.status, 200);
    assert.equal(r.json.mfaEnrollmentRequired, true);
    const tok = r.json.token as string;
    const enrolFirst = 'enrol MFA first: the roles of fay require multi-factor authentication (keywarden user mfa enroll fay, then keywarden user mfa confirm fay --otp CODE)';
    assertError(await t.req('GET', '/v1/keys', undefined, tok), 401, 'MfaRequired', enrolFirst);
    assertError(await t.req('GET', '/v1/users', undefined, tok), 401, 'MfaRequired', enrolFirst);
    // principal:self things are allowed: refresh, password change, enrolment.
    const f = await t.req('POST', '/v1/auth/refresh', undefined, tok);
    assert.equal(f.status, 200);
    assert.equal(f.json.mfaEnrollmentRequired, true);
    const tok2 = f.json.token as string;
    const pw = await t.req('POST', '/v1/users/fay/password', { currentPassword: PW, newPassword: 'another good passphrase' }, tok2);
    assert.equal(pw.status, 200, JSON.stringify(pw.json));
    assertError(await t.req('POST', '/v1/users/fay/password', { currentPassword: 'not the password', newPassword: 'another good passphrase' }, tok2), 401, 'Unauthenticated', 'The current password is not valid');
    assertError(await h.login('fay'), 401, 'Unauthenticated', LOGIN_FAILED);
    await h.enrol('fay', tok2);
    // The same session is no longer restricted (it just proved the second factor).
    assert.equal((await t.req('GET', '/v1/keys', undefined, tok2)).status, 200);
  });

  test('step-up: gated actions need a TOTP verified within 5 minutes (header or /v1/auth/step-up)', async () => {
    await h.createUser('gus', ['admin']);
    const tok = await h.token('gus');
    const { secret } = await h.enrol('gus', tok);
    // Fresh from the enrolment: principal:manage (gated) works.
    assert.equal((await t.req('POST', '/v1/principals', { name: 'sa-1', roles: [] }, tok)).status, 201);
    clock.advance(5 * MIN + 1000);
    const stale = /^principal:manage requires a fresh one-time password \(verified within 300 s\): send a TOTP code in the X-Keywarden-OTP header \(CLI: --otp CODE\) or step up first with POST \/v1\/auth\/step-up$/;
    assertError(await t.req('POST', '/v1/principals', { name: 'sa-2', roles: [] }, tok), 401, 'MfaRequired', stale);
    // Ungated actions still work with a stale verification.
    assert.equal((await t.req('GET', '/v1/principals', undefined, tok)).status, 200);
    // A wrong header code is refused; a right one steps up on the spot.
    assertError(await t.req('POST', '/v1/principals', { name: 'sa-2', roles: [] }, tok, { 'x-keywarden-otp': '000000' }), 401, 'MfaRequired', 'The one-time password is not valid');
    assert.equal((await t.req('POST', '/v1/principals', { name: 'sa-2', roles: [] }, tok, { 'x-keywarden-otp': await h.nextCode(secret) })).status, 201);
    clock.advance(4 * MIN);
    assert.equal((await t.req('POST', '/v1/principals', { name: 'sa-3', roles: [] }, tok)).status, 201);
    clock.advance(61_000);
    assertError(await t.req('POST', '/v1/principals', { name: 'sa-4', roles: [] }, tok), 401, 'MfaRequired', stale);
    // Explicit step-up.
    assertError(await t.req('POST', '/v1/auth/step-up', { otp: '123456' }, tok), 401, 'MfaRequired', 'The one-time password is not valid');
    const su = await t.req('POST', '/v1/auth/step-up', { otp: await h.nextCode(secret) }, tok);
    assert.equal(su.status, 200);
    assert.equal(su.json.session.mfaVerifiedAt, new Date(clock.now()).toISOString());
    assert.equal((await t.req('POST', '/v1/principals', { name: 'sa-4', roles: [] }, tok)).status, 201);
    // Creating a user with roles is also a role binding (principal:bind, gated too).
    assert.equal((await t.req('POST', '/v1/users', { name: 'hal', roles: ['auditor'], password: PW }, tok)).status, 201);

    // MFA reset of another user (gated principal:manage); never of oneself.
    const hal = await h.token('hal');
    await h.enrol('hal', hal);
    assertError(await t.req('DELETE', '/v1/users/gus/mfa', undefined, tok), 403, 'PermissionDenied', 'separation of duties: gus cannot reset its own MFA; another administrator must');
    const reset = await t.req('DELETE', '/v1/users/hal/mfa', undefined, tok);
    assert.equal(reset.status, 200);
    assert.equal(reset.json.user.mfaEnabled, false);
    assertError(await t.req('GET', '/v1/keys', undefined, hal), 401, 'Unauthenticated', 'The session token is not valid or has expired');
    assert.equal((await h.login('hal')).status, 200); // no otp needed any more

    // Service accounts and the root token are never gated.
    assert.equal((await t.req('POST', '/v1/principals', { name: 'sa-5', roles: [] })).status, 201);
  });

  test('lockout: 5 failures lock 30 s, doubling per further failure, capped at 15 min; same for unknown names', async () => {
    await h.createUser('ivy', ['auditor']);
    for (const name of ['ivy', 'nobody-here']) {
      for (let i = 0; i < 5; i++) assertError(await h.login(i % 2 ? name.toUpperCase() : name, 'wrong password!'), 401, 'Unauthenticated', LOGIN_FAILED);
      const locked = await h.login(name);
      assertError(locked, 429, 'LockedOut', 'Too many failed attempts for this user name: try again in 30 seconds');
      assert.equal(locked.json.error.retryAfterSeconds, 30);
      assert.equal(locked.headers['retry-after'], '30');
      clock.advance(29_000);
      assertError(await h.login(name), 429, 'LockedOut', 'Too many failed attempts for this user name: try again in 1 seconds');
      // Each further failure doubles the lock: 60, 120, 240, 480, then 900 (the cap).
      for (const lock of [60, 120, 240, 480, 900, 900]) {
        clock.advance(((await h.login(name)).json.error.retryAfterSeconds as number) * 1000);
        assertError(await h.login(name, 'wrong password!'), 401, 'Unauthenticated', LOGIN_FAILED);
        assert.equal((await h.login(name)).json.error.retryAfterSeconds, lock);
      }
      clock.advance(900_000);
    }
    // Success resets the counter.
    assert.equal((await h.login('ivy')).status, 200);
    assertError(await h.login('ivy', 'wrong password!'), 401, 'Unauthenticated', LOGIN_FAILED);
    assert.equal((await h.login('ivy')).status, 200);

    // Wrong TOTP codes count too (login and step-up); a missing otp (first half of a login) does not.
    await h.createUser('jon', ['application']);
    const tok = await h.token('jon');
    await h.enrol('jon', tok);
    for (let i = 0; i < 8; i++) assertError(await h.login('jon'), 401, 'MfaRequired', /^jon has MFA enabled/);
    for (let i = 0; i < 5; i++) assertError(await t.req('POST', '/v1/auth/step-up', { otp: '000000' }, tok), 401, 'MfaRequired', 'The one-time password is not valid');
    assertError(await t.req('POST', '/v1/auth/step-up', { otp: '000000' }, tok), 429, 'LockedOut', /try again in 30 seconds/);
    assertError(await h.login('jon'), 429, 'LockedOut', /try again in 30 seconds/);
  });
});

describe('users: at rest', () => {
  test('the database never holds a password, TOTP secret, recovery code or session token in the clear', async () => {
    const clock = new ManualClock();
    const t = await startInProcess({ clock });
    const h = harness(() => t, clock);
    const password = 'a very distinctive passphrase 7f3c';
    await h.createUser('kim', ['auditor'], password);
    const tok = await h.token('kim', password);
    const { secret, codes } = await h.enrol('kim', tok);
    const pending = await t.req('POST', '/v1/users/kim/mfa/enroll', { otp: await h.nextCode(secret) }, tok); // a pending secret too
    const tok2 = await h.token('kim', password, codes[0]);
    await t.req('POST', '/v1/users/kim/password', { currentPassword: password, newPassword: password + ' 2' }, tok2);
    await t.kw.close();
    try {
      const files = (await readdir(t.dir)).filter((f) => f.startsWith('keywarden.db'));
      const bytes = Buffer.concat(await Promise.all(files.map((f) => readFile(join(t.dir, f)))));
      const b32 = (s: string) => Buffer.from(new ScureBase32Plugin().decode(s));
      const needles: Array<[string, Buffer]> = [
        ['password', Buffer.from(password)],
        ['new password', Buffer.from(password + ' 2')],
        ['TOTP secret (base32)', Buffer.from(secret)],
        ['TOTP secret (raw)', b32(secret)],
        ['pending TOTP secret (base32)', Buffer.from(secretOf(pending.json.otpauthUri))],
        ['pending TOTP secret (raw)', b32(secretOf(pending.json.otpauthUri))],
        ['session token', Buffer.from(tok)],
        ['session token 2', Buffer.from(tok2)],
        ...[...codes, ...pending.json.recoveryCodes].flatMap((c: string): Array<[string, Buffer]> => [
          ['recovery code', Buffer.from(c)],
          ['recovery code (normalized)', Buffer.from(c.replaceAll('-', ''))],
        ]),
      ];
      for (const [what, needle] of needles) assert.equal(bytes.includes(needle), false, `the database holds a ${what} in the clear`);
      assert.ok(bytes.includes(Buffer.from('$argon2id$v=19$m=19456,t=2,p=1$')), 'passwords are argon2id PHC strings with the OWASP parameters');
    } finally {
      await rm(t.dir, { recursive: true, force: true });
    }
  });
});
