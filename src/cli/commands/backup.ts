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

export interface ShareFlags {
  share: string[];
  sharesStdin?: boolean;
  custodianKey: string[];
}

export interface UnsealFlags {
  unsealShare: string[];
  devKeyFile?: string;
}

/** Backup key shares: --share, --shares-stdin, and those the --custodian-key files open beside `file`. */
export async function backupSharesOf(file: string, opts: ShareFlags): Promise<string[]> {
  const shares = await sharesOf(opts);
  if (opts.custodianKey.length === 0) return shares;
  const { sharesFromFiles } = await import('../../backup/custodian-share.js');
  const keys = await Promise.all(opts.custodianKey.map((k) => readFile(k)));
  try {
    return [...shares, ...(await sharesFromFiles(resolve(file), keys))];
  } finally {
    for (const k of keys) k.fill(0);
  }
}

/** The ORIGINAL unseal material: --unseal-share (shamir) or the --dev-key-file's key; at most one kind. */
export async function unsealOf(opts: UnsealFlags, cmd: Command): Promise<string[]> {
  if (opts.devKeyFile !== undefined && opts.unsealShare.length > 0) cmd.error('error: give --unseal-share or --dev-key-file, not both', { exitCode: 2 });
  if (opts.devKeyFile === undefined) return opts.unsealShare.map((s) => s.trim()).filter((s) => s !== '');
  return [(await readFile(opts.devKeyFile, 'utf8')).trim()];
}

/** One line on the canary results. */
export function canaryLine(c: { checked: number; passed: number; failed: number; skipped: number; withoutCanary: number; versions: number; keys: number }): string {
  return `${c.passed} of ${c.checked} checked passed (${c.keys} keys, ${c.versions} versions not destroyed)` +
    (c.failed > 0 ? `, ${c.failed} FAILED` : '') + (c.withoutCanary > 0 ? `, ${c.withoutCanary} without a canary (self-tested)` : '') + (c.skipped > 0 ? `, ${c.skipped} skipped` : '');
}

/** The per-version results, failures first. */
export function printVersions(results: ReadonlyArray<{ keyId: string; aliases: string[]; spec: string; version: number; state: string; result: string; canary: boolean; reason?: string }>): void {
  const rank = { failed: 0, skipped: 1, ok: 2 } as Record<string, number>;
  const sorted = [...results].sort((a, b) => (rank[a.result] ?? 3) - (rank[b.result] ?? 3));
  printTable(['KEY', 'ALIAS', 'SPEC', 'VERSION', 'STATE', 'RESULT', 'DETAIL'], sorted.map((r) => [
    r.keyId, r.aliases[0] ?? '', r.spec, r.version, r.state, r.result.toUpperCase(), r.reason ?? (r.canary ? 'canary' : 'self-test (no canary)'),
  ]));
}

