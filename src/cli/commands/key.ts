import type { Command } from 'commander';
import { formatPairs, printFields, printJson, printTable } from '../output.js';
import { intParser, keyPath, type Pairs, pairsOption, runtime } from './shared.js';

interface Key {
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
}

interface ListOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function printKey(key: Key): void {
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
  ]);
}

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('Create, list and describe keys');

  key
    .command('create')
    .description('Create a new key')
    .option('--description <text>', 'free-text description')
    .option('--alias <alias>', 'alias such as alias/payments (repeatable)', collect)
    .addOption(pairsOption('--tag <k=v>', 'tag'))
    .option('--spec <spec>', 'key spec (server default: SYMMETRIC_DEFAULT)')
    .action(async (opts: CreateOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ key: Key }>('/v1/keys', {
        description: opts.description,
        alias: opts.alias,
        tags: opts.tag,
        spec: opts.spec,
      });
      if (format === 'json') printJson(res);
      else printKey(res.key);
    });

  key
    .command('list')
    .description('List keys, one page at a time (or all with --all)')
    .option('--limit <n>', 'maximum number of keys per page', intParser(1))
    .option('--cursor <cursor>', 'continue from the nextCursor of a previous page')
    .option('--all', 'follow nextCursor until every key is listed')
    .action(async (opts: ListOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const keys: Key[] = [];
      let cursor = opts.cursor ?? null;
      do {
        const query = new URLSearchParams();
        if (opts.limit !== undefined) query.set('limit', String(opts.limit));
        if (cursor !== null) query.set('cursor', cursor);
        const page = await client.get<KeyPage>(`/v1/keys${query.size ? `?${query}` : ''}`);
        keys.push(...page.keys);
        cursor = page.nextCursor;
      } while (opts.all && cursor !== null);

      if (format === 'json') return printJson({ keys, nextCursor: cursor });
      printTable(
        ['ID', 'ALIASES', 'STATE', 'SPEC', 'CREATED', 'DESCRIPTION'],
        keys.map((k) => [k.id, k.aliases.join(','), k.state, k.spec, k.createdAt, k.description]),
      );
      if (cursor !== null) process.stderr.write(`More keys: add --cursor ${cursor} (or use --all)\n`);
    });

  key
    .command('describe')
    .description('Show one key')
    .argument('<key>', 'key id or alias')
    .action(async (keyArg: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ key: Key }>(keyPath(keyArg));
      if (format === 'json') printJson(res);
      else printKey(res.key);
    });
}
