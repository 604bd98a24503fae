/**
 * Scheduler against a real SQLite file (SqliteJobStore) with a ManualClock: tick() is driven
 * directly, so nothing sleeps except the few tests of the real timers (start, lease renewal).
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { KeywardenError } from '../errors/catalog.js';
import { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import { ManualClock } from '../util/clock.js';
import { MAX_JOB_ERROR_LENGTH } from './job.model.js';
import type { JobStore } from './job.store.js';
import { Scheduler, type JobLogger, type SchedulerOptions } from './scheduler.js';

const HOUR = 3_600_000;
const LEASE = 60_000;

// The composition root passes its pino logger: it MUST fit JobLogger.
const pinoFits: JobLogger = pino({ level: 'silent' });
void pinoFits;

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Polls `cond` every few ms (real time) until it holds; for the tests of real timers only. */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await sleep(2);
  }
}

/** `store` with some methods replaced (to inject stalls and failures). */
function overriding(store: JobStore, o: Partial<JobStore>): JobStore {
  return {
    upsertJob: (...a) => store.upsertJob(...a),
    getJob: (...a) => store.getJob(...a),
    listJobs: () => store.listJobs(),
    tryAcquire: (...a) => store.tryAcquire(...a),
    renew: (...a) => store.renew(...a),
    complete: (...a) => store.complete(...a),
    release: (...a) => store.release(...a),
    ...o,
  };
}

