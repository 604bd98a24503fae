/**
 * Quorum approval (M of N), just-in-time grants and the stored access policy, through the real
 * HTTP server and SQLite: self-approval refusal, quorum reached / denied / expired, JIT grant
 * expiry (issue 3/10 acceptance), plus role binding, policy change and export through approval.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, constants, privateDecrypt } from 'node:crypto';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';
import { ManualClock } from '../../src/util/clock.js';
import { DEFAULT_ACCESS_POLICY, type AccessPolicy } from '../../src/auth/access-policy.js';
import type { Role } from '../../src/auth/principal.model.js';

const HOUR = 3_600_000;
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('approval requests and the access policy', () => {
  let t: TestKeywarden;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const creds: Record<string, { clientId: string; clientSecret: string }> = {};
  const issued: Record<string, { token: string; at: number }> = {};

  /** A token for the service account `name` (re-issued as the clock moves on), or the root token. */
  async function tokenOf(name: string): Promise<string> {
    if (name === 'root') return t.token;
    const cached = issued[name];
    if (cached && clock.now() - cached.at < 10 * 60_000) return cached.token;
    const c = creds[name]!;
    const r = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, expires_in: 3600 }, null);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    issued[name] = { token: r.json.access_token, at: clock.now() };
    return r.json.access_token;
  }
  const as = async (name: string, method: string, url: string, body?: unknown) => t.req(method, url, body, await tokenOf(name));
  const setPolicy = async (patch: Partial<AccessPolicy>) => {
    const r = await t.req('PUT', '/v1/access-policy', { policy: { ...DEFAULT_ACCESS_POLICY, ...patch } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json;
  };
  const newKey = async (body: object = {}) => (await t.req('POST', '/v1/keys', { description: 'approvals', ...body })).json.key;
  const keyState = async (id: string) => (await t.req('GET', `/v1/keys/${id}`)).json.key.state;
  const request = async (who: string, body: object) => {
    const r = await as(who, 'POST', '/v1/requests', body);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.request;
  };
  const approve = (who: string, id: string) => as(who, 'POST', `/v1/requests/${id}/approve`);
  const principalId = async (name: string) => (await t.req('GET', '/v1/principals')).json.principals.find((p: any) => p.name === name).id;

  before(async () => {
    t = await startInProcess({ clock });
    const accounts: Array<[string, Role[]]> = [
      ['admin1', ['admin']],
      ['kadmin', ['key-administrator']],
      ['kadmin2', ['key-administrator']],
      ['so1', ['security-officer']],
      ['so2', ['security-officer']],
      ['so3', ['security-officer']],
      ['app', ['application']],
      ['auditor', ['auditor']],
    ];
    for (const [name, roles] of accounts) {
      const r = await t.req('POST', '/v1/principals', { name, roles });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      creds[name] = { clientId: r.json.clientId, clientSecret: r.json.clientSecret };
    }
  });
  after(() => t.close());

  test('the access policy: defaults, strict validation, policy:edit to change it', async () => {
    const initial = await as('auditor', 'GET', '/v1/access-policy');
    assert.equal(initial.status, 200);
    assert.deepEqual(initial.json, { policy: DEFAULT_ACCESS_POLICY, version: 0, updatedAt: null, updatedBy: null });

    const put = (who: string, policy: unknown) => as(who, 'PUT', '/v1/access-policy', { policy });
    assertError(await put('kadmin', DEFAULT_ACCESS_POLICY), 403, 'PermissionDenied', /^kadmin is not allowed to perform policy:edit: none of its roles/);
    assertError(await put('so1', { ...DEFAULT_ACCESS_POLICY, mfaRequiredRoles: ['wizard'] }), 400, 'ValidationError', 'policy.mfaRequiredRoles names an unknown role "wizard"');
    assertError(await put('so1', { ...DEFAULT_ACCESS_POLICY, mfaGatedActions: ['key:fly'] }), 400, 'ValidationError', 'policy.mfaGatedActions names an unknown action "key:fly"');
    assertError(await put('so1', { ...DEFAULT_ACCESS_POLICY, approvals: { 'key:disable': 11 } }), 400, 'ValidationError', /approvals\.key:disable must be <= 10/);
    assertError(await put('so1', { ...DEFAULT_ACCESS_POLICY, approvals: { 'key:encrypt': 1 } }), 400, 'ValidationError', /unknown field "key:encrypt"/);
    assertError(await put('so1', { ...DEFAULT_ACCESS_POLICY, jitMaxDurationSeconds: 30 * 86_400 }), 400, 'ValidationError', 'policy.jitMaxDurationSeconds must be a whole number from 60 to 604800');
    assertError(await put('so1', { ...DEFAULT_ACCESS_POLICY, requestTtlSeconds: 10 }), 400, 'ValidationError', 'policy.requestTtlSeconds must be a whole number from 300 to 2592000');
    const { jitApprovals: _, ...partial } = DEFAULT_ACCESS_POLICY;
    assertError(await put('so1', partial), 400, 'ValidationError', /missing the required field "jitApprovals"/);

    const ok = await put('so1', { ...DEFAULT_ACCESS_POLICY, jitMaxDurationSeconds: 4 * 3600 });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.version, 1);
    assert.equal(ok.json.updatedBy, 'so1');
    assert.equal(ok.json.updatedAt, new Date(clock.now()).toISOString());
    assert.equal((await as('auditor', 'GET', '/v1/access-policy')).json.policy.jitMaxDurationSeconds, 4 * 3600);
    assert.equal(t.kw.accessPolicy.current().jitMaxDurationSeconds, 4 * 3600, 'the in-memory policy follows at once');
  });

  test('a gated action called directly answers ApprovalRequired, for the root token too; others are unaffected', async () => {
    await setPolicy({ approvals: { 'key:schedule-deletion': 2, 'key:disable': 1 } });
    const key = await newKey();
    const r = await as('kadmin', 'POST', `/v1/keys/${key.id}/schedule-deletion`, {});
    assertError(
      r,
      403,
      'ApprovalRequired',
      `key:schedule-deletion needs 2 approvals (quorum approval): request it with \`keywarden request create --action schedule-deletion --key ${key.id} --reason TEXT\` (POST /v1/requests) and have it approved`,
    );
    assert.equal(r.json.error.requiredApprovals, 2);
    assertError(await t.req('POST', `/v1/keys/${key.id}/disable`), 403, 'ApprovalRequired', /^key:disable needs 1 approval \(quorum approval\)/);
    assert.equal((await as('kadmin', 'POST', `/v1/keys/${key.id}/rotate`)).status, 200);
    assert.equal(await keyState(key.id), 'Enabled');
  });

  test('quorum reached: two distinct security officers approve and the deletion runs as the requester', async () => {
    await setPolicy({ approvals: { 'key:schedule-deletion': 2 } });
    const key = await newKey();
    const req = await request('kadmin', { action: 'schedule-deletion', key: key.id, reason: 'retire the payments key', params: { pendingWindowDays: 7 } });
    assert.equal(req.status, 'pending');
    assert.equal(req.requiredApprovals, 2);
    assert.equal(req.requesterName, 'kadmin');
    assert.equal(req.keyId, key.id);
    assert.deepEqual(req.params, { pendingWindowDays: 7 });
    assert.equal(req.expiresAt, new Date(clock.now() + 24 * HOUR).toISOString());

    assertError(await approve('kadmin', req.id), 403, 'PermissionDenied', /^kadmin is not allowed to perform request:approve: none of its roles \(key-administrator\) grants it/);
    assertError(await approve('auditor', req.id), 403, 'PermissionDenied', /^auditor is not allowed to perform request:approve: none of its roles \(auditor\) grants it/);
    assertError(await approve('admin1', req.id), 403, 'PermissionDenied', /^admin1 is not allowed to perform request:approve/);
    assertError(await approve('root', req.id), 403, 'PermissionDenied', /the root token cannot approve requests/);

    const first = await approve('so1', req.id);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.request.status, 'pending');
    assert.deepEqual(first.json.request.approvals.map((a: any) => a.name), ['so1']);
    assertError(await approve('so1', req.id), 409, 'InvalidState', `so1 has already approved request ${req.id}: the approvals must come from 2 distinct approvers`);
    assert.equal(await keyState(key.id), 'Enabled', 'nothing runs before the quorum');

    const second = await approve('so2', req.id);
    assert.equal(second.status, 200, JSON.stringify(second.json));
    const done = second.json.request;
    assert.equal(done.status, 'executed');
    assert.deepEqual(done.approvals.map((a: any) => a.name), ['so1', 'so2']);
    assert.deepEqual(done.result, { keyId: key.id, state: 'PendingDeletion', deletionAt: new Date(clock.now() + 7 * 24 * HOUR).toISOString() });
    assert.equal(done.decidedAt, new Date(clock.now()).toISOString());
    assert.equal(await keyState(key.id), 'PendingDeletion');
    assertError(await approve('so3', req.id), 409, 'InvalidState', `request ${req.id} is executed: only a pending request can be approved`);
  });

  test('nobody approves or denies their own request, even a security officer', async () => {
    await setPolicy({ approvals: { 'key:revoke': 2 } });
    const key = await newKey();
    const req = await request('so1', { action: 'revoke', key: key.id, reason: 'leaked in a log', params: { reason: 'compromised' } });
    assertError(await approve('so1', req.id), 403, 'PermissionDenied', `separation of duties: so1 cannot approve its own request ${req.id}`);
    assertError(await as('so1', 'POST', `/v1/requests/${req.id}/deny`, {}), 403, 'PermissionDenied', `separation of duties: so1 cannot deny its own request ${req.id}`);
    assert.equal((await approve('so2', req.id)).json.request.status, 'pending');
    const done = (await approve('so3', req.id)).json.request;
    assert.deepEqual(done.result, { keyId: key.id, state: 'Compromised', revocationReason: 'compromised' });
  });

  test('any deny cancels the request', async () => {
    await setPolicy({ approvals: { 'key:disable': 2 } });
    const key = await newKey();
    const req = await request('kadmin', { action: 'disable', key: key.id, reason: 'suspicious use' });
    assert.equal((await approve('so1', req.id)).status, 200);
    assertError(await as('kadmin', 'POST', `/v1/requests/${req.id}/deny`, {}), 403, 'PermissionDenied', /^kadmin is not allowed to perform request:approve/);
    const denied = await as('so2', 'POST', `/v1/requests/${req.id}/deny`, { reason: 'the use is expected' });
    assert.equal(denied.status, 200, JSON.stringify(denied.json));
    assert.equal(denied.json.request.status, 'denied');
    assert.deepEqual(denied.json.request.denial, { principalId: await principalId('so2'), name: 'so2', at: new Date(clock.now()).toISOString(), reason: 'the use is expected' });
    assertError(await approve('so3', req.id), 409, 'InvalidState', `request ${req.id} is denied: only a pending request can be approved`);
    assert.equal(await keyState(key.id), 'Enabled');
  });

  test('expiry cancels: lazily on read, and by the approval-expiry job', async () => {
    await setPolicy({ approvals: { 'key:disable': 1 }, requestTtlSeconds: 3600 });
    const key = await newKey();
    const byJob = await request('kadmin', { action: 'disable', key: key.id, reason: 'expires (job)' });
    const byRead = await request('kadmin', { action: 'disable', key: key.id, reason: 'expires (read)' });
    assert.equal(byJob.expiresAt, new Date(clock.now() + HOUR).toISOString());
    clock.advance(HOUR - 1);
    assert.equal((await as('so1', 'GET', `/v1/requests/${byRead.id}`)).json.request.status, 'pending');
    clock.advance(1);
    const read = await as('so1', 'GET', `/v1/requests/${byRead.id}`);
    assert.equal(read.json.request.status, 'expired');
    assert.equal(read.json.request.decidedAt, new Date(clock.now()).toISOString());

    const run = await t.kw.scheduler.runNow('approval-expiry');
    assert.equal(run?.status, 'ok');
    assert.equal(run?.processed, 1);
    assert.equal((await t.kw.store.approvals.getRequest(byJob.id))?.status, 'expired', 'the job wrote it, not the read');
    assertError(await approve('so1', byJob.id), 409, 'InvalidState', `request ${byJob.id} is expired: only a pending request can be approved`);
    assert.equal(await keyState(key.id), 'Enabled');
  });

  test('the requester may cancel its pending request; nobody else can', async () => {
    await setPolicy({ approvals: { 'key:disable': 1 } });
    const key = await newKey();
    const req = await request('kadmin', { action: 'disable', key: key.id, reason: 'changed my mind' });
    assertError(await as('kadmin2', 'POST', `/v1/requests/${req.id}/cancel`), 403, 'PermissionDenied', `kadmin2 is not allowed to perform request:create: only the requester (kadmin) may cancel request ${req.id}`);
    assertError(await as('so1', 'POST', `/v1/requests/${req.id}/cancel`), 403, 'PermissionDenied', /only the requester \(kadmin\) may cancel/);
    const c = await as('kadmin', 'POST', `/v1/requests/${req.id}/cancel`);
    assert.equal(c.json.request.status, 'cancelled');
    assertError(await approve('so1', req.id), 409, 'InvalidState', `request ${req.id} is cancelled: only a pending request can be approved`);
  });

  test('creating a request needs the underlying permission now, and valid parameters', async () => {
    await setPolicy({ approvals: { 'key:schedule-deletion': 1, 'key:disable': 1 } });
    const key = await newKey();
    const body = { action: 'schedule-deletion', key: key.id, reason: 'r' };
    assertError(await as('app', 'POST', '/v1/requests', body), 403, 'PermissionDenied', /^app is not allowed to perform key:schedule-deletion: none of its roles \(application\) grants it/);
    assertError(await as('auditor', 'POST', '/v1/requests', body), 403, 'PermissionDenied', /^auditor is not allowed to perform request:create/);
    assertError(await as('so1', 'POST', '/v1/requests', { ...body, action: 'disable' }), 403, 'PermissionDenied', /^so1 is not allowed to perform key:disable/);
    assertError(await as('kadmin', 'POST', '/v1/requests', { ...body, action: 'revoke', params: { reason: 'compromised' } }), 403, 'PermissionDenied', /^kadmin is not allowed to perform key:revoke/);
    assertError(await as('so1', 'POST', '/v1/requests', { ...body, action: 'revoke', params: { reason: 'compromised' } }), 400, 'ValidationError', 'key:revoke needs no approval under the current access policy: perform it directly');
    assertError(await as('kadmin', 'POST', '/v1/requests', { ...body, action: 'launch' }), 400, 'ValidationError', /^unknown action "launch"; actions: schedule-deletion, disable/);
    assertError(await as('kadmin', 'POST', '/v1/requests', { ...body, params: { role: 'admin' } }), 400, 'ValidationError', 'params.role does not apply to a schedule-deletion request');
    assertError(await as('kadmin', 'POST', '/v1/requests', { ...body, params: { pendingWindowDays: 3 } }), 400, 'ValidationError', 'params.pendingWindowDays must be a whole number from 7 to 30');
    assertError(await as('kadmin', 'POST', '/v1/requests', { action: 'disable', reason: 'r' }), 400, 'ValidationError', 'a disable request needs key');
    assertError(await as('kadmin', 'POST', '/v1/requests', { ...body, duration: 600 }), 400, 'ValidationError', 'duration applies only to jit-grant requests');
    assertError(await as('kadmin', 'POST', '/v1/requests', { ...body, reason: '   ' }), 400, 'ValidationError', 'reason must say why the request is made');
    assertError(await as('kadmin', 'POST', '/v1/requests', { ...body, key: 'alias/none' }), 404, 'NotFound', /alias\/none/);
  });

  test('role binding runs only through an approved request', async () => {
    await setPolicy({ approvals: { 'principal:bind': 1 } });
    assert.equal((await as('admin1', 'POST', '/v1/principals', { name: 'newapp', roles: [] })).status, 201, 'an account without roles binds nothing');
    assertError(await as('admin1', 'POST', '/v1/principals', { name: 'newapp2', roles: ['application'] }), 403, 'ApprovalRequired', /^principal:bind needs 1 approval/);
    assertError(
      await as('admin1', 'POST', '/v1/principals/newapp/roles', { roles: ['application'] }),
      403,
      'ApprovalRequired',
      'principal:bind needs 1 approval (quorum approval): request it with `keywarden request create --action role-bind --principal NAME --role ROLE --reason TEXT` (POST /v1/requests) and have it approved',
    );
    assertError(await as('kadmin', 'POST', '/v1/requests', { action: 'role-bind', reason: 'r', params: { principal: 'newapp', role: 'application' } }), 403, 'PermissionDenied', /^kadmin is not allowed to perform principal:manage/);
    assertError(await as('admin1', 'POST', '/v1/requests', { action: 'role-bind', reason: 'r', params: { principal: 'app', role: 'key-administrator' } }), 403, 'PermissionDenied', 'separation of duties: app cannot hold both key-administrator and application');
    assertError(await as('admin1', 'POST', '/v1/requests', { action: 'role-bind', reason: 'r', params: { principal: 'nobody', role: 'auditor' } }), 404, 'NotFound', 'principal nobody was not found');

    const req = await request('admin1', { action: 'role-bind', reason: 'new payments service', params: { principal: 'newapp', role: 'application' } });
    const done = (await approve('so1', req.id)).json.request;
    assert.equal(done.status, 'executed', JSON.stringify(done));
    assert.deepEqual(done.result, { principal: 'newapp', roles: ['application'] });
    assert.deepEqual((await t.req('GET', '/v1/principals')).json.principals.find((p: any) => p.name === 'newapp').roles, ['application']);

    // An approver cannot approve a change of its own role bindings.
    const self = await request('admin1', { action: 'role-bind', reason: 'so1 also audits', params: { principal: 'so1', role: 'auditor' } });
    assertError(await approve('so1', self.id), 403, 'PermissionDenied', 'separation of duties: so1 cannot approve a change of its own role bindings');
    assert.equal((await as('so2', 'POST', `/v1/requests/${self.id}/deny`, {})).json.request.status, 'denied');

    const unbind = await request('admin1', { action: 'role-unbind', reason: 'service retired', params: { principal: 'newapp', role: 'application' } });
    assert.deepEqual((await approve('so2', unbind.id)).json.request.result, { principal: 'newapp', roles: [] });
  });

  test('export through approval: only the requester reads the wrapped material', async () => {
    await setPolicy({});
    const key = await newKey({ exportable: true });
    assert.equal((await t.req('POST', '/v1/grants', { key: key.id, principal: 'app', operations: ['export'] })).status, 201);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    await setPolicy({ approvals: { 'key:export': 1 } });

    assertError(await as('app', 'POST', `/v1/keys/${key.id}/export`, { publicKey: spki }), 403, 'ApprovalRequired', /^key:export needs 1 approval/);
    assertError(await as('app', 'POST', '/v1/requests', { action: 'export', key: key.id, reason: 'r', params: { publicKey: b64('not a key') } }), 400, 'ValidationError', 'params.publicKey must be an SPKI DER RSA key of 2048, 3072 or 4096 bits (base64)');
    const other = await newKey({ exportable: true });
    assertError(await as('app', 'POST', '/v1/requests', { action: 'export', key: other.id, reason: 'r', params: { publicKey: spki } }), 403, 'PermissionDenied', /^app is not allowed to perform key:export: it holds no grant for export on key /);

    const fixed = await newKey();
    assert.equal((await t.req('POST', '/v1/grants', { key: fixed.id, principal: 'app', operations: ['export'] })).status, 201);
    assertError(await as('app', 'POST', '/v1/requests', { action: 'export', key: fixed.id, reason: 'r', params: { publicKey: spki } }), 400, 'InvalidKeyUsage', `key ${fixed.id} was not created exportable: its material never leaves Keywarden`);

    const req = await request('app', { action: 'export', key: key.id, reason: 'escrow to the DR site', params: { publicKey: spki } });
    const done = (await approve('so1', req.id)).json.request;
    assert.equal(done.status, 'executed', JSON.stringify(done));
    assert.equal(done.result.wrappedMaterial, undefined, 'the approver does not see the material');
    assert.equal(done.result.wrappingAlgorithm, 'RSAES_OAEP_SHA_256');

    const mine = (await as('app', 'GET', `/v1/requests/${req.id}`)).json.request;
    const material = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(mine.result.wrappedMaterial, 'base64'));
    assert.equal(material.length, 32);
    assert.equal((await as('so1', 'GET', `/v1/requests/${req.id}`)).json.request.result.wrappedMaterial, undefined);
    assert.equal((await as('auditor', 'GET', '/v1/requests?status=executed')).json.requests.find((r: any) => r.id === req.id).result.wrappedMaterial, undefined);
  });

  test('a just-in-time grant: denied before approval, allowed after, denied the moment it expires', async () => {
    await setPolicy({});
    const key = await newKey();
    const encrypt = () => as('app', 'POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('jit') });
    const deny = /^app is not allowed to perform key:encrypt: it holds no grant for encrypt on key /;
    assertError(await encrypt(), 403, 'PermissionDenied', deny);

    const body = { action: 'jit-grant', key: key.id, reason: 'incident 42', params: { operations: ['encrypt'] } };
    assertError(await as('app', 'POST', '/v1/requests', { ...body, duration: 9 * 3600 }), 400, 'ValidationError', 'duration must be from 60 seconds to the policy maximum of 28800 seconds (jitMaxDurationSeconds)');
    assertError(await as('app', 'POST', '/v1/requests', body), 400, 'ValidationError', 'a jit-grant request needs duration (seconds)');
    assertError(await as('kadmin', 'POST', '/v1/requests', { ...body, duration: 600 }), 403, 'PermissionDenied', /^kadmin is not allowed to perform key:encrypt: just-in-time grants are for principals whose roles use keys through grants/);
    assertError(await t.req('POST', '/v1/requests', { ...body, duration: 600 }), 400, 'ValidationError', 'the root token holds every permission and cannot receive grants');

    const req = await request('app', { ...body, duration: 600 });
    assert.equal(req.requiredApprovals, 1, 'a JIT grant needs at least one approval');
    assert.deepEqual(req.params, { operations: ['encrypt'], durationSeconds: 600 });
    assertError(await encrypt(), 403, 'PermissionDenied', deny);
    assertError(await approve('app', req.id), 403, 'PermissionDenied', /^app is not allowed to perform request:approve/);

    const done = (await approve('so1', req.id)).json.request;
    assert.equal(done.status, 'executed', JSON.stringify(done));
    assert.equal(done.result.keyId, key.id);
    assert.deepEqual(done.result.operations, ['encrypt']);
    assert.equal(done.result.notAfter, new Date(clock.now() + 600_000).toISOString());
    const grant = (await t.req('GET', `/v1/grants?key=${key.id}`)).json.grants.find((g: any) => g.id === done.result.grantId);
    assert.equal(grant.approvalRequestId, req.id);
    assert.equal(grant.createdBy, await principalId('so1'));

    assert.equal((await encrypt()).status, 200);
    assertError(await as('app', 'POST', `/v1/keys/${key.id}/data-key`, {}), 403, 'PermissionDenied', /holds no grant for generate-data-key/);
    clock.advance(600_000 - 1);
    assert.equal((await encrypt()).status, 200, 'still inside the window');
    clock.advance(1);
    assertError(await encrypt(), 403, 'PermissionDenied', deny);
  });

  test('a just-in-time grant on an unknown key is accepted like any other and fails once approved (no existence oracle)', async () => {
    const req = await request('app', { action: 'jit-grant', key: 'alias/does-not-exist', reason: 'probe', duration: 600, params: { operations: ['decrypt'] } });
    assert.equal(req.keyId, null);
    const done = (await approve('so1', req.id)).json.request;
    assert.equal(done.status, 'failed');
    assert.equal(done.result.error.code, 'NotFound');
  });

  test('two concurrent last approvals execute the action once', async () => {
    await setPolicy({ approvals: { 'key:disable': 2 } });
    const key = await newKey();
    const req = await request('kadmin', { action: 'disable', key: key.id, reason: 'race' });
    assert.equal((await approve('so1', req.id)).status, 200);
    const [a, b] = await Promise.all([approve('so2', req.id), approve('so3', req.id)]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, [200, 409], JSON.stringify([a.json, b.json]));
    const winner = a.status === 200 ? a : b;
    assert.equal(winner.json.request.status, 'executed');
    assert.equal(winner.json.request.approvals.length, 2);
    assert.equal(await keyState(key.id), 'Disabled');
    const stored = (await as('so1', 'GET', `/v1/requests/${req.id}`)).json.request;
    assert.equal(stored.status, 'executed');
    assert.equal(stored.approvals.length, 2);

    // The HTTP layer happens to serialize those two; the service calls below interleave step by
    // step, so one of them really loses the conditional update and re-reads.
    const raced = await request('kadmin', { action: 'disable', key: key.id, reason: 'race at the store' });
    assert.equal((await approve('so1', raced.id)).status, 200);
    const [p2, p3] = await Promise.all([t.kw.tokens.authenticate(await tokenOf('so2')), t.kw.tokens.authenticate(await tokenOf('so3'))]);
    const outcomes = await Promise.allSettled([t.kw.approvals.approve(p2, raced.id), t.kw.approvals.approve(p3, raced.id)]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.equal(lost[0]!.reason.message, `request ${raced.id} is approved: only a pending request can be approved`);
    assert.equal((await t.kw.store.approvals.getRequest(raced.id))?.approvals.length, 2);

    // Left `approved` (as after a crash mid-execution), the expiry job fails it after 10 minutes.
    clock.advance(10 * 60_000 + 1);
    assert.equal((await t.kw.scheduler.runNow('approval-expiry'))?.processed, 1);
    const stale = (await as('so1', 'GET', `/v1/requests/${raced.id}`)).json.request;
    assert.equal(stale.status, 'failed');
    assert.equal(stale.result.error.message, 'the execution was interrupted before it finished; check the target and create a new request if needed');
  });

  test('the requester is re-read when the request executes: a disabled requester fails it; a root requester runs while its token exists', async () => {
    await setPolicy({ approvals: { 'key:disable': 1 } });
    const key = await newKey();
    const req = await request('kadmin2', { action: 'disable', key: key.id, reason: 'will be disabled first' });
    assert.equal((await as('admin1', 'POST', '/v1/principals/kadmin2/disable')).status, 200);
    const failed = (await approve('so1', req.id)).json.request;
    assert.equal(failed.status, 'failed');
    assert.deepEqual(failed.result, { error: { code: 'InvalidState', message: 'the requester kadmin2 no longer exists, is disabled or was revoked: the request cannot run as it' } });
    assert.equal(await keyState(key.id), 'Enabled');

    const byRoot = await request('root', { action: 'disable', key: key.id, reason: 'bootstrap clean-up' });
    assertError(await t.req('POST', `/v1/requests/${byRoot.id}/approve`), 403, 'PermissionDenied', `separation of duties: root cannot approve its own request ${byRoot.id}`);
    assert.equal((await approve('so1', byRoot.id)).json.request.status, 'executed');
    assert.equal(await keyState(key.id), 'Disabled');
  });

  test('a requester sees its own requests; request:read sees them all', async () => {
    const mine = (await as('app', 'GET', '/v1/requests')).json.requests;
    assert.ok(mine.length >= 3);
    assert.ok(mine.every((r: any) => r.requesterName === 'app'));
    const all = (await as('auditor', 'GET', '/v1/requests')).json.requests;
    assert.ok(all.some((r: any) => r.requesterName === 'kadmin') && all.some((r: any) => r.requesterName === 'app'));
    assert.ok(all.every((r: any, i: number) => i === 0 || r.createdAt <= all[i - 1].createdAt), 'newest first');
    const denied = (await as('auditor', 'GET', '/v1/requests?status=denied')).json.requests;
    assert.ok(denied.length >= 2 && denied.every((r: any) => r.status === 'denied'));
    assertError(await as('auditor', 'GET', '/v1/requests?status=maybe'), 400, 'ValidationError', /^unknown status "maybe"/);
    const foreign = all.find((r: any) => r.requesterName === 'kadmin');
    assertError(await as('app', 'GET', `/v1/requests/${foreign.id}`), 403, 'PermissionDenied', `app is not allowed to perform request:read: only the requester and holders of request:read may read request ${foreign.id}`);
    assertError(await as('auditor', 'GET', '/v1/requests/00000000-0000-0000-0000-000000000000'), 404, 'NotFound', 'request 00000000-0000-0000-0000-000000000000 was not found');
  });

  test('a policy change runs only through an approved policy-change request once policy:edit needs approval', async () => {
    const before = await setPolicy({ approvals: { 'policy:edit': 2 } });
    const next = { ...DEFAULT_ACCESS_POLICY, approvals: { 'policy:edit': 2, 'key:revoke': 1 } };
    assertError(
      await as('so1', 'PUT', '/v1/access-policy', { policy: next }),
      403,
      'ApprovalRequired',
      'policy:edit needs 2 approvals (quorum approval): request it with `keywarden request create --action policy-change --policy-file FILE --reason TEXT` (POST /v1/requests) and have it approved',
    );
    assertError(await t.req('PUT', '/v1/access-policy', { policy: next }), 403, 'ApprovalRequired', /^policy:edit needs 2 approvals/);
    assertError(await as('so1', 'POST', '/v1/requests', { action: 'policy-change', reason: 'r', params: { policy: { ...next, jitApprovals: 0 } } }), 400, 'ValidationError', 'policy.jitApprovals must be a whole number from 1 to 10');
    assertError(await as('kadmin', 'POST', '/v1/requests', { action: 'policy-change', reason: 'r', params: { policy: next } }), 403, 'PermissionDenied', /^kadmin is not allowed to perform policy:edit/);

    const req = await request('so1', { action: 'policy-change', reason: 'revocation needs a second pair of eyes', params: { policy: next } });
    assert.equal(req.requiredApprovals, 2);
    assertError(await approve('so1', req.id), 403, 'PermissionDenied', `separation of duties: so1 cannot approve its own request ${req.id}`);
    assert.equal((await approve('so2', req.id)).json.request.status, 'pending');
    const done = (await approve('so3', req.id)).json.request;
    assert.equal(done.status, 'executed', JSON.stringify(done));
    assert.deepEqual(done.result, { policyVersion: before.version + 1 });
    const now = (await as('auditor', 'GET', '/v1/access-policy')).json;
    assert.deepEqual(now.policy, next);
    assert.equal(now.updatedBy, 'so1', 'the change is made as the requester');
    const key = await newKey();
    assertError(await as('so1', 'POST', `/v1/keys/${key.id}/revoke`, { reason: 'compromised' }), 403, 'ApprovalRequired', /^key:revoke needs 1 approval/);
  });
});
