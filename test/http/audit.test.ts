/**
 * The audit stage and the audit API through the real HTTP server and a real SQLite file: one event
 * per use-case (allowed, denied, failed, batches, unauthenticated ones), fail closed when the
 * ledger cannot be written, audit:read, proofs checked with the RFC 9162 verifiers, the export
 * verified offline, event search.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';
import { decodeLeaf, type AuditLeaf } from '../../src/audit/event.js';
import { verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { parseExport } from '../../src/audit/export.js';
import { verifyLedger } from '../../src/audit/verify.js';
import { checkpointFromJson, trustedCheckpoint, verifyCheckpoint } from '../../src/audit/checkpoint.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const buf = (s: string) => Buffer.from(s, 'base64');

async function serviceAccount(t: TestKeywarden, name: string, roles: string[]) {
  const c = await t.req('POST', '/v1/principals', { name, roles });
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
  assert.equal(tok.status, 200, JSON.stringify(tok.json));
  return { token: tok.json.access_token as string, id: c.json.principal?.id as string | undefined };
}

/** Every event in the ledger, decoded. */
async function ledger(t: TestKeywarden): Promise<AuditLeaf[]> {
  const s = t.kw.store.audit;
  return (await s.read(0, await s.size())).map((r) => decodeLeaf(r.data));
}

async function lastEvent(t: TestKeywarden): Promise<AuditLeaf> {
  const all = await ledger(t);
  return all[all.length - 1]!;
}

describe('audit stage: one event per use-case', () => {
  let t: TestKeywarden;
  let app: string;
  let keyId: string;

  before(async () => {
    t = await startInProcess();
    keyId = (await t.req('POST', '/v1/keys', {})).json.key.id;
    app = (await serviceAccount(t, 'billing', ['application'])).token;
    assert.equal((await t.req('POST', '/v1/grants', { key: keyId, principal: 'billing', operations: ['encrypt', 'decrypt'] })).status, 201);
  });
  after(() => t.close());

  test('an allowed encrypt: principal, method, source, key and version, context and token id HMACed', async () => {
    const before = (await ledger(t)).length;
    const r = await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64('hi'), context: { tenant: 'acme' } }, app);
    assert.equal(r.status, 200);
    const all = await ledger(t);
    assert.equal(all.length, before + 1, 'exactly one event');
    const e = all.at(-1)!;
    assert.equal(e.operation, 'key:encrypt');
    assert.equal(e.outcome, 'allow');
    assert.equal(e.errorCode, null);
    assert.deepEqual(e.principal && { name: e.principal.name, kind: e.principal.kind }, { name: 'billing', kind: 'service-account' });
    assert.equal(e.authMethod, 'access-token');
    assert.equal(e.sourceIp, '127.0.0.1');
    assert.equal(e.keyId, keyId);
    assert.equal(e.keyVersion, r.json.keyVersion);
    assert.match(e.requestId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(Object.keys(e.context), ['tenant']);
    assert.equal(e.context.tenant, await t.kw.ledger.hmacOf('context', 'acme'));
    assert.match(e.tokenId ?? '', /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(all).includes('acme'), 'the context value is not in the ledger');
  });

  test('denials: no token, no grant, and the root token on a missing key (failed)', async () => {
    const n = (await ledger(t)).length;
    assertError(await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64('x') }, null), 401, 'Unauthenticated', /token/);
    let e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.errorCode, e.principal, e.authMethod], ['key:encrypt', 'deny', 'Unauthenticated', null, 'none']);

    const other = (await t.req('POST', '/v1/keys', {})).json.key.id;
    assertError(await t.req('POST', `/v1/keys/${other}/encrypt`, { plaintext: b64('x') }, app), 403, 'PermissionDenied', /holds no grant/);
    e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.errorCode, e.principal?.name, e.keyId], ['key:encrypt', 'deny', 'PermissionDenied', 'billing', other]);

    const missing = '00000000-0000-4000-8000-000000000000';
    assert.equal((await t.req('POST', `/v1/keys/${missing}/encrypt`, { plaintext: b64('x') })).status, 404);
    e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.errorCode, e.authMethod, e.principal?.kind], ['key:encrypt', 'error', 'NotFound', 'root-token', 'root']);
    assert.equal((await ledger(t)).length, n + 4, 'one event each (and one for the key created)');
  });

  test('decrypt records the key and version read from the ciphertext', async () => {
    const c = (await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64('hi') }, app)).json;
    assert.equal((await t.req('POST', '/v1/decrypt', { ciphertext: c.ciphertext }, app)).status, 200);
    const e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.keyId, e.keyVersion], ['key:decrypt', 'allow', keyId, c.keyVersion]);
  });

  test('a batch is one event with item counts', async () => {
    const n = (await ledger(t)).length;
    const r = await t.req('POST', `/v1/keys/${keyId}/encrypt`, { items: [{ ref: 'a', plaintext: b64('1') }, { ref: 'b', plaintext: b64('2') }, { ref: 'c', plaintext: '' }] }, app);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const all = await ledger(t);
    assert.equal(all.length, n + 1);
    assert.deepEqual(all.at(-1)!.details, { items: 3, succeeded: 2, failed: 1 });
  });

  test('key administration, principals and sys use-cases are recorded', async () => {
    const k = (await t.req('POST', '/v1/keys', { description: 'x' })).json.key;
    let e = await lastEvent(t);
    assert.deepEqual([e.operation, e.keyId, e.keyVersion], ['key:create', k.id, 1]);
    await t.req('POST', `/v1/keys/${k.id}/rotate`);
    e = await lastEvent(t);
    assert.deepEqual([e.operation, e.keyId, e.keyVersion], ['key:rotate', k.id, 2]);
    await t.req('GET', '/v1/principals');
    assert.equal((await lastEvent(t)).operation, 'principal:read');
    await t.req('GET', '/v1/sys/jobs');
    assert.equal((await lastEvent(t)).operation, 'sys:jobs');
  });

  test('unauthenticated use-cases: the token endpoint records who got a token, or the refusal', async () => {
    const c = await t.req('POST', '/v1/principals', { name: 'orders', roles: ['application'] });
    const ok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
    assert.equal(ok.status, 200);
    let e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.authMethod, e.principal?.name], ['auth:token', 'allow', 'client-credentials', 'orders']);
    assert.match(e.tokenId ?? '', /^[0-9a-f]{64}$/);
    assert.match(e.requestId, /^[0-9a-f-]{36}$/);
    const bad = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: 'wrong' }, null);
    assert.equal(bad.status, 401);
    e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.errorCode, e.principal], ['auth:token', 'deny', 'Unauthenticated', null]);
  });

  test('the seal is recorded (after sealing: no HMACs), and so is a call refused while sealed', async () => {
    const res = await t.req('POST', '/v1/sys/seal');
    assert.equal(res.status, 200);
    let e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome], ['sys:seal', 'allow']);
    assert.equal(e.tokenId, null, 'recorded after sealing: the HMAC key is gone');
    assertError(await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64('x') }, app), 503, 'Sealed', /sealed/);
    e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.errorCode], ['key:encrypt', 'error', 'Sealed']);
    const { bootDevSeal } = await import('../../src/seal/dev-seal.js');
    await bootDevSeal(t.kw.seal, t.dir);
  });
});

