/**
 * Access review (issue 3/10 §8) through the real HTTP server and SQLite, with a ManualClock: per
 * key the role-wide powers and the grants in force (key grants and tag selectors resolved against
 * the current tags, grants that authorization would ignore marked), grants unused for N days,
 * grants expiring within M days, users without MFA, service accounts listed as not applicable.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';
import { ManualClock } from '../../src/util/clock.js';

const DAY = 86_400_000;
const PW = 'correct horse battery staple';
const names = (refs: Array<{ name: string }>) => refs.map((r) => r.name).sort();

describe('access review', () => {
  const clock = new ManualClock();
  let t: TestKeywarden;
  const tok: Record<string, string> = {};
  let k1: string;
  let k2: string;
  let k3: string;
  const grant: Record<string, string> = {};

  async function sa(name: string, roles: string[]) {
    const c = await t.req('POST', '/v1/principals', { name, roles });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    tok[name] = (await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret, expires_in: 3600 }, null)).json.access_token;
  }
  const refresh = async (name: string) => {
    // Access tokens last at most 1 h; the clock moves by days in this test.
    const c = await t.req('POST', `/v1/principals/${name}/rotate-secret`);
    tok[name] = (await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null)).json.access_token;
  };
  async function mkGrant(id: string, body: Record<string, unknown>) {
    const g = await t.req('POST', '/v1/grants', body, tok.ka);
    assert.equal(g.status, 201, JSON.stringify(g.json));
    grant[id] = g.json.grant.id;
  }
  const keyOf = (r: { keys: Array<{ keyId: string }> }, id: string): any => r.keys.find((k) => k.keyId === id);
  const review = (query = '', token: string | undefined = tok.aud) => t.req('GET', `/v1/access-review${query}`, undefined, token);

  before(async () => {
    t = await startInProcess({ clock });
    for (const [n, r] of [['ka', 'key-administrator'], ['so', 'security-officer'], ['aud', 'auditor'], ['app1', 'application'], ['app2', 'application'], ['app3', 'application']] as const) await sa(n, [r]);
    // Two people: alice without MFA, bob with MFA enrolled (TOTP computed as an authenticator app would).
    for (const n of ['alice', 'bob']) assert.equal((await t.req('POST', '/v1/users', { name: n, roles: ['auditor'], password: PW })).status, 201);
    const bob = (await t.req('POST', '/v1/auth/login', { username: 'bob', password: PW }, null)).json.token;
    const e = await t.req('POST', '/v1/users/bob/mfa/enroll', {}, bob);
    const secret = new URL(e.json.otpauthUri).searchParams.get('secret') as string;
    assert.equal((await t.req('POST', '/v1/users/bob/mfa/confirm', { otp: await generate({ secret, epoch: Math.floor(clock.now() / 1000) }) }, bob)).status, 200);

    const key = async (tags: Record<string, string>) => (await t.req('POST', '/v1/keys', { description: 'reviewed', tags }, tok.ka)).json.key.id as string;
    k1 = await key({ env: 'prod' });
    k2 = await key({ env: 'dev' });
    k3 = await key({ env: 'prod' });
    await mkGrant('g1', { key: k1, principal: 'app1', operations: ['encrypt', 'decrypt'] });
    await mkGrant('g4', { key: k1, principal: 'app3', operations: ['encrypt'] });
    assert.equal((await t.req('POST', `/v1/keys/${k3}/schedule-deletion`, { days: 7 }, tok.ka)).status, 200);

    clock.advance(31 * DAY);
    for (const n of ['ka', 'aud', 'app1', 'so']) await refresh(n);
    assert.equal((await t.kw.scheduler.runNow('deletion-due'))?.status, 'ok');
    await mkGrant('g2', { tagSelector: { env: 'prod' }, principal: 'app2', operations: ['decrypt'], conditions: { notAfter: new Date(clock.now() + 3 * DAY).toISOString() } });
    await mkGrant('g3', { key: k2, principal: 'app2', operations: ['encrypt'], conditions: { notAfter: new Date(clock.now() + 20 * DAY).toISOString(), contextIncludes: { tenant: 'acme' } } });
    assert.equal((await t.req('POST', `/v1/keys/${k1}/encrypt`, { plaintext: 'aGk=' }, tok.app1)).status, 200, 'app1 uses g1 now');
    assert.equal((await t.req('POST', '/v1/principals/app3/disable')).status, 200);
  });
  after(() => t.close());

  test('who can do what on which key', async () => {
    const r = await review();
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.generatedAt, new Date(clock.now()).toISOString());
    assert.deepEqual([r.json.unusedDays, r.json.expiringWithinDays], [30, 7]);
    assert.equal(r.json.roleWidePowers.administer.role, 'key-administrator');
    assert.deepEqual(r.json.keys.map((k: { keyId: string }) => k.keyId).sort(), [k1, k2].sort(), 'the destroyed key is left out');

    const rk1 = keyOf(r.json, k1);
    const rk2 = keyOf(r.json, k2);
    assert.equal(rk1.createdBy.name, 'ka');
    assert.deepEqual(rk1.tags, { env: 'prod' });
    assert.deepEqual(names(rk1.roleAccess.administer), ['ka']);
    assert.deepEqual(names(rk1.roleAccess.revoke), ['so']);
    assert.deepEqual(names(rk1.roleAccess.read), ['alice', 'aud', 'bob']);

    const byId = (k: { grants: Array<{ id: string }> }) => Object.fromEntries(k.grants.map((g) => [g.id, g])) as Record<string, any>;
    const g1 = byId(rk1);
    assert.deepEqual(Object.keys(g1).sort(), [grant.g1, grant.g2, grant.g4].sort());
    assert.deepEqual(
      { principal: g1[grant.g1!].principal.name, via: g1[grant.g1!].via, ops: g1[grant.g1!].operations, expiresAt: g1[grant.g1!].expiresAt, lastUsedAt: g1[grant.g1!].lastUsedAt, inEffect: g1[grant.g1!].inEffect, createdBy: g1[grant.g1!].createdBy.name },
      { principal: 'app1', via: 'key', ops: ['encrypt', 'decrypt'], expiresAt: null, lastUsedAt: new Date(clock.now()).toISOString(), inEffect: true, createdBy: 'ka' },
    );
    assert.deepEqual(
      { via: g1[grant.g2!].via, selector: g1[grant.g2!].tagSelector, expiresAt: g1[grant.g2!].expiresAt, conditions: g1[grant.g2!].conditions },
      { via: 'tag-selector', selector: { env: 'prod' }, expiresAt: new Date(clock.now() + 3 * DAY).toISOString(), conditions: { notAfter: new Date(clock.now() + 3 * DAY).toISOString() } },
    );
    assert.deepEqual({ inEffect: g1[grant.g4!].inEffect, why: g1[grant.g4!].notInEffect }, { inEffect: false, why: 'the principal is disabled' });

    const g2 = byId(rk2);
    assert.deepEqual(Object.keys(g2), [grant.g3]);
    assert.deepEqual(g2[grant.g3!].conditions, { contextIncludes: { tenant: 'acme' }, notAfter: new Date(clock.now() + 20 * DAY).toISOString() });
  });

  test('findings: unused grants, expiring grants, people without MFA', async () => {
    const f = (await review()).json.findings;
    assert.deepEqual(f.unusedGrants.map((g: { grantId: string }) => g.grantId), [grant.g4], 'g1 was used today; g2, g3 are new');
    assert.deepEqual({ key: f.unusedGrants[0].keyId, principal: f.unusedGrants[0].principal.name, lastUsedAt: f.unusedGrants[0].lastUsedAt }, { key: k1, principal: 'app3', lastUsedAt: null });
    assert.deepEqual(f.expiringGrants.map((g: { grantId: string }) => g.grantId), [grant.g2]);
    assert.deepEqual(names(f.principalsWithoutMfa), ['alice']);
    assert.deepEqual(f.principalsWithoutMfa[0].roles, ['auditor']);
    assert.deepEqual(names(f.mfaNotApplicable), ['aud', 'app1', 'app2', 'ka', 'so'].sort(), 'enabled service accounts; the disabled app3 is left out');
    assert.ok(f.mfaNotApplicable.every((p: { kind: string }) => p.kind === 'service-account'));

    const wider = (await review('?unusedDays=40&expiringWithinDays=30')).json;
    assert.deepEqual([wider.unusedDays, wider.expiringWithinDays], [40, 30]);
    assert.deepEqual(wider.findings.unusedGrants, [], 'g4 is 31 days old');
    assert.deepEqual(wider.findings.expiringGrants.map((g: { grantId: string }) => g.grantId).sort(), [grant.g2, grant.g3].sort());
  });

  test('tag selectors follow the current tags; expired grants drop out at once', async () => {
    assert.equal((await t.req('POST', `/v1/keys/${k2}/tags`, { tags: { env: 'prod' } }, tok.ka)).status, 200);
    let r = (await review()).json;
    assert.deepEqual(keyOf(r, k2).grants.map((g: { id: string }) => g.id).sort(), [grant.g2, grant.g3].sort());
    clock.advance(3 * DAY);
    for (const n of ['aud']) await refresh(n);
    r = (await review()).json;
    assert.deepEqual(keyOf(r, k1).grants.map((g: { id: string }) => g.id).sort(), [grant.g1, grant.g4].sort(), 'g2 reached its notAfter');
    assert.equal((await review()).json.findings.expiringGrants.length, 0);
  });

  test('who may review; parameters are validated', async () => {
    await refresh('so');
    await refresh('app1');
    assert.equal((await review('', tok.so)).status, 200);
    assertError(await review('', tok.app1), 403, 'PermissionDenied', /^app1 is not allowed to perform access:review: none of its roles \(application\) grants it/);
    assertError(await review('', null as unknown as string), 401, 'Unauthenticated', 'A bearer token is required (Authorization: Bearer <token>)');
    assertError(await review('?unusedDays=0'), 400, 'ValidationError', 'unusedDays must be a whole number of days from 1 to 3650');
    assertError(await review('?expiringWithinDays=9999'), 400, 'ValidationError', 'expiringWithinDays must be a whole number of days from 0 to 3650');
    assertError(await review('?unusedDays=abc'), 400, 'ValidationError', /^querystring\.unusedDays must match pattern|^unusedDays must match pattern/);
    assertError(await review('?since=3'), 400, 'ValidationError', 'querystring has an unknown field "since"');
  });
});
