/**
 * Scheduled online backups (config `backup.schedule`, docs/backup.md): a job of the job runner (so
 * with several nodes only the leader runs it). Each run:
 *   1. while unsealed, gives every key version without a canary one (CanaryService.backfill);
 *   2. takes one consistent snapshot of the running store (SQLite: one read transaction;
 *      PostgreSQL: one REPEATABLE READ, READ ONLY transaction) into a backup file (backup.ts) with a
 *      fresh backup key split into one share per custodian, `threshold` of them needed;
 *   3. writes each share encrypted to its custodian's public key beside the backup, then the backup
 *      itself (temp file + rename: a `.backup` file is always complete, and its shares exist);
 *   4. keeps the newest `retain` backups and deletes older ones with their share files;
 *   5. records a `backup:scheduled` audit event (allow, or error with the reason); a failure also
 *      fails the job run, which the scheduler records on the job (GET /v1/sys/jobs).
 */
import { access, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from '../crypto/primitives/index.js';
import type { AuditEventInput } from '../audit/event.js';
import type { CanaryService } from '../keys/canary.js';
import type { Store } from '../storage/store.js';
import { createBackup, type Manifest } from './backup.js';
import { sealShare, shareFileName } from './custodian-share.js';

export interface BackupSchedule {
  intervalMinutes: number;
  dir: string;
  retain: number;
  custodians: Array<{ name: string; publicKey: string }>;
  threshold: number;
}

export const BACKUP_JOB = 'backup';
/** keywarden-2026-01-01T00-00-00-000Z.backup: names sort in time order. */
export const BACKUP_FILE_RE = /^keywarden-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.backup$/;
export const backupFileName = (now: number) => `keywarden-${new Date(now).toISOString().replace(/[:.]/g, '-')}.backup`;

/** Writes `data` durably under `path` (temp file, fsync, rename); never overwrites an existing file's name with a partial one. */
async function writeDurably(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** The backup files in `dir`, newest first. */
export async function listBackups(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => BACKUP_FILE_RE.test(f)).sort().reverse();
}

/** The newest `.backup` file in `dir` (by modification time, then name), any name; undefined if none. */
export async function latestBackup(dir: string): Promise<string | undefined> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.backup'));
  const dated = await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(dir, f))).mtimeMs })));
  dated.sort((a, b) => b.t - a.t || (a.f < b.f ? 1 : -1));
  return dated[0] && join(dir, dated[0].f);
}

/** Deletes all but the newest `retain` backups and their share files; returns the deleted backups. */
export async function pruneBackups(dir: string, retain: number): Promise<string[]> {
  const names = await readdir(dir);
  const old = names.filter((f) => BACKUP_FILE_RE.test(f)).sort().reverse().slice(retain);
  for (const b of old) {
    // Shares first: a backup without its shares is useless, shares without a backup are harmless.
    for (const f of names) if (f.startsWith(`${b}.`) && f.endsWith('.share')) await rm(join(dir, f), { force: true });
    await rm(join(dir, b), { force: true });
  }
  return old;
}

export interface ScheduledBackupResult {
  file: string;
  manifest: Manifest;
  canariesBackfilled: number;
  deleted: string[];
}

export class ScheduledBackups {
  constructor(
    private readonly d: {
      store: Store;
      source: Manifest['source'];
      schedule: BackupSchedule;
      canaries: CanaryService;
      seal: { readonly sealed: boolean };
      audit: (e: AuditEventInput) => Promise<unknown>;
    },
  ) {}

  /** One run of the backup job (see the module comment). */
  async run(now: number, signal?: AbortSignal): Promise<ScheduledBackupResult> {
    const { schedule } = this.d;
    try {
      const result = await this.#run(now, signal);
      const rows = result.manifest.tables.reduce((n, t) => n + t.rows, 0);
      await this.#record('allow', null, {
        file: result.file, rows, tables: result.manifest.tables.length, fingerprint: result.manifest.signing.fingerprint,
        custodians: schedule.custodians.length, threshold: schedule.threshold, canariesBackfilled: result.canariesBackfilled, deleted: result.deleted.length,
      });
      return result;
    } catch (e) {
      await this.#record('error', 'Internal', { reason: (e instanceof Error ? e.message : 'error').slice(0, 256) }).catch(() => undefined);
      throw e;
    }
  }

  async #run(now: number, signal?: AbortSignal): Promise<ScheduledBackupResult> {
    const { store, schedule } = this.d;
    const canariesBackfilled = this.d.seal.sealed ? 0 : await this.d.canaries.backfill(signal);
    const created = await createBackup({
      schemaVersion: await store.schemaVersion(),
      source: this.d.source,
      chunks: store.snapshot(),
      now,
      shares: schedule.custodians.length,
      threshold: schedule.threshold,
    });
    if (signal?.aborted) throw new Error('the backup job lost its lease; nothing was written');
    const file = backupFileName(now);
    await mkdir(schedule.dir, { recursive: true, mode: 0o700 });
    if (await access(join(schedule.dir, file)).then(() => true, () => false)) throw new Error(`${file} already exists in the backup directory`);
    const m = created.manifest;
    for (const [i, c] of schedule.custodians.entries()) {
      const meta = { backup: file, createdAt: m.createdAt, fingerprint: m.signing.fingerprint, custodian: c.name, share: i + 1, shares: schedule.custodians.length, threshold: schedule.threshold };
      await writeDurably(join(schedule.dir, shareFileName(file, c.name)), sealShare(meta, c.publicKey, created.shares[i]!));
    }
    await writeDurably(join(schedule.dir, file), created.file);
    const deleted = await pruneBackups(schedule.dir, schedule.retain);
    return { file, manifest: m, canariesBackfilled, deleted };
  }

  #record(outcome: 'allow' | 'error', errorCode: string | null, details: Record<string, string | number>): Promise<unknown> {
    return this.d.audit({ requestId: randomUUID(), principal: null, authMethod: 'internal', operation: 'backup:scheduled', outcome, errorCode, details });
  }
}
