/**
 * GET /v1/keys/{keyRef}/policy: what the policy in force means for one key — the layers of its
 * scope, the strictest limits with the rule behind each (incl. the data-key lifetime hint for SDK
 * caches), and what the key breaks after a policy change.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';

describe('effective policy of a key', () => {
  let t: TestKeywarden;
  before(async () => {
    t = await startInProcess();
  });
  after(() => t.close());

  test('layers, limits with their rules, and violations after a stricter policy', async () => {
    const created = await t.req('POST', '/v1/keys', { classification: 'restricted', environment: 'staging', alias: 'alias/ep' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const first = await t.req('GET', '/v1/keys/alias/ep/policy');
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.policyVersion, 0, 'the built-in default policy');
    assert.deepEqual(first.json.layers, ['defaults', 'classifications.restricted']);
    assert.deepEqual(first.json.limits.maxRotationDays, { value: 90, rule: 'classifications.restricted.maxRotationDays' });
    assert.deepEqual(first.json.limits.minDeletionWindowDays, { value: 30, rule: 'classifications.restricted.minDeletionWindowDays' });
    assert.equal(first.json.limits.dataKeyMaxLifetimeSeconds, undefined);
    assert.deepEqual(first.json.violations, [], 'the rotation period was filled in at creation');

    const put = await t.req('PUT', '/v1/policy', {
      apiVersion: 'keywarden.io/v1',
      kind: 'Policy',
      defaults: { dataKeyMaxLifetimeSeconds: 600 },
      environments: { staging: { dataKeyMaxLifetimeSeconds: 300, maxRotationDays: 30 } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const after = await t.req('GET', `/v1/keys/${created.json.key.id}/policy`);
    assert.equal(after.json.policyVersion, 1);
    assert.deepEqual(after.json.layers, ['defaults', 'environments.staging']);
    assert.deepEqual(after.json.limits.dataKeyMaxLifetimeSeconds, { value: 300, rule: 'environments.staging.dataKeyMaxLifetimeSeconds' });
    assert.deepEqual(after.json.violations.map((v: { rule: string }) => v.rule), ['environments.staging.maxRotationDays'], 'a 90-day period breaks the new 30-day maximum');
  });

  test('an unknown key is NotFound; an application without a grant is refused', async () => {
    const missing = await t.req('GET', '/v1/keys/alias/none/policy');
    assert.equal(missing.status, 404);
    const sa = await t.req('POST', '/v1/principals', { name: 'ep-app', roles: ['application'] });
    const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: sa.json.clientId, client_secret: sa.json.clientSecret }, null);
    const denied = await t.req('GET', '/v1/keys/alias/ep/policy', undefined, tok.json.access_token);
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.code, 'PermissionDenied');
  });
});
