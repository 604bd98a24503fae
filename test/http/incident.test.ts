/**
 * The key-compromise playbook over the real HTTP server (inject) on real SQLite, time from a
 * ManualClock: drill vs real run, exposure from the ledger (principals, addresses, window,
 * evidence), the re-wrap plan counts, validation, authorization and edge cases (unknown,
 * destroyed, already compromised keys, a successor the policy refuses, one real incident per key).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/util/clock.js';
import { DRILL_DIR_PREFIX } from '../../src/incident/drill.js';
import { createKeywarden, type Keywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { SealService } from '../../src/seal/seal.service.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { openPkcs11Hsm } from '../../src/hsm/pkcs11/index.js';
import type { Hsm } from '../../src/hsm/hsm.js';
import { createSoftHsmToken } from '../support/softhsm.js';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const DAY = 86_400_000;

describe('incidents: the key-compromise playbook over HTTP', () => {
  let t: TestKeywarden;
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  const tok = {} as Record<'officer' | 'appA' | 'appB' | 'auditor' | 'keyAdmin', string>;

  const creds = new Map<keyof typeof tok, { clientId: string; clientSecret: string }>();

  async function account(who: keyof typeof tok, name: string, roles: string[]) {
    const c = await t.req('POST', '/v1/principals', { name, roles });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    creds.set(who, c.json);
  }

  /** Fresh access tokens (they live 15 minutes; the tests move the clock by days). */
  async function refresh() {
    for (const [who, c] of creds) {
      const r = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret }, null);
      tok[who] = r.json.access_token;
    }
  }

  /** Moves the clock and renews the tokens. */
  async function advance(ms: number) {
    clock.advance(ms);
    await refresh();
  }

  /** A request from a given source address (the ledger records it). */
  async function from(address: string, token: string, method: string, url: string, body?: unknown) {
    const res = await t.kw.app.inject({
      method: method as 'POST',
      url,
      remoteAddress: address,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, json: JSON.parse(res.body) };
  }

  async function key(body: object = {}) {
    const r = await t.req('POST', '/v1/keys', { description: 'incident test', ...body });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.key as { id: string; aliases: string[] };
  }

  const respond = (body: object, token = tok.officer) => t.req('POST', '/v1/incidents/key-compromise', body, token);

  before(async () => {
    t = await startInProcess({ clock });
    await account('officer', 'officer', ['security-officer']);
    await account('appA', 'app-a', ['application']);
    await account('appB', 'app-b', ['application']);
    await account('auditor', 'auditor', ['auditor']);
    await account('keyAdmin', 'key-admin', ['key-administrator']);
    await refresh();
  });
  after(() => t.close());

  test('a drill changes nothing in production; the real run revokes, replaces, moves aliases, copies grants and reports the exposure', async () => {
    const k = await key({ alias: 'alias/billing', tags: { team: 'billing' }, classification: 'confidential' });
    for (const [app, ops] of [['app-a', ['encrypt', 'decrypt', 're-encrypt']], ['app-b', ['encrypt', 'generate-data-key']]] as const) {
      assert.equal((await t.req('POST', '/v1/grants', { key: k.id, principal: app, operations: ops })).status, 201);
    }
    // Before the window: one use that must not count.
    assert.equal((await from('10.0.0.9', tok.appA, 'POST', `/v1/keys/${k.id}/encrypt`, { plaintext: b64('old') })).status, 200);
    await advance(DAY);
    const since = new Date(clock.now()).toISOString();
    clock.advance(1000);
    const cts: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await from('10.0.0.7', tok.appA, 'POST', `/v1/keys/${k.id}/encrypt`, { plaintext: b64(`secret ${i}`) });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      cts.push(r.json.ciphertext);
    }
    assert.equal((await from('192.168.5.5', tok.appB, 'POST', '/v1/keys/alias/billing/data-key', {})).status, 200);
    assert.equal((await from('192.168.5.5', tok.appB, 'POST', '/v1/keys/alias/billing/data-key', {})).status, 200);
    assert.equal((await from('192.168.5.5', tok.appB, 'POST', '/v1/decrypt', { ciphertext: cts[0] })).status, 403, 'app-b has no decrypt grant');
    clock.advance(1000);
    const grantsBefore = (await t.req('GET', '/v1/grants')).json.grants.length;

    // Drill.
    const d = await respond({ key: 'alias/billing', reason: 'laptop with credentials stolen', since, drill: true });
    assert.equal(d.status, 201, JSON.stringify(d.json));
    const drill = d.json.incident;
    assert.equal(drill.drill, true);
    assert.equal(drill.successorId, null);
    assert.match(drill.report, /^# DRILL — Incident report/);
    assert.match(drill.report, /\*\*DRILL\.\*\*/);
    assert.match(drill.notification, /DRILL/);
    assert.deepEqual(drill.result.steps.map((s: any) => `${s.step}:${s.outcome}`), ['revoke:done', 'successor:done', 'aliases:done', 'grants:done', 'exposure:done', 'rewrap-plan:done']);
    assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith(`${DRILL_DIR_PREFIX}${drill.id}`)), [], 'the scratch copy is deleted');
    const still = (await t.req('GET', `/v1/keys/${k.id}`)).json.key;
    assert.equal(still.state, 'Enabled');
    assert.deepEqual(still.aliases, ['alias/billing']);
    assert.equal((await t.req('GET', '/v1/keys?limit=1000')).json.keys.filter((x: any) => x.tags['keywarden:replaces'] === k.id).length, 0, 'no successor in production');
    assert.equal((await t.req('GET', '/v1/grants')).json.grants.length, grantsBefore);
    assert.equal((await from('10.0.0.7', tok.appA, 'POST', '/v1/decrypt', { ciphertext: cts[1] })).status, 200, 'the key still works after a drill');

    // Real.
    clock.advance(1000);
    const r = await respond({ key: k.id, reason: 'laptop with credentials stolen', since });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const inc = r.json.incident;
    clock.advance(1000); // later uses fall outside the incident's window
    assert.equal(inc.drill, false);
    assert.doesNotMatch(inc.report, /DRILL/);
    const revoked = (await t.req('GET', `/v1/keys/${k.id}`)).json.key;
    assert.equal(revoked.state, 'Compromised');
    assert.equal(revoked.compromisedAt, since);
    assert.equal(revoked.primaryVersion, 2, 'rotated');
    assert.deepEqual(revoked.aliases, []);
    const succ = (await t.req('GET', `/v1/keys/${inc.successorId}`)).json.key;
    assert.deepEqual([succ.state, succ.spec, succ.usage, succ.classification, succ.aliases], ['Enabled', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'confidential', ['alias/billing']]);
    assert.deepEqual(succ.tags, { team: 'billing', 'keywarden:replaces': k.id });
    assert.deepEqual(inc.result.grantsCopied.map((g: any) => g.principal).sort(), ['app-a', 'app-b']);
    // The alias now encrypts under the successor, for the application using it.
    const viaAlias = await from('192.168.5.5', tok.appB, 'POST', '/v1/keys/alias/billing/encrypt', { plaintext: b64('new') });
    assert.equal(viaAlias.status, 200, JSON.stringify(viaAlias.json));
    assert.equal(viaAlias.json.keyId, inc.successorId);
    assertError(await from('10.0.0.7', tok.appA, 'POST', `/v1/keys/${k.id}/encrypt`, { plaintext: b64('x') }), 409, 'InvalidState', `key ${k.id} is Compromised: it cannot encrypt; re-encrypt its ciphertexts under another key`);
    // The old ciphertexts move with re-encrypt (what the rewrap command calls) and decrypt under the successor.
    const moved = await from('10.0.0.7', tok.appA, 'POST', '/v1/re-encrypt', { ciphertext: cts[2], destinationKey: inc.successorId });
    assert.equal(moved.status, 200, JSON.stringify(moved.json));
    const back = await from('10.0.0.7', tok.appA, 'POST', '/v1/decrypt', { ciphertext: moved.json.ciphertext });
    assert.equal(Buffer.from(back.json.plaintext, 'base64').toString(), 'secret 2');
    assert.equal(back.json.keyId, inc.successorId);

    // Exposure: both applications, their addresses, counts in the window only, evidence indexes.
    const e = inc.result.exposure;
    const a = e.principals.find((p: any) => p.name === 'app-a');
    const b = e.principals.find((p: any) => p.name === 'app-b');
    assert.deepEqual(a.operations, { 'key:encrypt': 3, 'key:decrypt': 1 }, 'the pre-window encrypt is not counted; the decrypt after the drill is');
    assert.deepEqual(a.sourceAddresses, ['10.0.0.7']);
    assert.deepEqual(b.operations, { 'key:generate-data-key': 2 });
    assert.equal(b.refused, 1);
    assert.deepEqual(b.sourceAddresses, ['192.168.5.5']);
    assert.equal(a.evidence.length, 4);
    const ev = await t.req('GET', `/v1/audit/events?key=${k.id}&principal=app-a&since=${since}&until=${e.windowEnd}`, undefined, tok.auditor);
    assert.deepEqual(ev.json.events.map((x: any) => x.index).sort((m: number, n: number) => m - n), a.evidence);
    assert.ok(!e.sourceAddresses.some((s: any) => s.address === '10.0.0.9'));
    // The plan: versions before the incident, counts from the ledger, the command.
    const plan = inc.result.plan;
    assert.deepEqual([plan.ciphertexts, plan.dataKeys], [3, 2]);
    assert.deepEqual(plan.versions.map((v: any) => [v.version, v.produced]), [[1, 5]]);
    assert.equal(plan.command, `keywarden incident rewrap --from ${k.id} --to ${inc.successorId} --in ciphertexts.txt --out rewrapped.txt`);
    for (const text of [inc.report, inc.notification]) {
      assert.match(text, /app-a/);
      assert.match(text, /app-b/);
    }
    assert.ok(inc.report.includes(plan.command));
    assert.match(inc.notification, /\{\{CUSTOMER_NAME\}\}/);

    // Readable back (auditors too), listed newest first, filtered by the key.
    const got = await t.req('GET', `/v1/incidents/${inc.id}`, undefined, tok.auditor);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json.incident, inc);
    const list = await t.req('GET', `/v1/incidents?key=${k.id}`, undefined, tok.officer);
    assert.deepEqual(list.json.incidents.map((x: any) => [x.id, x.drill]), [[inc.id, false], [drill.id, true]]);
    assert.equal(list.json.incidents[0].report, undefined, 'the list is a summary');
    // One audit event per run (the drill included), nothing else under its name.
    const runs = await t.req('GET', `/v1/audit/events?key=${k.id}&operation=incident:respond`, undefined, tok.auditor);
    assert.deepEqual(runs.json.events.map((x: any) => [x.principal.name, x.outcome, x.requestId]), [['officer', 'allow', inc.requestId], ['officer', 'allow', drill.requestId]]);
    // Each change of the real run is an audit event of its own, made on the officer's behalf (a drill's changes touch only its copy).
    const changes = async (key: string, operation: string) =>
      (await t.req('GET', `/v1/audit/events?key=${key}&operation=${operation}`, undefined, tok.auditor)).json.events
        .filter((x: any) => x.details?.incident === inc.id)
        .map((x: any) => [x.principal.name, x.authMethod, x.outcome, x.requestId]);
    const byOfficer = ['officer', 'internal', 'allow', inc.requestId];
    assert.deepEqual(await changes(k.id, 'key:revoke'), [byOfficer]);
    assert.deepEqual(await changes(inc.successorId, 'key:create'), [byOfficer]);
    assert.deepEqual(await changes(inc.successorId, 'key:alias'), [byOfficer]);
    assert.deepEqual(await changes(inc.successorId, 'grant:manage'), [byOfficer, byOfficer]);
    // A key is handled once.
    assertError(await respond({ key: k.id, reason: 'again' }), 409, 'InvalidState', new RegExp(`^key ${k.id} was already handled as compromised by incident ${inc.id} on `));
    assert.equal((await respond({ key: k.id, reason: 'drill after the fact', drill: true })).status, 201, 'drills still run');
  });

  test('a key revoked by hand is finished by the playbook (revoke skipped); destroyed and unknown keys are refused', async () => {
    const k = await key({ alias: 'alias/by-hand' });
    assert.equal((await t.req('POST', `/v1/keys/${k.id}/revoke`, { reason: 'compromised' }, tok.officer)).status, 200);
    const r = await respond({ key: k.id, reason: 'revoked in a hurry' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.deepEqual(r.json.incident.result.steps.slice(0, 3).map((s: any) => `${s.step}:${s.outcome}`), ['revoke:skipped', 'successor:done', 'aliases:done']);
    assert.match(r.json.incident.result.steps[0].detail, /^already Compromised/);
    assert.equal((await t.req('GET', '/v1/keys/alias/by-hand')).json.key.id, r.json.incident.successorId);

    const gone = await key();
    await t.req('POST', `/v1/keys/${gone.id}/schedule-deletion`, { days: 7 });
    await advance(8 * DAY);
    await t.kw.keys.destroyDue(clock.now());
    assertError(await respond({ key: gone.id, reason: 'x' }), 409, 'InvalidState', `key ${gone.id} is Destroyed: the compromise playbook acts on an Enabled, Disabled or Compromised key (a destroyed key\u2019s material is gone: nothing can use it any more)`);
    assertError(await respond({ key: gone.id, reason: 'x', drill: true }), 409, 'InvalidState', /is Destroyed/);
    assertError(await respond({ key: '00000000-0000-4000-8000-000000000000', reason: 'x' }), 404, 'NotFound', 'key "00000000-0000-4000-8000-000000000000" was not found');
    assertError(await respond({ key: 'alias/none', reason: 'x' }), 404, 'NotFound', 'key "alias/none" was not found');
    assertError(await t.req('GET', '/v1/incidents/nope', undefined, tok.officer), 404, 'NotFound', 'incident nope was not found');
  });

  test('a successor the policy refuses refuses the whole run: nothing changes', async () => {
    const k = await key({ spec: 'RSA_2048', usage: 'SIGN_VERIFY', alias: 'alias/old-signer' });
    const current = (await t.req('GET', '/v1/policy')).json;
    const doc = structuredClone(current.document ?? current.policy ?? current);
    doc.defaults.allowedKeySpecs = doc.defaults.allowedKeySpecs.filter((s: string) => s !== 'RSA_2048');
    const put = await t.req('PUT', '/v1/policy', doc);
    assert.equal(put.status, 200, JSON.stringify(put.json));
    try {
      assertError(await respond({ key: k.id, reason: 'x' }), 403, 'PolicyViolation', /^policy rule defaults\.allowedKeySpecs: /);
      const same = (await t.req('GET', `/v1/keys/${k.id}`)).json.key;
      assert.deepEqual([same.state, same.aliases, same.primaryVersion], ['Enabled', ['alias/old-signer'], 1]);
      assert.equal((await t.req('GET', `/v1/incidents?key=${k.id}`, undefined, tok.officer)).json.incidents.length, 0);
    } finally {
      doc.defaults.allowedKeySpecs.push('RSA_2048');
      assert.equal((await t.req('PUT', '/v1/policy', doc)).status, 200);
    }
    // Allowed again: a signing key gets a successor but no re-wrap command.
    const r = await respond({ key: k.id, reason: 'x' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.incident.result.plan.command, null);
    assert.match(r.json.incident.result.plan.note, /^a RSA_2048 key has no Keywarden ciphertexts to re-wrap: re-sign/);
  });

  test('validation: every input is checked at the edge and in the use-case', async () => {
    const k = await key();
    assertError(await respond({ key: k.id }), 400, 'ValidationError', 'body is missing the required field "reason"');
    assertError(await respond({ key: k.id, reason: 'x', extra: 1 }), 400, 'ValidationError', 'body has an unknown field "extra"');
    assertError(await respond({ key: k.id, reason: 'x', since: 'yesterday' }), 400, 'ValidationError', /^since must match format "date-time"/);
    assertError(await respond({ key: k.id, reason: 'x', since: new Date(clock.now() + 60_000).toISOString() }), 400, 'ValidationError', 'since must not be in the future');
    assertError(await respond({ key: k.id, reason: '   ' }), 400, 'ValidationError', 'reason must be 1–1024 characters');
    assertError(await respond({ key: k.id, reason: 'x', drill: 'yes' }), 400, 'ValidationError', 'drill must be boolean');
    assertError(await respond({ key: 'not a key', reason: 'x' }), 400, 'ValidationError', '"not a key" is neither a key id (UUID) nor an alias (alias/...)');
    assertError(await t.req('GET', '/v1/incidents?limit=0', undefined, tok.officer), 400, 'ValidationError', 'limit must be an integer between 1 and 1000');
    assertError(await t.req('GET', '/v1/incidents?cursor=abc', undefined, tok.officer), 400, 'ValidationError', 'cursor is not a cursor returned by this API');
    assert.equal((await t.req('GET', `/v1/keys/${k.id}`)).json.key.state, 'Enabled');
  });

  test('authorization: only security officers respond; auditors and officers read; nobody else', async () => {
    const k = await key();
    for (const [name, token] of [['app-a', tok.appA], ['key-admin', tok.keyAdmin], ['auditor', tok.auditor]] as const) {
      assertError(await respond({ key: k.id, reason: 'x', drill: true }, token), 403, 'PermissionDenied', new RegExp(`^${name} is not allowed to perform incident:respond`));
    }
    for (const token of [tok.appA, tok.keyAdmin]) assertError(await t.req('GET', '/v1/incidents', undefined, token), 403, 'PermissionDenied', /is not allowed to perform audit:read/);
    assertError(await t.req('GET', '/v1/incidents', undefined, null), 401, 'Unauthenticated', 'A bearer token is required (Authorization: Bearer <token>)');
    assert.equal((await t.req('GET', `/v1/keys/${k.id}`)).json.key.state, 'Enabled');
    // Paging over everything this suite made.
    const first = await t.req('GET', '/v1/incidents?limit=2', undefined, tok.auditor);
    assert.equal(first.json.incidents.length, 2);
    const second = await t.req('GET', `/v1/incidents?limit=2&cursor=${first.json.nextCursor}`, undefined, tok.auditor);
    assert.ok(second.json.incidents.length >= 1);
    assert.notEqual(second.json.incidents[0].id, first.json.incidents[1].id);
  });

  test('quorum approval of key:revoke also holds the real run (the drill needs none)', async () => {
    const k = await key();
    const pol = (await t.req('GET', '/v1/access-policy')).json.policy;
    assert.equal((await t.req('PUT', '/v1/access-policy', { policy: { ...pol, approvals: { 'key:revoke': 1 } } })).status, 200);
    try {
      assertError(await respond({ key: k.id, reason: 'x' }), 403, 'ApprovalRequired', /key:revoke/);
      assert.equal((await t.req('GET', `/v1/keys/${k.id}`)).json.key.state, 'Enabled');
      assert.equal((await respond({ key: k.id, reason: 'x', drill: true })).status, 201);
    } finally {
      assert.equal((await t.req('PUT', '/v1/access-policy', { policy: pol })).status, 200);
    }
  });
});

describe('incidents: drills of HSM keys (SoftHSM2) and the seal seam', () => {
  test('a drill on HSM keys creates and destroys nothing in the HSM; the real run does', async () => {
    const token = createSoftHsmToken();
    const raw = await openPkcs11Hsm({ library: token.library, tokenLabel: token.label, pin: token.pin });
    const calls = new Map<string, number>();
    const hsm = new Proxy(raw, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as Hsm;
    const dir = await mkdtemp(join(tmpdir(), 'kw-incident-hsm-'));
    let kw: Keywarden | undefined;
    try {
      kw = await createKeywarden({ storage: { type: 'sqlite', path: join(dir, 'keywarden.db') }, seal: 'dev', logger: false, hsm });
      await bootDevSeal(kw.seal, dir);
      const root = await kw.tokens.createRootToken();
      const req = async (method: string, url: string, body?: unknown) => {
        const res = await kw!.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${root}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
        return { status: res.statusCode, json: JSON.parse(res.body) };
      };
      const sym = (await req('POST', '/v1/keys', { protection: 'hsm', alias: 'alias/hsm-sym' })).json.key;
      const ec = (await req('POST', '/v1/keys', { protection: 'hsm', spec: 'ECC_NIST_P256', usage: 'SIGN_VERIFY' })).json.key;
      const made = () => [calls.get('generateKey') ?? 0, calls.get('destroy') ?? 0];
      const before = made();
      for (const k of [sym, ec]) {
        const d = await req('POST', '/v1/incidents/key-compromise', { key: k.id, reason: 'drill', drill: true });
        assert.equal(d.status, 201, JSON.stringify(d.json));
        assert.deepEqual(d.json.incident.result.steps.slice(0, 2).map((x: any) => `${x.step}:${x.outcome}`), ['revoke:done', 'successor:done']);
        assert.equal((await req('GET', `/v1/keys/${k.id}`)).json.key.state, 'Enabled');
      }
      assert.deepEqual(made(), before, 'no HSM object was created or destroyed by the drills');
      const r = await req('POST', '/v1/incidents/key-compromise', { key: 'alias/hsm-sym', reason: 'real' });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assert.deepEqual(made(), [before[0]! + 2, before[1]], 'the real run: a new version of the key (rotation) and the successor, in the HSM');
      const succ = (await req('GET', `/v1/keys/${r.json.incident.successorId}`)).json.key;
      assert.deepEqual([succ.protection, succ.aliases], ['hsm', ['alias/hsm-sym']]);
      const enc = await req('POST', '/v1/keys/alias/hsm-sym/encrypt', { plaintext: b64('x') });
      assert.equal(enc.json.keyId, succ.id);
    } finally {
      await kw?.close();
      await raw.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('unsealFrom: only a copy of the live data is unsealed with its root key, and seal() drops the copy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kw-incident-seal-'));
    const stores = [new SqliteStore(join(dir, 'a.db')), new SqliteStore(join(dir, 'b.db')), new SqliteStore(join(dir, 'c.db'))];
    try {
      const [liveStore, otherStore, copyStore] = stores as [SqliteStore, SqliteStore, SqliteStore];
      const clock = new ManualClock();
      const live = new SealService(liveStore.seal, clock);
      await bootDevSeal(live, join(dir, 'live'));
      const other = new SealService(otherStore.seal, clock);
      await bootDevSeal(other, join(dir, 'other'));
      await copyStore.restore({ schemaVersion: await liveStore.schemaVersion(), chunks: liveStore.snapshot() });
      const copy = new SealService(copyStore.seal, clock);
      await copy.load();
      assert.throws(() => other.unsealFrom(live), /this store is not a copy of the live data/);
      assert.equal(other.sealed, false, 'other keeps its own root key');
      copy.unsealFrom(live);
      assert.equal(copy.sealed, false);
      assert.ok(copy.rootKey().expose().equals(live.rootKey().expose()));
      copy.seal();
      assert.equal(copy.sealed, true);
      assert.equal(live.sealed, false, 'sealing the copy leaves the live seal open');
    } finally {
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
