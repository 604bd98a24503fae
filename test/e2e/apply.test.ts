/**
 * End-to-end tests of `keywarden apply` and `keywarden compliance remediate` (issue 5/10 §4, §5):
 * real CLI processes against a real `keywarden dev` server. apply: the plan, then create (keys and
 * grants exist), a no-op re-apply, an update (description, rotation, tags, stricter
 * classification, grants), an impossible change refused with nothing applied, and a key dropped
 * from the manifest whose deletion waits for quorum approval and then runs. remediate: the plan,
 * --yes, and a second run that finds nothing to do.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevServer, api, apiOk, fails, json, runCli, startDevServer, text } from './helpers.js';

const DAY = 86_400_000;

const MANIFEST_V1 = `apiVersion: keywarden.io/v1
kind: KeyManifest
metadata: { name: payments, team: pay }
keys:
  - alias: alias/pay/db
    description: payments database KEK
    classification: internal
    environment: prod
    rotationDays: 180
    tags: { team: pay, owner: alice }
  - alias: alias/pay/signing
    spec: ECC_NIST_P256
    usage: SIGN_VERIFY
    classification: internal
    environment: staging
  - alias: alias/pay/tmp
    description: scratch
    deletionWindowDays: 7
grants:
  - key: alias/pay/db
    principal: app1
    operations: [encrypt, decrypt]
  - key: alias/pay/signing
    principal: app1
    operations: [sign]
    expiresInDays: 30
`;

/** v1 with a new description, rotation, tags, a stricter classification; app1's sign grant replaced by app2 on the db key. */
const MANIFEST_V2 = MANIFEST_V1.replace('description: payments database KEK', 'description: payments database KEK (v2)')
  .replace('rotationDays: 180', 'rotationDays: 90')
  .replace('tags: { team: pay, owner: alice }', 'tags: { team: pay, tier: gold }')
  .replace('classification: internal\n    environment: prod', 'classification: confidential\n    environment: prod')
  .replace(`  - key: alias/pay/signing
    principal: app1
    operations: [sign]
    expiresInDays: 30
`, `  - key: alias/pay/db
    principal: app2
    operations: [generate-data-key]
    expiresInDays: 14
`);

interface Change {
  op: string;
  alias?: string;
  keyId?: string;
  message?: string;
  pendingRequest?: string | null;
}

