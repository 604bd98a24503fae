/**
 * The access CLI end to end with real processes: `service-account`, `role`, `access review`,
 * `operator revoke-root` against a `keywarden dev` server, and `operator generate-root` against a
 * shamir-sealed `keywarden server` (shares on stdin, one attempt continued by a second operator).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { REPO_ROOT, type DevServer, fails, json, runCli, startDevServer, text } from './helpers.js';

const TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

async function post(address: string, path: string, body: unknown, token?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(address + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('access CLI against a dev server', () => {
  let server: DevServer;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    server = await startDevServer();
    dir = await mkdtemp(join(tmpdir(), 'kw-access-cli-'));
    env = { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: server.rootToken };
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('service-account create prints the fixed JSON form; the secret works; the warning goes to stderr', async () => {
    const r = await runCli(['service-account', 'create', 'cli-app', '--role', 'application', '--format', 'json'], { env });
    const created = json<Record<string, string>>(r);
    assert.deepEqual(Object.keys(created), ['name', 'clientId', 'clientSecret']);
    assert.equal(created.name, 'cli-app');
    assert.match(created.clientId!, /^kwc_/);
    assert.match(created.clientSecret!, /^kws_/);
    assert.match(r.stderr, /shown ONLY ONCE/);
    const tok = await post(server.address, '/v1/auth/token', { grant_type: 'client_credentials', client_id: created.clientId, client_secret: created.clientSecret });
    assert.equal(tok.status, 200);

    const table = text(await runCli(['service-account', 'create', 'cli-reader', '--role', 'auditor', '--role', 'security-officer'], { env }));
    assert.match(table, /^Name\s+cli-reader$/m);
    assert.match(table, /^Roles\s+auditor, security-officer$/m);
    assert.match(table, /^Client secret\s+kws_/m);

    fails(await runCli(['service-account', 'create', 'cli-app', '--role', 'auditor'], { env }), 1, /^error: AlreadyExists: a principal named cli-app already exists/);
    fails(await runCli(['service-account', 'create', 'x', '--role', 'wizard'], { env }), 1, /^error: ValidationError: unknown role "wizard"/);
    fails(await runCli(['service-account', 'create', 'x', '--role', 'admin', '--role', 'application'], { env }), 1, /^error: PermissionDenied: separation of duties: x cannot hold both admin and application/);
    const noRole = await runCli(['service-account', 'create', 'x'], { env });
    assert.equal(noRole.code, 2);
    assert.match(noRole.stderr, /required option '--role <role>' not specified/);
  });

  test('public keys: create with --public-key, add-key, keys, remove-key; the assertion gets a token', async () => {
    const es = await generateKeyPair('ES256', { extractable: true });
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    const esFile = join(dir, 'es.pem');
    const edFile = join(dir, 'ed.pem');
    await writeFile(esFile, await exportSPKI(es.publicKey));
    await writeFile(edFile, await exportSPKI(ed.publicKey));

    const created = json<{ name: string; clientId: string; clientSecret: string }>(
      await runCli(['service-account', 'create', 'jwt-cli', '--role', 'auditor', '--public-key', esFile, '--format', 'json'], { env }),
    );
    const assertion = (key: CryptoKey, alg: string, aud: string) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ jti: `${alg}-${Math.random()}` }).setProtectedHeader({ alg }).setIssuer(created.clientId).setSubject(created.clientId).setAudience(aud).setIssuedAt(now).setExpirationTime(now + 60).sign(key);
    };
    const viaEs = await post(server.address, '/v1/auth/token', { grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await assertion(es.privateKey, 'ES256', 'keywarden') });
    assert.equal(viaEs.status, 200, JSON.stringify(viaEs.json));

    const added = json<{ key: { id: string; alg: string } }>(await runCli(['service-account', 'add-key', 'jwt-cli', '--public-key', edFile, '--format', 'json'], { env }));
    assert.equal(added.key.alg, 'EdDSA');
    // Over a real socket the token endpoint URL on the server's host is an accepted audience.
    const viaEd = await post(server.address, '/v1/auth/token', { grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await assertion(ed.privateKey, 'EdDSA', `${server.address}/v1/auth/token`) });
    assert.equal(viaEd.status, 200, JSON.stringify(viaEd.json));

    const keys = text(await runCli(['service-account', 'keys', 'jwt-cli'], { env }));
    assert.match(keys, /^KEY ID\s+ALG\s+FINGERPRINT\s+CREATED$/m);
    assert.match(keys, /ES256/);
    assert.match(keys, new RegExp(`^${added.key.id}\\s+EdDSA`, 'm'));
    fails(await runCli(['service-account', 'add-key', 'jwt-cli', '--public-key', edFile], { env }), 1, /^error: AlreadyExists: service account jwt-cli already has this public key/);
    fails(await runCli(['service-account', 'add-key', 'jwt-cli', '--public-key', join(dir, 'missing.pem')], { env }), 1, /^error: cannot read .*missing\.pem: ENOENT/);
    assert.match(text(await runCli(['service-account', 'remove-key', 'jwt-cli', added.key.id], { env })), new RegExp(`Deleted key ${added.key.id} of jwt-cli`));
    const gone = await post(server.address, '/v1/auth/token', { grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await assertion(ed.privateKey, 'EdDSA', 'keywarden') });
    assert.equal(gone.status, 401);
  });

  test('service-account list, rotate-secret (same client id), disable, enable', async () => {
    const list = json<{ serviceAccounts: Array<{ name: string; disabled: boolean }> }>(await runCli(['service-account', 'list', '--format', 'json'], { env }));
    assert.ok(list.serviceAccounts.some((p) => p.name === 'cli-app'));
    assert.match(text(await runCli(['service-account', 'list'], { env })), /^cli-app\s+application\s+enabled\s+/m);

    const before = json<{ clientId: string }>(await runCli(['service-account', 'create', 'rot', '--role', 'auditor', '--format', 'json'], { env }));
    const rotated = json<{ name: string; clientId: string; clientSecret: string }>(await runCli(['service-account', 'rotate-secret', 'rot', '--format', 'json'], { env }));
    assert.deepEqual(Object.keys(rotated), ['name', 'clientId', 'clientSecret']);
    assert.equal(rotated.clientId, before.clientId);
    assert.equal((await post(server.address, '/v1/auth/token', { grant_type: 'client_credentials', client_id: rotated.clientId, client_secret: rotated.clientSecret })).status, 200);

    assert.equal(text(await runCli(['service-account', 'disable', 'rot'], { env })).trim(), 'Disabled rot');
    assert.equal((await post(server.address, '/v1/auth/token', { grant_type: 'client_credentials', client_id: rotated.clientId, client_secret: rotated.clientSecret })).status, 401);
    assert.equal(json<{ principal: { disabled: boolean } }>(await runCli(['service-account', 'enable', 'rot', '--format', 'json'], { env })).principal.disabled, false);
    fails(await runCli(['service-account', 'disable', 'nobody'], { env }), 1, /^error: NotFound: principal nobody was not found/);
  });

  test('role bind / unbind, with separation of duties', async () => {
    assert.equal(text(await runCli(['role', 'bind', 'cli-reader', 'key-administrator'], { env })).trim(), 'Bound key-administrator to cli-reader (roles: auditor, security-officer, key-administrator)');
    fails(await runCli(['role', 'bind', 'cli-app', 'key-administrator'], { env }), 1, /^error: PermissionDenied: separation of duties: cli-app cannot hold both key-administrator and application/);
    const unbound = json<{ principal: { roles: string[] } }>(await runCli(['role', 'unbind', 'cli-reader', 'key-administrator', '--format', 'json'], { env }));
    assert.deepEqual(unbound.principal.roles, ['auditor', 'security-officer']);
    fails(await runCli(['role', 'unbind', 'cli-reader', 'key-administrator'], { env }), 1, /^error: NotFound: principal cli-reader does not hold the role key-administrator/);
  });

  test('access review: keys, grants, findings (json and table)', async () => {
    const ka = json<{ clientId: string; clientSecret: string }>(await runCli(['service-account', 'create', 'rev-ka', '--role', 'key-administrator', '--format', 'json'], { env }));
    const kaToken = (await post(server.address, '/v1/auth/token', { grant_type: 'client_credentials', client_id: ka.clientId, client_secret: ka.clientSecret })).json.access_token as string;
    const key = (await post(server.address, '/v1/keys', { description: 'reviewed', tags: { team: 'pay' } }, kaToken)).json.key.id as string;
    const g = await post(server.address, '/v1/grants', { key, principal: 'cli-app', operations: ['encrypt'], conditions: { notAfter: new Date(Date.now() + 2 * 86_400_000).toISOString() } }, kaToken);
    assert.equal(g.status, 201, JSON.stringify(g.json));

    const r = json<any>(await runCli(['access', 'review', '--unused-days', '5', '--expiring-days', '3', '--format', 'json'], { env }));
    assert.deepEqual([r.unusedDays, r.expiringWithinDays], [5, 3]);
    const reviewed = r.keys.find((k: { keyId: string }) => k.keyId === key);
    assert.deepEqual(reviewed.roleAccess.administer.map((p: { name: string }) => p.name), ['rev-ka']);
    assert.deepEqual(reviewed.grants.map((x: { principal: { name: string }; operations: string[] }) => [x.principal.name, x.operations]), [['cli-app', ['encrypt']]]);
    assert.deepEqual(r.findings.expiringGrants.map((x: { grantId: string }) => x.grantId), [g.json.grant.id]);
    assert.ok(r.findings.mfaNotApplicable.some((p: { name: string }) => p.name === 'cli-app'));

    const table = text(await runCli(['access', 'review'], { env }));
    assert.match(table, new RegExp(`^${key}\\s+-\\s+Enabled\\s+rev-ka\\s+`, 'm'));
    assert.match(table, new RegExp(`^${key}\\s+${g.json.grant.id}\\s+cli-app\\s+key\\s+encrypt\\s+-\\s+\\S+\\s+never\\s+yes$`, 'm'));
    assert.match(table, /^Grants expiring within 7 days: 1$/m);
    assert.match(table, /^Users without MFA: none$/m);
    const bad = await runCli(['access', 'review', '--unused-days', '0'], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected an integer from 1 to 3650/);
  });

  test('operator revoke-root: refused without an admin, then revokes the root token for good', async () => {
    fails(await runCli(['operator', 'revoke-root'], { env }), 1, /^error: ValidationError: no enabled principal holds the admin role/);
    const admin = json<{ clientId: string; clientSecret: string }>(await runCli(['service-account', 'create', 'cli-admin', '--role', 'admin', '--format', 'json'], { env }));
    assert.equal(text(await runCli(['operator', 'revoke-root'], { env })).trim(), 'Revoked 1 root token');
    fails(await runCli(['key', 'list'], { env }), 1, /^error: Unauthenticated: The bearer token is not valid/);
    // The admin goes on managing identities with its own token.
    const tok = (await post(server.address, '/v1/auth/token', { grant_type: 'client_credentials', client_id: admin.clientId, client_secret: admin.clientSecret })).json.access_token as string;
    const adminEnv = { ...env, KEYWARDEN_TOKEN: tok };
    assert.match(text(await runCli(['service-account', 'list'], { env: adminEnv })), /cli-admin/);
    assert.deepEqual(json(await runCli(['operator', 'revoke-root', '--format', 'json'], { env: adminEnv })), { revoked: 0 });
  });
});

interface Proc {
  proc: ChildProcess;
  address: string;
  stop(): Promise<void>;
}

/** `keywarden server --config FILE` (plain HTTP on loopback), started and waited for. */
async function startServer(configFile: string): Promise<Proc> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join('src', 'cli', 'main.ts'), 'server', '--config', configFile], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr!.resume();
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Listening on" within 30 s:\n${out}`)), 30_000);
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /Listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    proc,
    address,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