describe('audit stage: login and approved actions', () => {
  let t: TestKeywarden;
  before(async () => {
    t = await startInProcess();
  });
  after(() => t.close());

  test('login records the person who logged in, or the refusal', async () => {
    const pw = 'correct horse battery';
    assert.equal((await t.req('POST', '/v1/users', { name: 'ann', roles: ['auditor'], password: pw })).status, 201);
    assert.equal((await t.req('POST', '/v1/auth/login', { username: 'ann', password: pw }, null)).status, 200);
    let e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.principal?.name, e.principal?.kind, e.authMethod], ['auth:login', 'allow', 'ann', 'user', 'none']);
    assert.equal((await t.req('POST', '/v1/auth/login', { username: 'ann', password: 'wrong password!!' }, null)).status, 401);
    e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.errorCode, e.principal], ['auth:login', 'deny', 'Unauthenticated', null]);
  });

  test('an action executed on approval is recorded as the requester, internal, with the approval id', async () => {
    const kadmin = (await serviceAccount(t, 'kadmin', ['key-administrator'])).token;
    const so = (await serviceAccount(t, 'so', ['security-officer'])).token;
    const { DEFAULT_ACCESS_POLICY } = await import('../../src/auth/access-policy.js');
    assert.equal((await t.req('PUT', '/v1/access-policy', { policy: { ...DEFAULT_ACCESS_POLICY, approvals: { 'key:disable': 1 } } })).status, 200);
    const key = (await t.req('POST', '/v1/keys', {}, kadmin)).json.key;
    assertError(await t.req('POST', `/v1/keys/${key.id}/disable`, undefined, kadmin), 403, 'ApprovalRequired', /approval/);
    let e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.errorCode], ['key:disable', 'deny', 'ApprovalRequired']);
    const req = (await t.req('POST', '/v1/requests', { action: 'disable', key: key.id, reason: 'test' }, kadmin)).json.request;
    const n = (await ledger(t)).length;
    assert.equal((await t.req('POST', `/v1/requests/${req.id}/approve`, undefined, so)).json.request.status, 'executed');
    const events = (await ledger(t)).slice(n);
    const exec = events.find((x) => x.operation === 'key:disable');
    assert.ok(exec, JSON.stringify(events.map((x) => x.operation)));
    assert.deepEqual([exec.outcome, exec.authMethod, exec.principal?.name, exec.keyId, exec.approvalIds], ['allow', 'internal', 'kadmin', key.id, [req.id]]);
    e = events.at(-1)!;
    assert.deepEqual([e.operation, e.outcome, e.principal?.name], ['request:approve', 'allow', 'so']);
  });
});

