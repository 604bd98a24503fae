/**
 * `keywarden key ...` lifecycle commands: state changes, versions, settings, tags and aliases.
 */
import { type Command, Option } from 'commander';
import { type Format, printFields, printJson, printTable } from '../output.js';
import { CLASSIFICATION_CHOICES, ENVIRONMENT_CHOICES, type Key, showKey } from './key.js';
import { collectPair, daysParser, intParser, keyPath, type Pairs, runtime, timeParser } from './shared.js';

interface Version {
  version: number;
  state: string;
  primary: boolean;
  createdAt: string;
  usageCount: number;
  lastUsedAt: string | null;
  destroyedAt: string | null;
}

interface AliasEntry {
  alias: string;
  keyId: string;
}

/**
 * Adds `name <key>` to `parent`: sends `method` to the key's path + `path` (default `/name`) with
 * the body built from the options, and prints the `{key}` answer.
 */
function keyCommand<O extends object>(
  parent: Command,
  name: string,
  description: string,
  request: (opts: O, cmd: Command) => { method?: string; path?: string; body?: object },
): Command {
  return parent
    .command(name)
    .description(description)
    .argument('<key>', 'key id or alias')
    .action(async (...args: unknown[]) => {
      // Commands may add more arguments after <key>, so take the command from the end.
      const cmd = args.at(-1) as Command;
      const keyArg = cmd.processedArgs[0] as string;
      const { client, format } = runtime(cmd);
      const { method = 'POST', path = `/${name}`, body = {} } = request(cmd.opts() as O, cmd);
      showKey(await client.call<{ key: Key }>(method, keyPath(keyArg) + path, body), format);
    });
}

function printVersion(v: Version): void {
  printFields([
    ['Version', v.version],
    ['State', v.state],
    ['Primary', v.primary],
    ['Created', v.createdAt],
    ['Usage count', v.usageCount],
    ['Last used', v.lastUsedAt ?? undefined],
    ['Destroyed', v.destroyedAt ?? undefined],
  ]);
}

function showAlias(res: AliasEntry, format: Format): void {
  if (format === 'json') printJson(res);
  else printFields([['Alias', res.alias], ['Key ID', res.keyId]]);
}