/** Records every log line so tests can check what was reported. */
function captureLogger(): JobLogger & { lines: Array<{ level: string; obj: object; msg: string }> } {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

describe('Scheduler', () => {
  let dir: string;
  let path: string;
  let clock: ManualClock;
  let dbs: SqliteStore[];
  let schedulers: Scheduler[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keywarden-scheduler-'));
    path = join(dir, 'keywarden.db');
    clock = new ManualClock();
    dbs = [];
    schedulers = [];
  });

  afterEach(async () => {
    for (const s of schedulers) await s.stop();
    for (const db of dbs) await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A new connection to the test's database file (as a new process or node would open it). */
  function openStore(): { store: JobStore; db: SqliteStore } {
    const db = new SqliteStore(path);
    dbs.push(db);
    return { store: db.jobs, db };
  }

  function scheduler(owner: string, opts: Partial<SchedulerOptions> = {}): Scheduler {
    const s = new Scheduler({ store: opts.store ?? openStore().store, clock, owner, leaseMs: LEASE, ...opts });
    schedulers.push(s);
    return s;
  }

  /** A handler that records the `now` of every run. */
  function recorder(result?: { processed: number }) {
    const runs: number[] = [];
    return {
      runs,
      handler: async (now: number) => {
        runs.push(now);
        return result;
      },
    };
  }

  test('a new job is due at once; then it runs every interval, not before', async () => {
    const s = scheduler('node-a');
    const job = recorder({ processed: 3 });
    const t0 = clock.now();
    const registered = await s.register('rotation-due', HOUR, job.handler);
    assert.equal(registered.nextRunAt, t0);

    const first = await s.tick();
    assert.deepEqual(first, {
      now: t0,
      ran: [{ name: 'rotation-due', status: 'ok', processed: 3, startedAt: t0, nextRunAt: t0 + HOUR }],
      skipped: [],
      failed: [],
    });
    assert.deepEqual(job.runs, [t0]);

    assert.deepEqual((await s.tick()).ran, [], 'not again at the same time');
    clock.advance(HOUR - 1);
    assert.deepEqual((await s.tick()).ran, [], 'not before the interval');
    clock.advance(1);
    assert.equal((await s.tick()).ran.length, 1, 'due exactly at next_run_at');
    assert.deepEqual(job.runs, [t0, t0 + HOUR]);

    const [status] = await s.status();
    assert.deepEqual(status, {
      name: 'rotation-due',
      intervalMs: HOUR,
      nextRunAt: t0 + 2 * HOUR,
      lastRunAt: t0 + HOUR,
      lastStatus: 'ok',
      lastError: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      registered: true,
      running: false,
    });
  });

  test('catches up ONCE after a long gap, then resumes the interval from now', async () => {
    const s = scheduler('node-a');
    const job = recorder();
    await s.register('deletion-due', HOUR, job.handler);
    await s.tick();
    clock.advance(10 * HOUR + 123);
    const t = clock.now();
    const report = await s.tick();
    assert.deepEqual(job.runs.slice(1), [t], 'one run for ten missed intervals, at now');
    assert.equal(report.ran[0]?.nextRunAt, t + HOUR);
    assert.deepEqual((await s.tick()).ran, []);
    clock.advance(HOUR);
    await s.tick();
    assert.deepEqual(job.runs.slice(1), [t, t + HOUR]);
  });

  test('survives a restart: the schedule is kept, and a job due during downtime runs on the first tick', async () => {
    const t0 = clock.now();
    const first = openStore();
    const before = scheduler('node-a', { store: first.store });
    const job = recorder();
    await before.register('material-expiry', HOUR, job.handler);
    await before.tick();
    await before.stop();
    await first.db.close();

    // Restart before the job is due: registering again MUST NOT make it due (or reset it).
    clock.advance(HOUR / 2);
    const early = scheduler('node-a', { store: openStore().store });
    const kept = await early.register('material-expiry', HOUR, job.handler);
    assert.equal(kept.nextRunAt, t0 + HOUR);
    assert.equal(kept.lastRunAt, t0);
    assert.deepEqual((await early.tick()).ran, []);
    await early.stop();

    // Down for three intervals: the next process runs the job once, on its first tick.
    clock.advance(3 * HOUR);
    const after = scheduler('node-a', { store: openStore().store });
    await after.register('material-expiry', HOUR, job.handler);
    const report = await after.tick();
    assert.deepEqual(
      report.ran.map((r) => r.name),
      ['material-expiry'],
    );
    assert.deepEqual(job.runs, [t0, clock.now()]);
  });

  test('register with a changed interval updates interval_ms; a shorter one takes effect within one interval', async () => {
    const s1 = scheduler('node-a');
    await s1.register('usage-flush', 24 * HOUR, recorder().handler);
    await s1.tick();
    const s2 = scheduler('node-a');
    const shorter = await s2.register('usage-flush', HOUR, recorder().handler);
    assert.equal(shorter.intervalMs, HOUR);
    assert.equal(shorter.nextRunAt, clock.now() + HOUR);
    const s3 = scheduler('node-a');
    const longer = await s3.register('usage-flush', 2 * HOUR, recorder().handler);
    assert.equal(longer.intervalMs, 2 * HOUR);
    assert.equal(longer.nextRunAt, clock.now() + HOUR, 'a longer interval keeps next_run_at');
  });

  test('register validates its arguments and refuses a second handler for a name', async () => {
    const s = scheduler('node-a');
    for (const [name, interval, message] of [
      ['Bad Name', HOUR, 'job name "Bad Name" must match ^[a-z0-9][a-z0-9-]{0,63}$'],
      ['ok-name', 0, 'job "ok-name": intervalMs must be a positive integer'],
      ['ok-name', 1.5, 'job "ok-name": intervalMs must be a positive integer'],
    ] as const) {
      await assert.rejects(s.register(name, interval, recorder().handler), (e: unknown) => {
        assert.ok(e instanceof KeywardenError);
        assert.equal(e.code, 'ValidationError');
        assert.equal(e.message, message);
        return true;
      });
    }
    await s.register('rotation-due', HOUR, recorder().handler);
    await assert.rejects(s.register('rotation-due', HOUR, recorder().handler), {
      message: 'job "rotation-due" is already registered',
    });
    assert.deepEqual(
      (await s.status()).map((j) => j.name),
      ['rotation-due'],
      'invalid registrations store nothing',
    );
  });

  test('two schedulers on one database: a job runs exactly once per due time', async () => {
    const runs: Array<[owner: string, now: number]> = [];
    const handler = (owner: string) => async (now: number) => {
      runs.push([owner, now]);
      await new Promise((r) => setImmediate(r)); // let the other runner interleave
    };
    const a = scheduler('node-a');
    const b = scheduler('node-b');
    await a.register('rotation-due', HOUR, handler('node-a'));
    await b.register('rotation-due', HOUR, handler('node-b'));

    const dueTimes: number[] = [];
    for (let i = 0; i < 6; i++) {
      dueTimes.push(clock.now());
      const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
      assert.equal(ra.ran.length + rb.ran.length, 1, `exactly one runner ran at interval ${i}`);
      // Ticking again at the same time (a stale view) runs nothing.
      const [again1, again2] = await Promise.all([b.tick(), a.tick()]);
      assert.equal(again1.ran.length + again2.ran.length, 0);
      clock.advance(HOUR);
    }
    assert.deepEqual(
      runs.map(([, now]) => now),
      dueTimes,
    );
  });

  test('a runner that saw the job due before another runner completed it does not run it again', async () => {
    const a = scheduler('node-a');
    const { store } = openStore();
    // node-b lists the job as due, then stalls before taking the lease until node-a is done.
    const gate = deferred();
    const listed = deferred();
    const stalling = overriding(store, {
      listJobs: async () => {
        const jobs = await store.listJobs();
        listed.resolve();
        return jobs;
      },
      tryAcquire: async (...args) => {
        await gate.promise;
        return store.tryAcquire(...args);
      },
    });
    const b = scheduler('node-b', { store: stalling });
    const runs = recorder();
    await a.register('rotation-due', HOUR, runs.handler);
    await b.register('rotation-due', HOUR, runs.handler);
    const tickB = b.tick();
    await listed.promise;
    assert.equal((await a.tick()).ran.length, 1);
    gate.resolve();
    assert.deepEqual(await tickB, { now: clock.now(), ran: [], skipped: ['rotation-due'], failed: [] });
    assert.deepEqual(runs.runs, [clock.now()]);
  });

  test("a crashed runner's lease blocks the job until it expires, then another owner takes over", async () => {
    const { store } = openStore();
    const b = scheduler('node-b');
    const job = recorder();
    await b.register('deletion-due', HOUR, job.handler);
    // node-a took the lease (as its scheduler does before running) and died.
    assert.equal(await store.tryAcquire('deletion-due', 'node-a', clock.now(), LEASE), true);

    assert.deepEqual(await b.tick(), { now: clock.now(), ran: [], skipped: ['deletion-due'], failed: [] });
    assert.equal((await b.status())[0]?.running, true);
    clock.advance(LEASE - 1);
    assert.deepEqual((await b.tick()).skipped, ['deletion-due']);
    clock.advance(1);
    const report = await b.tick();
    assert.deepEqual(
      report.ran.map((r) => [r.name, r.status]),
      [['deletion-due', 'ok']],
    );
    assert.deepEqual(job.runs, [clock.now()]);
    const [status] = await b.status();
    assert.equal(status?.leaseOwner, null, 'the lease is released after the run');
    assert.equal(status?.lastRunAt, clock.now());
  });

  test('a hung run whose lease expired is taken over; its late completion is not recorded', async () => {
    const logA = captureLogger();
    const a = scheduler('node-a', { logger: logA });
    const b = scheduler('node-b');
    const hang = deferred();
    const started = deferred();
    await a.register('rotation-due', HOUR, async () => {
      started.resolve();
      await hang.promise;
    });
    const job = recorder();
    await b.register('rotation-due', HOUR, job.handler);
    const tickA = a.tick();
    await started.promise;
    clock.advance(LEASE);
    const takeover = clock.now();
    assert.equal((await b.tick()).ran.length, 1);
    assert.deepEqual(job.runs, [takeover]);
    hang.resolve();
    await tickA;
    const [status] = await a.status();
    assert.equal(status?.lastRunAt, takeover, "node-b's run is the recorded one");
    assert.equal(status?.nextRunAt, takeover + HOUR);
    assert.ok(logA.lines.some((l) => l.level === 'warn' && /outcome not recorded/.test(l.msg)));
  });

  test('a throwing handler is recorded with a short message; the other jobs still run', async () => {
    const s = scheduler('node-a');
    const a = recorder({ processed: 1 });
    const c = recorder();
    let fail = true;
    await s.register('a-ok', HOUR, a.handler);
    await s.register('b-throws', HOUR, async () => {
      if (fail) throw new Error(`HSM unreachable\n    at slot 0 ${'x'.repeat(500)}`);
    });
    await s.register('c-secret-thrower', HOUR, async () => {
      // Not an Error: the value could be anything (here: something secret); it MUST NOT be stored.
      throw 'root-token-s3cr3t';
    });
    await s.register('d-ok', HOUR, c.handler);
    const t0 = clock.now();
    const report = await s.tick();
    assert.deepEqual(
      report.ran.map((r) => [r.name, r.status]),
      [
        ['a-ok', 'ok'],
        ['b-throws', 'error'],
        ['c-secret-thrower', 'error'],
        ['d-ok', 'ok'],
      ],
    );
    const bMessage = report.ran[1]?.error ?? '';
    assert.equal(bMessage.length, MAX_JOB_ERROR_LENGTH);
    assert.ok(bMessage.startsWith('HSM unreachable at slot 0 xxx'), bMessage);
    assert.ok(bMessage.endsWith('…'));
    assert.equal(report.ran[2]?.error, 'a non-Error value was thrown');
    assert.deepEqual(a.runs, [t0]);
    assert.deepEqual(c.runs, [t0]);

    const status = new Map((await s.status()).map((j) => [j.name, j]));
    assert.equal(status.get('b-throws')?.lastStatus, 'error');
    assert.equal(status.get('b-throws')?.lastError, bMessage);
    assert.equal(status.get('b-throws')?.nextRunAt, t0 + HOUR, 'scheduled normally');
    assert.equal(status.get('b-throws')?.leaseOwner, null, 'lease released');
    assert.equal(status.get('c-secret-thrower')?.lastError, 'a non-Error value was thrown');
    assert.equal(status.get('a-ok')?.lastStatus, 'ok');
    assert.ok(!JSON.stringify(await s.status()).includes('s3cr3t'));

    // Not retried before its next run; a later success clears the error.
    assert.deepEqual((await s.tick()).ran, []);
    fail = false;
    clock.advance(HOUR);
    await s.tick();
    const after = (await s.status()).find((j) => j.name === 'b-throws');
    assert.equal(after?.lastStatus, 'ok');
    assert.equal(after?.lastError, null);
  });

  test('a store failure on one job is reported in failed; the other jobs still run', async () => {
    const { store } = openStore();
    const flaky = overriding(store, {
      tryAcquire: (name, ...rest) =>
        name === 'broken' ? Promise.reject(new Error('database is locked')) : store.tryAcquire(name, ...rest),
    });
    const s = scheduler('node-a', { store: flaky });
    const ok = recorder();
    await s.register('broken', HOUR, recorder().handler);
    await s.register('fine', HOUR, ok.handler);
    const report = await s.tick();
    assert.deepEqual(report.failed, [{ name: 'broken', error: 'database is locked' }]);
    assert.deepEqual(
      report.ran.map((r) => r.name),
      ['fine'],
    );
    assert.equal(ok.runs.length, 1);
  });

  test('runNow runs a job that is not due, under its lease; unknown jobs are NotFound', async () => {
    const { store } = openStore();
    const s = scheduler('node-a', { store });
    const job = recorder();
    await s.register('usage-flush', HOUR, job.handler);
    await s.tick();
    clock.advance(5);
    const r = await s.runNow('usage-flush');
    assert.equal(r?.status, 'ok');
    assert.deepEqual(job.runs, [clock.now() - 5, clock.now()]);
    assert.equal((await store.getJob('usage-flush'))?.nextRunAt, clock.now() + HOUR);

    assert.equal(await store.tryAcquire('usage-flush', 'node-b', clock.now(), LEASE, { force: true }), true);
    assert.equal(await s.runNow('usage-flush'), undefined, 'another runner holds the lease');
    assert.equal(job.runs.length, 2);

    await assert.rejects(s.runNow('nope'), (e: unknown) => {
      assert.ok(e instanceof KeywardenError);
      assert.equal(e.code, 'NotFound');
      assert.equal(e.message, 'job "nope" was not found');
      return true;
    });
  });

  test('status lists rows of jobs not registered here', async () => {
    const other = scheduler('node-b');
    await other.register('orphan-scan', HOUR, recorder().handler);
    const s = scheduler('node-a');
    await s.register('rotation-due', HOUR, recorder().handler);
    assert.deepEqual(
      (await s.status()).map((j) => [j.name, j.registered]),
      [
        ['orphan-scan', false],
        ['rotation-due', true],
      ],
    );
    const report = await s.tick();
    assert.deepEqual(
      report.ran.map((r) => r.name),
      ['rotation-due'],
      'a job without a handler here is left alone',
    );
  });

  test('stop() waits for a running tick to finish and be recorded', async () => {
    const { store } = openStore();
    const s = scheduler('node-a', { store });
    const release = deferred();
    const started = deferred();
    await s.register('rotation-due', HOUR, async () => {
      started.resolve();
      await release.promise;
    });
    s.start(3_600_000); // ticks at once; the next poll is an hour (real time) away
    await started.promise;
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, 'stop() MUST NOT resolve while the handler runs');
    assert.equal((await store.getJob('rotation-due'))?.leaseOwner, 'node-a');
    release.resolve();
    await stopping;
    const job = await store.getJob('rotation-due');
    assert.equal(job?.lastStatus, 'ok');
    assert.equal(job?.leaseOwner, null);
  });

  test('start() polls on a real timer; after stop() nothing runs', async () => {
    const s = scheduler('node-a');
    const job = recorder();
    await s.register('usage-flush', 1000, job.handler);
    s.start(5);
    await until(() => job.runs.length === 1, 'first run on start');
    clock.advance(1000);
    await until(() => job.runs.length === 2, 'second run on a poll');
    await s.stop();
    clock.advance(1000);
    await sleep(30);
    assert.equal(job.runs.length, 2);
  });

  test('a long run renews its lease; a run that lost its lease sees its signal abort', async () => {
    const { store } = openStore();
    const shortLease = 30; // renewed every 10 ms of real time
    const log = captureLogger();
    const s = scheduler('node-a', { store, leaseMs: shortLease, logger: log });
    const release = deferred();
    const started = deferred<AbortSignal>();
    await s.register('rotation-due', HOUR, async (_now, signal) => {
      started.resolve(signal);
      await release.promise;
    });
    const ticking = s.tick();
    const signal = await started.promise;

    clock.advance(10 * shortLease); // far past the original lease
    await until(
      async () => (await store.getJob('rotation-due'))?.leaseExpiresAt === clock.now() + shortLease,
      'lease renewed at the new time',
    );
    assert.equal(await store.tryAcquire('rotation-due', 'node-b', clock.now(), LEASE), false, 'renewed lease is live');

    // Let it expire and take it over before the next renewal (no macrotask runs between the two lines).
    clock.advance(shortLease);
    assert.equal(await store.tryAcquire('rotation-due', 'node-b', clock.now(), LEASE), true);
    await until(() => signal.aborted, 'signal aborted after the lease was lost');
    assert.ok(log.lines.some((l) => l.level === 'warn' && l.msg === 'job lease lost while running'));
    release.resolve();
    await ticking;
    assert.equal((await store.getJob('rotation-due'))?.leaseOwner, 'node-b', "node-b's lease is untouched");
  });
});
