/**
 * The policy engine in the server (issue 5/10 §1–§3), through the real HTTP server (fastify.inject)
 * and real SQLite: the stored, versioned document; each rule member with an allowed and a refused
 * call (table-driven); key classification / environment rules; principal environments; the
 * decision in the audit event; the built-in default (version 0); quorum approval of a change.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { ManualClock } from '../../src/util/clock.js';
import { DEFAULT_ACCESS_POLICY } from '../../src/auth/access-policy.js';
import { assertError, type ApiResponse } from '../support/assert.js';

const DAY = 86_400_000;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const doc = (rules: Record<string, unknown>) => ({ apiVersion: 'keywarden.io/v1', kind: 'Policy', metadata: { name: 'test' }, ...rules });
const internal = (rules: Record<string, unknown>) => doc({ classifications: { internal: rules } });

async function serviceAccount(t: TestKeywarden, name: string, roles: string[], environment?: string): Promise<string> {
  const c = await t.req('POST', '/v1/principals', { name, roles, ...(environment ? { environment } : {}) });
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
  assert.equal(tok.status, 200, JSON.stringify(tok.json));
  return tok.json.access_token;
}

async function setPolicy(t: TestKeywarden, d: unknown): Promise<ApiResponse> {
  const r = await t.req('PUT', '/v1/policy', d);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r;
}

async function createKey(t: TestKeywarden, body: Record<string, unknown> = {}): Promise<any> {
  const r = await t.req('POST', '/v1/keys', body);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.key;
}

/** A refusal by the policy: the code, and the rule id in the body and in the message. */
function assertRefused(res: ApiResponse, code: 'PolicyViolation' | 'ApprovalRequired' | 'MfaRequired', rule: string): void {
  const status = code === 'MfaRequired' ? 401 : 403;
  assertError(res, status, code, new RegExp(`policy rule ${rule.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.equal(res.json.error.rule, rule);
  // The field is the rule member, except for requireClassification: the key's missing `classification`.
  const member = rule.split('.').at(-1);
  if (code === 'PolicyViolation') assert.equal(res.json.error.field, member === 'requireClassification' ? 'classification' : member);
}

describe('policy engine: each rule member, allowed and refused', () => {
  let t: TestKeywarden;
  const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
  const tok = {} as Record<'appProd' | 'appDev' | 'user', string>;

  before(async () => {
    t = await startInProcess({ clock });
    tok.appProd = await serviceAccount(t, 'app-prod', ['application'], 'prod');
    tok.appDev = await serviceAccount(t, 'app-dev', ['application'], 'dev');
    // A person (auditor: no MFA enrolment required) logged in without a second factor.
    assert.equal((await t.req('POST', '/v1/users', { name: 'audrey', roles: ['auditor'], password: 'correct horse battery staple' })).status, 201);
    const login = await t.req('POST', '/v1/auth/login', { username: 'audrey', password: 'correct horse battery staple' }, null);
    assert.equal(login.status, 200, JSON.stringify(login.json));
    tok.user = login.json.token;
  });
  after(() => t.close());

  const grant = async (key: string, principal: string, operations: string[]) =>
    assert.equal((await t.req('POST', '/v1/grants', { key, principal, operations })).status, 201);

  type Row = {
    member: string;
    policy: unknown;
    setup?: () => Promise<Record<string, any>>;
    allowed: (s: Record<string, any>) => Promise<ApiResponse>;
    refused: (s: Record<string, any>) => Promise<ApiResponse>;
    code?: 'PolicyViolation' | 'ApprovalRequired' | 'MfaRequired';
    rule: string;
  };

  const rows: Row[] = [
    {
      member: 'allowedKeySpecs',
      policy: internal({ allowedKeySpecs: ['SYMMETRIC_DEFAULT'] }),
      allowed: () => t.req('POST', '/v1/keys', { classification: 'internal' }),
      refused: () => t.req('POST', '/v1/keys', { classification: 'internal', spec: 'HMAC_256' }),
      rule: 'classifications.internal.allowedKeySpecs',
    },
    {
      member: 'allowedAlgorithms',
      policy: internal({ allowedAlgorithms: ['ECDSA_SHA_384'] }),
      setup: async () => ({ key: await createKey(t, { classification: 'internal', spec: 'ECC_NIST_P384' }) }),
      allowed: (s) => t.req('POST', `/v1/keys/${s.key.id}/sign`, { message: b64('m'), algorithm: 'ECDSA_SHA_384' }),
      refused: (s) => t.req('POST', `/v1/keys/${s.key.id}/sign`, { message: b64('m'), algorithm: 'ECDSA_SHA_256' }),
      rule: 'classifications.internal.allowedAlgorithms',
    },
    {
      member: 'maxRotationDays',
      policy: internal({ maxRotationDays: 30 }),
      allowed: () => t.req('POST', '/v1/keys', { classification: 'internal', rotationPeriodDays: 30 }),
      refused: () => t.req('POST', '/v1/keys', { classification: 'internal', rotationPeriodDays: 90 }),
      rule: 'classifications.internal.maxRotationDays',
    },
    {
      member: 'requiredProtection',
      policy: internal({ requiredProtection: 'hsm' }),
      allowed: () => t.req('POST', '/v1/keys', { classification: 'public' }),
      refused: () => t.req('POST', '/v1/keys', { classification: 'internal' }),
      rule: 'classifications.internal.requiredProtection',
    },
    {
      member: 'minDeletionWindowDays',
      policy: internal({ minDeletionWindowDays: 20 }),
      setup: async () => ({ a: await createKey(t, { classification: 'internal' }), b: await createKey(t, { classification: 'internal' }) }),
      allowed: (s) => t.req('POST', `/v1/keys/${s.a.id}/schedule-deletion`, { days: 20 }),
      refused: (s) => t.req('POST', `/v1/keys/${s.b.id}/schedule-deletion`, { days: 10 }),
      rule: 'classifications.internal.minDeletionWindowDays',
    },
    {
      member: 'approvals',
      policy: internal({ approvals: { 'key:disable': 1 } }),
      setup: async () => ({ pub: await createKey(t, { classification: 'public' }), int: await createKey(t, { classification: 'internal' }) }),
      allowed: (s) => t.req('POST', `/v1/keys/${s.pub.id}/disable`),
      refused: (s) => t.req('POST', `/v1/keys/${s.int.id}/disable`),
      code: 'ApprovalRequired',
      rule: 'classifications.internal.approvals.key:disable',
    },
    {
      member: 'mfaActions',
      policy: internal({ mfaActions: ['key:describe'] }),
      setup: async () => ({ pub: await createKey(t, { classification: 'public' }), int: await createKey(t, { classification: 'internal' }) }),
      allowed: (s) => t.req('GET', `/v1/keys/${s.pub.id}`, undefined, tok.user),
      refused: (s) => t.req('GET', `/v1/keys/${s.int.id}`, undefined, tok.user),
      code: 'MfaRequired',
      rule: 'classifications.internal.mfaActions',
    },
    {
      // fastify.inject calls come from 127.0.0.1.
      member: 'allowedNetworks',
      policy: doc({ classifications: { internal: { allowedNetworks: ['10.0.0.0/8'] }, public: { allowedNetworks: ['127.0.0.0/8', 'fd00::/8'] } } }),
      setup: async () => ({ pub: await createKey(t, { classification: 'public' }), int: await createKey(t, { classification: 'internal' }) }),
      allowed: (s) => t.req('GET', `/v1/keys/${s.pub.id}`),
      refused: (s) => t.req('GET', `/v1/keys/${s.int.id}`),
      rule: 'classifications.internal.allowedNetworks',
    },
    {
      member: 'principalEnvironments',
      policy: internal({ principalEnvironments: ['prod'] }),
      setup: async () => {
        const key = await createKey(t, { classification: 'internal' });
        await grant(key.id, 'app-prod', ['encrypt']);
        await grant(key.id, 'app-dev', ['encrypt']);
        return { key };
      },
      allowed: (s) => t.req('POST', `/v1/keys/${s.key.id}/encrypt`, { plaintext: b64('x') }, tok.appProd),
      refused: (s) => t.req('POST', `/v1/keys/${s.key.id}/encrypt`, { plaintext: b64('x') }, tok.appDev),
      rule: 'classifications.internal.principalEnvironments',
    },
    {
      member: 'maxJitGrantSeconds',
      policy: internal({ maxJitGrantSeconds: 600 }),
      setup: async () => ({ key: await createKey(t, { classification: 'internal' }) }),
      allowed: (s) => t.req('POST', '/v1/requests', { action: 'jit-grant', key: s.key.id, reason: 'incident', duration: 600, params: { operations: ['decrypt'] } }, tok.appProd),
      refused: (s) => t.req('POST', '/v1/requests', { action: 'jit-grant', key: s.key.id, reason: 'incident', duration: 3600, params: { operations: ['decrypt'] } }, tok.appProd),
      rule: 'classifications.internal.maxJitGrantSeconds',
    },
    {
      member: 'maxGrantDays',
      policy: internal({ maxGrantDays: 30 }),
      setup: async () => ({ key: await createKey(t, { classification: 'internal' }) }),
      allowed: (s) =>
        t.req('POST', '/v1/grants', { key: s.key.id, principal: 'app-prod', operations: ['encrypt'], conditions: { notAfter: new Date(clock.now() + 30 * DAY).toISOString() } }),
      refused: (s) => t.req('POST', '/v1/grants', { key: s.key.id, principal: 'app-dev', operations: ['encrypt'] }),
      rule: 'classifications.internal.maxGrantDays',
    },
    {
      member: 'exportable',
      policy: internal({ exportable: false }),
      allowed: () => t.req('POST', '/v1/keys', { classification: 'internal', exportable: false }),
      refused: () => t.req('POST', '/v1/keys', { classification: 'internal', exportable: true }),
      rule: 'classifications.internal.exportable',
    },
    {
      member: 'requireClassification',
      policy: doc({ environments: { staging: { requireClassification: true } } }),
      allowed: () => t.req('POST', '/v1/keys', { environment: 'staging', classification: 'internal' }),
      refused: () => t.req('POST', '/v1/keys', { environment: 'staging' }),
      rule: 'environments.staging.requireClassification',
    },
  ];

  for (const row of rows) {
    test(`${row.member}: one call allowed, one refused naming ${row.rule}`, async () => {
      await setPolicy(t, row.policy);
      const s = row.setup ? await row.setup() : {};
      const ok = await row.allowed(s);
      assert.ok(ok.status >= 200 && ok.status < 300, `${row.member} allowed: ${JSON.stringify(ok.json)}`);
      assertRefused(await row.refused(s), row.code ?? 'PolicyViolation', row.rule);
    });
  }

  test('the rule-member table covers every enforced member of a rule set', async () => {
    const { RuleSetSchema } = await import('../../src/policy/policy.model.js');
    // unusedDays and dataKeyMaxLifetimeSeconds are report / SDK hints (compliance report, data-key caches), not call refusals.
    const enforced = Object.keys(RuleSetSchema.properties).filter((m) => m !== 'unusedDays' && m !== 'dataKeyMaxLifetimeSeconds');
    assert.deepEqual(rows.map((r) => r.member).sort(), enforced.sort());
  });

  test('a created key without a rotation period gets the scope maximum; protection hsm is refused: no HSM', async () => {
    await setPolicy(t, internal({ maxRotationDays: 30 }));
    const k = await createKey(t, { classification: 'internal' });
    assert.equal(k.rotationPeriodDays, 30);
    assert.equal(k.nextRotationAt, new Date(clock.now() + 30 * DAY).toISOString());
    assert.equal(k.protection, 'software');
    assertError(await t.req('POST', '/v1/keys', { protection: 'hsm' }), 400, 'ValidationError', /no HSM is configured/);
    // An imported key cannot rotate automatically: nothing is filled in, and the rotation rule skips it.
    const ext = await createKey(t, { classification: 'internal', origin: 'EXTERNAL' });
    assert.equal(ext.rotationPeriodDays, null);
  });

  test('a classification only becomes stricter, and a stricter one shortens the rotation period', async () => {
    await setPolicy(t, doc({ classifications: { internal: { maxRotationDays: 365 }, confidential: { maxRotationDays: 90 } } }));
    const k = await createKey(t, { classification: 'internal' });
    assert.equal(k.rotationPeriodDays, 365);
    const up = await t.req('PATCH', `/v1/keys/${k.id}`, { classification: 'confidential' });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    assert.equal(up.json.key.classification, 'confidential');
    assert.equal(up.json.key.rotationPeriodDays, 90);
    assertError(await t.req('PATCH', `/v1/keys/${k.id}`, { classification: 'public' }), 400, 'ValidationError',
      `the classification of key ${k.id} may only become stricter: it is confidential, and public is less strict`);
    // An explicit period above the new scope's maximum is refused.
    assertRefused(await t.req('PATCH', `/v1/keys/${k.id}`, { rotationPeriodDays: 120 }), 'PolicyViolation', 'classifications.confidential.maxRotationDays');
    // An unclassified key can be classified.
    const u = await createKey(t);
    assert.equal(u.classification, null);
    assert.equal((await t.req('PATCH', `/v1/keys/${u.id}`, { classification: 'public' })).json.key.classification, 'public');
  });

  test('the environment is set once and never changed', async () => {
    await setPolicy(t, doc({}));
    const k = await createKey(t);
    assert.equal(k.environment, null);
    const set = await t.req('PATCH', `/v1/keys/${k.id}`, { environment: 'dev' });
    assert.equal(set.json.key.environment, 'dev');
    assert.equal((await t.req('PATCH', `/v1/keys/${k.id}`, { environment: 'dev' })).status, 200);
    assertError(await t.req('PATCH', `/v1/keys/${k.id}`, { environment: 'prod' }), 400, 'ValidationError', `the environment of key ${k.id} is dev: it is set once and cannot be changed`);
    const listed = await t.req('GET', '/v1/keys?environment=dev&limit=1000');
    assert.deepEqual(listed.json.keys.map((x: any) => x.id), [k.id]);
    assert.equal((await t.req('GET', '/v1/keys?classification=restricted')).json.keys.length, 0);
  });

  test('a dev principal is refused on a prod key; a prod principal uses it; the root token is exempt', async () => {
    await setPolicy(t, doc({ environments: { prod: { principalEnvironments: ['prod'] } } }));
    const key = await createKey(t, { environment: 'prod', classification: 'confidential' });
    await grant(key.id, 'app-prod', ['encrypt', 'decrypt']);
    await grant(key.id, 'app-dev', ['encrypt', 'decrypt']);
    const ct = await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('secret') }, tok.appProd);
    assert.equal(ct.status, 200, JSON.stringify(ct.json));
    assertRefused(await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('x') }, tok.appDev), 'PolicyViolation', 'environments.prod.principalEnvironments');
    // Decrypt learns the key from the ciphertext: the same rule applies.
    assertRefused(await t.req('POST', '/v1/decrypt', { ciphertext: ct.json.ciphertext }, tok.appDev), 'PolicyViolation', 'environments.prod.principalEnvironments');
    assert.equal(Buffer.from((await t.req('POST', '/v1/decrypt', { ciphertext: ct.json.ciphertext }, tok.appProd)).json.plaintext, 'base64').toString(), 'secret');
    assert.equal((await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('x') })).status, 200);
    // Moving the principal to prod lets it in.
    const moved = await t.req('PATCH', '/v1/principals/app-dev', { environment: 'prod' });
    assert.equal(moved.json.principal.environment, 'prod');
    clock.advance(1500); // the principal cache (1 s) re-reads it
    assert.equal((await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('x') }, tok.appDev)).status, 200);
    assert.equal((await t.req('PATCH', '/v1/principals/app-dev', { environment: 'dev' })).json.principal.environment, 'dev');
    clock.advance(1500);
  });

  test('the decision and the rule are in the audit event', async () => {
    await setPolicy(t, internal({ allowedKeySpecs: ['SYMMETRIC_DEFAULT'] }));
    const key = await createKey(t, { classification: 'internal' });
    assertRefused(await t.req('POST', '/v1/keys', { classification: 'internal', spec: 'RSA_2048' }), 'PolicyViolation', 'classifications.internal.allowedKeySpecs');
    const denied = await t.req('GET', '/v1/audit/events?operation=key:create&outcome=deny&limit=1');
    assert.equal(denied.status, 200, JSON.stringify(denied.json));
    assert.equal(denied.json.events[0].errorCode, 'PolicyViolation');
    assert.deepEqual(denied.json.events[0].policy, { decision: 'deny', rule: 'classifications.internal.allowedKeySpecs' });
    const allowed = await t.req('GET', '/v1/audit/events?operation=key:create&outcome=allow&limit=1');
    assert.equal(allowed.json.events[0].keyId, key.id);
    assert.deepEqual(allowed.json.events[0].policy, { decision: 'allow', rule: null });
    // A data-plane call records the allow of the policy stage too.
    await grant(key.id, 'app-prod', ['encrypt']);
    assert.equal((await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('x') }, tok.appProd)).status, 200);
    const enc = await t.req('GET', `/v1/audit/events?operation=key:encrypt&key=${key.id}&limit=1`);
    assert.deepEqual(enc.json.events[0].policy, { decision: 'allow', rule: null });
    // A refusal by an approval the policy asks for names its rule too.
    await setPolicy(t, internal({ approvals: { 'key:revoke': 2 } }));
    const r = await t.req('POST', `/v1/keys/${key.id}/revoke`, { reason: 'superseded' });
    assertRefused(r, 'ApprovalRequired', 'classifications.internal.approvals.key:revoke');
    assert.equal(r.json.error.requiredApprovals, 2);
    const ev = await t.req('GET', '/v1/audit/events?operation=key:revoke&outcome=deny&limit=1');
    assert.deepEqual(ev.json.events[0].policy, { decision: 'deny', rule: 'classifications.internal.approvals.key:revoke' });
  });

  test('a request for an action the policy puts under quorum needs that many approvals', async () => {
    await setPolicy(t, internal({ approvals: { 'key:disable': 2 } }));
    const key = await createKey(t, { classification: 'internal' });
    const r = await t.req('POST', '/v1/requests', { action: 'disable', key: key.id, reason: 'retire it' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.request.requiredApprovals, 2);
    // Outside the scope no approval is needed, so no request can be filed.
    const pub = await createKey(t, { classification: 'public' });
    assertError(await t.req('POST', '/v1/requests', { action: 'disable', key: pub.id, reason: 'retire it' }), 400, 'ValidationError', /needs no approval/);
  });

  test('versions are stored, listed and readable; YAML is accepted; an invalid document is refused', async () => {
    const before = (await t.req('GET', '/v1/policy/versions')).json.versions;
    assert.equal(before[0].version, 0);
    assert.equal(before[0].createdBy, null);
    const set = await t.req('PUT', '/v1/policy', { yaml: 'apiVersion: keywarden.io/v1\nkind: Policy\nmetadata: {name: from-yaml}\ndefaults:\n  minDeletionWindowDays: 14\n' });
    assert.equal(set.status, 200, JSON.stringify(set.json));
    assert.equal(set.json.version, before.length);
    assert.match(set.json.hash, /^[0-9a-f]{64}$/);
    assert.equal(set.json.document.defaults.minDeletionWindowDays, 14);
    const after = (await t.req('GET', '/v1/policy/versions')).json.versions;
    assert.deepEqual(after.map((v: any) => v.version), [...before.map((v: any) => v.version), set.json.version]);
    const one = await t.req('GET', `/v1/policy/versions/${set.json.version}`);
    assert.equal(one.json.document.metadata.name, 'from-yaml');
    assert.equal(one.json.hash, set.json.hash);
    assert.equal((await t.req('GET', '/v1/policy')).json.version, set.json.version);
    // The same document gives the same hash (canonical JSON), whatever the key order.
    const again = await setPolicy(t, { kind: 'Policy', defaults: { minDeletionWindowDays: 14 }, metadata: { name: 'from-yaml' }, apiVersion: 'keywarden.io/v1' });
    assert.equal(again.json.hash, set.json.hash);
    assertError(await t.req('GET', '/v1/policy/versions/999'), 404, 'NotFound', 'policy version 999 was not found');
    assertError(await t.req('PUT', '/v1/policy', doc({ defaults: { maxRotationDays: 0 } })), 400, 'ValidationError', /^invalid policy at defaults\.maxRotationDays/);
    assertError(await t.req('PUT', '/v1/policy', doc({ defaults: { mfaActions: ['key:frobnicate'] } })), 400, 'ValidationError', 'invalid policy at defaults.mfaActions: unknown action "key:frobnicate"');
    assertError(await t.req('PUT', '/v1/policy', { yaml: 'kind: [' }), 400, 'ValidationError', /^the policy is neither YAML nor JSON/);
    // Reading needs policy:read, writing policy:edit.
    assertError(await t.req('GET', '/v1/policy', undefined, tok.appProd), 403, 'PermissionDenied', /policy:read/);
    assertError(await t.req('PUT', '/v1/policy', doc({}), tok.user), 403, 'PermissionDenied', /policy:edit/);
  });
});

describe('policy engine: the built-in default (version 0) on a fresh server', () => {
  let t: TestKeywarden;
  before(async () => (t = await startInProcess()));
  after(() => t.close());

  test('version 0 is the NIST baseline and is enforced', async () => {
    const p = await t.req('GET', '/v1/policy');
    assert.equal(p.status, 200, JSON.stringify(p.json));
    assert.equal(p.json.version, 0);
    assert.equal(p.json.createdAt, null);
    assert.equal(p.json.document.metadata.name, 'keywarden-default');
    assert.deepEqual((await t.req('GET', '/v1/policy/versions')).json.versions.map((v: any) => v.version), [0]);
    // Unclassified keys keep working as before.
    const plain = await createKey(t);
    assert.equal(plain.rotationPeriodDays, null);
    assert.equal((await t.req('POST', `/v1/keys/${plain.id}/encrypt`, { plaintext: b64('x') })).status, 200);
    // Confidential keys rotate yearly (filled in), restricted ones every 90 days and need RSA >= 3072.
    assert.equal((await createKey(t, { classification: 'confidential' })).rotationPeriodDays, 365);
    assert.equal((await createKey(t, { classification: 'restricted' })).rotationPeriodDays, 90);
    assertRefused(await t.req('POST', '/v1/keys', { classification: 'restricted', spec: 'RSA_2048' }), 'PolicyViolation', 'classifications.restricted.allowedKeySpecs');
    assertRefused(await t.req('POST', '/v1/keys', { classification: 'confidential', exportable: true }), 'PolicyViolation', 'classifications.confidential.exportable');
    // Prod keys must be classified; restricted prod keys need an HSM.
    assertRefused(await t.req('POST', '/v1/keys', { environment: 'prod' }), 'PolicyViolation', 'environments.prod.requireClassification');
    assertRefused(await t.req('POST', '/v1/keys', { environment: 'prod', classification: 'restricted' }), 'PolicyViolation', 'rules.restricted-prod-hsm.requiredProtection');
    const restricted = await createKey(t, { classification: 'restricted' });
    assertRefused(await t.req('POST', `/v1/keys/${restricted.id}/schedule-deletion`, { days: 7 }), 'PolicyViolation', 'classifications.restricted.minDeletionWindowDays');
    assert.equal((await t.req('POST', `/v1/keys/${restricted.id}/schedule-deletion`, {})).status, 200);
  });
});

describe('policy engine: a change of the document under quorum approval', () => {
  let t: TestKeywarden;
  let officer: string;
  before(async () => {
    t = await startInProcess();
    officer = await serviceAccount(t, 'so', ['security-officer']);
    assert.equal((await t.req('PUT', '/v1/access-policy', { policy: { ...DEFAULT_ACCESS_POLICY, approvals: { 'policy:edit': 1 } } })).status, 200);
  });
  after(() => t.close());

  test('PUT /v1/policy needs an approved policy-document-change request', async () => {
    assertError(await t.req('PUT', '/v1/policy', doc({})), 403, 'ApprovalRequired', /^policy:edit needs 1 approval/);
    assertError(
      await t.req('POST', '/v1/requests', { action: 'policy-document-change', reason: 'tighten', params: { document: doc({ defaults: { maxRotationDays: 0 } }) } }),
      400, 'ValidationError', /^invalid policy at defaults\.maxRotationDays/,
    );
    const created = await t.req('POST', '/v1/requests', { action: 'policy-document-change', reason: 'tighten rotation', params: { document: doc({ metadata: { name: 'approved' }, defaults: { maxRotationDays: 180 } }) } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.request.requiredApprovals, 1);
    assert.equal((await t.req('GET', '/v1/policy')).json.version, 0);
    const approved = await t.req('POST', `/v1/requests/${created.json.request.id}/approve`, undefined, officer);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal(approved.json.request.status, 'executed', JSON.stringify(approved.json.request.result));
    assert.deepEqual(approved.json.request.result, { policyDocumentVersion: 1 });
    const now = await t.req('GET', '/v1/policy');
    assert.equal(now.json.version, 1);
    assert.equal(now.json.document.metadata.name, 'approved');
    assert.equal((await createKey(t)).rotationPeriodDays, 180);
    const ev = await t.req('GET', '/v1/audit/events?operation=policy:edit&outcome=allow&limit=1');
    assert.deepEqual(ev.json.events[0].approvalIds, [created.json.request.id]);
  });
});
