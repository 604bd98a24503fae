/**
 * `keywarden grant create|list|revoke`: grants on a key (or on every key carrying some tags) to an
 * application principal, optionally bound to an encryption context, source addresses and a
 * validity window. The server decides everything; this only builds the request.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Format, formatPairs, printFields, printJson, printTable } from '../output.js';
import { collect, contextOption, type Pairs, pairsOption, parseDuration, runtime, timeParser } from './shared.js';

export interface Grant {
  id: string;
  keyId: string | null;
  tagSelector: Pairs | null;
  principalId: string;
  operations: string[];
  conditions: { contextEquals?: Pairs; contextIncludes?: Pairs; sourceCidrs?: string[]; notBefore?: string; notAfter?: string };
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
  approvalRequestId: string | null;
}

interface CreateOptions {
  key?: string;
  tag?: Pairs;
  principal: string;
  operations: string[];
  context?: Pairs;
  contextMatch: 'equals' | 'includes';
  sourceCidr?: string[];
  notBefore?: string;
  notAfter?: string;
}

/** `a,b,c` -> ['a', 'b', 'c'] (the server checks the names). */
function listParser(value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new InvalidArgumentError('expected a comma-separated list such as encrypt,decrypt.');
  return items;
}

/** An ISO 8601 time, or a duration from now such as 8h or 30d (converted here, sent as ISO). */
function timeOrDuration(value: string): string {
  if (/^\d+[smhd]$/.test(value)) return new Date(Date.now() + parseDuration(value)).toISOString();
  return timeParser(value);
}

const target = (g: Grant) => (g.keyId ?? `tags: ${formatPairs(g.tagSelector ?? {})}`);

function conditionText(g: Grant): string {
  const c = g.conditions;
  return [
    c.contextEquals && `context = {${formatPairs(c.contextEquals)}}`,
    c.contextIncludes && `context ⊇ {${formatPairs(c.contextIncludes)}}`,
    c.sourceCidrs && `from ${c.sourceCidrs.join(' ')}`,
    c.notBefore && `not before ${c.notBefore}`,
    c.notAfter && `not after ${c.notAfter}`,
  ]
    .filter(Boolean)
    .join('; ');
}

export function printGrant(g: Grant): void {
  printFields([
    ['ID', g.id],
    [g.keyId === null ? 'Tag selector' : 'Key', g.keyId ?? formatPairs(g.tagSelector ?? {})],
    ['Principal', g.principalId],
    ['Operations', g.operations.join(', ')],
    ['Conditions', conditionText(g) || 'none'],
    ['Created', g.createdAt],
    ['Created by', g.createdBy],
    ['Last used', g.lastUsedAt ?? 'never'],
    ['Revoked', g.revokedAt ?? undefined],
    ['Approval request', g.approvalRequestId ?? undefined],
  ]);
}

function showGrant(res: { grant: Grant }, format: Format): void {
  if (format === 'json') printJson(res);
  else printGrant(res.grant);
}

export function registerGrantCommands(program: Command): Command {
  const grant = program.command('grant').description('Grants: which application may use which keys, for which operations, under which conditions');

  grant
    .command('create')
    .description('Grant an application principal operations on a key (--key) or on every key carrying tags (--tag)')
    .option('--key <key>', 'key id or alias')
    .addOption(pairsOption('--tag <k=v>', 'tag selector pair instead of --key: every key whose tags contain all pairs').conflicts('key'))
    .requiredOption('--principal <name>', 'grantee (holds the application role)')
    .requiredOption('--operations <list>', 'comma-separated: encrypt, decrypt, generate-data-key, re-encrypt, re-wrap, sign, verify, mac, verify-mac, export', listParser)
    .addOption(contextOption('encryption context pair the operation must carry'))
    .addOption(new Option('--context-match <mode>', 'equals: the context is exactly the --context pairs; includes: it contains them').choices(['equals', 'includes']).default('equals'))
    .option('--source-cidr <cidr>', 'caller address range, IPv4 or IPv6 (repeatable)', collect)
    .option('--not-before <time>', 'valid from: ISO 8601 time, or a duration from now such as 1h', timeOrDuration)
    .option('--not-after <time>', 'valid until (exclusive): ISO 8601 time, or a duration from now such as 8h', timeOrDuration)
    .action(async (opts: CreateOptions, cmd: Command) => {
      if ((opts.key === undefined) === (opts.tag === undefined)) throw new Error('give either --key or --tag (one or more)');
      const conditions = {
        ...(opts.context ? { [opts.contextMatch === 'includes' ? 'contextIncludes' : 'contextEquals']: opts.context } : {}),
        ...(opts.sourceCidr ? { sourceCidrs: opts.sourceCidr } : {}),
        ...(opts.notBefore ? { notBefore: opts.notBefore } : {}),
        ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
      };
      const { client, format } = runtime(cmd);
      const res = await client.post<{ grant: Grant }>('/v1/grants', {
        ...(opts.key !== undefined ? { key: opts.key } : { tagSelector: opts.tag }),
        principal: opts.principal,
        operations: opts.operations,
        ...(Object.keys(conditions).length > 0 ? { conditions } : {}),
      });
      showGrant(res, format);
    });

  grant
    .command('list')
    .description('List active grants, all or those that apply to a key and/or are held by a principal')
    .option('--key <key>', 'grants that apply to this key (naming it, or selecting it by its tags)')
    .option('--principal <name>', 'grants held by this principal')
    .action(async (opts: { key?: string; principal?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const q = new URLSearchParams({ ...(opts.key ? { key: opts.key } : {}), ...(opts.principal ? { principal: opts.principal } : {}) }).toString();
      const res = await client.get<{ grants: Grant[] }>(`/v1/grants${q ? `?${q}` : ''}`);
      if (format === 'json') printJson(res);
      else printTable(['ID', 'TARGET', 'PRINCIPAL', 'OPERATIONS', 'CONDITIONS', 'LAST USED'], res.grants.map((g) => [g.id, target(g), g.principalId, g.operations.join(','), conditionText(g), g.lastUsedAt ?? 'never']));
    });

  grant
    .command('revoke')
    .description('Revoke a grant; it stops working at once')
    .argument('<id>', 'grant id')
    .action(async (id: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      showGrant(await client.call<{ grant: Grant }>('DELETE', `/v1/grants/${encodeURIComponent(id)}`), format);
    });
  return grant;
}
