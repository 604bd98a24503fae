import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeywardenError } from '../errors/catalog.js';
import { DEFAULT_POLICY } from './default-policy.js';
import {
  checkCall,
  checkDeletionWindow,
  checkGrant,
  checkKey,
  layersFor,
  mfaRule,
  parseManifest,
  parsePolicy,
  requiredApprovals,
  strictestMax,
  validatePolicy,
} from './engine.js';
import type { KeyFacts, PolicyDocument } from './policy.model.js';

const DAY = 86_400_000;
const doc: PolicyDocument = {
  apiVersion: 'keywarden.io/v1',
  kind: 'Policy',
  defaults: { maxRotationDays: 365, approvals: { 'key:schedule-deletion': 1 } },
  classifications: { restricted: { maxRotationDays: 90, approvals: { 'key:schedule-deletion': 2 }, exportable: false } },
  environments: { prod: { principalEnvironments: ['prod'], allowedNetworks: ['10.0.0.0/8'], mfaActions: ['key:disable'] } },
  rules: [
    { id: 'restricted-prod', match: { classification: ['restricted'], environment: ['prod'] }, maxRotationDays: 30, allowedAlgorithms: ['ECDSA_SHA_384'] },
    { id: 'any-prod', match: { environment: ['prod'] }, maxGrantDays: 7 },
  ],
};
const key = (f: Partial<KeyFacts> = {}): KeyFacts => ({
  spec: 'SYMMETRIC_DEFAULT',
  usage: 'ENCRYPT_DECRYPT',
  origin: 'KEYWARDEN',
  classification: null,
  environment: null,
  protection: 'software',
  exportable: false,
  rotationPeriodMs: 30 * DAY,
  ...f,
});
const svc = { kind: 'service-account' as const, environment: 'prod' as const };

