/**
 * People from the command line, with real processes: `keywarden user create`, `login` (user with
 * password and TOTP, and service account with client credentials), the saved token file,
 * `user mfa enroll/confirm`, `user password`, `user revoke-sessions`, `logout`. TOTP codes are
 * computed here with otplib from the otpauth:// URI, as an authenticator app would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { type DevServer, type RunOptions, fails, json, runCli, startDevServer, text } from './helpers.js';

const PW = 'alice has a long passphrase';
const NEW_PW = 'alice has another passphrase';

describe('user CLI against a dev server', () => {
  let server: DevServer;
  let tmp: string;
  let aliceFile: string;
  const seen: string[] = []; // secrets that must never reach the server's output

  const root = (args: string[], opts: RunOptions = {}) =>
    runCli(args, { ...opts, env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: server.rootToken, KEYWARDEN_TOKEN_FILE: join(tmp, 'root-unused') } });
  /** Runs the CLI with no token but the one saved in `tokenFile` (by `keywarden login`). */
  const as = (tokenFile: string) => (args: string[], opts: RunOptions = {}) =>
    runCli(args, { ...opts, env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN_FILE: tokenFile, ...opts.env } });
  const code = (secret: string, offsetSeconds = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSeconds });

  before(async () => {
    server = await startDevServer();
    tmp = await mkdtemp(join(tmpdir(), 'keywarden-user-cli-'));
    aliceFile = join(tmp, 'alice', 'token');
  });
  after(async () => {
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('user create, login with a restricted session, MFA enrolment, login with TOTP, password change, revocation, logout', async () => {
    const alice = as(aliceFile);
    const created = json<{ principal: { name: string; kind: string; roles: string[] }; initialPassword?: string }>(
      await root(['user', 'create', 'alice', '--role', 'admin', '--password-stdin', '--format', 'json'], { input: `${PW}\n` }),
    );
    assert.deepEqual([created.principal.name, created.principal.kind, created.principal.roles, created.initialPassword], ['alice', 'user', ['admin'], undefined]);
    const bob = await root(['user', 'create', 'bob', '--role', 'auditor']);
    assert.match(text(bob), /^Initial password +[A-Za-z0-9_-]{24}$/m);
    assert.match(bob.stderr, /The initial password is shown ONLY ONCE/);
    seen.push(/Initial password +(\S+)/.exec(text(bob))![1]!);

    // Login: the password from stdin; the token goes to the token file (0600), never to stdout.
    const login = await alice(['login', '--user', 'alice'], { input: `${PW}\n` });
    const out = text(login);
    assert.match(out, /^Logged in as +alice$/m);
    assert.match(out, /^Expires +\d{4}-\d{2}-\d{2}T/m);
    assert.match(out, /^Refreshable until +\d{4}-\d{2}-\d{2}T/m);
    assert.match(login.stderr, /Your roles require MFA: this session can only enrol it\. Run: keywarden user mfa enroll alice/);
    const token = (await readFile(aliceFile, 'utf8')).trim();
    seen.push(token);
    assert.match(token, /^kwu_/);
    assert.equal(out.includes(token), false, 'the token is not printed');
    assert.equal((await stat(aliceFile)).mode & 0o777, 0o600);

    // Restricted until MFA is enrolled.
    fails(await alice(['user', 'list']), 1, /^error: MfaRequired: enrol MFA first: the roles of alice require multi-factor authentication/);
    const enrol = json<{ otpauthUri: string; recoveryCodes: string[] }>(await alice(['user', 'mfa', 'enroll', 'alice', '--format', 'json']));
    assert.match(enrol.otpauthUri, /^otpauth:\/\/totp\/Keywarden:alice\?secret=[A-Z2-7]+&issuer=Keywarden$/);
    assert.equal(enrol.recoveryCodes.length, 10);
    const secret = new URL(enrol.otpauthUri).searchParams.get('secret')!;
    seen.push(secret, ...enrol.recoveryCodes);
    fails(await alice(['user', 'mfa', 'confirm', 'alice']), 2, /--otp CODE/);
    assert.match(text(await alice(['user', 'mfa', 'confirm', 'alice', '--otp', await code(secret)])), /^MFA enabled for alice$/m);
    const users = json<{ users: Array<{ name: string; mfaEnabled: boolean }> }>(await alice(['user', 'list', '--format', 'json']));
    assert.deepEqual(users.users.map((u) => [u.name, u.mfaEnabled]), [['alice', true], ['bob', false]]);
    assert.match(text(await alice(['user', 'list'])), /^alice +admin +yes +no /m);

    // Logout ends the session and removes the token file.
    assert.match(text(await alice(['logout'])), /^Logged out$/m);
    await assert.rejects(stat(aliceFile), { code: 'ENOENT' });
    fails(await runCli(['user', 'list'], { env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: token, KEYWARDEN_TOKEN_FILE: aliceFile } }), 1, /^error: Unauthenticated: The session token is not valid or has expired/);

    // MFA is now required at login: no code (without a terminal) -> MfaRequired; the code on stdin's second line (next step: no replay).
    fails(await alice(['login', '--user', 'alice'], { input: `${PW}\n` }), 1, /^error: MfaRequired: alice has MFA enabled/);
    const l2 = json<{ principal: string; roles: string[]; mfaEnrollmentRequired: boolean; tokenFile: string; token: string }>(
      await alice(['login', '--user', 'alice', '--print-token', '--format', 'json'], { input: `${PW}\n${await code(secret, 30)}\n` }),
    );
    assert.deepEqual([l2.principal, l2.roles, l2.mfaEnrollmentRequired, l2.tokenFile], ['alice', ['admin'], false, aliceFile]);
    assert.equal(l2.token, (await readFile(aliceFile, 'utf8')).trim());
    seen.push(l2.token);
    // Fresh second factor: a gated action (principal:manage, and principal:bind for the role) passes.
    assert.match(text(await alice(['user', 'create', 'carol', '--role', 'auditor', '--password-stdin'], { input: 'carol passphrase 1\n' })), /^Name +carol$/m);
    // A recovery code works once, through --otp.
    const l3 = await as(join(tmp, 'alice-2'))(['login', '--user', 'alice', '--otp', enrol.recoveryCodes[0]!], { input: `${PW}\n` });
    assert.match(text(l3), /^Logged in as +alice$/m);
    fails(await as(join(tmp, 'alice-3'))(['login', '--user', 'alice', '--otp', enrol.recoveryCodes[0]!], { input: `${PW}\n` }), 1, /^error: Unauthenticated: The user name, password or one-time password is not valid/);

    // Password change (stdin: current, then new) ends the other sessions.
    assert.match(text(await alice(['user', 'password', 'alice'], { input: `${PW}\n${NEW_PW}\n` })), /^Password changed; your other sessions were ended$/m);
    fails(await as(join(tmp, 'alice-2'))(['user', 'list']), 1, /^error: Unauthenticated/);
    assert.equal((await alice(['user', 'list'])).code, 0);

    // An administrator (here the root token) ends all of alice's sessions at once.
    assert.match(text(await root(['user', 'revoke-sessions', 'alice'])), /^Ended 1 session of alice$/m);
    fails(await alice(['user', 'list']), 1, /^error: Unauthenticated: The session token is not valid or has expired/);
    assert.match(text(await alice(['logout'])), /^Logged out \(there was no live session\)$/m);
  });

  test('login with client credentials saves an access token; logout revokes it', async () => {
    const res = await fetch(`${server.address}/v1/principals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.rootToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sa-reader', roles: ['auditor'] }),
    });
    const sa = (await res.json()) as { clientId: string; clientSecret: string };
    seen.push(sa.clientSecret);
    const file = join(tmp, 'sa', 'token');
    const sam = as(file);
    fails(await sam(['login', '--client-id', sa.clientId]), 2, /--client-secret-stdin/);
    const l = json<{ principal: string; expiresAt: string; tokenFile: string; token?: string }>(
      await sam(['login', '--client-id', sa.clientId, '--client-secret-stdin', '--format', 'json'], { input: `${sa.clientSecret}\n` }),
    );
    assert.deepEqual([l.principal, l.tokenFile, l.token], [sa.clientId, file, undefined]);
    const jwt = (await readFile(file, 'utf8')).trim();
    seen.push(jwt);
    assert.match(jwt, /^eyJ/);
    assert.equal((await sam(['user', 'list'])).code, 0);
    assert.match(text(await sam(['logout'])), /^Logged out$/m);
    fails(await runCli(['user', 'list'], { env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: jwt, KEYWARDEN_TOKEN_FILE: file } }), 1, /^error: Unauthenticated: The access token has been revoked/);
    fails(await sam(['login', '--client-id', sa.clientId, '--client-secret-stdin'], { input: 'kws_wrong\n' }), 1, /^error: Unauthenticated: The client credentials are not valid/);
  });

  test('no password, token, TOTP secret or recovery code reached the server output', () => {
    const { stdout, stderr } = server.output();
    assert.ok(seen.length > 10);
    for (const s of [PW, NEW_PW, ...seen]) {
      assert.equal(stdout.includes(s) || stderr.includes(s), false, `the server output holds a secret (${s.slice(0, 6)}...)`);
    }
  });
});
