/**
 * Durable job runner for the key lifecycle (issue "[2/10] Key lifecycle", item 7).
 *
 * Contracts:
 * - The schedule lives in the JobStore, never only in memory: a restart keeps it.
 * - A job whose next_run_at <= now runs ONCE per tick, however many intervals were missed
 *   (handlers process everything due at `now`), then next_run_at = now + interval_ms.
 * - A job MUST NOT run without holding its lease: tryAcquire is a compare-and-set in the store, so
 *   runners sharing a database (several processes, later several nodes) never run one job
 *   concurrently, and a job runs once per due time. The lease is renewed while the handler runs
 *   (every leaseMs/3) and released when the run is recorded; a crashed runner's lease expires
 *   after leaseMs and another runner takes the job over.
 * - A failing handler is recorded (last_status 'error', short message), its job is scheduled
 *   normally and the other jobs of the tick still run. tick() rejects only when listing jobs fails.
 * - Time comes from the injected Clock (ARCHITECTURE rule 6); tests drive tick() directly.
 */
import { errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import {
  JOB_NAME_RE,
  MAX_JOB_ERROR_LENGTH,
  type JobHandler,
  type JobRecord,
  type JobRunResult,
  type JobStatus,
  type TickReport,
} from './job.model.js';
import type { JobStore } from './job.store.js';

/** The subset of pino's Logger the scheduler uses. */
export interface JobLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const silent: JobLogger = { info() {}, warn() {}, error() {} };

export interface SchedulerOptions {
  store: JobStore;
  clock: Clock;
  /** Identifies this runner in leases; MUST be unique among runners sharing the database (e.g. `${hostname}:${pid}`). */
  owner: string;
  /** How long a lease lasts without renewal, i.e. how soon a crashed run is taken over. Default 5 minutes. */
  leaseMs?: number;
  logger?: JobLogger;
  /**
   * Several nodes (src/cluster/cluster.ts): the timer runs jobs only while tryAcquire() says this
   * node holds the leader lock (asked at every poll, so a follower takes over within one poll of
   * the leader's death). The per-job leases stay the second guard. tick() and runNow() ignore it.
   */
  leader?: { tryAcquire(): Promise<boolean> };
}

export const DEFAULT_LEASE_MS = 5 * 60_000;
export const DEFAULT_POLL_MS = 10_000;

/**
 * The message stored in last_error: the Error's message only (no stack, no cause, no
 * non-Error value, which could be anything), one line with whitespace collapsed, at most MAX_JOB_ERROR_LENGTH characters.
 */
export function shortErrorMessage(e: unknown): string {
  const raw = e instanceof Error ? e.message || e.name : 'a non-Error value was thrown';
  const line = raw.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim() || 'error';
  return line.length > MAX_JOB_ERROR_LENGTH ? `${line.slice(0, MAX_JOB_ERROR_LENGTH - 1)}…` : line;
}

export class Scheduler {
  readonly #store: JobStore;
  readonly #clock: Clock;
  readonly #owner: string;
  readonly #leaseMs: number;
  readonly #log: JobLogger;
  readonly #leader: SchedulerOptions['leader'];
  readonly #handlers = new Map<string, JobHandler>();
  /** Every tick/runNow in progress; stop() waits for all of them. */
  readonly #inflight = new Set<Promise<unknown>>();
  /** Ticks run one after another, never overlapping. */
  #tickChain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #timerTickBusy = false;

  constructor(opts: SchedulerOptions) {
    const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    if (!opts.owner) throw errors.validation('scheduler owner must not be empty');
    if (!Number.isSafeInteger(leaseMs) || leaseMs <= 0) throw errors.validation('leaseMs must be a positive integer');
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#owner = opts.owner;
    this.#leaseMs = leaseMs;
    this.#log = opts.logger ?? silent;
    this.#leader = opts.leader;
  }

  /**
   * Registers the handler of a job and upserts its row: a new job is due immediately; an existing
   * one keeps its next_run_at (capped at now + intervalMs) and takes the new interval.
   * A name MUST be registered at most once per Scheduler.
   */
  async register(name: string, intervalMs: number, handler: JobHandler): Promise<JobRecord> {
    if (!JOB_NAME_RE.test(name)) throw errors.validation(`job name "${name.slice(0, 64)}" must match ${JOB_NAME_RE.source}`);
    if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) throw errors.validation(`job "${name}": intervalMs must be a positive integer`);
    if (this.#handlers.has(name)) throw new Error(`job "${name}" is already registered`);
    this.#handlers.set(name, handler);
    const now = this.#clock.now();
    try {
      return await this.#store.upsertJob({ name, intervalMs, firstRunAt: now }, now);
    } catch (e) {
      this.#handlers.delete(name);
      throw e;
    }
  }

  /** Runs every registered job that is due now, once each (concurrently), and reports what ran. */
  tick(): Promise<TickReport> {
    const p = this.#tickChain.then(() => this.#tick());
    this.#tickChain = p.catch(() => undefined);
    return this.#track(p);
  }

  /**
   * Runs a registered job now, due or not (still under its lease). Resolves undefined when another
   * runner holds the lease. Unknown job: NotFound.
   */
  runNow(name: string): Promise<JobRunResult | undefined> {
    return this.#track(
      (async () => {
        const job = this.#handlers.has(name) ? await this.#store.getJob(name) : undefined;
        if (job === undefined) throw errors.notFound(`job "${name}"`);
        return this.#run(job, this.#clock.now(), true);
      })(),
    );
  }

  /** Every job in the store (including rows no handler here is registered for), ordered by name. */
  async status(): Promise<JobStatus[]> {
    const now = this.#clock.now();
    return (await this.#store.listJobs()).map((j) => ({
      ...j,
      registered: this.#handlers.has(j.name),
      running: j.leaseOwner !== null && j.leaseExpiresAt !== null && j.leaseExpiresAt > now,
    }));
  }

  /** Ticks now and then every pollMs on an unref'd timer (it never keeps the process alive). Idempotent. */
  start(pollMs: number = DEFAULT_POLL_MS): void {
    if (!Number.isSafeInteger(pollMs) || pollMs <= 0) throw errors.validation('pollMs must be a positive integer');
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#onTimer(), pollMs);
    this.#timer.unref();
    this.#onTimer();
  }

  /** Stops the timer and resolves once every tick/runNow in progress has finished (and been recorded). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #onTimer(): void {
    if (this.#timerTickBusy) return; // MUST NOT pile up ticks behind a slow one
    this.#timerTickBusy = true;
    const leader = this.#leader;
    // A lock check that fails counts as "not leader" (fail closed): no jobs this poll.
    const leading = leader === undefined ? Promise.resolve(true) : leader.tryAcquire().catch(() => false);
    this.#track(leading.then((ok) => (ok && this.#timer !== undefined ? this.tick() : undefined)))
      .catch((e: unknown) => this.#log.error({ err: shortErrorMessage(e) }, 'scheduler tick failed'))
      .finally(() => {
        this.#timerTickBusy = false;
      });
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    p.then(done, done);
    return p;
  }

  async #tick(): Promise<TickReport> {
    const now = this.#clock.now();
    const due = (await this.#store.listJobs()).filter((j) => this.#handlers.has(j.name) && j.nextRunAt <= now);
    // allSettled: a store failure on one job MUST NOT abandon the others mid-run.
    const results = await Promise.allSettled(due.map((j) => this.#run(j, now, false)));
    const report: TickReport = { now, ran: [], skipped: [], failed: [] };
    due.forEach((j, i) => {
      const r = results[i]!;
      if (r.status === 'rejected') {
        const error = shortErrorMessage(r.reason);
        this.#log.error({ job: j.name, err: error }, 'could not start job');
        report.failed.push({ name: j.name, error });
      } else if (r.value === undefined) report.skipped.push(j.name);
      else report.ran.push(r.value);
    });
    return report;
  }

  /** One run under the lease; undefined when the lease was not acquired. Rejects only on store failure. */
  async #run(job: JobRecord, now: number, force: boolean): Promise<JobRunResult | undefined> {
    const { name } = job;
    const handler = this.#handlers.get(name);
    if (handler === undefined) return undefined;
    if (!(await this.#store.tryAcquire(name, this.#owner, now, this.#leaseMs, { force }))) return undefined;

    const lost = new AbortController();
    let finished = false; // a renewal answering after the run MUST NOT report a lost lease
    const renewal = setInterval(() => {
      this.#store.renew(name, this.#owner, this.#clock.now(), this.#leaseMs).then(
        (held) => {
          if (!held && !finished && !lost.signal.aborted) {
            this.#log.warn({ job: name }, 'job lease lost while running');
            lost.abort();
          }
        },
        (e: unknown) => this.#log.warn({ job: name, err: shortErrorMessage(e) }, 'job lease renewal failed'),
      );
    }, Math.max(1, Math.floor(this.#leaseMs / 3)));
    renewal.unref();

    const result: JobRunResult = { name, status: 'ok', startedAt: now, nextRunAt: now + job.intervalMs };
    try {
      const out = await handler(now, lost.signal);
      if (out && typeof out.processed === 'number') result.processed = out.processed;
    } catch (e) {
      result.status = 'error';
      result.error = shortErrorMessage(e);
    } finally {
      finished = true;
      clearInterval(renewal);
    }

    try {
      const recorded = await this.#store.complete(name, this.#owner, {
        now,
        nextRunAt: result.nextRunAt,
        status: result.status,
        error: result.error ?? null,
      });
      if (!recorded) this.#log.warn({ job: name }, 'job lease was taken over before the run finished; outcome not recorded');
    } catch (e) {
      // The lease expires on its own and the (idempotent) job runs again.
      this.#log.error({ job: name, err: shortErrorMessage(e) }, 'could not record job run');
    }
    if (result.status === 'ok') this.#log.info({ job: name, processed: result.processed }, 'job ran');
    else this.#log.warn({ job: name, err: result.error }, 'job failed');
    return result;
  }
}
