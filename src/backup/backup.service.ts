/**
 * Offline backup operations on a store (the server is stopped, like `operator migrate-seal`):
 * the CLI calls these, so that it never opens a store itself.
 */
import { openStore } from '../storage/index.js';
import type { StorageConfig } from '../storage/store.js';
import { BackupError, type CreatedBackup, type VerifiedBackup, createBackup, snapshotOf, verifyBackup } from './backup.js';

export async function createStoreBackup(opts: { storage: StorageConfig; now: number; shares: number; threshold: number }): Promise<CreatedBackup> {
  const store = openStore(opts.storage);
  try {
    return await createBackup({
      schemaVersion: await store.schemaVersion(),
      source: opts.storage.type,
      chunks: store.snapshot(),
      now: opts.now,
      shares: opts.shares,
      threshold: opts.threshold,
    });
  } finally {
    await store.close();
  }
}

/** Verifies the file completely (shares required), then loads it into the (empty) target store. */
export async function restoreStoreBackup(opts: { storage: StorageConfig; file: Buffer; shares: readonly string[]; fingerprint?: string }): Promise<VerifiedBackup> {
  if (opts.shares.length === 0) throw new BackupError('restore needs the backup key shares (--share, or one per line on stdin)');
  const verified = await verifyBackup(opts.file, { shares: opts.shares, ...(opts.fingerprint !== undefined && { fingerprint: opts.fingerprint }) });
  const store = openStore(opts.storage);
  try {
    await store.restore(snapshotOf(verified as Required<VerifiedBackup>));
  } finally {
    await store.close();
  }
  return { manifest: verified.manifest };
}