describe('keywarden apply', () => {
  let server: DevServer;
  let dir: string;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const root = (method: string, path: string, body?: object): Promise<any> => apiOk(server.address, server.rootToken, method, path, body);
  const kw = (as: string, args: string[]) => runCli(args, { env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: tokens[as] } });
  const manifest = async (name: string, body: string) => {
    const f = join(dir, name);
    await writeFile(f, body);
    return f;
  };
  const key = async (alias: string) => (await root('GET', `/v1/keys/${alias}`)).key;
  const grantsOf = async (keyRef: string) => (await root('GET', `/v1/grants?key=${encodeURIComponent(keyRef)}`)).grants as any[];

  before(async () => {
    server = await startDevServer();
    dir = await mkdtemp(join(tmpdir(), 'kw-apply-'));
    for (const [name, role] of [['ka', 'key-administrator'], ['so1', 'security-officer'], ['app1', 'application'], ['app2', 'application']] as const) {
      const c = await root('POST', '/v1/principals', { name, roles: [role] });
      const t = await root('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, expires_in: 3600 });
      tokens[name] = t.access_token;
    }
    const principals = (await root('GET', '/v1/principals')).principals as Array<{ id: string; name: string }>;
    for (const p of principals) ids[p.name] = p.id;
  });
  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('create: the plan first (nothing changes), then --yes creates the keys and grants', async () => {
    const f = await manifest('v1.yaml', MANIFEST_V1);
    const planned = text(await kw('ka', ['apply', f]));
    assert.match(planned, /^Plan for manifest payments:$/m);
    assert.match(planned, /^ {2}\+ key alias\/pay\/db: create \(SYMMETRIC_DEFAULT, internal, prod, rotation 180d\)$/m);
    assert.match(planned, /^ {2}\+ key alias\/pay\/signing: create \(ECC_NIST_P256, internal, staging\)$/m);
    assert.match(planned, /^ {2}\+ grant alias\/pay\/db -> app1: encrypt, decrypt$/m);
    assert.match(planned, /^ {2}\+ grant alias\/pay\/signing -> app1: sign, expires in 30d$/m);
    assert.match(planned, /^Plan: 5 to create, 0 to update, 0 to revoke, 0 to destroy, 0 unchanged\.$/m);
    assert.match(planned, /Run again with --yes to apply/);
    assert.equal((await api(server.address, server.rootToken, 'GET', '/v1/keys/alias/pay/db')).status, 404, 'a plan changes nothing');

    const asJson = json<{ manifest: string; changes: Change[] }>(await kw('ka', ['apply', f, '--format', 'json']));
    assert.equal(asJson.manifest, 'payments');
    assert.deepEqual(asJson.changes.map((c) => c.op), ['create-key', 'create-key', 'create-key', 'create-grant', 'create-grant']);

    const applied = text(await kw('ka', ['apply', f, '--yes']));
    assert.equal(applied.match(/^applied: /gm)?.length, 5, applied);

    const db = await key('alias/pay/db');
    assert.deepEqual([db.description, db.classification, db.environment, db.rotationPeriodDays, db.spec], ['payments database KEK', 'internal', 'prod', 180, 'SYMMETRIC_DEFAULT']);
    assert.deepEqual(db.tags, { team: 'pay', owner: 'alice', 'keywarden:manifest': 'payments' });
    const signing = await key('alias/pay/signing');
    assert.deepEqual([signing.spec, signing.usage, signing.environment], ['ECC_NIST_P256', 'SIGN_VERIFY', 'staging']);
    const tmp = await key('alias/pay/tmp');
    assert.equal(tmp.tags['keywarden:deletion-window-days'], '7');

    const dbGrants = await grantsOf('alias/pay/db');
    assert.deepEqual(dbGrants.map((g) => [g.principalId, g.operations]), [[ids.app1, ['encrypt', 'decrypt']]]);
    const sg = (await grantsOf('alias/pay/signing'))[0];
    assert.deepEqual(sg.operations, ['sign']);
    assert.ok(Math.abs(Date.parse(sg.conditions.notAfter) - Date.parse(sg.createdAt) - 30 * DAY) < 60_000);
  });

  test('re-apply: no changes', async () => {
    const f = await manifest('v1.yaml', MANIFEST_V1);
    const again = text(await kw('ka', ['apply', f, '--yes']));
    assert.match(again, /^no changes$/m);
    assert.doesNotMatch(again, /^applied:/m);
    assert.match(again, /^ {2}= key alias\/pay\/db \(/m);
    const asJson = json<{ changes: Change[] }>(await kw('ka', ['apply', f, '--format', 'json']));
    assert.ok(asJson.changes.every((c) => c.op.startsWith('unchanged')), JSON.stringify(asJson.changes));
  });

  test('update: description, rotation, tags, stricter classification; grants created and revoked', async () => {
    const f = await manifest('v2.yaml', MANIFEST_V2);
    const db = await key('alias/pay/db');
    const oldSign = (await grantsOf('alias/pay/signing'))[0];
    const planned = text(await kw('ka', ['apply', f]));
    assert.match(
      planned,
      new RegExp(`^  ~ key alias/pay/db \\(${db.id}\\): classification internal -> confidential; description "payments database KEK" -> "payments database KEK \\(v2\\)"; rotation 180d -> 90d; tag \\+tier=gold; tag -owner$`, 'm'),
    );
    assert.match(planned, new RegExp(`^  - grant alias/pay/signing -> app1 \\(${oldSign.id}\\): revoke \\(sign\\)$`, 'm'));
    assert.match(planned, /^ {2}\+ grant alias\/pay\/db -> app2: generate-data-key, expires in 14d$/m);
    assert.match(planned, /^Plan: 1 to create, 1 to update, 1 to revoke, 0 to destroy, 3 unchanged\.$/m);

    text(await kw('ka', ['apply', f, '--yes']));
    const after = await key('alias/pay/db');
    assert.deepEqual([after.description, after.classification, after.rotationPeriodDays], ['payments database KEK (v2)', 'confidential', 90]);
    assert.deepEqual(after.tags, { team: 'pay', tier: 'gold', 'keywarden:manifest': 'payments' });
    assert.deepEqual((await grantsOf('alias/pay/db')).map((g) => g.principalId).sort(), [ids.app1, ids.app2].sort());
    assert.deepEqual(await grantsOf('alias/pay/signing'), []);
    assert.match(text(await kw('ka', ['apply', f, '--yes'])), /^no changes$/m);
  });

  test('an impossible change (spec, looser classification) is refused and nothing is applied', async () => {
    const f = await manifest('v3.yaml', MANIFEST_V2.replace('classification: confidential', 'classification: internal')
      .replace('spec: ECC_NIST_P256', 'spec: ECC_NIST_P384')
      .replace('payments database KEK (v2)', 'payments database KEK (v3)'));
    for (const args of [[], ['--yes']]) {
      const r = await kw('ka', ['apply', f, ...args]);
      fails(r, 1, /^error: 2 change\(s\) cannot be made: nothing was applied\n/);
      const out = r.stdout.toString();
      assert.match(out, /^ {2}! alias\/pay\/db: the classification can only become stricter \(confidential -> internal\)$/m);
      assert.match(out, /^ {2}! alias\/pay\/signing: the key spec cannot change \(ECC_NIST_P256 -> ECC_NIST_P384\): declare a new key under a new alias and retire this one$/m);
      assert.doesNotMatch(out, /^applied:/m);
    }
    assert.equal((await key('alias/pay/db')).description, 'payments database KEK (v2)');

    const nameless = await manifest('nameless.yaml', MANIFEST_V1.replace('metadata: { name: payments, team: pay }\n', ''));
    fails(await kw('ka', ['apply', nameless]), 1, /^error: the manifest has no metadata\.name/);
  });

  test('destructive: a key dropped from the manifest is deleted only with --allow-destroy, after quorum approval', async () => {
    const current = await root('GET', '/v1/access-policy');
    await apiOk(server.address, tokens.so1!, 'PUT', '/v1/access-policy', { policy: { ...current.policy, approvals: { ...current.policy.approvals, 'key:schedule-deletion': 1 } } });
    const tmp = await key('alias/pay/tmp');
    const f = await manifest('v4.yaml', MANIFEST_V2.replace('  - alias: alias/pay/tmp\n    description: scratch\n    deletionWindowDays: 7\n', ''));

    const planned = text(await kw('ka', ['apply', f]));
    assert.match(planned, new RegExp(`^  - key ${tmp.id} \\(alias/pay/tmp\\): schedule deletion in 7 days \\[destructive\\]$`, 'm'));
    assert.match(planned, /^Plan: 0 to create, 0 to update, 0 to revoke, 1 to destroy, 4 unchanged\.$/m);

    const skipped = text(await kw('ka', ['apply', f, '--yes']));
    assert.match(skipped, /^skipped: - key .*: destructive: run with --allow-destroy$/m);
    assert.equal((await key('alias/pay/tmp')).state, 'Enabled');

    const waiting = text(await kw('ka', ['apply', f, '--yes', '--allow-destroy']));
    const m = /^pending: - key .*: waiting for approval (\S+)$/m.exec(waiting);
    assert.ok(m, waiting);
    const requestId = m[1]!;
    assert.equal((await key('alias/pay/tmp')).state, 'Enabled', 'nothing happens before the approval');
    const request = (await root('GET', `/v1/requests/${requestId}`)).request;
    assert.deepEqual([request.action, request.keyId, request.status, request.requesterName, request.params], ['schedule-deletion', tmp.id, 'pending', 'ka', { pendingWindowDays: 7 }]);

    // While the request waits, apply does not file another one.
    const again = text(await kw('ka', ['apply', f, '--yes', '--allow-destroy']));
    assert.match(again, new RegExp(`^  = key ${tmp.id} \\(alias/pay/tmp\\): waiting for approval ${requestId} \\(schedule deletion\\)$`, 'm'));
    assert.match(again, /^no changes$/m);
    assert.equal((await root('GET', '/v1/requests?status=pending')).requests.length, 1);

    const approved = await apiOk(server.address, tokens.so1!, 'POST', `/v1/requests/${requestId}/approve`);
    assert.equal(approved.request.status, 'executed');
    const gone = await key('alias/pay/tmp');
    assert.equal(gone.state, 'PendingDeletion');
    assert.ok(Math.abs(Date.parse(gone.deletionAt) - Date.now() - 7 * DAY) < 120_000);
    assert.match(text(await kw('ka', ['apply', f, '--yes', '--allow-destroy'])), /^no changes$/m);
  });
});

describe('keywarden compliance remediate', () => {
  let server: DevServer;
  const tokens: Record<string, string> = {};
  const kw = (as: string, args: string[]) => runCli(args, { env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: tokens[as] } });
  const as = (who: string, method: string, path: string, body?: object): Promise<any> => apiOk(server.address, tokens[who]!, method, path, body);

  before(async () => {
    server = await startDevServer();
    for (const [name, role] of [['ka', 'key-administrator'], ['so1', 'security-officer'], ['aud', 'auditor']] as const) {
      const c = await apiOk(server.address, server.rootToken, 'POST', '/v1/principals', { name, roles: [role] });
      tokens[name] = (await apiOk(server.address, server.rootToken, 'POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, expires_in: 3600 })).access_token;
    }
  });
  after(() => server?.stop());

  test('plan, --yes (rotation period set, retired algorithm re-keyed), then nothing to do', async () => {
    const standard = (await as('aud', 'GET', '/v1/policy')).document;
    // Keys made under a permissive policy; then the standard one, with RSA_2048 retired.
    await as('so1', 'PUT', '/v1/policy', { apiVersion: 'keywarden.io/v1', kind: 'Policy' });
    const conf = (await as('ka', 'POST', '/v1/keys', { description: 'customer records', classification: 'confidential' })).key;
    const old = (await as('ka', 'POST', '/v1/keys', { description: 'invoice signer', alias: 'alias/invoices', spec: 'RSA_2048', usage: 'SIGN_VERIFY', classification: 'internal', rotationPeriodDays: 180, tags: { team: 'billing' } })).key;
    const retired = { ...standard, defaults: { ...standard.defaults, allowedKeySpecs: standard.defaults.allowedKeySpecs.filter((s: string) => s !== 'RSA_2048') } };
    await as('so1', 'PUT', '/v1/policy', retired);

    const report = text(await kw('aud', ['compliance', 'report']));
    assert.match(report, /^KEY +ALIASES +CLASSIFICATION +ENV +VIOLATIONS$/m);
    assert.match(report, new RegExp(`^${old.id} +alias/invoices +internal +- +weak-algorithm$`, 'm'));
    assert.match(report, new RegExp(`^${conf.id} +confidential +- +rotation-period$`, 'm'));
    assert.match(report, /^2 keys, 0 compliant, 0 pending deletion, 2 violations \(rotation-period=1, weak-algorithm=1\)$/m);
    const weakOnly = json<{ keys: Array<{ id: string }> }>(await kw('aud', ['compliance', 'report', '--kind', 'weak-algorithm', '--format', 'json']));
    assert.deepEqual(weakOnly.keys.map((k) => k.id), [old.id]);

    const planned = text(await kw('ka', ['compliance', 'remediate']));
    assert.match(planned, new RegExp(`^  ~ ${conf.id}: set the rotation period to 365 days  \\[rotation-period: classifications\\.confidential\\.maxRotationDays\\]$`, 'm'));
    assert.match(planned, new RegExp(`^  \\+ ${old.id} \\(alias/invoices\\): create a RSA_4096 successor of this RSA_2048 key  \\[weak-algorithm: defaults\\.allowedKeySpecs\\]$`, 'm'));
    assert.match(planned, /moving aliases and re-encrypting data under the successor is the key owner's job/);
    assert.match(planned, /^2 change\(s\) planned; run again with --yes to apply them\.$/m);
    assert.equal((await as('ka', 'GET', `/v1/keys/${conf.id}`)).key.rotationPeriodDays, null, 'a plan changes nothing');

    const done = json<{ applied: Array<{ action: string; keyId: string; successor?: string }> }>(await kw('ka', ['compliance', 'remediate', '--yes', '--format', 'json']));
    assert.deepEqual(done.applied.map((a) => [a.action, a.keyId]), [['set-rotation', conf.id], ['rekey', old.id]]);
    const successorId = done.applied[1]!.successor!;
    assert.equal((await as('ka', 'GET', `/v1/keys/${conf.id}`)).key.rotationPeriodDays, 365);
    const successor = (await as('ka', 'GET', `/v1/keys/${successorId}`)).key;
    assert.deepEqual(
      [successor.spec, successor.usage, successor.description, successor.classification, successor.rotationPeriodDays, successor.tags],
      ['RSA_4096', 'SIGN_VERIFY', 'invoice signer', 'internal', 180, { team: 'billing', 'keywarden:replaces': old.id }],
    );
    const oldNow = (await as('ka', 'GET', `/v1/keys/${old.id}`)).key;
    assert.equal(oldNow.tags['keywarden:superseded-by'], successorId);
    assert.deepEqual(oldNow.aliases, ['alias/invoices'], 'aliases stay: moving them is the owner\u2019s job');

    const again = text(await kw('ka', ['compliance', 'remediate', '--yes']));
    assert.match(again, /^ {2}nothing to do$/m);
    assert.match(again, new RegExp(`^  = ${old.id}: already superseded by ${successorId}$`, 'm'));
    assert.match(again, /^0 change\(s\) applied\.$/m);
  });
});
