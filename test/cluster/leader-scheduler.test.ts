/**
 * The scheduler's timer runs jobs only while this node holds the leader lock (asked at every
 * poll); a lock check that fails counts as "not leader". Real SQLite job store, injected clock.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from '../../src/jobs/scheduler.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ManualClock } from '../../src/util/clock.js';

let dir: string;
let store: SqliteStore;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kw-leader-'));
  store = new SqliteStore(join(dir, 'kw.db'));
});

after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('jobs run on the timer only while tryAcquire says leader; a failing check is "not leader"', async () => {
  const clock = new ManualClock();
  let mode: 'follower' | 'leader' | 'broken' = 'follower';
  let asked = 0;
  const leader = {
    tryAcquire: async () => {
      asked++;
      if (mode === 'broken') throw new Error('lock connection lost');
      return mode === 'leader';
    },
  };
  const s = new Scheduler({ store: store.jobs, clock, owner: 'node-a', leader });
  let runs = 0;
  await s.register('leader-only', 60_000, async () => {
    runs++;
    return { processed: 1 };
  });
  s.start(20);
  try {
    await sleep(150);
    assert.ok(asked >= 3, 'the lock is asked at every poll');
    assert.equal(runs, 0, 'a follower runs nothing');

    mode = 'broken';
    await sleep(100);
    assert.equal(runs, 0, 'a failing lock check runs nothing (fail closed)');

    mode = 'leader';
    for (let i = 0; i < 50 && runs === 0; i++) await sleep(20);
    assert.equal(runs, 1, 'the leader runs the due job once');
    await sleep(100);
    assert.equal(runs, 1, 'and not again before it is due');
  } finally {
    await s.stop();
  }
  // tick() (tests, runNow) ignores leadership: the lease is its guard.
  mode = 'follower';
  clock.advance(60_000);
  assert.deepEqual((await s.tick()).ran.map((r) => r.name), ['leader-only']);
});