export function registerLifecycleCommands(key: Command): void {
  for (const [name, description] of [
    ['rotate', 'Create a new key version and make it primary (older versions still decrypt)'],
    ['enable', 'Enable a disabled key'],
    ['disable', 'Disable a key: it refuses every operation until enabled again'],
  ] as const) {
    keyCommand(key, name, description, () => ({}));
  }

  keyCommand<{ days?: number }>(key, 'schedule-deletion', 'Schedule the deletion of a key after a waiting period', (o) => ({
    body: { days: o.days },
  })).option('--days <n>', 'waiting period in days, 7 to 30 (server default 30)', intParser(7, 30));
  keyCommand(key, 'cancel-deletion', 'Cancel a scheduled deletion; the key becomes Disabled', () => ({}));

  const revokeHelp = 'Revoke a key: a compromised key stops working (re-encrypt its ciphertexts elsewhere), a superseded one is disabled';
  keyCommand<{ reason: string; compromisedAt?: string }>(key, 'revoke', revokeHelp, (o) => ({
    body: { reason: o.reason, compromisedAt: o.compromisedAt },
  }))
    .addOption(new Option('--reason <reason>', 'why the key is revoked').choices(['compromised', 'superseded']).makeOptionMandatory())
    .option('--compromised-at <time>', 'when the key was compromised (ISO 8601)', timeParser);

  interface UpdateOptions {
    description?: string;
    rotationPeriod?: number | 'off';
    minDecryptionVersion?: number;
    usageLimit?: number;
    classification?: string;
    environment?: string;
  }
  keyCommand<UpdateOptions>(key, 'update', 'Change the description, lifecycle settings or policy scope of a key', (o, cmd) => {
    const body = {
      description: o.description,
      rotationPeriodDays: o.rotationPeriod === 'off' ? null : o.rotationPeriod,
      minDecryptionVersion: o.minDecryptionVersion,
      usageLimit: o.usageLimit,
      classification: o.classification,
      environment: o.environment,
    };
    if (Object.values(body).every((v) => v === undefined)) {
      cmd.error('error: nothing to update: give at least one option (see --help)', { exitCode: 2 });
    }
    return { method: 'PATCH', path: '', body };
  })
    .option('--description <text>', 'new description')
    .option('--rotation-period <duration>', 'automatic rotation period in whole days (e.g. 90d), or off', daysParser({ off: true }))
    .option('--min-decryption-version <n>', 'refuse to decrypt with versions older than N', intParser(1))
    .option('--usage-limit <n>', 'rotate automatically once a version made N encryptions', intParser(1))
    .addOption(new Option('--classification <c>', 'a stricter data classification (re-applies the policy, e.g. a shorter rotation period)').choices(CLASSIFICATION_CHOICES))
    .addOption(new Option('--environment <env>', 'the environment, when the key has none (set once)').choices(ENVIRONMENT_CHOICES));

  keyCommand<Record<string, never>>(key, 'tag', 'Add or change tags of a key', (_o, cmd) => ({
    path: '/tags',
    body: { tags: cmd.processedArgs[1] as Pairs },
  })).argument('<k=v...>', 'tags to set', collectPair);

  keyCommand<Record<string, never>>(key, 'untag', 'Remove tags from a key', (_o, cmd) => ({
    body: { tagKeys: cmd.processedArgs[1] as string[] },
  })).argument('<k...>', 'tag keys to remove');

  key
    .command('versions')
    .description('List the versions of a key')
    .argument('<key>', 'key id or alias')
    .action(async (keyArg: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ versions: Version[] }>(`${keyPath(keyArg)}/versions`);
      if (format === 'json') return printJson(res);
      printTable(
        ['VERSION', 'STATE', 'PRIMARY', 'CREATED', 'USAGE COUNT', 'LAST USED', 'DESTROYED'],
        res.versions.map((v) => [v.version, v.state, v.primary ? 'yes' : '', v.createdAt, v.usageCount, v.lastUsedAt, v.destroyedAt]),
      );
    });

  const version = key.command('version').description('Enable, disable or destroy one version of a key');
  for (const [action, description] of [
    ['enable', 'Enable a disabled key version'],
    ['disable', 'Disable a key version: it no longer decrypts or verifies'],
    ['destroy', 'Destroy the material of a non-primary key version (irreversible)'],
  ] as const) {
    version
      .command(action)
      .description(description)
      .argument('<key>', 'key id or alias')
      .argument('<n>', 'version number', intParser(1))
      .action(async (keyArg: string, n: number, _opts: object, cmd: Command) => {
        const { client, format } = runtime(cmd);
        const res = await client.post<{ version: Version }>(`${keyPath(keyArg)}/versions/${n}/${action}`);
        if (format === 'json') printJson(res);
        else printVersion(res.version);
      });
  }

  const alias = key.command('alias').description('Create, repoint, delete and list aliases');
  for (const [action, method, description] of [
    ['create', 'POST', 'Create an alias for a key'],
    ['update', 'PUT', 'Point an existing alias at another key'],
  ] as const) {
    alias
      .command(action)
      .description(description)
      .argument('<alias>', 'alias such as alias/payments')
      .requiredOption('--key <key>', 'key id or alias of the target key')
      .action(async (name: string, opts: { key: string }, cmd: Command) => {
        const { client, format } = runtime(cmd);
        showAlias(await client.call<AliasEntry>(method, '/v1/aliases', { alias: name, key: opts.key }), format);
      });
  }
  alias
    .command('delete')
    .description('Delete an alias (the key is not changed)')
    .argument('<alias>', 'alias such as alias/payments')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.call<{ deleted: string }>('DELETE', `/v1/aliases?${new URLSearchParams({ alias: name })}`);
      if (format === 'json') printJson(res);
      else printFields([['Deleted', res.deleted]]);
    });
  alias
    .command('list')
    .description('List all aliases')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ aliases: AliasEntry[] }>('/v1/aliases');
      if (format === 'json') return printJson(res);
      printTable(['ALIAS', 'KEY ID'], res.aliases.map((a) => [a.alias, a.keyId]));
    });
}