describe('fail closed: an unwritable ledger refuses every operation', () => {
  let t: TestKeywarden;
  before(async () => {
    t = await startInProcess();
  });
  after(() => t.close());

  test('encrypt answers 500 with no ciphertext, a denied call is refused too; writable again, it works', async () => {
    const keyId = (await t.req('POST', '/v1/keys', {})).json.key.id;
    const size = await t.kw.store.audit.size();
    // Another writer of the file makes every append fail (as a full disk or a broken file would).
    const db = new Database(t.dbPath);
    db.exec(`CREATE TRIGGER test_ledger_broken BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    try {
      const r = await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64('secret') });
      assertError(r, 500, 'Internal', /audit ledger could not record the operation/);
      assert.ok(!('ciphertext' in r.json), 'no ciphertext leaves');
      assert.ok(!JSON.stringify(r.json).includes('ciphertext'));
      const k = await t.req('POST', '/v1/keys', {});
      assertError(k, 500, 'Internal', /audit ledger/);
      const denied = await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64('x') }, 'not-a-token');
      assertError(denied, 500, 'Internal', /audit ledger/);
      assert.equal(await t.kw.store.audit.size(), size, 'nothing was recorded');
    } finally {
      db.exec('DROP TRIGGER test_ledger_broken');
      db.close();
    }
    const r = await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64('secret') });
    assert.equal(r.status, 200);
    assert.equal(await t.kw.store.audit.size(), size + 1);
  });
});

describe('audit API: audit:read, checkpoint, proofs, export, search', () => {
  let t: TestKeywarden;
  let auditor: string;
  let officer: string;
  let app: string;
  let keyId: string;

  before(async () => {
    t = await startInProcess();
    auditor = (await serviceAccount(t, 'ann-auditor', ['auditor'])).token;
    officer = (await serviceAccount(t, 'sam-officer', ['security-officer'])).token;
    app = (await serviceAccount(t, 'app', ['application'])).token;
    keyId = (await t.req('POST', '/v1/keys', {})).json.key.id;
    for (let i = 0; i < 5; i++) await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64(`m${i}`) });
  });
  after(() => t.close());

  test('only auditors and security officers (and root) may read; the refusal is recorded', async () => {
    assert.equal((await t.req('GET', '/v1/audit/checkpoint', undefined, auditor)).status, 200);
    assert.equal((await t.req('GET', '/v1/audit/checkpoint', undefined, officer)).status, 200);
    assertError(await t.req('GET', '/v1/audit/export', undefined, app), 403, 'PermissionDenied', 'app is not allowed to perform audit:read: none of its roles (application) grants it');
    const e = await lastEvent(t);
    assert.deepEqual([e.operation, e.outcome, e.principal?.name], ['audit:read', 'deny', 'app']);
  });

  test('checkpoint, inclusion and consistency proofs verify with the RFC 9162 algorithms', async () => {
    const c1 = await t.kw.ledger.checkpoint();
    for (let i = 0; i < 3; i++) await t.req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64(`n${i}`) });
    await t.kw.ledger.checkpoint();
    const r = await t.req('GET', '/v1/audit/checkpoint', undefined, auditor);
    const c2 = checkpointFromJson(r.json.checkpoint);
    assert.ok(verifyCheckpoint(c2, buf(r.json.publicKey.spki)), 'signed by the published key');
    assert.ok(c2.size > c1.size);

    const rows = await t.kw.store.audit.read(0, c2.size);
    for (const index of [0, 3, c2.size - 1]) {
      const p = (await t.req('GET', `/v1/audit/proof/inclusion?index=${index}&size=${c2.size}`, undefined, auditor)).json;
      assert.equal(p.size, c2.size);
      assert.ok(buf(p.leafHash).equals(rows[index]!.leafHash));
      assert.ok(buf(p.rootHash).equals(c2.rootHash));
      assert.ok(verifyInclusion(index, c2.size, buf(p.leafHash), p.path.map(buf), c2.rootHash), `inclusion of ${index}`);
    }
    const q = (await t.req('GET', `/v1/audit/proof/consistency?from=${c1.size}&to=${c2.size}`, undefined, auditor)).json;
    assert.ok(buf(q.fromRoot).equals(c1.rootHash) && buf(q.toRoot).equals(c2.rootHash));
    assert.ok(verifyConsistency(c1.size, c2.size, c1.rootHash, c2.rootHash, q.proof.map(buf)));
    assertError(await t.req('GET', '/v1/audit/proof/inclusion?index=999999', undefined, auditor), 404, 'NotFound', /audit event 999999/);
    assertError(await t.req('GET', '/v1/audit/proof/consistency?from=5&to=2', undefined, auditor), 400, 'ValidationError', /from <= to/);
    assertError(await t.req('GET', '/v1/audit/proof/inclusion?index=-1', undefined, auditor), 400, 'ValidationError', /index/);
  });

  test('the export verifies offline, also against a trusted checkpoint', async () => {
    const c = await t.kw.ledger.checkpoint();
    const { publicKey } = await t.kw.ledger.checkpointPublicKey();
    const r = await t.req('GET', '/v1/audit/export', undefined, officer);
    assert.equal(r.status, 200);
    const exp = parseExport(r.json);
    const v = await verifyLedger(exp, { trustedCheckpoint: trustedCheckpoint(c, publicKey) });
    assert.equal(v.ok, true, v.message);
    assert.ok(v.size >= c.size);
    // The export itself was recorded (after it was read, so it is not in it).
    assert.equal((await lastEvent(t)).operation, 'audit:read');
    assert.equal((await t.kw.store.audit.size()), exp.events.length + 1);
  });

  test('search by key, principal, operation, outcome and time, newest first, with pagination', async () => {
    const byKey = (await t.req('GET', `/v1/audit/events?key=${keyId}&operation=key:encrypt`, undefined, auditor)).json;
    assert.equal(byKey.events.length, 8);
    assert.ok(byKey.events.every((e: any) => e.keyId === keyId && e.operation === 'key:encrypt'));
    const idx = byKey.events.map((e: any) => e.index);
    assert.deepEqual(idx, [...idx].sort((a: number, b: number) => b - a), 'newest first');

    const page1 = (await t.req('GET', `/v1/audit/events?key=${keyId}&limit=5`, undefined, auditor)).json;
    assert.equal(page1.events.length, 5);
    assert.ok(page1.nextCursor);
    const page2 = (await t.req('GET', `/v1/audit/events?key=${keyId}&limit=5&cursor=${page1.nextCursor}`, undefined, auditor)).json;
    assert.ok(page2.events.length > 0);
    assert.ok(page2.events[0].index < page1.events[4].index);

    const denied = (await t.req('GET', '/v1/audit/events?outcome=deny&principal=app', undefined, auditor)).json;
    assert.ok(denied.events.length >= 1);
    assert.ok(denied.events.every((e: any) => e.outcome === 'deny' && e.principal.name === 'app'));

    const future = (await t.req('GET', '/v1/audit/events?since=2999-01-01T00:00:00Z', undefined, auditor)).json;
    assert.deepEqual(future, { events: [], nextCursor: null });
    const past = (await t.req('GET', '/v1/audit/events?until=2000-01-01T00:00:00Z', undefined, auditor)).json;
    assert.deepEqual(past.events, []);
    assertError(await t.req('GET', '/v1/audit/events?limit=0', undefined, auditor), 400, 'ValidationError', /limit/);
    assertError(await t.req('GET', '/v1/audit/events?bogus=1', undefined, auditor), 400, 'ValidationError', /bogus|additional/i);
  });
});