async function readBackup(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('Encrypted, signed backups of a STOPPED server\'s store (scheduled ones: config backup.schedule); verify (with canaries), restore, custodian shares (docs/backup.md)');

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
    .description('Check format, signature and hashes; with shares, decrypt and check every table; with the unseal material too, prove every key version still passes its canary')
    .option('--share <share>', 'a backup key share (repeatable)', collect, [] as string[])
    .option('--shares-stdin', 'read the shares from stdin, one per line')
    .option('--custodian-key <pem>', 'a custodian private key: open its share file beside the backup (repeatable)', collect, [] as string[])
    .option('--fingerprint <fp>', 'the signing key fingerprint recorded at creation (SHA256:...)')
    .option('--unseal-share <share>', 'an ORIGINAL unseal share of the backed-up data (repeatable): restore into a scratch store and check the canaries', collect, [] as string[])
    .option('--dev-key-file <file>', 'the dev unseal key file of the backed-up data (dev seal), instead of --unseal-share')
    .option('--require-canaries', 'fail for a key version without a recorded canary (default: self-test it)')
    .action(async (file: string, opts: ShareFlags & UnsealFlags & { fingerprint?: string; requireCanaries?: boolean }, cmd: Command) => {
      const { format } = runtime(cmd, { token: false });
      const bytes = await readBackup(file);
      const shares = await backupSharesOf(file, opts);
      const unseal = await unsealOf(opts, cmd);
      if (unseal.length > 0) {
        if (shares.length === 0) cmd.error('error: checking the canaries needs the backup key shares (--share, --shares-stdin or --custodian-key)', { exitCode: 2 });
        const { runRecovery } = await import('../../backup/drill.js');
        const report = await runRecovery({
          file: bytes, name: resolve(file), shares, unseal, drill: false, requireCanaries: opts.requireCanaries === true,
          ...(opts.fingerprint !== undefined && { fingerprint: opts.fingerprint }),
        });
        if (format === 'json') printJson({ checked: 'canaries', ...report });
        else if (report.canaries) {
          printFields([
            ['Backup', report.backup],
            ['Verified', report.ok ? 'contents, and every key version against its canary' : 'FAILED'],
            ['Created', report.createdAt],
            ['Signing key', report.fingerprint],
            ['Key versions', canaryLine(report.canaries)],
          ]);
          printLine();
          printVersions(report.canaries.results);
        }
        if (!report.ok) throw new Error(report.error ?? 'verification failed');
        return;
      }
      const { verifyBackup } = await import('../../backup/backup.js');
      const v = await verifyBackup(bytes, { shares, ...(opts.fingerprint !== undefined && { fingerprint: opts.fingerprint }) });
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
    .command('decrypt-share <file>')
    .description('Print the backup key share in a custodian share file (written beside a scheduled backup), opened with the custodian\'s private key')
    .requiredOption('--key <pem>', 'the custodian\'s private key (PEM: X25519 or RSA)')
    .action(async (file: string, opts: { key: string }, cmd: Command) => {
      const { format } = runtime(cmd, { token: false });
      const { openShare } = await import('../../backup/custodian-share.js');
      const [content, key] = await Promise.all([readFile(file, 'utf8'), readFile(opts.key)]);
      const { meta, share } = openShare(content, key);
      key.fill(0);
      if (format === 'json') return printJson({ ...meta, shareValue: share });
      printFields([
        ['Backup', meta.backup],
        ['Created', meta.createdAt],
        ['Signing key', meta.fingerprint],
        ['Custodian', meta.custodian],
        ['Share', `${meta.share} of ${meta.shares} (${meta.threshold} needed to restore)`],
      ]);
      printLine();
      printLine(`Backup key share: ${share}`);
    });

  backup
    .command('restore <file>')
    .description('Verify the backup completely, then load it into an EMPTY store (SQLite or PostgreSQL; either direction)')
    .option('--share <share>', 'a backup key share (repeatable)', collect, [] as string[])
    .option('--shares-stdin', 'read the shares from stdin, one per line')
    .option('--custodian-key <pem>', 'a custodian private key: open its share file beside the backup (repeatable)', collect, [] as string[])
    .option('--fingerprint <fp>', 'the signing key fingerprint recorded at creation (SHA256:...)')
    .option('--data <path>', 'the target SQLite database file (created if missing)')
    .option('--config <file>', 'server config: restore into its storage')
    .action(async (file: string, opts: StoreFlags & ShareFlags & { fingerprint?: string }, cmd: Command) => {
      const { format } = runtime(cmd, { token: false });
      const storage = await storageOf(opts, cmd);
      const { restoreStoreBackup } = await import('../../backup/backup.service.js');
      const res = await restoreStoreBackup({ storage, file: await readBackup(file), shares: await backupSharesOf(file, opts), ...(opts.fingerprint !== undefined && { fingerprint: opts.fingerprint }) });
      const m = res.manifest;
      const rows = m.tables.reduce((n, t) => n + t.rows, 0);
      if (format === 'json') return printJson({ ok: true, target: storage.type, createdAt: m.createdAt, schemaVersion: m.schemaVersion, tables: m.tables.length, rows });
      printLine(`Restored ${m.tables.length} tables (${rows} rows) from the backup of ${m.createdAt} into the ${storage.type} store.`);
      printLine('Start the server and unseal it with the unseal material of the backed-up data (its root key is unchanged).');
    });
}
