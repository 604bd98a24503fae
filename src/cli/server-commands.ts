/**
 * `keywarden dev` (insecure local development server) and `keywarden server` (production mode).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type { Logger } from 'pino';
import { ConfigError, isLoopback, loadConfig, parseListenAddress, type ListenAddress } from '../config/config.js';
import type { Keywarden } from '../main.js';

export const DEV_ROOT_TOKEN_FILE = 'dev-root-token';

/**
 * The server is loaded only when `dev` or `server` runs, so that every other CLI command (a plain
 * HTTP client) starts without loading fastify, SQLite and the services.
 */
async function loadServer() {
  const [{ createKeywarden }, { bootDevSeal, writeSecretFile }, { pino }] = await Promise.all([
    import('../main.js'),
    import('../seal/dev-seal.js'),
    import('pino'),
  ]);
  return { createKeywarden, bootDevSeal, writeSecretFile, pino };
}

function makeLogger(pino: Awaited<ReturnType<typeof loadServer>>['pino'], level: string): Logger {
  // Logs go to stderr so that stdout carries only what the command prints for people and scripts.
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', '*.token', '*.rootToken', '*.share', '*.plaintext'], censor: '[redacted]' },
    },
    pino.destination(2),
  );
}

async function listen(kw: Keywarden, addr: ListenAddress, scheme: 'http' | 'https'): Promise<string> {
  await kw.app.listen({ host: addr.host, port: addr.port });
  const a = kw.app.server.address();
  const port = typeof a === 'object' && a ? a.port : addr.port;
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  return `${scheme}://${host}:${port}`;
}

function stopOnSignals(kw: Keywarden, log: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: sealing and closing');
    kw.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function fail(message: string, code = 2): never {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(code);
}

export async function runDev(opts: { listen: string; dataDir: string; rootToken?: string; logLevel: string; audit?: boolean }): Promise<void> {
  let addr: ListenAddress;
  try {
    addr = parseListenAddress(opts.listen);
  } catch (e) {
    fail((e as Error).message);
  }
  if (!isLoopback(addr.host)) {
    fail(`dev mode refuses to listen on ${addr.host}: it is insecure and may only listen on a loopback address (127.0.0.1, ::1, localhost)`);
  }
  const dataDir = resolve(opts.dataDir);
  const { createKeywarden, bootDevSeal, writeSecretFile, pino } = await loadServer();
  const log = makeLogger(pino, opts.logLevel);
  const kw = await createKeywarden({ storage: { type: 'sqlite', path: join(dataDir, 'keywarden.db') }, seal: 'dev', logger: log, startJobs: true, audit: opts.audit !== false });
  const unsealKey = await bootDevSeal(kw.seal, dataDir);

  let rootToken = opts.rootToken;
  const tokenFile = join(dataDir, DEV_ROOT_TOKEN_FILE);
  if (rootToken !== undefined) {
    await kw.tokens.registerRootToken(rootToken, 'dev root token');
  } else if (existsSync(tokenFile)) {
    rootToken = readFileSync(tokenFile, 'utf8').trim();
  } else {
    rootToken = await kw.tokens.createRootToken('dev root token');
    writeSecretFile(tokenFile, rootToken + '\n');
  }

  const url = await listen(kw, addr, 'http');
  stopOnSignals(kw, log);
  process.stdout.write(
    [
      '',
      '  WARNING: dev mode is INSECURE. The unseal key and the root token are stored in plain files in',
      `  ${dataDir}. Never use dev mode for real keys or real data.`,
      '',
      `  Data dir:   ${dataDir}`,
      `  Seal:       dev (auto-unsealed)`,
      `  Root token: ${rootToken}`,
      `  Unseal key: ${unsealKey}   (after \`keywarden operator seal\`: keywarden operator unseal <key>)`,
      '',
      `  export KEYWARDEN_ADDR=${url}`,
      `  export KEYWARDEN_TOKEN=${rootToken}`,
      '',
      `Listening on ${url}`,
      '',
    ].join('\n'),
  );
}

export async function runServer(configFile: string): Promise<void> {
  let config;
  try {
    config = loadConfig(configFile);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  const { createKeywarden, pino } = await loadServer();
  const log = makeLogger(pino, config.log?.level ?? 'info');
  const tls = config.listen.tls;
  let https: { cert: Buffer; key: Buffer } | undefined;
  if ('certFile' in tls) {
    try {
      https = { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
    } catch (e) {
      fail(`cannot read the TLS certificate or key: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  } else {
    log.warn('TLS is disabled: only acceptable behind a TLS-terminating proxy on the same host');
  }
  // The HSM connects on first use and reconnects by itself: a server whose HSM is down starts sealed.
  const hsm = config.hsm ? (await import('../hsm/pkcs11/index.js')).createPkcs11Hsm(config.hsm) : undefined;
  const kw = await createKeywarden({
    storage: config.storage,
    seal: config.seal.type,
    logger: log,
    startJobs: true,
    ...(config.audit?.sinks && { auditSinks: config.audit.sinks }),
    ...(https ? { https } : {}),
    ...(config.aws && { aws: config.aws }),
    ...(config.anomaly && { anomaly: config.anomaly }),
    ...(config.cluster && { cluster: config.cluster }),
    ...(hsm && { hsm, hsmEntropy: config.hsm?.entropy ?? 'off' }),
    ...(config.seal.type === 'pkcs11' && config.seal.keyLabel !== undefined && { sealKeyLabel: config.seal.keyLabel }),
    ...(config.backup?.schedule && { backupSchedule: config.backup.schedule }),
  });
  const url = await listen(kw, parseListenAddress(config.listen.address), https ? 'https' : 'http');
  stopOnSignals(kw, log);
  const s = kw.seal.status();
  log.info({ url, initialized: s.initialized, sealed: s.sealed, ...(s.sealReason && { sealReason: s.sealReason }) }, 'keywarden started');
  const state = !s.initialized
    ? 'is not initialized: run `keywarden operator init`'
    : !s.sealed
      ? 'is unsealed (pkcs11 seal: unsealed with the HSM)'
      : s.sealType === 'pkcs11'
        ? 'is sealed: the HSM could not unwrap the root key yet; retrying (see `keywarden status`)'
        : 'is sealed: unseal it with `keywarden operator unseal`';
  process.stdout.write(`Keywarden ${state}\nListening on ${url}\n`);
}

/** Registers `keywarden dev` and `keywarden server`. */
export function registerServerCommands(program: Command): void {
  program
    .command('dev')
    .description('Start an INSECURE development server: SQLite, dev seal (auto-unseal), loopback only')
    .option('--listen <host:port>', 'address to listen on (loopback only)', '127.0.0.1:8200')
    .option('--data-dir <dir>', 'data directory (kept across restarts)', join(homedir(), '.keywarden', 'dev'))
    .option('--root-token <token>', 'use this root token instead of a generated one')
    .option('--log-level <level>', 'log level (logs go to stderr)', 'info')
    // Only so that the benchmark can measure what auditing costs (dev mode only, hidden).
    .addOption(new Option('--no-audit', 'do not record operations in the audit ledger (benchmarks only)').hideHelp())
    .action(async (o: { listen: string; dataDir: string; rootToken?: string; logLevel: string; audit: boolean }) => {
      await runDev(o);
    });

  program
    .command('server')
    .description('Start Keywarden in production mode (TLS listener, shamir or pkcs11 seal) from a YAML config file')
    .requiredOption('--config <file>', 'YAML configuration file (see docs/configuration.md)')
    .action(async (o: { config: string }) => {
      await runServer(o.config);
    });
}
