/**
 * The pure compliance report (src/policy/compliance.ts): each violation kind with its rule, the
 * replacement spec of a retired algorithm, skipped and pending keys, filters and summary counts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newKeyRecord, type KeyRecord } from '../../src/keys/key.model.js';
import { complianceReport, replacementSpec, type ComplianceGrant } from '../../src/policy/compliance.js';
import type { PolicyDocument } from '../../src/policy/policy.model.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);

const POLICY: PolicyDocument = {
  apiVersion: 'keywarden.io/v1',
  kind: 'Policy',
  defaults: { allowedKeySpecs: ['SYMMETRIC_DEFAULT', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P384', 'HMAC_256'], unusedDays: 90 },
  classifications: { confidential: { maxRotationDays: 180, exportable: false, maxGrantDays: 30 } },
  environments: { prod: { requireClassification: true } },
  rules: [{ id: 'prod-hsm', match: { classification: ['confidential'], environment: ['prod'] }, requiredProtection: 'hsm' }],
};

let n = 0;
function key(fields: Partial<KeyRecord> & { classification?: string | null; environment?: string | null; protection?: string }): KeyRecord {
  n++;
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return { ...newKeyRecord({ id, spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', createdAt: NOW - 10 * DAY }), lastUsedAt: NOW - DAY, ...fields } as KeyRecord;
}

describe('compliance report (pure)', () => {
  test('each kind is found and names its rule; summary counts add up', () => {
    const ok = key({ classification: 'internal', environment: 'dev' });
    const overdue = key({ rotationPeriodMs: 30 * DAY, nextRotationAt: NOW - DAY, classification: 'internal' });
    const stale = Object.assign(key({ classification: 'confidential', rotationPeriodMs: 90 * DAY, nextRotationAt: NOW + DAY, createdAt: NOW - 400 * DAY }), { primaryVersionCreatedAt: NOW - 200 * DAY });
    const noPeriod = key({ classification: 'confidential' });
    const weak = key({ spec: 'RSA_2048', usage: 'SIGN_VERIFY' });
    const unclassified = key({ environment: 'prod' });
    const software = key({ classification: 'confidential', environment: 'prod', rotationPeriodMs: 90 * DAY, nextRotationAt: NOW + DAY });
    const exportable = key({ classification: 'confidential', rotationPeriodMs: 90 * DAY, nextRotationAt: NOW + DAY, exportable: true });
    const unused = key({ lastUsedAt: null, createdAt: NOW - 100 * DAY });
    const granted = key({ classification: 'confidential', rotationPeriodMs: 90 * DAY, nextRotationAt: NOW + DAY, tags: { team: 'pay' } });
    const gone = key({ state: 'Destroyed', spec: 'RSA_2048', usage: 'SIGN_VERIFY' });
    const pending = key({ state: 'PendingDeletion', spec: 'RSA_2048', usage: 'SIGN_VERIFY' });
    const grants: ComplianceGrant[] = [
      { id: 'g-forever', keyId: granted.id, tagSelector: null, createdAt: NOW - DAY, conditions: {} },
      { id: 'g-short', keyId: granted.id, tagSelector: null, createdAt: NOW - DAY, conditions: { notAfter: NOW + 5 * DAY } },
      { id: 'g-selector', keyId: null, tagSelector: { team: 'pay' }, createdAt: NOW - DAY, conditions: { notAfter: NOW + 60 * DAY } },
      { id: 'g-revoked', keyId: granted.id, tagSelector: null, createdAt: NOW - DAY, revokedAt: NOW - 1, conditions: {} },
    ];
    const keys = [ok, overdue, stale, noPeriod, weak, unclassified, software, exportable, unused, granted, gone, pending];
    const r = complianceReport(POLICY, { version: 3, hash: 'h' }, keys, grants, NOW);
    const of = (k: KeyRecord) => r.keys.find((x) => x.id === k.id)?.violations.map((v) => `${v.kind} ${v.rule}`);

    assert.deepEqual(of(ok), []);
    assert.deepEqual(of(overdue), ['rotation-overdue key.rotationPeriod']);
    assert.deepEqual(of(stale), ['rotation-overdue classifications.confidential.maxRotationDays']);
    assert.deepEqual(of(noPeriod), ['rotation-period classifications.confidential.maxRotationDays']);
    assert.equal(r.keys.find((x) => x.id === noPeriod.id)?.violations[0]?.maxRotationDays, 180);
    assert.deepEqual(of(weak), ['weak-algorithm defaults.allowedKeySpecs']);
    assert.equal(r.keys.find((x) => x.id === weak.id)?.violations[0]?.replacementSpec, 'RSA_4096');
    assert.deepEqual(of(unclassified), ['missing-classification environments.prod.requireClassification']);
    assert.deepEqual(of(software), ['missing-hsm rules.prod-hsm.requiredProtection']);
    assert.deepEqual(of(exportable), ['exportable classifications.confidential.exportable']);
    assert.deepEqual(of(unused), ['unused defaults.unusedDays']);
    assert.deepEqual(of(granted), ['grant-beyond-maximum classifications.confidential.maxGrantDays', 'grant-beyond-maximum classifications.confidential.maxGrantDays']);
    assert.deepEqual(r.keys.find((x) => x.id === granted.id)?.violations.map((v) => v.grantId), ['g-forever', 'g-selector']);
    assert.equal(of(gone), undefined, 'destroyed keys are skipped');
    assert.deepEqual(of(pending), [], 'pending-deletion keys are listed without violations');

    assert.deepEqual(r.policy, { version: 3, hash: 'h' });
    assert.equal(r.summary.keys, 11);
    assert.equal(r.summary.compliant, 1);
    assert.equal(r.summary.pendingDeletion, 1);
    assert.equal(r.summary.violations, 10);
    assert.deepEqual(r.summary.byKind, {
      'rotation-overdue': 2, 'rotation-period': 1, 'weak-algorithm': 1, 'missing-classification': 1, 'missing-hsm': 1, exportable: 1, unused: 1, 'grant-beyond-maximum': 2,
    });
  });

  test('filters by classification, environment and kind', () => {
    const a = key({ classification: 'confidential', environment: 'prod' });
    const b = key({ classification: 'internal', environment: 'prod', spec: 'HMAC_512', usage: 'GENERATE_VERIFY_MAC' });
    const c = key({ classification: 'confidential', environment: 'dev' });
    const ids = (f: Parameters<typeof complianceReport>[5]) => complianceReport(POLICY, { version: 1, hash: '' }, [a, b, c], [], NOW, f).keys.map((k) => k.id);
    assert.deepEqual(ids({ classification: 'confidential' }), [a.id, c.id]);
    assert.deepEqual(ids({ environment: 'prod' }), [a.id, b.id]);
    assert.deepEqual(ids({ kind: 'weak-algorithm' }), [b.id]);
    assert.deepEqual(ids({ kind: 'missing-hsm' }), [a.id]);
    assert.equal(complianceReport(POLICY, { version: 1, hash: '' }, [a, b, c], [], NOW, { kind: 'missing-hsm' }).summary.keys, 1);
  });

  test('replacement: the strongest allowed spec of the usage, the same family first', () => {
    const scope = { classification: null, environment: null };
    assert.equal(replacementSpec(POLICY, scope, 'RSA_2048', 'ENCRYPT_DECRYPT'), 'RSA_4096');
    assert.equal(replacementSpec(POLICY, scope, 'ECC_NIST_P256', 'SIGN_VERIFY'), 'ECC_NIST_P384');
    assert.equal(replacementSpec(POLICY, scope, 'ECC_ED25519', 'SIGN_VERIFY'), 'ECC_NIST_P384');
    assert.equal(replacementSpec(POLICY, scope, 'HMAC_512', 'GENERATE_VERIFY_MAC'), 'HMAC_256');
    assert.equal(replacementSpec({ ...POLICY, defaults: { allowedKeySpecs: ['SYMMETRIC_DEFAULT'] } }, scope, 'HMAC_512', 'GENERATE_VERIFY_MAC'), null);
  });
});
