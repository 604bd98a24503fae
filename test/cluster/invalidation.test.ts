/**
 * Cross-node cache invalidation with two in-process Keywardens on one PostgreSQL database, driven
 * through their HTTP APIs (inject). The clock is frozen (ManualClock) on both, so no cache TTL
 * ever runs out: a refusal on node B can only come from the change A announced. Plus the SQLite
 * side: the loop-back feed, and every write method of the real stores classified.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeywarden, type Keywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { ManualClock } from '../../src/util/clock.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ANNOUNCE_RULES, READ_METHOD, announceChanges } from '../../src/cluster/announce.js';
import type { Change } from '../../src/cluster/cluster.js';
import type { Store } from '../../src/storage/store.js';
import { freshDatabase } from '../support/postgres.js';

type Req = (method: string, url: string, body?: unknown) => Promise<{ status: number; json: any }>;

function client(kw: Keywarden, token: string): Req {
  return async (method, url, body) => {
    const r = await kw.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
    return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined };
  };
}

/** Polls `f` until it returns true; resolves the milliseconds it took (fails after `ms`). */
async function within(ms: number, what: string, f: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await f()) return performance.now() - t0;
    if (performance.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const PLAIN = Buffer.from('cluster').toString('base64');

describe('two nodes on one PostgreSQL: a change on A is seen on B at once (TTLs frozen)', () => {
  const clock = new ManualClock();
  let dir: string;
  let a: Keywarden;
  let b: Keywarden;
  let onA: Req;
  let onB: Req;

  before(async () => {
    const url = await freshDatabase();
    dir = await mkdtemp(join(tmpdir(), 'kw-cluster-'));
    a = await createKeywarden({ storage: { type: 'postgres', url, pool: { max: 4 } }, seal: 'dev', logger: false, clock });
    await bootDevSeal(a.seal, dir);
    b = await createKeywarden({ storage: { type: 'postgres', url, pool: { max: 4 } }, seal: 'dev', logger: false, clock });
    await bootDevSeal(b.seal, dir); // each node unseals itself (here: the same dev key file)
    const token = await a.tokens.createRootToken();
    onA = client(a, token);
    onB = client(b, token);
  });

  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  test('a key disabled on A is refused on B; enabled again, B encrypts again', async () => {
    const key = (await onA('POST', '/v1/keys', { description: 'k' })).json.key.id as string;
    assert.equal((await onB('POST', `/v1/keys/${key}/encrypt`, { plaintext: PLAIN })).status, 200, 'B has the key cached');
    assert.equal((await onA('POST', `/v1/keys/${key}/disable`)).status, 200);
    const ms = await within(1000, 'B refuses the disabled key', async () => (await onB('POST', `/v1/keys/${key}/encrypt`, { plaintext: PLAIN })).status === 409);
    const r = await onB('POST', `/v1/keys/${key}/encrypt`, { plaintext: PLAIN });
    assert.equal(r.json.error.code, 'Disabled');
    assert.ok(ms < 1000, `refused on B ${Math.round(ms)} ms after the disable on A`);
    assert.equal((await onA('POST', `/v1/keys/${key}/enable`)).status, 200);
    await within(1000, 'B encrypts again', async () => (await onB('POST', `/v1/keys/${key}/encrypt`, { plaintext: PLAIN })).status === 200);
  });

  test('a version disabled on A: its ciphertexts stop decrypting on B (cached material is re-checked)', async () => {
    const key = (await onA('POST', '/v1/keys', { description: 'v' })).json.key.id as string;
    const ct = (await onB('POST', `/v1/keys/${key}/encrypt`, { plaintext: PLAIN })).json.ciphertext as string;
    assert.equal((await onB('POST', '/v1/decrypt', { ciphertext: ct })).status, 200, 'B caches version 1');
    assert.equal((await onA('POST', `/v1/keys/${key}/rotate`)).status, 200);
    assert.equal((await onA('POST', `/v1/keys/${key}/versions/1/disable`)).status, 200);
    await within(1000, 'B refuses version 1', async () => (await onB('POST', '/v1/decrypt', { ciphertext: ct })).status === 409);
    const r = await onB('POST', '/v1/decrypt', { ciphertext: ct });
    assert.equal(r.json.error.code, 'Disabled');
    assert.match(r.json.error.message, /version 1 .* is disabled/);
    // B encrypts under the new primary (its record of the key was dropped too).
    assert.equal((await onB('POST', `/v1/keys/${key}/encrypt`, { plaintext: PLAIN })).json.keyVersion, 2);
  });

  test('a change B built from a read made before A disabled the key is refused: it cannot re-enable the key', async () => {
    const key = (await onA('POST', '/v1/keys', { description: 'race' })).json.key.id as string;
    const readOnB = await b.keys.findById(key);
    assert.equal(readOnB?.state, 'Enabled');
    assert.equal((await onA('POST', `/v1/keys/${key}/disable`)).status, 200);
    // B's edit lands after A's disable but was computed from the Enabled record (the race a cache or a slow request makes).
    await assert.rejects(b.keys.update(readOnB!, { description: 'edited on B' }), (e: any) => e.code === 'InvalidState' && /changed by another request or node/.test(e.message));
    for (const on of [onA, onB]) {
      const k = (await on('GET', `/v1/keys/${key}`)).json.key;
      assert.deepEqual([k.state, k.description], ['Disabled', 'race']);
    }
    // Read again, the edit goes through and the key stays disabled.
    assert.equal((await onB('PATCH', `/v1/keys/${key}`, { description: 'edited on B' })).status, 200);
    assert.equal((await onA('GET', `/v1/keys/${key}`)).json.key.state, 'Disabled');
  });

  test('a new policy document stored on A is in force on B', async () => {
    const before = (await onB('GET', '/v1/policy')).json.version as number;
    const doc = (await onA('GET', '/v1/policy')).json.document;
    assert.equal((await onA('PUT', '/v1/policy', doc)).status, 200);
    await within(1000, 'B has the new version', async () => (await onB('GET', '/v1/policy')).json.version === before + 1);
  });

  test('health names each node and its role: exactly one leader once the lock is taken', async () => {
    assert.equal(await a.store.cluster.leader.tryAcquire(), true);
    assert.equal(await b.store.cluster.leader.tryAcquire(), false);
    const [ha, hb] = [(await onA('GET', '/v1/sys/health')).json, (await onB('GET', '/v1/sys/health')).json];
    assert.deepEqual([ha.cluster.role, hb.cluster.role, ha.cluster.backend], ['leader', 'follower', 'postgres']);
    assert.notEqual(ha.cluster.node, hb.cluster.node);
    const rb = (await onB('GET', '/v1/sys/health/ready')).json;
    assert.equal(rb.ready, true, 'a follower serves (and is ready) all the same');
    assert.equal(rb.leader, false);
    assert.equal(rb.cluster.role, 'follower');
    const scrape = async (kw: Keywarden) => (await kw.app.inject({ method: 'GET', url: '/v1/sys/metrics', headers: { authorization: `Bearer ${await kw.tokens.createRootToken()}` } })).body;
    assert.match(await scrape(a), /^keywarden_cluster_leader 1$/m);
    assert.match(await scrape(b), /^keywarden_cluster_leader 0$/m);
  });
});

describe('SQLite: one node', () => {
  let dir: string;
  let store: SqliteStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-cluster-sqlite-'));
    store = new SqliteStore(join(dir, 'kw.db'));
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('always the leader; changes loop back to this process with its origin', async () => {
    assert.equal(await store.cluster.leader.tryAcquire(), true);
    assert.equal(store.cluster.leader.isLeader(), true);
    const seen: Change[] = [];
    store.cluster.feed.subscribe((c) => seen.push(c));
    await store.cluster.feed.publish({ topic: 'key', id: 'x' });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [{ topic: 'key', id: 'x', origin: store.cluster.node }]);
  });

  test('announced writes publish after they committed (with the id they name); reads and quiet writes do not', async () => {
    const wrapped = announceChanges(store);
    const seen: Change[] = [];
    const stop = store.cluster.feed.subscribe((c) => seen.push(c));
    const id = '11111111-2222-4333-8444-555555555555';
    await wrapped.policies.listPolicyVersions();
    await wrapped.principals.revokeToken('jti-1', 4_102_444_800_000);
    await wrapped.principals.purgeRevokedTokens(0);
    assert.equal(await wrapped.keys.getKey(id), undefined);
    await new Promise((r) => setImmediate(r));
    stop();
    assert.deepEqual(seen.map((c) => [c.topic, c.id]), [['token', 'jti-1']]);
    assert.equal(wrapped.cluster, store.cluster, 'other members pass through');
  });

  test('every method of the wrapped stores is classified (read, quiet or announced)', () => {
    const unclassified: string[] = [];
    for (const [name, rules] of Object.entries(ANNOUNCE_RULES)) {
      const sub = store[name as keyof Store] as object;
      const methods = new Set<string>();
      for (let o: object | null = sub; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
        for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor' && typeof (sub as Record<string, unknown>)[k] === 'function') methods.add(k);
      }
      for (const m of methods) {
        if (!(m in rules!.announced) && !rules!.quiet.includes(m) && !READ_METHOD.test(m)) unclassified.push(`${name}.${m}`);
      }
    }
    assert.deepEqual(unclassified, [], 'classify these in src/cluster/announce.ts (announced: a node caches what they change; quiet: nobody does)');
  });
});
