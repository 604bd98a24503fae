/**
 * End-to-end tests of `keywarden request ...` and `keywarden access-policy ...` against a real dev
 * server, each command a real CLI process: a policy puts deletion under a 2-of-N quorum, a key
 * administrator's direct call is refused with the command to use, the request is approved by two
 * security officers and runs; deny, cancel, a just-in-time grant and a policy change by request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevServer, type RunOptions, apiOk, fails, json, runCli, startDevServer, text } from './helpers.js';

interface Req {
  id: string;
  action: string;
  key: string | null;
  keyId: string | null;
  params: Record<string, any>;
  requesterName: string;
  requiredApprovals: number;
  approvals: Array<{ name: string }>;
  denial: { name: string; reason: string | null } | null;
  status: string;
  result: Record<string, any> | null;
}
interface PolicyView {
  policy: Record<string, any>;
  version: number;
  updatedBy: string | null;
}

const POLICY_YAML = `# quorum for deletion, one approval to disable
mfaRequiredRoles: [admin, security-officer, key-administrator]
mfaGatedActions: [key:schedule-deletion, key:revoke, request:approve, policy:edit]
stepUpMaxAgeSeconds: 300
approvals:
  key:schedule-deletion: 2
  key:disable: 1
jitApprovals: 1
jitMaxDurationSeconds: 7200
requestTtlSeconds: 86400
`;

describe('keywarden request and access-policy', () => {
  let server: DevServer;
  let dir: string;
  const tokens: Record<string, string> = {};

  /** A JSON request with the root token (setting up principals and keys is not under test here). */
  const api = (method: string, path: string, body?: object, token = server.rootToken): Promise<any> => apiOk(server.address, token, method, path, body);

  const kw = (as: string, args: string[], opts: RunOptions = {}) =>
    runCli(args, { ...opts, env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: as === 'root' ? server.rootToken : tokens[as], ...opts.env } });
  const req = async (as: string, args: string[]) => json<{ request: Req }>(await kw(as, ['request', ...args, '--format', 'json'])).request;
  const newKey = async () => (await api('POST', '/v1/keys', { description: 'request-cli' })).key.id as string;

  before(async () => {
    server = await startDevServer();
    dir = await mkdtemp(join(tmpdir(), 'kw-request-cli-'));
    for (const [name, role] of [['ka', 'key-administrator'], ['so1', 'security-officer'], ['so2', 'security-officer'], ['app1', 'application'], ['aud', 'auditor']] as const) {
      const c = await api('POST', '/v1/principals', { name, roles: [role] });
      const t = await api('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, expires_in: 3600 });
      tokens[name] = t.access_token;
    }
  });
  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('access-policy show and set (YAML), strictly validated, policy:edit only', async () => {
    const shown = json<PolicyView>(await kw('aud', ['access-policy', 'show', '--format', 'json']));
    assert.equal(shown.version, 0);
    assert.deepEqual(shown.policy.approvals, {});
    assert.match(text(await kw('aud', ['access-policy', 'show'])), /^Version +0 \(built-in defaults\)\n[\s\S]*^Approvals +none$/m);

    const file = join(dir, 'policy.yaml');
    await writeFile(file, POLICY_YAML);
    fails(await kw('ka', ['access-policy', 'set', '--file', file]), 1, /^error: PermissionDenied: ka is not allowed to perform policy:edit/);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, POLICY_YAML.replace('jitApprovals: 1', 'jitApprovals: 0'));
    fails(await kw('so1', ['access-policy', 'set', '--file', bad]), 1, /^error: ValidationError: policy\.jitApprovals must be a whole number from 1 to 10 \(request id /);
    await writeFile(bad, 'approvals: [unclosed');
    fails(await kw('so1', ['access-policy', 'set', '--file', bad]), 1, /is not valid YAML or JSON/);

    const set = text(await kw('so1', ['access-policy', 'set', '--file', file]));
    assert.match(set, /^Version +1$/m);
    assert.match(set, /^Updated +\S+ by so1$/m);
    assert.match(set, /^Approvals +key:schedule-deletion=2, key:disable=1$/m);
    assert.match(set, /^JIT max duration +2h$/m);
  });

  test('quorum: a direct deletion is refused with the command to use; two security officers approve and it runs', async () => {
    const key = await newKey();
    fails(
      await kw('ka', ['key', 'schedule-deletion', key, '--days', '7']),
      1,
      new RegExp(`^error: ApprovalRequired: key:schedule-deletion needs 2 approvals \\(quorum approval\\): request it with \`keywarden request create --action schedule-deletion --key ${key} --reason TEXT\``),
    );
    const r = await req('ka', ['create', '--action', 'schedule-deletion', '--key', key, '--days', '7', '--reason', 'retire the old billing key']);
    assert.equal(r.status, 'pending');
    assert.equal(r.requiredApprovals, 2);
    assert.deepEqual(r.params, { pendingWindowDays: 7 });

    fails(await kw('ka', ['request', 'approve', r.id]), 1, /^error: PermissionDenied: ka is not allowed to perform request:approve/);
    assert.equal((await req('so1', ['approve', r.id])).status, 'pending');
    fails(await kw('so1', ['request', 'approve', r.id]), 1, /^error: InvalidState: so1 has already approved request/);
    const done = await req('so2', ['approve', r.id]);
    assert.equal(done.status, 'executed');
    assert.equal(done.result?.state, 'PendingDeletion');
    assert.equal((await api('GET', `/v1/keys/${key}`)).key.state, 'PendingDeletion');

    const shown = text(await kw('ka', ['request', 'show', r.id]));
    assert.match(shown, /^Status +executed$/m);
    assert.match(shown, /^Approvals +2\/2: so1, so2$/m);
    assert.match(shown, /^Requester +ka$/m);
    assert.match(shown, new RegExp(`^Result +keyId=${key}, state=PendingDeletion, deletionAt=`, 'm'));

    const listed = json<{ requests: Req[] }>(await kw('aud', ['request', 'list', '--status', 'executed', '--format', 'json'])).requests;
    assert.deepEqual(listed.map((x) => x.id), [r.id]);
    const table = text(await kw('ka', ['request', 'list'])).split('\n');
    assert.match(table[0]!, /^ID +ACTION +KEY +REQUESTER +STATUS +APPROVALS +CREATED$/);
    assert.match(table[1]!, new RegExp(`^${r.id} +schedule-deletion +${key} +ka +executed +2/2 `));
    fails(await kw('aud', ['request', 'list', '--status', 'maybe']), 2, /error: option '--status <status>' argument 'maybe' is invalid/);
  });

  test('deny and cancel end a request; it never runs', async () => {
    const key = await newKey();
    const d = await req('ka', ['create', '--action', 'disable', '--key', key, '--reason', 'odd traffic']);
    fails(await kw('so1', ['request', 'cancel', d.id]), 1, /^error: PermissionDenied: so1 is not allowed to perform request:create: only the requester \(ka\) may cancel/);
    const denied = await req('so1', ['deny', d.id, '--reason', 'traffic is the batch job']);
    assert.equal(denied.status, 'denied');
    assert.deepEqual([denied.denial?.name, denied.denial?.reason], ['so1', 'traffic is the batch job']);
    fails(await kw('so2', ['request', 'approve', d.id]), 1, new RegExp(`^error: InvalidState: request ${d.id} is denied: only a pending request can be approved`));

    const c = await req('ka', ['create', '--action', 'disable', '--key', key, '--reason', 'second thoughts']);
    assert.equal((await req('ka', ['cancel', c.id])).status, 'cancelled');
    assert.equal((await api('GET', `/v1/keys/${key}`)).key.state, 'Enabled');
  });

  test('a just-in-time grant with --operations and --duration', async () => {
    const key = await newKey();
    const encrypt = () => kw('app1', ['encrypt', '--key', key], { input: 'jit' });
    fails(await encrypt(), 1, /^error: PermissionDenied: app1 is not allowed to perform key:encrypt: it holds no grant for encrypt/);
    fails(await kw('app1', ['request', 'create', '--action', 'jit-grant', '--key', key, '--operations', 'encrypt', '--duration', '3h', '--reason', 'x']), 1, /maximum of 7200 seconds/);
    const r = await req('app1', ['create', '--action', 'jit-grant', '--key', key, '--operations', 'encrypt,decrypt', '--duration', '30m', '--reason', 'incident 7']);
    assert.deepEqual(r.params, { operations: ['encrypt', 'decrypt'], durationSeconds: 1800 });
    const done = await req('so1', ['approve', r.id]);
    assert.equal(done.status, 'executed');
    assert.deepEqual(done.result?.operations, ['encrypt', 'decrypt']);
    assert.ok(Math.abs(Date.parse(done.result?.notAfter) - (Date.now() + 1_800_000)) < 60_000);
    assert.match(text(await encrypt()), /^[A-Za-z0-9+/]+=*\n$/);
  });

  test('a policy change by request once policy:edit needs approval (--policy-file takes show output)', async () => {
    const current = json<PolicyView>(await kw('so1', ['access-policy', 'show', '--format', 'json']));
    const gated = join(dir, 'gated.json');
    await writeFile(gated, JSON.stringify({ ...current, policy: { ...current.policy, approvals: { ...current.policy.approvals, 'policy:edit': 1 } } }));
    assert.equal(json<PolicyView>(await kw('so1', ['access-policy', 'set', '--file', gated, '--format', 'json'])).policy.approvals['policy:edit'], 1);

    const next = join(dir, 'next.yaml');
    await writeFile(next, POLICY_YAML.replace('  key:disable: 1', '  key:disable: 1\n  policy:edit: 1\n  principal:bind: 1'));
    fails(await kw('so1', ['access-policy', 'set', '--file', next]), 1, /^error: ApprovalRequired: policy:edit needs 1 approval .*--action policy-change --policy-file FILE/);
    const r = await req('so1', ['create', '--action', 'policy-change', '--policy-file', next, '--reason', 'role bindings need approval too']);
    assert.equal(r.params.policy.approvals['principal:bind'], 1);
    fails(await kw('so1', ['request', 'approve', r.id]), 1, new RegExp(`^error: PermissionDenied: separation of duties: so1 cannot approve its own request ${r.id}`));
    const done = await req('so2', ['approve', r.id]);
    assert.equal(done.status, 'executed');
    const after = json<PolicyView>(await kw('aud', ['access-policy', 'show', '--format', 'json']));
    assert.deepEqual(done.result, { policyVersion: after.version });
    assert.equal(after.policy.approvals['principal:bind'], 1);
    assert.equal(after.updatedBy, 'so1');

    // Role binding is now under approval: --principal / --role.
    await api('POST', '/v1/principals', { name: 'batch', roles: [] });
    const bind = await req('root', ['create', '--action', 'role-bind', '--principal', 'batch', '--role', 'application', '--reason', 'batch jobs']);
    assert.deepEqual((await req('so1', ['approve', bind.id])).result, { principal: 'batch', roles: ['application'] });
  });

  test('usage errors exit 2', async () => {
    fails(await kw('ka', ['request', 'create', '--action', 'launch', '--reason', 'x']), 2, /error: option '--action <action>' argument 'launch' is invalid/);
    fails(await kw('ka', ['request', 'create', '--action', 'disable']), 2, /error: required option '--reason <text>' not specified/);
  });
});
