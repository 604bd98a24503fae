/**
 * GET /v1/compliance through the real HTTP server and SQLite, with a ManualClock (issue 5/10 §4):
 * keys created under a permissive policy, then a stricter policy stored with PUT /v1/policy makes
 * each kind of violation appear with the rule that produced it; a further policy change that
 * retires RSA_2048 lists the key to re-key; filters, summary counts, and access (auditor yes,
 * application no).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';
import { ManualClock } from '../../src/util/clock.js';

const DAY = 86_400_000;
const HEAD = { apiVersion: 'keywarden.io/v1', kind: 'Policy' } as const;
const ALL_SPECS = ['SYMMETRIC_DEFAULT', 'HMAC_256', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384'];
const strict = (allowedKeySpecs: string[]) => ({
  ...HEAD,
  defaults: { allowedKeySpecs },
  classifications: { confidential: { maxRotationDays: 180, exportable: false, maxGrantDays: 30 } },
  environments: { prod: { requireClassification: true } },
  rules: [
    { id: 'prod-hsm', match: { classification: ['restricted'], environment: ['prod'] }, requiredProtection: 'hsm' },
    { id: 'stale-public', match: { classification: ['public'] }, unusedDays: 30 },
  ],
});

describe('compliance report', () => {
  let t: TestKeywarden;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const creds: Record<string, { clientId: string; clientSecret: string }> = {};
  const keys: Record<string, string> = {};

  const setPolicy = async (document: object) => {
    const r = await t.req('PUT', '/v1/policy', document);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json;
  };
  const newKey = async (name: string, body: object) => {
    const r = await t.req('POST', '/v1/keys', { description: name, alias: `alias/${name}`, ...body });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    keys[name] = r.json.key.id;
    return r.json.key;
  };
  /** A fresh access token for `name` (the clock moves by weeks, so tokens are not kept). */
  const tokenOf = async (name: string): Promise<string> => {
    const c = creds[name]!;
    const r = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, expires_in: 3600 }, null);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.access_token;
  };
  const report = async (query = '', as = 'auditor') => {
    const r = await t.req('GET', `/v1/compliance${query}`, undefined, await tokenOf(as));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json;
  };
  const kindsOf = (rep: any, name: string) => rep.keys.find((k: any) => k.id === keys[name])?.violations.map((v: any) => `${v.kind} ${v.rule}`);

  before(async () => {
    t = await startInProcess({ clock });
    for (const [name, role] of [['auditor', 'auditor'], ['app', 'application']] as const) {
      const c = (await t.req('POST', '/v1/principals', { name, roles: [role] })).json;
      creds[name] = { clientId: c.clientId, clientSecret: c.clientSecret };
    }
    // Keys are made under a permissive policy: the strict one would refuse most of them.
    await setPolicy(HEAD);
    await newKey('ok', { classification: 'internal', environment: 'dev', rotationPeriodDays: 365 });
    await newKey('overdue', { classification: 'internal', rotationPeriodDays: 30 });
    await newKey('no-rotation', { classification: 'confidential' });
    await newKey('exportable', { classification: 'confidential', rotationPeriodDays: 90, exportable: true });
    await newKey('unclassified-prod', { environment: 'prod' });
    await newKey('software-prod', { classification: 'restricted', environment: 'prod' });
    await newKey('stale', { classification: 'public' });
    await newKey('granted', { classification: 'confidential', rotationPeriodDays: 90 });
    await newKey('signer', { classification: 'internal', spec: 'RSA_2048', usage: 'SIGN_VERIFY' });
    await newKey('leaving', { spec: 'RSA_2048', usage: 'SIGN_VERIFY' });
    const g = await t.req('POST', '/v1/grants', { key: keys.granted, principal: 'app', operations: ['encrypt'] });
    assert.equal(g.status, 201, JSON.stringify(g.json));
    keys.grant = g.json.grant.id;
    assert.equal((await t.req('POST', `/v1/keys/${keys.leaving}/schedule-deletion`, { days: 30 })).status, 200);
    // 40 days on, without running the rotation job: the 30-day key is overdue, the public key stale.
    clock.advance(40 * DAY);
  });
  after(() => t?.close());

  test('a stricter policy: each kind of violation with its rule, and the summary counts', async () => {
    const set = await setPolicy(strict(ALL_SPECS));
    const rep = await report();
    assert.equal(rep.policy.version, set.version);
    assert.equal(rep.policy.hash, set.hash);
    assert.match(rep.policy.hash, /^[0-9a-f]{64}$/);
    assert.equal(rep.generatedAt, new Date(clock.now()).toISOString());

    assert.deepEqual(kindsOf(rep, 'ok'), []);
    assert.deepEqual(kindsOf(rep, 'overdue'), ['rotation-overdue key.rotationPeriod']);
    assert.deepEqual(kindsOf(rep, 'no-rotation'), ['rotation-period classifications.confidential.maxRotationDays']);
    assert.deepEqual(kindsOf(rep, 'exportable'), ['exportable classifications.confidential.exportable']);
    assert.deepEqual(kindsOf(rep, 'unclassified-prod'), ['missing-classification environments.prod.requireClassification']);
    assert.deepEqual(kindsOf(rep, 'software-prod'), ['missing-hsm rules.prod-hsm.requiredProtection']);
    assert.deepEqual(kindsOf(rep, 'stale'), ['unused rules.stale-public.unusedDays']);
    assert.deepEqual(kindsOf(rep, 'granted'), ['grant-beyond-maximum classifications.confidential.maxGrantDays']);
    assert.deepEqual(kindsOf(rep, 'signer'), []);
    assert.deepEqual(kindsOf(rep, 'leaving'), [], 'a key pending deletion is listed without violations');

    const noRotation = rep.keys.find((k: any) => k.id === keys['no-rotation']);
    assert.equal(noRotation.violations[0].maxRotationDays, 180);
    assert.equal(noRotation.classification, 'confidential');
    assert.deepEqual(noRotation.aliases, ['alias/no-rotation']);
    const granted = rep.keys.find((k: any) => k.id === keys.granted).violations[0];
    assert.equal(granted.grantId, keys.grant);
    assert.match(granted.message, /must expire within 30 days/);
    const prod = rep.keys.find((k: any) => k.id === keys['unclassified-prod']);
    assert.deepEqual([prod.classification, prod.environment, prod.state, prod.spec], [null, 'prod', 'Enabled', 'SYMMETRIC_DEFAULT']);

    assert.deepEqual(rep.summary, {
      keys: 10,
      compliant: 2,
      pendingDeletion: 1,
      violations: 7,
      byKind: {
        'rotation-overdue': 1, 'rotation-period': 1, 'weak-algorithm': 0, 'missing-classification': 1, 'missing-hsm': 1, exportable: 1, unused: 1, 'grant-beyond-maximum': 1,
      },
    });
  });

  test('a policy change that retires RSA_2048 lists the keys to re-key', async () => {
    await setPolicy(strict(ALL_SPECS.filter((s) => s !== 'RSA_2048')));
    const rep = await report();
    assert.deepEqual(kindsOf(rep, 'signer'), ['weak-algorithm defaults.allowedKeySpecs']);
    const v = rep.keys.find((k: any) => k.id === keys.signer).violations[0];
    assert.equal(v.replacementSpec, 'RSA_4096');
    assert.match(v.message, /key spec RSA_2048 is not allowed/);
    assert.deepEqual(kindsOf(rep, 'leaving'), [], 'the pending-deletion RSA_2048 key is not counted');
    assert.equal(rep.summary.byKind['weak-algorithm'], 1);
    assert.equal(rep.summary.violations, 8);
    assert.equal(rep.summary.compliant, 1);

    const weak = await report('?kind=weak-algorithm');
    assert.deepEqual(weak.keys.map((k: any) => k.id), [keys.signer]);
    assert.equal(weak.summary.keys, 1);
  });

  test('filters by classification and environment; unknown filter values are refused', async () => {
    const conf = await report('?classification=confidential');
    assert.deepEqual(conf.keys.map((k: any) => k.id).sort(), [keys['no-rotation'], keys.exportable, keys.granted].sort());
    const prod = await report('?environment=prod&classification=restricted');
    assert.deepEqual(prod.keys.map((k: any) => k.id), [keys['software-prod']]);
    assertError(await t.req('GET', '/v1/compliance?kind=slow'), 400, 'ValidationError', /kind/);
    assertError(await t.req('GET', '/v1/compliance?owner=me'), 400, 'ValidationError', 'querystring has an unknown field "owner"');
  });

  test('access: key:report — auditors and root read it, applications are refused', async () => {
    await report('', 'auditor');
    assert.equal((await t.req('GET', '/v1/compliance')).status, 200);
    assertError(await t.req('GET', '/v1/compliance', undefined, await tokenOf('app')), 403, 'PermissionDenied', /^app is not allowed to perform key:report/);
    assertError(await t.req('GET', '/v1/compliance', undefined, null), 401, 'Unauthenticated', /.+/);
  });

  test('a fixed key leaves the report', async () => {
    assert.equal((await t.req('PATCH', `/v1/keys/${keys['no-rotation']}`, { rotationPeriodDays: 90 })).status, 200);
    assert.equal((await t.req('POST', `/v1/keys/${keys.overdue}/rotate`)).status, 200);
    const rep = await report();
    assert.deepEqual(kindsOf(rep, 'no-rotation'), []);
    assert.deepEqual(kindsOf(rep, 'overdue'), []);
    assert.equal(rep.summary.compliant, 3);
  });
});
