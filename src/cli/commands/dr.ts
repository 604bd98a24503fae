/**
 * `keywarden dr drill`: restore the latest backup into a scratch instance, unseal it with the
 * original unseal material, check the canaries of every key and the audit ledger, and report each
 * step's time and the recovery time (src/backup/drill.ts; runbook in docs/backup.md).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { printFields, printJson, printLine, printTable } from '../output.js';
import { backupSharesOf, canaryLine, printVersions, unsealOf, type ShareFlags, type UnsealFlags } from './backup.js';
import { intParser, runtime } from './shared.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerDrCommands(program: Command): void {
  const dr = program.command('dr').description('Disaster recovery: drills on backups (docs/backup.md)');

  dr
    .command('drill')
    .description('Restore the latest backup into a scratch instance (deleted after), unseal it, check key canaries and the audit ledger; pass/fail report with timings')
    .option('--backup-dir <dir>', 'take the newest .backup file in this directory')
    .option('--backup <file>', 'this backup file')
    .option('--share <share>', 'a backup key share (repeatable)', collect, [] as string[])
    .option('--shares-stdin', 'read the backup key shares from stdin, one per line')
    .option('--custodian-key <pem>', 'a custodian private key: open its share file beside the backup (repeatable)', collect, [] as string[])
    .option('--fingerprint <fp>', 'the signing key fingerprint recorded at creation (SHA256:...)')
    .option('--unseal-share <share>', 'an ORIGINAL unseal share of the backed-up data (repeatable)', collect, [] as string[])
    .option('--dev-key-file <file>', 'the dev unseal key file of the backed-up data (dev seal), instead of --unseal-share')
    .option('--sample <n>', 'check at most N versions per key (the primary among them); default all', intParser(1, 1_000_000))
    .option('--require-canaries', 'fail for a key version without a recorded canary (default: self-test it)')
    .action(async (opts: ShareFlags & UnsealFlags & { backupDir?: string; backup?: string; fingerprint?: string; sample?: number; requireCanaries?: boolean }, cmd: Command) => {
      const { format } = runtime(cmd, { token: false });
      if ((opts.backupDir === undefined) === (opts.backup === undefined)) cmd.error('error: give exactly one of --backup-dir and --backup', { exitCode: 2 });
      const unseal = await unsealOf(opts, cmd);
      if (unseal.length === 0) cmd.error('error: the drill unseals the restored copy: give --unseal-share (shamir) or --dev-key-file (dev seal)', { exitCode: 2 });
      let file = opts.backup;
      if (file === undefined) {
        const { latestBackup } = await import('../../backup/scheduled.js');
        file = await latestBackup(resolve(opts.backupDir!)).catch((e: NodeJS.ErrnoException) => {
          throw new Error(`cannot read ${opts.backupDir}: ${e.code ?? 'error'}`);
        });
        if (file === undefined) throw new Error(`no .backup file in ${opts.backupDir}`);
      }
      const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
        throw new Error(`cannot read ${file}: ${e.code ?? 'error'}`);
      });
      const shares = await backupSharesOf(file, opts);
      if (shares.length === 0) cmd.error('error: the drill needs the backup key shares (--share, --shares-stdin or --custodian-key)', { exitCode: 2 });
      const { runRecovery } = await import('../../backup/drill.js');
      const report = await runRecovery({
        file: bytes, name: resolve(file), shares, unseal, drill: true, requireCanaries: opts.requireCanaries === true,
        ...(opts.sample !== undefined && { sample: opts.sample }),
        ...(opts.fingerprint !== undefined && { fingerprint: opts.fingerprint }),
      });
      if (format === 'json') printJson(report);
      else {
        printLine(`DR drill ${report.ok ? 'PASSED' : 'FAILED'}`);
        printLine();
        printFields([
          ['Backup', report.backup],
          ['Created', report.createdAt],
          ['Signing key', report.fingerprint],
          ['Seal', report.sealType],
          ['Recovery time', `${report.recoveryMs} ms (verify, restore, start, unseal)`],
          ['Total time', `${report.totalMs} ms (with the checks)`],
          ['Key versions', report.canaries && canaryLine(report.canaries)],
          ['Audit ledger', report.ledger && `${report.ledger.events} events, newest checkpoint size ${report.ledger.newestCheckpoint?.size ?? 0}`],
        ]);
        printLine();
        printTable(['STEP', 'RESULT', 'MS', 'DETAIL'], report.steps.map((s) => [s.name, s.ok ? 'ok' : 'FAILED', s.ms, s.detail]));
        const failed = report.canaries?.results.filter((r) => r.result !== 'ok') ?? [];
        if (failed.length > 0) {
          printLine();
          printVersions(failed);
        }
      }
      if (!report.ok) throw new Error(`the DR drill failed at ${report.error ?? 'an unknown step'}`);
    });
}