describe('operator generate-root against a shamir-sealed server', () => {
  let dir: string;
  let server: Proc;
  let env: Record<string, string>;
  let shares: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-genroot-'));
    const config = join(dir, 'keywarden.yaml');
    await writeFile(config, ['listen: { address: "127.0.0.1:0", tls: { disable: true } }', 'storage: { type: sqlite, path: data/keywarden.db }', 'seal: { type: shamir }', 'log: { level: warn }', ''].join('\n'));
    server = await startServer(config);
    env = { KEYWARDEN_ADDR: server.address };
    const init = json<{ shares: string[]; rootToken: string }>(await runCli(['operator', 'init', '--shares', '3', '--threshold', '2', '--format', 'json'], { env }));
    shares = init.shares;
    for (const s of shares.slice(0, 2)) text(await runCli(['operator', 'unseal'], { env, input: `${s}\n` }));
    // Bootstrap done: an admin exists, the initial root token is revoked.
    json(await runCli(['service-account', 'create', 'ops-admin', '--role', 'admin', '--format', 'json'], { env: { ...env, KEYWARDEN_TOKEN: init.rootToken } }));
    text(await runCli(['operator', 'revoke-root'], { env: { ...env, KEYWARDEN_TOKEN: init.rootToken } }));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('shares on stdin make a new root token, shown once, that works', async () => {
    const r = await runCli(['operator', 'generate-root'], { env, input: `${shares[2]}\n\n${shares[0]}\n` });
    const out = text(r);
    const m = /^Root token: (kwr_\S+)$/m.exec(out);
    assert.ok(m, out);
    assert.match(r.stderr, /shown ONLY ONCE/);
    assert.match(text(await runCli(['service-account', 'list'], { env: { ...env, KEYWARDEN_TOKEN: m[1]! } })), /ops-admin/);
  });

  test('a second operator continues an attempt with --nonce; a bad share is refused; --cancel ends it', async () => {
    const first = json<{ nonce: string; progress: number; required: number; complete: boolean }>(await runCli(['operator', 'generate-root', '--format', 'json'], { env, input: `${shares[1]}\n` }));
    assert.deepEqual({ progress: first.progress, required: first.required }, { progress: 1, required: 2 });
    fails(await runCli(['operator', 'generate-root'], { env, input: '' }), 1, /^error: InvalidState: a root token generation attempt is already in progress/);
    fails(await runCli(['operator', 'generate-root', '--nonce', first.nonce], { env, input: `${shares[1]}\n` }), 1, /^error: InvalidShare: this unseal share was already submitted/);
    const table = text(await runCli(['operator', 'generate-root', '--nonce', first.nonce], { env, input: '' }));
    assert.equal(table.trim(), `Progress: 1/2. Other operators continue with: keywarden operator generate-root --nonce ${first.nonce}`);
    const done = json<{ complete: boolean; rootToken: string }>(await runCli(['operator', 'generate-root', '--nonce', first.nonce, '--format', 'json'], { env, input: `${shares[0]}\n` }));
    assert.equal(done.complete, true);
    assert.match(done.rootToken, /^kwr_/);

    json(await runCli(['operator', 'generate-root', '--format', 'json'], { env, input: `${shares[0]}\n` }));
    assert.equal(text(await runCli(['operator', 'generate-root', '--cancel'], { env })).trim(), 'Root token generation attempt cancelled');
    fails(await runCli(['operator', 'generate-root', '--nonce', 'abc'], { env, input: '' }), 1, /^error: no root token generation attempt with this nonce is in progress/);
  });
});
