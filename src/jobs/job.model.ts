/**
 * Durable scheduled jobs (issue "[2/10] Key lifecycle", item 7): rotation-due, deletion-due,
 * material-expiry, usage-flush, ... Each job's schedule and last outcome live in the store (table
 * `jobs`), so they survive restarts; a lease in the same row keeps runners on a shared database
 * from running one job concurrently.
 */

/** Job names: lowercase, digits and dashes, 1-64 characters (e.g. `rotation-due`). */
export const JOB_NAME_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** last_error is at most this many characters (a message, never a stack or a secret). */
export const MAX_JOB_ERROR_LENGTH = 200;

export type JobRunStatus = 'ok' | 'error';

/** One row of `jobs`. Times are epoch milliseconds; null means "never" / "none". */
export interface JobRecord {
  name: string;
  intervalMs: number;
  /** The job is due when nextRunAt <= now. */
  nextRunAt: number;
  lastRunAt: number | null;
  lastStatus: JobRunStatus | null;
  /** Short message of the last failure (only when lastStatus is 'error'). */
  lastError: string | null;
  /** Runner holding the lease; the lease is live while leaseExpiresAt > now. */
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
}

/** What status() reports per job (for the operator REST endpoint). */
export interface JobStatus extends JobRecord {
  /** A handler for this job is registered in this process (rows of other versions/nodes may exist). */
  registered: boolean;
  /** A live lease is held (by any runner) at the time of the call. */
  running: boolean;
}

/** Outcome of one run of one job. */
export interface JobRunResult {
  name: string;
  status: JobRunStatus;
  /** Short message (see MAX_JOB_ERROR_LENGTH), only when status is 'error'. */
  error?: string;
  /** What the handler reported it processed, if it did. */
  processed?: number;
  /** The `now` passed to the handler (= last_run_at). */
  startedAt: number;
  nextRunAt: number;
}

export interface TickReport {
  /** The clock's time when the tick started; every job of the tick ran "as of" this time. */
  now: number;
  /** Jobs this runner ran, ordered by name. */
  ran: JobRunResult[];
  /** Jobs that looked due but whose lease another runner held or that another runner already ran. */
  skipped: string[];
  /** Jobs that could not be started because the store failed (they stay due; the next tick retries). */
  failed: Array<{ name: string; error: string }>;
}

/**
 * Does the work of a job: MUST process everything due at `now` (so one run catches up any
 * downtime) and MUST be idempotent (a run may be repeated after a crash). It SHOULD stop early when
 * `signal` aborts (the lease was lost, another runner may take over). A thrown error's message is
 * stored and reported, so it MUST NOT contain secrets (ARCHITECTURE rule 4).
 */
export type JobHandler = (now: number, signal: AbortSignal) => Promise<void | { processed: number }>;
