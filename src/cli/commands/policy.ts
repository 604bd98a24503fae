/**
 * `keywarden policy get|set FILE|versions|version N` (issue 5/10 §1): the policy document stored
 * on the server. `set` sends the file as YAML text (JSON is YAML): the server validates it and
 * stores a new version. Under quorum (the access policy's approvals for policy:edit) the server
 * answers ApprovalRequired: file `keywarden request create --action policy-document-change
 * --policy-file FILE` instead. `policy check` (the offline CI gate) is registered here too.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { type Format, printFields, printJson, printLine, printTable } from '../output.js';
import { registerPolicyCheck } from './policy-check.js';
import { intParser, keyPath, readInput, runtime } from './shared.js';

export interface PolicyVersionView {
  version: number;
  hash: string;
  createdAt: string | null;
  createdBy: string | null;
  document?: Record<string, unknown>;
}

interface KeyPolicyView {
  keyId: string;
  classification: string | null;
  environment: string | null;
  protection: string;
  policyVersion: number;
  policyHash: string;
  layers: string[];
  limits: Record<string, { value: number; rule: string }>;
  violations: Array<{ rule: string; field: string; message: string }>;
}

/** Table form: the version's facts, then the document as YAML. */
function showPolicy(v: PolicyVersionView, format: Format): void {
  if (format === 'json') return printJson(v);
  printFields([
    ['Version', v.version === 0 ? '0 (built-in default)' : v.version],
    ['Hash', v.hash],
    ['Created', v.createdAt === null ? undefined : `${v.createdAt} by ${v.createdBy ?? '?'}`],
  ]);
  printLine();
  process.stdout.write(stringify(v.document ?? {}));
}

export function registerPolicyCommands(program: Command): Command {
  const policy = program.command('policy').description('The policy document: classification, environment, algorithm, rotation and approval rules (docs/policy.md)');

  policy
    .command('get')
    .description('Show the policy in force (version 0 = the built-in default)')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      showPolicy(await client.get<PolicyVersionView>('/v1/policy'), format);
    });

  policy
    .command('set')
    .description('Store a new version of the policy from a YAML or JSON file (needs policy:edit; under quorum, request a policy-document-change)')
    .argument('<file>', 'YAML or JSON policy document (- for stdin)')
    .action(async (file: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const yaml = (await readInput(file === '-' ? undefined : file)).toString('utf8');
      showPolicy(await client.call<PolicyVersionView>('PUT', '/v1/policy', { yaml }), format);
    });

  policy
    .command('versions')
    .description('List the stored versions of the policy')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ versions: PolicyVersionView[] }>('/v1/policy/versions');
      if (format === 'json') return printJson(res);
      printTable(['VERSION', 'CREATED', 'CREATED BY', 'HASH'], res.versions.map((v) => [v.version, v.createdAt ?? '(built in)', v.createdBy, v.hash]));
    });

  policy
    .command('version')
    .description('Show one stored version of the policy')
    .argument('<n>', 'version number (0 = the built-in default)', intParser(0))
    .action(async (n: number, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      showPolicy(await client.get<PolicyVersionView>(`/v1/policy/versions/${n}`), format);
    });

  policy
    .command('key')
    .description('What the policy in force means for one key: the layers of its scope, its limits and the rule behind each, and what it breaks now')
    .argument('<key>', 'key id or alias')
    .action(async (ref: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const r = await client.get<KeyPolicyView>(`${keyPath(ref)}/policy`);
      if (format === 'json') return printJson(r);
      printFields([
        ['Key', r.keyId],
        ['Scope', `${r.classification ?? 'unclassified'} / ${r.environment ?? 'no environment'} / ${r.protection}`],
        ['Policy', `version ${r.policyVersion} (${r.policyHash.slice(0, 12)})`],
        ['Layers', r.layers.join(', ')],
      ]);
      printLine();
      printTable(['LIMIT', 'VALUE', 'RULE'], Object.entries(r.limits).map(([k, v]) => [k, v.value, v.rule]));
      printLine();
      if (r.violations.length === 0) printLine('No violations.');
      else printTable(['RULE', 'VIOLATION'], r.violations.map((v) => [v.rule, v.message]));
    });

  registerPolicyCheck(policy);
  return policy;
}
