/**
 * Unit tests of the CI/CD gate's checker (src/policy/manifest-check.ts) and reports
 * (src/policy/report-format.ts). The real CLI is covered by test/e2e/policy-check.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.js';
import { checkManifest, cidrWithin, factsOf, formatPath, loadManifest } from '../../src/policy/manifest-check.js';
import { buildReport, formatSarif, formatText } from '../../src/policy/report-format.js';
import type { PolicyDocument } from '../../src/policy/policy.model.js';

const DAY_MS = 86_400_000;

test('factsOf applies the server defaults of key creation', () => {
  assert.deepEqual(factsOf({ alias: 'alias/a' }), {
    spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', origin: 'KEYWARDEN', classification: null, environment: null,
    protection: 'software', exportable: false, rotationPeriodMs: null,
  });
  const f = factsOf({ alias: 'alias/s', spec: 'ECC_NIST_P256', rotationDays: 30, classification: 'restricted', environment: 'prod', protection: 'hsm', exportable: true });
  assert.equal(f.usage, 'SIGN_VERIFY'); // the spec's default usage, not ENCRYPT_DECRYPT
  assert.equal(f.rotationPeriodMs, 30 * DAY_MS);
  assert.equal(f.protection, 'hsm');
  assert.equal(f.exportable, true);
});

test('cidrWithin: containment, not overlap; IPv4 inside IPv6 through the mapped form', () => {
  assert.equal(cidrWithin('10.1.2.0/24', '10.0.0.0/8'), true);
  assert.equal(cidrWithin('10.0.0.0/8', '10.0.0.0/8'), true);
  assert.equal(cidrWithin('10.0.0.0/7', '10.0.0.0/8'), false); // wider than the allowed network
  assert.equal(cidrWithin('11.0.0.0/8', '10.0.0.0/8'), false);
  assert.equal(cidrWithin('fd00:1::/32', 'fd00::/16'), true);
  assert.equal(cidrWithin('fe80::/16', 'fd00::/16'), false);
  assert.equal(cidrWithin('10.0.0.0/8', '::/0'), true);
  assert.equal(cidrWithin('10.0.0.0/8', '::ffff:0:0/96'), true);
  assert.equal(cidrWithin('fd00::/16', '10.0.0.0/8'), false);
});

test('formatPath', () => {
  assert.equal(formatPath(['keys', 3, 'rotationDays']), 'keys[3].rotationDays');
  assert.equal(formatPath(['grants', 0, 'sourceCidrs', 1]), 'grants[0].sourceCidrs[1]');
  assert.equal(formatPath(['keys', 0]), 'keys[0]');
});

test('positions come from JSON sources too (YAML is a superset of JSON)', () => {
  const text = JSON.stringify({ apiVersion: 'keywarden.io/v1', kind: 'KeyManifest', keys: [{ alias: 'alias/a', classification: 'restricted', rotationDays: 91 }] }, null, 2);
  const { manifest, source } = loadManifest(text);
  const [f] = checkManifest(DEFAULT_POLICY, manifest, source);
  assert.equal(f?.rule, 'classifications.restricted.maxRotationDays');
  assert.equal(f?.location.path, 'keys[0].rotationDays');
  const lines = text.split('\n');
  assert.match(lines[(f?.location.line ?? 0) - 1] ?? '', /"rotationDays": 91/);
  assert.equal(f?.location.column, (lines[(f?.location.line ?? 0) - 1] ?? '').indexOf('"rotationDays"') + 1);
});

test('without a source map a finding points at the top of the file', () => {
  const findings = checkManifest(DEFAULT_POLICY, { apiVersion: 'keywarden.io/v1', kind: 'KeyManifest', keys: [{ alias: 'alias/p', environment: 'prod' }] });
  assert.deepEqual(findings, [{
    rule: 'environments.prod.requireClassification', field: 'classification', message: 'keys in prod must carry a classification',
    level: 'error', key: 'alias/p', location: { path: 'keys[0]', line: 1, column: 1 },
  }]);
});

test('every applying layer is reported (strictest wins, each refusal names its layer)', () => {
  const doc: PolicyDocument = {
    apiVersion: 'keywarden.io/v1', kind: 'Policy',
    defaults: { maxRotationDays: 365, allowedNetworks: ['10.0.0.0/8'] },
    environments: { prod: { maxRotationDays: 90, allowedNetworks: ['10.1.0.0/16'] } },
  };
  const findings = checkManifest(doc, {
    apiVersion: 'keywarden.io/v1', kind: 'KeyManifest',
    keys: [{ alias: 'alias/a', environment: 'prod', rotationDays: 400 }],
    grants: [{ key: 'alias/a', principal: 'app', operations: ['encrypt'], sourceCidrs: ['10.2.0.0/16', '10.1.5.0/24'] }],
  });
  assert.deepEqual(findings.map((f) => [f.rule, f.location.path]), [
    ['defaults.maxRotationDays', 'keys[0].rotationDays'],
    ['environments.prod.maxRotationDays', 'keys[0].rotationDays'],
    ['environments.prod.allowedNetworks', 'grants[0].sourceCidrs[0]'],
  ]);
});

test('an empty policy sets no constraint: an exportable key and a grant without expiry are clean', () => {
  const empty: PolicyDocument = { apiVersion: 'keywarden.io/v1', kind: 'Policy' };
  const m = { apiVersion: 'keywarden.io/v1' as const, kind: 'KeyManifest' as const, keys: [{ alias: 'alias/a', exportable: true }], grants: [{ key: 'alias/a', principal: 'p', operations: ['encrypt'] }] };
  assert.deepEqual(checkManifest(empty, m), []);
});

test('text report: grouped by key, a summary line, OK when clean; SARIF rules are distinct', () => {
  const { manifest, source } = loadManifest('apiVersion: keywarden.io/v1\nkind: KeyManifest\nkeys:\n  - alias: alias/p\n    environment: prod\n    exportable: true\n    classification: confidential\n');
  const findings = checkManifest(DEFAULT_POLICY, manifest, source);
  const report = buildReport({ policy: { name: 'keywarden-default', hash: 'h', file: null }, manifest: 'k.yaml' }, findings, { keys: 1, grants: 0 });
  const text = formatText(report);
  assert.match(text, /^alias\/p\n {2}classifications\.confidential\.maxRotationDays: .+\n {4}at k\.yaml:4:5 \(keys\[0\]\)\n {2}classifications\.confidential\.exportable: confidential keys in prod may not be exportable\n {4}at k\.yaml:6:5 \(keys\[0\]\.exportable\)$/m);
  assert.match(text, /^FAILED: 1 key and 0 grants checked, 2 violations in 1 key\n$/m);
  const clean = formatText(buildReport({ policy: { name: 'x', hash: 'h', file: 'p.yaml' }, manifest: 'k.yaml' }, [], { keys: 2, grants: 1 }));
  assert.match(clean, /^OK: 2 keys and 1 grant checked, no violations\n$/m);
  const sarif = JSON.parse(formatSarif(report, '1.2.3'));
  assert.deepEqual(sarif.runs[0].tool.driver.rules.map((r: { id: string }) => r.id), ['classifications.confidential.maxRotationDays', 'classifications.confidential.exportable']);
  assert.equal(sarif.runs[0].tool.driver.version, '1.2.3');
});
