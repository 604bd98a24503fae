import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { printFields, printJson, printLine, printTable } from '../output.js';
import { intParser, readStdin, runtime } from './shared.js';

const collect = (v: string, prev: string[]) => [...prev, v];

const ONCE_WARNING = [
  '',
  '!!! WARNING: the backup key shares above are shown ONLY ONCE. !!!',
  'Give each share to a different custodian, and have them record the signing key fingerprint.',
  'Without the threshold of shares the backup cannot be restored; the unseal shares are a separate secret.',
  '',
].join('\n');

interface StoreFlags {
  data?: string;
  config?: string;
}

/** The store named by --data (a SQLite file) or --config (its storage section); exactly one. */
async function storageOf(opts: StoreFlags, cmd: Command) {
  if ((opts.data === undefined) === (opts.config === undefined)) cmd.error('error: give exactly one of --data and --config', { exitCode: 2 });
  if (opts.data !== undefined) return { type: 'sqlite' as const, path: resolve(opts.data) };
  const { loadConfig } = await import('../../config/config.js');
  return loadConfig(opts.config!).storage;
}

async function sharesOf(opts: { share: string[]; sharesStdin?: boolean }): Promise<string[]> {
  const fromStdin = opts.sharesStdin ? (await readStdin()).toString('utf8').split(/\r?\n/) : [];
  return [...opts.share, ...fromStdin].map((s) => s.trim()).filter((s) => s !== '');
}

async function readBackup(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('Encrypted, signed backups of a STOPPED server\'s store; verify and restore (docs/backup.md)');

  backup
    .command('create')
    .description('Write one encrypted, signed snapshot of the store; the backup key is split among custodians')
    .option('--data <path>', 'the SQLite database file (storage.path)')
    .option('--config <file>', 'server config: back up its storage (SQLite or PostgreSQL)')
    .requiredOption('--out <file>', 'the backup file to write (must not exist)')
    .option('--shares <n>', 'number of backup key shares', intParser(1, 255), 5)
    .option('--threshold <n>', 'number of shares needed to restore', intParser(1, 255), 3)
    .action(async (opts: StoreFlags & { out: string; shares: number; threshold: number }, cmd: Command) => {
      const { format } = runtime(cmd, { token: false });
      if (opts.threshold > opts.shares) cmd.error('error: --threshold cannot be larger than --shares', { exitCode: 2 });
      const storage = await storageOf(opts, cmd);
      const [{ createStoreBackup }, { systemClock }] = await Promise.all([import('../../backup/backup.service.js'), import('../../util/clock.js')]);
      const res = await createStoreBackup({ storage, now: systemClock.now(), shares: opts.shares, threshold: opts.threshold });
      await writeFile(opts.out, res.file, { mode: 0o600, flag: 'wx' });
      const m = res.manifest;
      const rows = m.tables.reduce((n, t) => n + t.rows, 0);
      if (format === 'json') {
        return printJson({ file: resolve(opts.out), createdAt: m.createdAt, schemaVersion: m.schemaVersion, tables: m.tables, fingerprint: m.signing.fingerprint, threshold: m.backupKey.threshold, shares: res.shares });
      }
      printLine(`Wrote ${resolve(opts.out)}: ${m.tables.length} tables, ${rows} rows, schema version ${m.schemaVersion}.`);
      printLine(`Signing key fingerprint (record it with the shares): ${m.signing.fingerprint}`);
      printLine();
      res.shares.forEach((s, i) => printLine(`Backup key share ${i + 1}: ${s}`));
      printLine();
      printLine(`Restore needs ${m.backupKey.threshold} of these ${m.backupKey.shares} shares.`);
      process.stderr.write(ONCE_WARNING);
    });

  backup
    .command('verify <file>')
    .description('Check format, signature and hashes; with shares, decrypt and check every table\'s hash and row count')
    .option('--share <share>', 'a backup key share (repeatable)', collect, [] as string[])
    .option('--shares-stdin', 'read the shares from stdin, one per line')
    .option('--fingerprint <fp>', 'the signing key fingerprint recorded at creation (SHA256:...)')
    .action(async (file: string, opts: { share: string[]; sharesStdin?: boolean; fingerprint?: string }, cmd: Command) => {
      const { format } = runtime(cmd, { token: false });
      const { verifyBackup } = await import('../../backup/backup.js');
      const shares = await sharesOf(opts);
      const v = await verifyBackup(await readBackup(file), { shares, ...(opts.fingerprint !== undefined && { fingerprint: opts.fingerprint }) });
      const m = v.manifest;
      const level = v.tables ? 'decrypted; every table hash and row count match' : 'signature and ciphertext hash (give shares to check the contents)';
      if (format === 'json') return printJson({ ok: true, checked: v.tables ? 'contents' : 'signature', createdAt: m.createdAt, schemaVersion: m.schemaVersion, source: m.source, fingerprint: m.signing.fingerprint, tables: m.tables });
      printFields([
        ['Backup', resolve(file)],
        ['Verified', level],
        ['Created', m.createdAt],
        ['Schema version', m.schemaVersion],
        ['Source', m.source],
        ['Signing key', m.signing.fingerprint],
      ]);
      printLine();
      printTable(['TABLE', 'ROWS', 'SHA-256'], m.tables.map((t) => [t.name, t.rows, t.sha256]));
    });

  backup
    .command('restore <file>')
    .description('Verify the backup completely, then load it into an EMPTY store (SQLite or PostgreSQL; either direction)')
    .option('--share <share>', 'a backup key share (repeatable)', collect, [] as string[])
    .option('--shares-stdin', 'read the shares from stdin, one per line')
    .option('--fingerprint <fp>', 'the signing key fingerprint recorded at creation (SHA256:...)')
    .option('--data <path>', 'the target SQLite database file (created if missing)')
    .option('--config <file>', 'server config: restore into its storage')
    .action(async (file: string, opts: StoreFlags & { share: string[]; sharesStdin?: boolean; fingerprint?: string }, cmd: Command) => {
      const { format } = runtime(cmd, { token: false });
      const storage = await storageOf(opts, cmd);
      const { restoreStoreBackup } = await import('../../backup/backup.service.js');
      const res = await restoreStoreBackup({ storage, file: await readBackup(file), shares: await sharesOf(opts), ...(opts.fingerprint !== undefined && { fingerprint: opts.fingerprint }) });
      const m = res.manifest;
      const rows = m.tables.reduce((n, t) => n + t.rows, 0);
      if (format === 'json') return printJson({ ok: true, target: storage.type, createdAt: m.createdAt, schemaVersion: m.schemaVersion, tables: m.tables.length, rows });
      printLine(`Restored ${m.tables.length} tables (${rows} rows) from the backup of ${m.createdAt} into the ${storage.type} store.`);
      printLine('Start the server and unseal it with the unseal material of the backed-up data (its root key is unchanged).');
    });
}
