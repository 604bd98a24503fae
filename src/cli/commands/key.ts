import { type Command, Option } from 'commander';
import { type Format, formatPairs, printFields, printJson, printTable } from '../output.js';
import { collect, daysParser, intParser, keyPath, type Pairs, pairsOption, runtime } from './shared.js';

export interface Key {
  id: string;
  aliases: string[];
  spec: string;
  usage: string;
  state: string;
  origin: string;
  description?: string;
  tags?: Pairs;
  createdAt: string;
  primaryVersion: number;
  exportable?: boolean;
  minDecryptionVersion?: number;
  rotationPeriodDays?: number | null;
  nextRotationAt?: string | null;
  usageLimit?: number;
  deletionAt?: string | null;
  compromisedAt?: string | null;
  revocationReason?: string | null;
  materialExpiresAt?: string | null;
  lastUsedAt?: string | null;
  classification?: string | null;
  environment?: string | null;
  protection?: string;
}

interface KeyPage {
  keys: Key[];
  nextCursor: string | null;
}

interface CreateOptions {
  description?: string;
  alias?: string[];
  tag?: Pairs;
  spec?: string;
  usage?: string;
  origin?: string;
  exportable?: boolean;
  rotationPeriod?: number;
  usageLimit?: number;
  classification?: string;
  environment?: string;
  protection?: string;
}

interface ListOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
  classification?: string;
  environment?: string;
}

export const CLASSIFICATION_CHOICES = ['public', 'internal', 'confidential', 'restricted'];
export const ENVIRONMENT_CHOICES = ['dev', 'staging', 'prod'];

export function printKey(key: Key): void {
  printFields([
    ['ID', key.id],
    ['Aliases', key.aliases.join(', ')],
    ['Description', key.description ?? ''],
    ['Spec', key.spec],
    ['Usage', key.usage],
    ['State', key.state],
    ['Origin', key.origin],
    ['Tags', formatPairs(key.tags)],
    ['Created', key.createdAt],
    ['Primary version', key.primaryVersion],
    // Lifecycle fields: shown only when the server sends them and they are set.
    ['Classification', key.classification === undefined ? undefined : (key.classification ?? 'unclassified')],
    ['Environment', key.environment === undefined ? undefined : (key.environment ?? 'none')],
    ['Protection', key.protection],
    ['Exportable', key.exportable],
    ['Min decryption version', key.minDecryptionVersion],
    ['Rotation period', key.rotationPeriodDays == null ? undefined : `${key.rotationPeriodDays}d`],
    ['Next rotation', key.nextRotationAt ?? undefined],
    ['Usage limit', key.usageLimit],
    ['Last used', key.lastUsedAt ?? undefined],
    ['Deletion at', key.deletionAt ?? undefined],
    ['Revocation reason', key.revocationReason ?? undefined],
    ['Compromised at', key.compromisedAt ?? undefined],
    ['Material expires', key.materialExpiresAt ?? undefined],
  ]);
}

/** Prints a `{key}` response: as JSON or as a table of its fields. */
export function showKey(res: { key: Key }, format: Format): void {
  if (format === 'json') printJson(res);
  else printKey(res.key);
}

/** The table of a list of keys. */
export function printKeys(keys: readonly Key[]): void {
  printTable(
    ['ID', 'ALIASES', 'STATE', 'SPEC', 'USAGE', 'CREATED', 'LAST USED', 'DESCRIPTION'],
    keys.map((k) => [k.id, k.aliases.join(','), k.state, k.spec, k.usage, k.createdAt, k.lastUsedAt, k.description]),
  );
}

export function registerKeyCommands(program: Command): Command {
  const key = program.command('key').description('Manage keys: create, lifecycle, versions, aliases, tags, import and export, unused-key reports');

  key
    .command('create')
    .description('Create a new key')
    .option('--description <text>', 'free-text description')
    .option('--alias <alias>', 'alias such as alias/payments (repeatable)', collect)
    .addOption(pairsOption('--tag <k=v>', 'tag'))
    .option('--spec <spec>', 'key spec: SYMMETRIC_DEFAULT (server default), HMAC_256|384|512, RSA_2048|3072|4096, ECC_NIST_P256|P384, ECC_ED25519')
    .option('--usage <usage>', 'key usage: ENCRYPT_DECRYPT, SIGN_VERIFY or GENERATE_VERIFY_MAC (server default: the first the spec allows)')
    .addOption(new Option('--origin <origin>', 'where the key material comes from; EXTERNAL: import it with `key import`').choices(['KEYWARDEN', 'EXTERNAL']))
    .option('--exportable', 'allow `key export` of the key material')
    .option('--rotation-period <duration>', 'rotate automatically every DURATION, in whole days (e.g. 90d)', daysParser())
    .option('--usage-limit <n>', 'rotate automatically once a version made N encryptions', intParser(1))
    .addOption(new Option('--classification <c>', 'data classification (policy scope; may later only become stricter)').choices(CLASSIFICATION_CHOICES))
    .addOption(new Option('--environment <env>', 'environment (policy scope; set once)').choices(ENVIRONMENT_CHOICES))
    .addOption(new Option('--protection <p>', 'where the material lives (hsm needs an HSM on the server)').choices(['software', 'hsm']))
    .action(async (opts: CreateOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ key: Key }>('/v1/keys', {
        description: opts.description,
        alias: opts.alias,
        tags: opts.tag,
        spec: opts.spec,
        usage: opts.usage,
        origin: opts.origin,
        exportable: opts.exportable,
        rotationPeriodDays: opts.rotationPeriod,
        usageLimit: opts.usageLimit,
        classification: opts.classification,
        environment: opts.environment,
        protection: opts.protection,
      });
      showKey(res, format);
    });

  key
    .command('list')
    .description('List keys, one page at a time (or all with --all)')
    .option('--limit <n>', 'maximum number of keys per page', intParser(1))
    .option('--cursor <cursor>', 'continue from the nextCursor of a previous page')
    .option('--all', 'follow nextCursor until every key is listed')
    .addOption(new Option('--classification <c>', 'only keys of this classification').choices(CLASSIFICATION_CHOICES))
    .addOption(new Option('--environment <env>', 'only keys of this environment').choices(ENVIRONMENT_CHOICES))
    .action(async (opts: ListOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const keys: Key[] = [];
      let cursor = opts.cursor ?? null;
      do {
        const query = new URLSearchParams();
        if (opts.limit !== undefined) query.set('limit', String(opts.limit));
        if (cursor !== null) query.set('cursor', cursor);
        if (opts.classification !== undefined) query.set('classification', opts.classification);
        if (opts.environment !== undefined) query.set('environment', opts.environment);
        const page = await client.get<KeyPage>(`/v1/keys${query.size ? `?${query}` : ''}`);
        keys.push(...page.keys);
        cursor = page.nextCursor;
      } while (opts.all && cursor !== null);

      if (format === 'json') return printJson({ keys, nextCursor: cursor });
      printKeys(keys);
      if (cursor !== null) process.stderr.write(`More keys: add --cursor ${cursor} (or use --all)\n`);
    });

  key
    .command('describe')
    .description('Show one key')
    .argument('<key>', 'key id or alias')
    .action(async (keyArg: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      showKey(await client.get<{ key: Key }>(keyPath(keyArg)), format);
    });

  return key;
}
