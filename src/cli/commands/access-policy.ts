/**
 * `keywarden access-policy show|set`: the stored access policy (MFA requirements, step-up actions,
 * approvals per action, just-in-time limits). The server validates it; changing it may itself
 * need approval (then use `keywarden request create --action policy-change --policy-file F`).
 */
import type { Command } from 'commander';
import { parse } from 'yaml';
import { type Format, printFields, printJson } from '../output.js';
import { readInput, runtime } from './shared.js';

export interface PolicyView {
  policy: {
    mfaRequiredRoles: string[];
    mfaGatedActions: string[];
    stepUpMaxAgeSeconds: number;
    approvals: Record<string, number>;
    jitApprovals: number;
    jitMaxDurationSeconds: number;
    requestTtlSeconds: number;
  };
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
}

/**
 * Reads a policy from a YAML or JSON file (JSON is YAML). The file holds the policy itself, or
 * the output of `access-policy show --format json` ({policy, version, ...}), so show / edit / set works.
 */
export async function readPolicyFile(file: string): Promise<unknown> {
  let doc: unknown;
  try {
    doc = parse((await readInput(file)).toString('utf8'));
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('cannot read')) throw err;
    throw new Error(`${file} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${file} does not hold a policy (expected a YAML or JSON object)`);
  const inner = (doc as { policy?: unknown }).policy;
  return typeof inner === 'object' && inner !== null ? inner : doc;
}

const seconds = (s: number) => (s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);

function showPolicy(v: PolicyView, format: Format): void {
  if (format === 'json') return printJson(v);
  const p = v.policy;
  const approvals = Object.entries(p.approvals).filter(([, m]) => m > 0);
  printFields([
    ['Version', v.version === 0 ? '0 (built-in defaults)' : v.version],
    ['Updated', v.updatedAt === null ? undefined : `${v.updatedAt} by ${v.updatedBy ?? '?'}`],
    ['MFA required roles', p.mfaRequiredRoles.join(', ') || 'none'],
    ['MFA step-up actions', p.mfaGatedActions.join(', ') || 'none'],
    ['Step-up max age', seconds(p.stepUpMaxAgeSeconds)],
    ['Approvals', approvals.map(([a, m]) => `${a}=${m}`).join(', ') || 'none'],
    ['JIT approvals', p.jitApprovals],
    ['JIT max duration', seconds(p.jitMaxDurationSeconds)],
    ['Request lifetime', seconds(p.requestTtlSeconds)],
  ]);
}

export function registerAccessPolicyCommands(program: Command): void {
  const ap = program.command('access-policy').description('The access policy: MFA, step-up, quorum approvals, just-in-time grant limits');

  ap.command('show')
    .description('Show the access policy in force')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      showPolicy(await client.get<PolicyView>('/v1/access-policy'), format);
    });

  ap.command('set')
    .description('Replace the access policy (needs policy:edit; under quorum, request a policy-change instead)')
    .requiredOption('--file <file>', 'YAML or JSON file with the complete policy')
    .action(async (opts: { file: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const policy = await readPolicyFile(opts.file);
      showPolicy(await client.call<PolicyView>('PUT', '/v1/access-policy', { policy }), format);
    });
}
