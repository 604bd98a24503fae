import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { printJson, printLine } from '../output.js';
import { intParser, readStdin, runtime } from './shared.js';

interface InitResponse {
  shares: string[];
  rootToken: string;
  threshold: number;
  message?: string;
}

interface SealStatus {
  sealType?: string | null;
  sealed: boolean;
  threshold: number;
  shares: number;
  progress: number;
}

const ONCE_WARNING = [
  '',
  '!!! WARNING: the unseal shares and the root token above are shown ONLY ONCE. !!!',
  'Store each share separately (different people / places) and keep the root token apart from them.',
  'Keywarden cannot show them again; if fewer than the threshold of shares survive, the data is lost.',
  '',
].join('\n');

interface GenerateRootStatus {
  started: boolean;
  nonce: string | null;
  required: number;
  progress: number;
  expiresAt: string | null;
  complete?: boolean;
  rootToken?: string;
}

/** Hidden prompt on a terminal (the typed share is not echoed). */
async function promptHidden(question: string): Promise<string> {
  process.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  const answer = await rl.question('');
  rl.close();
  process.stderr.write('\n');
  return answer.trim();
}

/** Reads one unseal share: a hidden prompt on a terminal, otherwise the first non-empty line of stdin. */
async function readShare(): Promise<string> {
  let share: string;
  if (process.stdin.isTTY) {
    share = await promptHidden('Unseal share (input is hidden): ');
  } else {
    share = (await readStdin()).toString('utf8').split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  }
  share = share.trim();
  if (share === '') throw new Error('no unseal share given: pass it as an argument or on stdin');
  return share;
}

