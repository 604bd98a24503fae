/**
 * The PostgreSQL cluster seam against a real PostgreSQL (test/support/postgres.ts): two stores on
 * one schema stand for two nodes. Change feed (LISTEN/NOTIFY: delivered to the other node, own
 * changes once, other schemas never, re-LISTEN + `all` after the connection is killed) and leader
 * lock (one holder; released or killed -> the other takes it; a holder whose session was killed
 * stops calling itself leader).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js';
import type { Change } from '../../src/cluster/cluster.js';
import { freshSchema } from '../support/postgres.js';

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 5_000): Promise<number> => {
  const t0 = performance.now();
  while (!(await ok())) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - t0;
};

async function open(url: string) {
  const store = await PostgresStore.open({ url, pool: { max: 3 } });
  await store.cluster.start();
  const seen: Change[] = [];
  store.cluster.feed.subscribe((c) => seen.push(c));
  return { store, seen };
}

/** Terminates the backends of `store`'s dedicated connection that runs `like` (LISTEN or the lock). */
async function killBackends(admin: pg.Client, like: string): Promise<number> {
  const r = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE $1 AND pid <> pg_backend_pid()`, [like]);
  return r.rowCount ?? 0;
}

describe('PostgreSQL cluster: change feed and leader lock', () => {
  let url: string;
  let a: Awaited<ReturnType<typeof open>>;
  let b: Awaited<ReturnType<typeof open>>;
  let other: Awaited<ReturnType<typeof open>>;
  let admin: pg.Client;

  before(async () => {
    url = await freshSchema();
    a = await open(url);
    b = await open(url);
    other = await open(await freshSchema());
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });

  after(async () => {
    await admin.end();
    await Promise.all([a.store.close(), b.store.close(), other.store.close()]);
  });

  test('a change reaches the other node (with its origin) and this node once; never another schema', async () => {
    a.seen.length = b.seen.length = other.seen.length = 0;
    await a.store.cluster.feed.publish({ topic: 'key', id: 'k-1' });
    const ms = await until('b hears the change', () => b.seen.length > 0);
    assert.deepEqual(b.seen, [{ topic: 'key', id: 'k-1', origin: a.store.cluster.node }]);
    assert.ok(ms < 1000, `delivered in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(a.seen, [{ topic: 'key', id: 'k-1', origin: a.store.cluster.node }], 'delivered locally once, not again by NOTIFY');
    assert.deepEqual(other.seen, [], 'another schema (another deployment) hears nothing');
    assert.notEqual(a.store.cluster.node, b.store.cluster.node);
  });

  test('the NOTIFY payload holds topic and id only (no values)', async () => {
    const l = new pg.Client({ connectionString: url });
    await l.connect();
    const payloads: string[] = [];
    l.on('notification', (m) => payloads.push(m.payload ?? ''));
    await l.query('LISTEN keywarden_changes');
    await a.store.cluster.feed.publish({ topic: 'access-key', id: 'AKKWEXAMPLE' });
    await until('payload', () => payloads.length > 0);
    await l.end();
    assert.deepEqual(Object.keys(JSON.parse(payloads[0]!)).sort(), ['i', 'n', 's', 't']);
    assert.equal(JSON.parse(payloads[0]!).i, 'AKKWEXAMPLE');
  });

  test('the listening connection killed: the feed re-LISTENs, reports `all`, and delivers again', async () => {
    b.seen.length = 0;
    assert.ok((await killBackends(admin, 'LISTEN keywarden_changes')) >= 2);
    await until('b reports that changes may have been missed', () => b.seen.some((c) => c.topic === 'all'));
    await until('a re-listens too', () => a.seen.some((c) => c.topic === 'all'));
    b.seen.length = 0;
    await a.store.cluster.feed.publish({ topic: 'policy' });
    await until('b hears changes again', () => b.seen.some((c) => c.topic === 'policy'));
  });

  test('leader lock: one holder; released -> the other takes it; its session killed -> it is no longer leader and the other takes over', async () => {
    const [la, lb] = [a.store.cluster.leader, b.store.cluster.leader];
    assert.equal(await la.tryAcquire(), true);
    assert.equal(await lb.tryAcquire(), false, 'held by a');
    assert.equal(await la.tryAcquire(), true, 'a re-confirms its lock');
    assert.equal(await other.store.cluster.leader.tryAcquire(), true, 'another schema has its own lock');
    assert.deepEqual([la.isLeader(), lb.isLeader()], [true, false]);

    await la.release();
    assert.equal(la.isLeader(), false);
    assert.equal(await lb.tryAcquire(), true, 'b takes the released lock');
    assert.equal(await la.tryAcquire(), false);

    // b's lock session dies (as if its process were killed, or PostgreSQL dropped it).
    const pid = (await admin.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows
      .map((r) => r.pid as number);
    assert.ok(pid.length >= 1);
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pid]);
    // Noticed from the connection's own error event, before anyone asks.
    await until('b notices it lost the lock', () => !lb.isLeader(), 5_000);
    assert.equal(await la.tryAcquire(), true, 'the lock was freed with the session: a takes over');
    assert.equal(lb.isLeader(), false);
    assert.equal(await lb.tryAcquire(), false, 'exactly one leader');
    await la.release();
  });
});
