/**
 * Server configuration (`keywarden server --config FILE`, YAML), validated once at start with the
 * schema below. Relative paths are resolved against the directory of the config file.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { SinksConfigSchema } from '../audit/sinks/index.js';
import { AnomalyConfigSchema, resolveAnomalySettings } from '../anomaly/config.js';
import { recipientAlgorithm } from '../crypto/primitives/recipient-seal.js';

export const ConfigSchema = Type.Object(
  {
    listen: Type.Object(
      {
        address: Type.String({ default: '127.0.0.1:8200', description: 'host:port to listen on' }),
        tls: Type.Union([
          Type.Object({ certFile: Type.String({ minLength: 1 }), keyFile: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
          Type.Object({ disable: Type.Literal(true) }, { additionalProperties: false }),
        ]),
      },
      { additionalProperties: false },
    ),
    storage: Type.Union([
      Type.Object(
        { type: Type.Literal('sqlite'), path: Type.String({ minLength: 1 }), auditFsync: Type.Optional(Type.Union([Type.Literal('interval'), Type.Literal('commit')])) },
        { additionalProperties: false },
      ),
      /** PostgreSQL (docs/configuration.md): the URL's password is never logged. */
      Type.Object(
        {
          type: Type.Literal('postgres'),
          url: Type.String({ pattern: '^postgres(ql)?://', description: 'postgres://user:password@host:port/database' }),
          pool: Type.Optional(Type.Object({ max: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ]),
    seal: Type.Union([
      Type.Object({ type: Type.Literal('shamir') }, { additionalProperties: false }),
      /** The root key is wrapped by a non-extractable AES key in the HSM (section `hsm`); auto-unseal at start. */
      Type.Object({ type: Type.Literal('pkcs11'), keyLabel: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }, { additionalProperties: false }),
    ]),
    /** A PKCS#11 HSM (docs/hsm.md): the pkcs11 seal's key and `protection: hsm` keys live in it. */
    hsm: Type.Optional(
      Type.Object(
        {
          library: Type.String({ minLength: 1, description: 'path of the PKCS#11 module' }),
          tokenLabel: Type.String({ minLength: 1, maxLength: 32 }),
          pin: Type.Optional(Type.String({ minLength: 1, description: 'the user PIN (prefer pinEnv)' })),
          pinEnv: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'environment variable holding the user PIN' })),
          pool: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, description: 'sessions kept open (concurrent HSM calls); default 4' })),
          entropy: Type.Optional(Type.Union([Type.Literal('off'), Type.Literal('mix')], { description: 'mix: KMS key material also draws on the HSM RNG' })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Where committed audit events and signed checkpoints are copied (witnesses outside the database). */
    audit: Type.Optional(Type.Object({ sinks: Type.Optional(SinksConfigSchema) }, { additionalProperties: false })),
    /** The AWS KMS-compatible API (docs/aws-compatibility.md): the region and account of key ARNs; defaults us-east-1 / 000000000000. */
    aws: Type.Optional(
      Type.Object(
        {
          region: Type.String({ default: 'us-east-1', pattern: '^[a-z]{2}(-[a-z]+)+-\\d+$', description: 'region of key ARNs; accepted in SigV4 credential scopes' }),
          accountId: Type.String({ default: '000000000000', pattern: '^\\d{12}$' }),
          /** Further regions accepted in SigV4 credential scopes and key ARNs (clients configured for another region). */
          additionalRegions: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z]{2}(-[a-z]+)+-\\d+$' }), { maxItems: 32 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Scheduled online backups (docs/backup.md): run by the job runner (the leader only, with several nodes). */
    backup: Type.Optional(
      Type.Object(
        {
          schedule: Type.Object(
            {
              intervalMinutes: Type.Integer({ minimum: 1, maximum: 525_600, description: 'minutes between backups (the first runs at start)' }),
              dir: Type.String({ minLength: 1, description: 'directory of the backup files and their custodian share files' }),
              retain: Type.Integer({ minimum: 1, maximum: 10_000, description: 'newest backups kept; older ones are deleted' }),
              /** One backup key share per custodian, encrypted to their public key (PEM, X25519 or RSA >= 2048). */
              custodians: Type.Array(
                Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), publicKey: Type.String({ minLength: 1, maxLength: 16_384 }) }, { additionalProperties: false }),
                { minItems: 1, maxItems: 255 },
              ),
              threshold: Type.Integer({ minimum: 1, maximum: 255, description: 'custodian shares needed to restore' }),
            },
            { additionalProperties: false },
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** Several nodes on one PostgreSQL (docs/ha.md). */
    cluster: Type.Optional(
      Type.Object(
        {
          pollMs: Type.Optional(Type.Integer({ minimum: 200, maximum: 300_000, description: 'job timer poll; also how often a follower tries to take the leader lock (default 10000)' })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Anomaly detection on key usage, alerts, webhooks, automatic responses (docs/operations.md). */
    anomaly: Type.Optional(AnomalyConfigSchema),
    log: Type.Optional(
      Type.Object(
        { level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ServerConfig = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListenAddress(s: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`listen address "${s}" must look like host:port (e.g. 127.0.0.1:8200)`);
  return { host: (m[1] ?? m[2]) as string, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function loadConfig(file: string): ServerConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  return validateConfig(raw, dirname(resolve(file)));
}

/**
 * `storage: { postgres: { url, pool } }` (or `{ sqlite: { path } }`), the shape the roadmap names,
 * is the same as `storage: { type: postgres, url, pool }`: rewritten to it before validation.
 */
function normalizeStorage(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || !('storage' in raw)) return raw;
  const storage = (raw as { storage: unknown }).storage;
  if (typeof storage !== 'object' || storage === null || 'type' in storage) return raw;
  const keys = Object.keys(storage);
  const only = keys.length === 1 ? keys[0] : undefined;
  if (only !== 'postgres' && only !== 'sqlite') return raw;
  const inner = (storage as Record<string, unknown>)[only];
  if (typeof inner !== 'object' || inner === null) return raw;
  return { ...raw, storage: { type: only, ...inner } };
}

export function validateConfig(raw: unknown, baseDir: string): ServerConfig {
  const withDefaults = Value.Default(ConfigSchema, structuredClone(normalizeStorage(raw) ?? {}));
  const first = [...Value.Errors(ConfigSchema, withDefaults)][0];
  if (first) {
    const where = first.path ? first.path.slice(1).replace(/\//g, '.') : '(top level)';
    throw new ConfigError(`invalid config at ${where}: ${first.message}`);
  }
  const config = withDefaults as ServerConfig;
  const { host } = parseListenAddress(config.listen.address);
  if ('disable' in config.listen.tls && !isLoopback(host)) {
    throw new ConfigError('listen.tls.disable is only allowed on a loopback address; configure certFile and keyFile');
  }
  const abs = (p: string) => resolve(baseDir, p);
  if ('certFile' in config.listen.tls) {
    config.listen.tls = { certFile: abs(config.listen.tls.certFile), keyFile: abs(config.listen.tls.keyFile) };
  }
  if (config.storage.type === 'sqlite') config.storage.path = abs(config.storage.path);
  else if (!URL.canParse(config.storage.url)) throw new ConfigError('invalid config at storage.url: not a URL');
  if (config.hsm) {
    if ((config.hsm.pin === undefined) === (config.hsm.pinEnv === undefined)) throw new ConfigError('invalid config at hsm: give exactly one of pin and pinEnv');
    config.hsm.library = abs(config.hsm.library);
  }
  if (config.seal.type === 'pkcs11' && !config.hsm) throw new ConfigError('invalid config at seal: the pkcs11 seal needs the hsm section');
  if (config.anomaly) {
    try {
      resolveAnomalySettings(config.anomaly); // zone CIDRs and webhook URLs (the schema checked the rest)
    } catch (e) {
      throw new ConfigError((e as Error).message.replace(/^invalid anomaly config at \/([^:]*)/, (_, path: string) => `invalid config at anomaly.${path.replace(/\//g, '.')}`));
    }
  }
  const schedule = config.backup?.schedule;
  if (schedule) {
    schedule.dir = abs(schedule.dir);
    const n = schedule.custodians.length;
    if (schedule.threshold > n) throw new ConfigError(`invalid config at backup.schedule.threshold: ${schedule.threshold} is more than the ${n} custodians`);
    if (schedule.threshold === 1 && n > 1) throw new ConfigError('invalid config at backup.schedule.threshold: 1 is only allowed with a single custodian (each share would be the whole key)');
    schedule.custodians.forEach((c, i) => {
      if (schedule.custodians.findIndex((o) => o.name === c.name) !== i) throw new ConfigError(`invalid config at backup.schedule.custodians: the name ${c.name} is used twice`);
      try {
        recipientAlgorithm(c.publicKey);
      } catch (e) {
        throw new ConfigError(`invalid config at backup.schedule.custodians.${i}.publicKey: ${(e as Error).message}`);
      }
    });
  }
  const fileSink = config.audit?.sinks?.file;
  if (fileSink) fileSink.path = abs(fileSink.path);
  const webhook = config.audit?.sinks?.webhook;
  if (webhook && !URL.canParse(webhook.url)) throw new ConfigError('invalid config at audit.sinks.webhook.url: not a URL');
  return config;
}