export function registerOperatorCommands(program: Command): void {
  const operator = program.command('operator').description('Initialize, unseal and seal Keywarden');

  operator
    .command('init')
    .description('Initialize Keywarden: create the root key, the unseal shares and the root token')
    .option('--shares <n>', 'number of unseal shares to create', intParser(1, 255), 5)
    .option('--threshold <n>', 'number of shares needed to unseal', intParser(1, 255), 3)
    .action(async (opts: { shares: number; threshold: number }, cmd: Command) => {
      if (opts.threshold > opts.shares) cmd.error('error: --threshold cannot be larger than --shares', { exitCode: 2 });
      const { client, format } = runtime(cmd);
      // The pkcs11 seal issues no shares: the HSM key wraps the root key.
      const pkcs11 = (await client.get<SealStatus>('/v1/sys/seal-status')).sealType === 'pkcs11';
      const res = await client.post<InitResponse>('/v1/sys/init', pkcs11 ? {} : { shares: opts.shares, threshold: opts.threshold });
      if (format === 'json') {
        printJson(res);
      } else if (pkcs11) {
        printLine(`Root token: ${res.rootToken}`);
        printLine();
        printLine(`No unseal shares: ${res.message ?? 'the HSM wraps the root key'}`);
      } else {
        res.shares.forEach((share, i) => printLine(`Unseal share ${i + 1}: ${share}`));
        printLine();
        printLine(`Root token: ${res.rootToken}`);
        printLine();
        printLine(`To unseal Keywarden (now and after every restart), submit ${res.threshold} of these shares,`);
        printLine('one per run of: keywarden operator unseal   (it reads the share from stdin)');
      }
      process.stderr.write(pkcs11 ? '\nThe root token is shown ONLY ONCE.\n' : ONCE_WARNING);
    });

  operator
    .command('unseal')
    .description('Submit one unseal share (from the argument, or from stdin when omitted)')
    .argument('[share]', 'base64 unseal share; prefer stdin so it stays out of shell history')
    .option('--reset', 'discard the shares submitted so far')
    .action(async (shareArg: string | undefined, opts: { reset?: boolean }, cmd: Command) => {
      if (opts.reset && shareArg !== undefined) cmd.error('error: give either SHARE or --reset, not both', { exitCode: 2 });
      const { client, format } = runtime(cmd);
      const body = opts.reset ? { reset: true } : { share: shareArg ?? (await readShare()) };
      const res = await client.post<SealStatus>('/v1/sys/unseal', body);
      if (format === 'json') return printJson(res);
      printLine(res.sealed ? `Unseal progress: ${res.progress}/${res.threshold}` : 'Unsealed');
    });

  operator
    .command('generate-root')
    .description('Make a new root token from a quorum of unseal shares (shamir seal): shares one per line on stdin, or prompted')
    .option('--nonce <nonce>', 'continue the attempt another operator started (instead of starting one)')
    .option('--cancel', 'cancel the attempt in progress')
    .action(async (opts: { nonce?: string; cancel?: boolean }, cmd: Command) => {
      if (opts.cancel && opts.nonce !== undefined) cmd.error('error: give either --nonce or --cancel, not both', { exitCode: 2 });
      const { client, format } = runtime(cmd);
      if (opts.cancel) {
        const res = await client.call<GenerateRootStatus>('DELETE', '/v1/sys/generate-root/attempt');
        return format === 'json' ? printJson(res) : printLine('Root token generation attempt cancelled');
      }
      let st = opts.nonce === undefined ? await client.post<GenerateRootStatus>('/v1/sys/generate-root/attempt') : await client.get<GenerateRootStatus>('/v1/sys/generate-root/attempt');
      const nonce = opts.nonce ?? (st.nonce as string);
      if (!st.started || st.nonce !== nonce) throw new Error('no root token generation attempt with this nonce is in progress');
      // Shares come one per line (stdin) or one per hidden prompt (terminal) until the threshold.
      const lines = process.stdin.isTTY ? undefined : (await readStdin()).toString('utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
      while (!st.complete) {
        const share = lines ? lines.shift() : await promptHidden(`Unseal share ${st.progress + 1} of ${st.required} (input is hidden): `);
        if (share === undefined || share === '') break;
        st = await client.post<GenerateRootStatus>('/v1/sys/generate-root/update', { nonce, share });
      }
      if (format === 'json') printJson(st);
      else if (st.complete) printLine(`Root token: ${st.rootToken}`);
      else printLine(`Progress: ${st.progress}/${st.required}. Other operators continue with: keywarden operator generate-root --nonce ${nonce}`);
      if (st.complete) process.stderr.write('\nThe new root token is shown ONLY ONCE. Use it for what needs it, then revoke it: keywarden operator revoke-root\n');
    });

  operator
    .command('revoke-root')
    .description('Revoke every root token, this one included (refused while no enabled admin exists)')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ revoked: number }>('/v1/sys/root-token/revoke');
      if (format === 'json') return printJson(res);
      printLine(`Revoked ${res.revoked} root token${res.revoked === 1 ? '' : 's'}`);
    });

  operator
    .command('seal')
    .description('Seal Keywarden: forget the root key until it is unsealed again (needs a token)')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ sealed: boolean }>('/v1/sys/seal');
      if (format === 'json') return printJson(res);
      printLine(res.sealed ? 'Sealed' : 'Not sealed');
    });

  operator
    .command('migrate-seal')
    .description('Move a STOPPED server\'s data between the shamir and pkcs11 seals (rewraps only the root key)')
    .requiredOption('--data <path>', 'the SQLite database file (storage.path)')
    .addOption(new Option('--to <seal>', 'the new seal').choices(['pkcs11', 'shamir']).makeOptionMandatory())
    .option('--config <file>', 'server config with the hsm section (and seal.keyLabel): needed when the HSM is either side')
    .option('--share <share>', 'a current unseal share (repeatable; prefer stdin, one per line)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--shares <n>', 'shamir: number of new unseal shares', intParser(1, 255), 5)
    .option('--threshold <n>', 'shamir: number of new shares needed to unseal', intParser(1, 255), 3)
    .action(async (opts: { data: string; to: 'pkcs11' | 'shamir'; config?: string; share: string[]; shares: number; threshold: number }, cmd: Command) => {
      const { format } = runtime(cmd, { token: false });
      if (opts.to === 'shamir' && opts.threshold > opts.shares) cmd.error('error: --threshold cannot be larger than --shares', { exitCode: 2 });
      if (opts.to === 'pkcs11' && opts.config === undefined) cmd.error('error: --to pkcs11 needs --config (the hsm section)', { exitCode: 2 });
      // Loaded only here: this command works on the data directly (server stopped), not over HTTP.
      const [{ migrateSeal }, { loadConfig }, { createPkcs11Hsm }, { DEFAULT_HSM_SEAL_KEY_LABEL }] = await Promise.all([
        import('../../main.js'),
        import('../../config/config.js'),
        import('../../hsm/pkcs11/index.js'),
        import('../../seal/seal.service.js'),
      ]);
      const config = opts.config === undefined ? undefined : loadConfig(opts.config);
      const hsm = config?.hsm ? createPkcs11Hsm(config.hsm) : undefined;
      try {
        // Current shares come from the flags or stdin (one per line) when the data is shamir-sealed.
        const fromStdin = opts.share.length === 0 && !process.stdin.isTTY && opts.to === 'pkcs11'
          ? (await readStdin()).toString('utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '')
          : [];
        const keyLabel = config?.seal.type === 'pkcs11' && config.seal.keyLabel !== undefined ? config.seal.keyLabel : DEFAULT_HSM_SEAL_KEY_LABEL;
        const res = await migrateSeal({
          storage: { type: 'sqlite', path: resolve(opts.data) },
          to: opts.to === 'pkcs11' ? { type: 'pkcs11', keyLabel } : { type: 'shamir', shares: opts.shares, threshold: opts.threshold },
          currentShares: [...opts.share, ...fromStdin],
          ...(hsm && { hsm }),
        });
        if (format === 'json') return printJson(res);
        printLine(`Migrated the seal from ${res.from} to ${res.to}; the root key and every key are unchanged.`);
        if (res.to === 'shamir') {
          printLine();
          res.shares.forEach((share, i) => printLine(`Unseal share ${i + 1}: ${share}`));
          printLine();
          printLine(`Set seal.type: shamir in the server config; unseal with ${res.threshold} of these shares.`);
          process.stderr.write(ONCE_WARNING);
        } else {
          printLine(`The root key is wrapped by the HSM key "${res.keyLabel}". Set seal.type: pkcs11 in the server config;`);
          printLine('the old unseal shares no longer unseal this data.');
        }
      } finally {
        await hsm?.close();
      }
    });
}