describe('policy engine', () => {
  test('layers apply by scope, in document order; a rule needs every scope it names', () => {
    assert.deepEqual(layersFor(doc, { classification: null, environment: null }).map((l) => l.id), ['defaults']);
    assert.deepEqual(layersFor(doc, { classification: 'restricted', environment: 'dev' }).map((l) => l.id), ['defaults', 'classifications.restricted']);
    assert.deepEqual(layersFor(doc, { classification: 'restricted', environment: 'prod' }).map((l) => l.id), [
      'defaults', 'classifications.restricted', 'environments.prod', 'rules.restricted-prod', 'rules.any-prod',
    ]);
    assert.deepEqual(layersFor(doc, { classification: null, environment: 'prod' }).map((l) => l.id), ['defaults', 'environments.prod', 'rules.any-prod']);
  });

  test('the strictest value wins and findings name the layer that set it', () => {
    assert.deepEqual(strictestMax(doc, { classification: 'restricted', environment: 'prod' }, 'maxRotationDays'), { value: 30, rule: 'rules.restricted-prod.maxRotationDays' });
    const v = checkKey(doc, key({ classification: 'restricted', environment: 'prod', rotationPeriodMs: 60 * DAY, exportable: true }));
    assert.deepEqual(v.map((x) => x.rule), ['rules.restricted-prod.maxRotationDays', 'classifications.restricted.exportable']);
    assert.deepEqual(checkKey(doc, key({ classification: 'restricted', environment: 'prod' })), []);
    assert.equal(checkKey(doc, key({ rotationPeriodMs: null }))[0]?.rule, 'defaults.maxRotationDays');
    assert.deepEqual(checkKey(doc, key({ rotationPeriodMs: null, origin: 'EXTERNAL' })), [], 'imported material cannot rotate automatically');
    assert.deepEqual(requiredApprovals(doc, { classification: 'restricted', environment: null }, 'key:schedule-deletion'), { m: 2, rule: 'classifications.restricted.approvals.key:schedule-deletion' });
    assert.deepEqual(requiredApprovals(doc, { classification: null, environment: null }, 'key:disable'), { m: 0, rule: null });
  });

  test('calls: networks, principal environments (data plane only, root exempt), algorithms', () => {
    const prod = key({ environment: 'prod' });
    assert.equal(checkCall(doc, prod, { action: 'key:encrypt', principal: svc, sourceIp: '10.1.2.3' }), undefined);
    assert.equal(checkCall(doc, prod, { action: 'key:encrypt', principal: svc, sourceIp: '192.168.0.1' })?.rule, 'environments.prod.allowedNetworks');
    assert.equal(checkCall(doc, prod, { action: 'key:encrypt', principal: svc })?.rule, 'environments.prod.allowedNetworks', 'no address: refused');
    const dev = { kind: 'service-account' as const, environment: 'dev' as const };
    assert.equal(checkCall(doc, prod, { action: 'key:decrypt', principal: dev, sourceIp: '10.0.0.1' })?.rule, 'environments.prod.principalEnvironments');
    assert.equal(checkCall(doc, prod, { action: 'key:describe', principal: dev, sourceIp: '10.0.0.1' }), undefined, 'control-plane actions are not environment-bound');
    assert.equal(checkCall(doc, prod, { action: 'key:decrypt', principal: { kind: 'root', environment: null }, sourceIp: '10.0.0.1' }), undefined);
    const signing = key({ classification: 'restricted', environment: 'prod', spec: 'ECC_NIST_P384', usage: 'SIGN_VERIFY' });
    assert.equal(checkCall(doc, signing, { action: 'key:sign', principal: svc, sourceIp: '10.0.0.1', algorithm: 'ECDSA_SHA_384' }), undefined);
    assert.equal(checkCall(doc, signing, { action: 'key:sign', principal: svc, sourceIp: '10.0.0.1', algorithm: 'ECDSA_SHA_256' })?.rule, 'rules.restricted-prod.allowedAlgorithms');
    assert.equal(mfaRule(doc, prod, 'key:disable'), 'environments.prod.mfaActions');
    assert.equal(mfaRule(doc, key(), 'key:disable'), undefined);
  });

  test('deletion windows and grants', () => {
    assert.equal(checkDeletionWindow(DEFAULT_POLICY, key({ classification: 'restricted' }), 7)?.rule, 'classifications.restricted.minDeletionWindowDays');
    assert.equal(checkDeletionWindow(DEFAULT_POLICY, key({ classification: 'restricted' }), 30), undefined);
    const prod = key({ environment: 'prod' });
    assert.equal(checkGrant(doc, prod, { createdAt: 0, expiresAt: 7 * DAY }), undefined);
    assert.equal(checkGrant(doc, prod, { createdAt: 0, expiresAt: 7 * DAY + 1 })?.rule, 'rules.any-prod.maxGrantDays');
    assert.equal(checkGrant(doc, prod, { createdAt: 0, expiresAt: null })?.rule, 'rules.any-prod.maxGrantDays', 'a grant without expiry');
  });

  test('the default policy: NIST baseline, prod needs a classification, restricted prod needs an HSM', () => {
    assert.deepEqual(checkKey(DEFAULT_POLICY, key({ rotationPeriodMs: null })), [], 'an unclassified dev-less key is fine');
    assert.equal(checkKey(DEFAULT_POLICY, key({ environment: 'prod' }))[0]?.rule, 'environments.prod.requireClassification');
    assert.deepEqual(checkKey(DEFAULT_POLICY, key({ classification: 'restricted', spec: 'RSA_2048', usage: 'SIGN_VERIFY' })).map((v) => v.rule), ['classifications.restricted.allowedKeySpecs']);
    assert.deepEqual(checkKey(DEFAULT_POLICY, key({ classification: 'restricted', environment: 'prod' })).map((v) => v.rule), ['rules.restricted-prod-hsm.requiredProtection']);
    assert.deepEqual(checkKey(DEFAULT_POLICY, key({ classification: 'restricted', environment: 'prod', protection: 'hsm' })), []);
    assert.doesNotThrow(() => validatePolicy(structuredClone(DEFAULT_POLICY), ['key:disable']));
  });

  test('parsing: YAML or JSON, schema errors name the member, then semantic checks', () => {
    const actions = ['key:disable', 'key:encrypt'];
    const bad = (text: string, message: RegExp) =>
      assert.throws(() => parsePolicy(text, actions), (e: unknown) => e instanceof KeywardenError && e.code === 'ValidationError' && message.test(e.message));
    assert.equal(parsePolicy('apiVersion: keywarden.io/v1\nkind: Policy\ndefaults: { maxRotationDays: 90 }\n', actions).defaults?.maxRotationDays, 90);
    assert.equal(parsePolicy(JSON.stringify(doc), [...actions, 'key:schedule-deletion']).rules?.length, 2);
    bad('apiVersion: keywarden.io/v1\nkind: Policy\ndefaults: { maxRotationDays: 0 }\n', /at defaults\.maxRotationDays/);
    bad('apiVersion: keywarden.io/v1\nkind: Policy\nclassifications: { secret: {} }\n', /at classifications\.secret/);
    bad('apiVersion: keywarden.io/v1\nkind: Policy\ndefaults: { allowedNetworks: ["10.0.0.1/8"] }\n', /defaults\.allowedNetworks: "10\.0\.0\.1\/8" has host bits set/);
    bad('apiVersion: keywarden.io/v1\nkind: Policy\ndefaults: { mfaActions: ["key:fly"] }\n', /unknown action "key:fly"/);
    bad('apiVersion: keywarden.io/v1\nkind: Policy\nrules: [{ id: a, match: {} }, { id: a, match: {} }]\n', /rule id "a" is used twice/);
    bad('{ not yaml', /neither YAML nor JSON/);
    assert.throws(() => parseManifest('apiVersion: keywarden.io/v1\nkind: KeyManifest\nkeys: [{ alias: alias/a }, { alias: alias/a }]\n'), /declared twice/);
    assert.throws(() => parseManifest('apiVersion: keywarden.io/v1\nkind: KeyManifest\nkeys: []\ngrants: [{ key: alias/x, principal: p, operations: [encrypt] }]\n'), /not a key of this manifest/);
  });
});
