/**
 * SQLite implementation of JobStore over table `jobs` (migration 3). The caller owns the handle:
 * migrations MUST already be applied, and durability comes from the handle's pragmas
 * (synchronous=FULL in SqliteStore). Every compare-and-set is ONE conditional UPDATE, which
 * SQLite executes under its database write lock, so it is atomic against every other connection.
 */
import type Database from 'better-sqlite3';
import type { JobRecord, JobRunStatus } from '../../jobs/job.model.js';
import type { JobStore } from '../../jobs/job.store.js';
import { jobFromRow } from '../record-rows.js';

type Row = Record<string, unknown>;

function prepare(db: Database.Database) {
  return {
    // SET expressions see the old row, whatever their order.
    upsert: db.prepare(
      `INSERT INTO jobs (name, interval_ms, next_run_at) VALUES (@name, @intervalMs, @firstRunAt)
       ON CONFLICT (name) DO UPDATE SET
         interval_ms = excluded.interval_ms,
         next_run_at = MIN(jobs.next_run_at, @now + excluded.interval_ms)
       RETURNING *`,
    ),
    get: db.prepare('SELECT * FROM jobs WHERE name = ?'),
    list: db.prepare('SELECT * FROM jobs ORDER BY name'),
    acquire: db.prepare(
      `UPDATE jobs SET lease_owner = @owner, lease_expires_at = @now + @leaseMs
       WHERE name = @name AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= @now)
         AND (@force = 1 OR next_run_at <= @now)`,
    ),
    renew: db.prepare('UPDATE jobs SET lease_expires_at = @now + @leaseMs WHERE name = @name AND lease_owner = @owner'),
    complete: db.prepare(
      `UPDATE jobs SET last_run_at = @now, next_run_at = @nextRunAt, last_status = @status, last_error = @error,
         lease_owner = NULL, lease_expires_at = NULL
       WHERE name = @name AND lease_owner = @owner`,
    ),
    release: db.prepare('UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE name = ? AND lease_owner = ?'),
  };
}

export class SqliteJobStore implements JobStore {
  readonly #q: ReturnType<typeof prepare>;

  /** `db` MUST have migration 3 (table `jobs`) applied; the caller keeps ownership of the handle. */
  constructor(db: Database.Database) {
    this.#q = prepare(db);
  }

  async upsertJob(job: { name: string; intervalMs: number; firstRunAt: number }, now: number): Promise<JobRecord> {
    return jobFromRow(this.#q.upsert.get({ ...job, now }) as Row);
  }

  async getJob(name: string): Promise<JobRecord | undefined> {
    const row = this.#q.get.get(name) as Row | undefined;
    return row === undefined ? undefined : jobFromRow(row);
  }

  async listJobs(): Promise<JobRecord[]> {
    return (this.#q.list.all() as Row[]).map(jobFromRow);
  }

  async tryAcquire(name: string, owner: string, now: number, leaseMs: number, opts: { force?: boolean } = {}): Promise<boolean> {
    return this.#q.acquire.run({ name, owner, now, leaseMs, force: opts.force ? 1 : 0 }).changes === 1;
  }

  async renew(name: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
    return this.#q.renew.run({ name, owner, now, leaseMs }).changes === 1;
  }

  async complete(
    name: string,
    owner: string,
    r: { now: number; nextRunAt: number; status: JobRunStatus; error: string | null },
  ): Promise<boolean> {
    return this.#q.complete.run({ name, owner, ...r, error: r.status === 'ok' ? null : r.error }).changes === 1;
  }

  async release(name: string, owner: string): Promise<boolean> {
    return this.#q.release.run(name, owner).changes === 1;
  }
}
