import type { JobRecord, JobRunStatus } from './job.model.js';

/**
 * Persistence of scheduled jobs (table `jobs`). Implemented in src/storage/*; every
 * implementation passes test/conformance/job-store.conformance.ts.
 *
 * Lease contract: a lease is LIVE while lease_expires_at > now. tryAcquire and renew are
 * compare-and-set operations that MUST be atomic against every other runner on the same database
 * (one conditional UPDATE; on PostgreSQL the same statement under READ COMMITTED is enough because
 * the row lock re-checks the WHERE clause). Every write MUST be durable before the promise resolves.
 * The store never reads a clock: `now` is always passed in (ARCHITECTURE rule 6).
 */
export interface JobStore {
  /**
   * Creates the job due at `firstRunAt`, or, if it exists, sets interval_ms = intervalMs and keeps
   * next_run_at, except that it MUST NOT stay later than now + intervalMs (so shortening an
   * interval, or a clock that was wrong in the future, takes effect within one interval).
   * MUST NOT touch last_* or the lease. Returns the stored row.
   */
  upsertJob(job: { name: string; intervalMs: number; firstRunAt: number }, now: number): Promise<JobRecord>;
  getJob(name: string): Promise<JobRecord | undefined>;
  /** All jobs, ordered by name. */
  listJobs(): Promise<JobRecord[]>;
  /**
   * Takes the lease for `owner` until now + leaseMs, only if no live lease exists (an expired one,
   * e.g. of a crashed runner, is taken over) AND, unless `force`, the job is due (next_run_at <= now).
   * The due check inside the CAS is what makes a job run once per due time: a runner with a stale
   * view cannot re-run a job another runner has just completed. Returns false for an unknown job.
   */
  tryAcquire(name: string, owner: string, now: number, leaseMs: number, opts?: { force?: boolean }): Promise<boolean>;
  /** Extends the lease to now + leaseMs, only if `owner` still holds it (even if expired). */
  renew(name: string, owner: string, now: number, leaseMs: number): Promise<boolean>;
  /**
   * Records a run and releases the lease, only if `owner` still holds it (even if expired, as long
   * as nobody took it over); otherwise does nothing and returns false. Sets last_run_at = now,
   * next_run_at = nextRunAt, last_status = status, last_error = error (null when 'ok').
   */
  complete(
    name: string,
    owner: string,
    result: { now: number; nextRunAt: number; status: JobRunStatus; error: string | null },
  ): Promise<boolean>;
  /** Drops the lease without recording a run, only if `owner` holds it. */
  release(name: string, owner: string): Promise<boolean>;
}
