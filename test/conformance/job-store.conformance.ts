/**
 * Backend-independent conformance suite for JobStore (src/jobs/job.store.ts): upsert semantics,
 * listing, and the lease compare-and-set that keeps runners sharing a database from running a job
 * concurrently. It talks ONLY to JobStore, so every backend registers it with its own `open()`:
 *
 *   runJobStoreConformance('SqliteJobStore', async () => ({ jobs, cleanup }));
 *
 * Every test gets a fresh, empty job store and calls `cleanup()` afterwards.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobRecord } from '../../src/jobs/job.model.js';
import type { JobStore } from '../../src/jobs/job.store.js';

export interface OpenedJobStore {
  jobs: JobStore;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const LEASE = 5 * MIN;

function fresh(name: string, intervalMs: number, nextRunAt: number): JobRecord {
  return {
    name,
    intervalMs,
    nextRunAt,
    lastRunAt: null,
    lastStatus: null,
    lastError: null,
    leaseOwner: null,
    leaseExpiresAt: null,
  };
}

export function runJobStoreConformance(name: string, open: () => Promise<OpenedJobStore>): void {
  describe(name, () => {
    let opened: OpenedJobStore | undefined;
    let jobs: JobStore;

    beforeEach(async () => {
      opened = await open();
      jobs = opened.jobs;
    });

    afterEach(async () => {
      const o = opened;
      opened = undefined;
      if (o) await o.cleanup();
    });

    /** A job named `name`, due at T0, interval 1 hour. */
    const due = (n = 'rotation-due') => jobs.upsertJob({ name: n, intervalMs: HOUR, firstRunAt: T0 }, T0);

    describe('upsert and listing', () => {
      test('an empty store lists nothing; unknown jobs give undefined / false', async () => {
        assert.deepEqual(await jobs.listJobs(), []);
        assert.equal(await jobs.getJob('nope'), undefined);
        assert.equal(await jobs.tryAcquire('nope', 'a', T0, LEASE), false);
        assert.equal(await jobs.tryAcquire('nope', 'a', T0, LEASE, { force: true }), false);
        assert.equal(await jobs.renew('nope', 'a', T0, LEASE), false);
        assert.equal(await jobs.complete('nope', 'a', { now: T0, nextRunAt: T0, status: 'ok', error: null }), false);
        assert.equal(await jobs.release('nope', 'a'), false);
        assert.deepEqual(await jobs.listJobs(), [], 'nothing is created by the calls above');
      });

      test('upsertJob creates a job due at firstRunAt with no history and no lease', async () => {
        const created = await jobs.upsertJob({ name: 'deletion-due', intervalMs: 15 * MIN, firstRunAt: T0 + 5 }, T0);
        assert.deepEqual(created, fresh('deletion-due', 15 * MIN, T0 + 5));
        assert.deepEqual(await jobs.getJob('deletion-due'), created);
      });

      test('upsertJob of an existing job keeps next_run_at, history and lease; takes the new interval', async () => {
        await due();
        assert.equal(await jobs.tryAcquire('rotation-due', 'a', T0, LEASE), true);
        assert.equal(await jobs.complete('rotation-due', 'a', { now: T0, nextRunAt: T0 + HOUR, status: 'error', error: 'boom' }), true);
        assert.equal(await jobs.tryAcquire('rotation-due', 'b', T0 + HOUR, LEASE), true);
        const before = await jobs.getJob('rotation-due');

        // Same interval, a later firstRunAt: nothing changes.
        const same = await jobs.upsertJob({ name: 'rotation-due', intervalMs: HOUR, firstRunAt: T0 + 10 * HOUR }, T0 + HOUR);
        assert.deepEqual(same, before);
        // A longer interval: only interval_ms changes (next_run_at is kept).
        const longer = await jobs.upsertJob({ name: 'rotation-due', intervalMs: 2 * HOUR, firstRunAt: T0 + 10 * HOUR }, T0 + HOUR);
        assert.deepEqual(longer, { ...before, intervalMs: 2 * HOUR });
        assert.deepEqual(longer, {
          name: 'rotation-due',
          intervalMs: 2 * HOUR,
          nextRunAt: T0 + HOUR,
          lastRunAt: T0,
          lastStatus: 'error',
          lastError: 'boom',
          leaseOwner: 'b',
          leaseExpiresAt: T0 + HOUR + LEASE,
        });
        assert.deepEqual(await jobs.getJob('rotation-due'), longer);
      });

      test('upsertJob caps next_run_at at now + interval (a shortened interval takes effect)', async () => {
        await jobs.upsertJob({ name: 'usage-flush', intervalMs: 24 * HOUR, firstRunAt: T0 + 24 * HOUR }, T0);
        const shorter = await jobs.upsertJob({ name: 'usage-flush', intervalMs: MIN, firstRunAt: T0 + 7 }, T0 + 3);
        assert.deepEqual(shorter, fresh('usage-flush', MIN, T0 + 3 + MIN));
        // A due job stays due.
        await jobs.upsertJob({ name: 'overdue', intervalMs: HOUR, firstRunAt: T0 }, T0);
        const overdue = await jobs.upsertJob({ name: 'overdue', intervalMs: MIN, firstRunAt: T0 + 5 * HOUR }, T0 + 5 * HOUR);
        assert.equal(overdue.nextRunAt, T0);
      });

      test('listJobs returns full records ordered by name', async () => {
        const names = ['usage-flush', 'deletion-due', 'material-expiry', 'a-job', 'rotation-due', 'z9'];
        const expected: JobRecord[] = [];
        for (const [i, n] of names.entries()) {
          expected.push(await jobs.upsertJob({ name: n, intervalMs: (i + 1) * MIN, firstRunAt: T0 + i }, T0));
        }
        assert.equal(await jobs.tryAcquire('material-expiry', 'a', T0 + 100, LEASE), true);
        const got = await jobs.listJobs();
        assert.deepEqual(
          got.map((j) => j.name),
          [...names].sort(),
        );
        const byName = new Map(expected.map((j) => [j.name, j]));
        for (const j of got) {
          const e = byName.get(j.name)!;
          assert.deepEqual(j, j.name === 'material-expiry' ? { ...e, leaseOwner: 'a', leaseExpiresAt: T0 + 100 + LEASE } : e);
        }
      });
    });

    describe('lease', () => {
      test('tryAcquire takes a due job for owner until now + leaseMs', async () => {
        await due();
        assert.equal(await jobs.tryAcquire('rotation-due', 'node-a', T0 + 1, LEASE), true);
        assert.deepEqual(await jobs.getJob('rotation-due'), {
          ...fresh('rotation-due', HOUR, T0),
          leaseOwner: 'node-a',
          leaseExpiresAt: T0 + 1 + LEASE,
        });
      });

      test('tryAcquire refuses a job that is not due yet, unless forced', async () => {
        await jobs.upsertJob({ name: 'later', intervalMs: HOUR, firstRunAt: T0 + 10 }, T0);
        assert.equal(await jobs.tryAcquire('later', 'a', T0 + 9, LEASE), false);
        assert.equal((await jobs.getJob('later'))?.leaseOwner, null);
        assert.equal(await jobs.tryAcquire('later', 'a', T0 + 9, LEASE, { force: true }), true);
        assert.equal((await jobs.getJob('later'))?.leaseOwner, 'a');
        // Due exactly at next_run_at.
        await jobs.upsertJob({ name: 'exact', intervalMs: HOUR, firstRunAt: T0 + 10 }, T0);
        assert.equal(await jobs.tryAcquire('exact', 'a', T0 + 10, LEASE), true);
      });

      test('a live lease blocks every other acquirer (and the owner itself), forced or not', async () => {
        await due();
        assert.equal(await jobs.tryAcquire('rotation-due', 'a', T0, LEASE), true);
        for (const at of [T0, T0 + 1, T0 + LEASE - 1]) {
          assert.equal(await jobs.tryAcquire('rotation-due', 'b', at, LEASE), false, `b at +${at - T0}`);
          assert.equal(await jobs.tryAcquire('rotation-due', 'b', at, LEASE, { force: true }), false, `forced b at +${at - T0}`);
          assert.equal(await jobs.tryAcquire('rotation-due', 'a', at, LEASE), false, `a again at +${at - T0}`);
        }
        const j = await jobs.getJob('rotation-due');
        assert.equal(j?.leaseOwner, 'a');
        assert.equal(j?.leaseExpiresAt, T0 + LEASE, 'failed attempts do not move the lease');
      });

      test('an expired lease (crashed runner) is taken over at lease_expires_at', async () => {
        await due();
        assert.equal(await jobs.tryAcquire('rotation-due', 'crashed', T0, LEASE), true);
        assert.equal(await jobs.tryAcquire('rotation-due', 'b', T0 + LEASE, LEASE), true);
        const j = await jobs.getJob('rotation-due');
        assert.equal(j?.leaseOwner, 'b');
        assert.equal(j?.leaseExpiresAt, T0 + 2 * LEASE);
        // The crashed runner's late completion is ignored.
        assert.equal(await jobs.complete('rotation-due', 'crashed', { now: T0 + 3, nextRunAt: T0 + 99, status: 'ok', error: null }), false);
        assert.deepEqual(await jobs.getJob('rotation-due'), j);
      });

      test('complete by the owner records the run and releases the lease', async () => {
        await due();
        assert.equal(await jobs.tryAcquire('rotation-due', 'a', T0 + 5, LEASE), true);
        assert.equal(await jobs.complete('rotation-due', 'a', { now: T0 + 5, nextRunAt: T0 + 5 + HOUR, status: 'ok', error: null }), true);
        assert.deepEqual(await jobs.getJob('rotation-due'), {
          ...fresh('rotation-due', HOUR, T0 + 5 + HOUR),
          lastRunAt: T0 + 5,
          lastStatus: 'ok',
        });
      });

      test('after a completed run, the job is not due again: a runner with a stale view cannot re-run it', async () => {
        await due();
        assert.equal(await jobs.tryAcquire('rotation-due', 'a', T0, LEASE), true);
        assert.equal(await jobs.complete('rotation-due', 'a', { now: T0, nextRunAt: T0 + HOUR, status: 'ok', error: null }), true);
        assert.equal(await jobs.tryAcquire('rotation-due', 'b', T0 + 1, LEASE), false);
        assert.equal(await jobs.tryAcquire('rotation-due', 'b', T0 + HOUR, LEASE), true);
      });

      test('complete records an error, and a later ok clears it', async () => {
        await due();
        await jobs.tryAcquire('rotation-due', 'a', T0, LEASE);
        assert.equal(await jobs.complete('rotation-due', 'a', { now: T0, nextRunAt: T0 + HOUR, status: 'error', error: 'store unavailable' }), true);
        let j = await jobs.getJob('rotation-due');
        assert.equal(j?.lastStatus, 'error');
        assert.equal(j?.lastError, 'store unavailable');
        assert.equal(j?.leaseOwner, null);
        await jobs.tryAcquire('rotation-due', 'a', T0 + HOUR, LEASE);
        assert.equal(await jobs.complete('rotation-due', 'a', { now: T0 + HOUR, nextRunAt: T0 + 2 * HOUR, status: 'ok', error: null }), true);
        j = await jobs.getJob('rotation-due');
        assert.equal(j?.lastStatus, 'ok');
        assert.equal(j?.lastError, null);
        assert.equal(j?.lastRunAt, T0 + HOUR);
      });

      test('complete by a non-owner is ignored (no lease, or another owner\'s lease)', async () => {
        await due();
        const untouched = await jobs.getJob('rotation-due');
        assert.equal(await jobs.complete('rotation-due', 'a', { now: T0, nextRunAt: T0 + HOUR, status: 'ok', error: null }), false);
        assert.deepEqual(await jobs.getJob('rotation-due'), untouched, 'no lease: nothing recorded');
        assert.equal(await jobs.tryAcquire('rotation-due', 'a', T0, LEASE), true);
        const leased = await jobs.getJob('rotation-due');
        assert.equal(await jobs.complete('rotation-due', 'b', { now: T0, nextRunAt: T0 + HOUR, status: 'error', error: 'x' }), false);
        assert.deepEqual(await jobs.getJob('rotation-due'), leased, "another owner's lease: nothing recorded, lease kept");
      });

      test('complete by the owner of an expired lease that nobody took over is recorded', async () => {
        await due();
        await jobs.tryAcquire('rotation-due', 'slow', T0, LEASE);
        assert.equal(
          await jobs.complete('rotation-due', 'slow', { now: T0, nextRunAt: T0 + HOUR, status: 'ok', error: null }),
          true,
        );
        assert.equal((await jobs.getJob('rotation-due'))?.leaseOwner, null);
      });

      test('renew extends the owner\'s lease only', async () => {
        await due();
        await jobs.tryAcquire('rotation-due', 'a', T0, LEASE);
        assert.equal(await jobs.renew('rotation-due', 'b', T0 + MIN, LEASE), false);
        assert.equal((await jobs.getJob('rotation-due'))?.leaseExpiresAt, T0 + LEASE);
        assert.equal(await jobs.renew('rotation-due', 'a', T0 + 4 * MIN, LEASE), true);
        assert.equal((await jobs.getJob('rotation-due'))?.leaseExpiresAt, T0 + 4 * MIN + LEASE);
        assert.equal(await jobs.tryAcquire('rotation-due', 'b', T0 + LEASE, LEASE), false, 'the renewed lease is live');
      });

      test('release drops the owner\'s lease without recording a run; a non-owner cannot release', async () => {
        await due();
        await jobs.tryAcquire('rotation-due', 'a', T0, LEASE);
        assert.equal(await jobs.release('rotation-due', 'b'), false);
        assert.equal((await jobs.getJob('rotation-due'))?.leaseOwner, 'a');
        assert.equal(await jobs.release('rotation-due', 'a'), true);
        assert.deepEqual(await jobs.getJob('rotation-due'), fresh('rotation-due', HOUR, T0));
        assert.equal(await jobs.tryAcquire('rotation-due', 'b', T0 + 1, LEASE), true, 'still due, free to take');
      });

      test('leases are per job', async () => {
        await due('one');
        await due('two');
        assert.equal(await jobs.tryAcquire('one', 'a', T0, LEASE), true);
        assert.equal(await jobs.tryAcquire('two', 'b', T0, LEASE), true);
        assert.equal(await jobs.complete('one', 'b', { now: T0, nextRunAt: T0 + HOUR, status: 'ok', error: null }), false);
        assert.equal(await jobs.complete('two', 'b', { now: T0, nextRunAt: T0 + HOUR, status: 'ok', error: null }), true);
        assert.equal((await jobs.getJob('one'))?.leaseOwner, 'a');
      });

      test('only one of many concurrent acquirers wins', async () => {
        await due();
        const owners = Array.from({ length: 8 }, (_, i) => `node-${i}`);
        const won = await Promise.all(owners.map((o) => jobs.tryAcquire('rotation-due', o, T0, LEASE)));
        assert.equal(won.filter(Boolean).length, 1);
        assert.equal((await jobs.getJob('rotation-due'))?.leaseOwner, owners[won.indexOf(true)]);
      });
    });
  });
}
