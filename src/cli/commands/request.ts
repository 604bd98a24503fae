/**
 * `keywarden request create|list|show|approve|deny|cancel`: approval requests for sensitive
 * actions under quorum (M of N) and for just-in-time grants. The server checks everything; this
 * only builds the request and prints the answer.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { REQUEST_ACTIONS, REQUEST_STATUSES } from '../../auth/approval.model.js';
import { type Format, printFields, printJson, printTable } from '../output.js';
import { readPolicyFile } from './access-policy.js';
import { b64, intParser, parseDuration, readInput, runtime } from './shared.js';

export interface ApprovalRequestView {
  id: string;
  action: string;
  key: string | null;
  keyId: string | null;
  params: Record<string, unknown>;
  requesterId: string;
  requesterName: string;
  reason: string;
  requiredApprovals: number;
  approvals: Array<{ principalId: string; name: string; at: string }>;
  denial: { name: string; at: string; reason: string | null } | null;
  status: string;
  result: Record<string, unknown> | null;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
}

interface CreateOptions {
  action: string;
  key?: string;
  reason: string;
  duration?: number;
  operations?: string[];
  days?: number;
  revokeReason?: string;
  publicKey?: string;
  principal?: string;
  role?: string;
  policyFile?: string;
}

/** `a,b,c` -> ['a', 'b', 'c'] (the server checks the names). */
function listParser(value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new InvalidArgumentError('expected a comma-separated list such as encrypt,decrypt.');
  return items;
}

/** `2h`, `30m`, `3600s` -> seconds. */
function durationSeconds(value: string): number {
  const ms = parseDuration(value);
  if (ms === 0) throw new InvalidArgumentError('expected a positive duration such as 2h or 30m.');
  return ms / 1000;
}

const PEM_PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\s*$/;

/** SPKI DER bytes of a public key from a PEM (or DER) file; the server checks the key itself. */
async function readSpki(file: string): Promise<Buffer> {
  const data = await readInput(file);
  if (data[0] === 0x30) return data;
  const pem = PEM_PUBLIC_KEY.exec(data.toString('latin1').trim());
  if (!pem) throw new Error(`${file} does not hold a public key (expected PEM "BEGIN PUBLIC KEY" or DER SPKI)`);
  return Buffer.from(pem[1]!, 'base64');
}

/** `k=v, k2=v2` of a flat object (nested values as JSON; the policy of a policy-change is summarized). */
function summary(o: Record<string, unknown> | null): string {
  if (o === null) return '';
  return Object.entries(o)
    .map(([k, v]) => `${k}=${k === 'policy' ? '(see --format json)' : typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

const approvalsText = (r: ApprovalRequestView) => `${r.approvals.length}/${r.requiredApprovals}${r.approvals.length ? `: ${r.approvals.map((a) => a.name).join(', ')}` : ''}`;

export function printRequest(r: ApprovalRequestView): void {
  printFields([
    ['ID', r.id],
    ['Action', r.action],
    ['Key', r.key ?? undefined],
    ['Parameters', summary(r.params) || undefined],
    ['Requester', r.requesterName],
    ['Reason', r.reason],
    ['Status', r.status],
    ['Approvals', approvalsText(r)],
    ['Denied by', r.denial ? `${r.denial.name} at ${r.denial.at}${r.denial.reason ? `: ${r.denial.reason}` : ''}` : undefined],
    ['Result', r.result ? summary(r.result) : undefined],
    ['Created', r.createdAt],
    ['Expires', r.status === 'pending' ? r.expiresAt : undefined],
    ['Decided', r.decidedAt ?? undefined],
  ]);
}

function showRequest(res: { request: ApprovalRequestView }, format: Format): void {
  if (format === 'json') printJson(res);
  else printRequest(res.request);
}

export function registerRequestCommands(program: Command): void {
  const request = program.command('request').description('Approval requests: quorum approval of sensitive actions, just-in-time grants');

  request
    .command('create')
    .description('Ask for an action that needs approval (or a just-in-time grant); it runs once approved')
    .addOption(new Option('--action <action>', 'what to do').choices(REQUEST_ACTIONS).makeOptionMandatory())
    .option('--key <key>', 'key id or alias (key actions and jit-grant)')
    .requiredOption('--reason <text>', 'why: shown to the approvers')
    .option('--duration <duration>', 'jit-grant: how long the grant lasts once approved, e.g. 2h or 30m', durationSeconds)
    .option('--operations <list>', 'jit-grant: operations, comma-separated (encrypt,decrypt,...)', listParser)
    .option('--days <n>', 'schedule-deletion: waiting period in days, 7 to 30', intParser(7, 30))
    .addOption(new Option('--revoke-reason <reason>', 'revoke: why the key is revoked').choices(['compromised', 'superseded']))
    .option('--public-key <file>', 'export: PEM file with the RSA public key to wrap the material under')
    .option('--principal <name>', 'role-bind / role-unbind: the principal')
    .option('--role <role>', 'role-bind / role-unbind: the role')
    .option('--policy-file <file>', 'policy-change / policy-document-change: YAML or JSON file with the complete new access policy / policy document')
    .action(async (o: CreateOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const params: Record<string, unknown> = {};
      if (o.days !== undefined) params.pendingWindowDays = o.days;
      if (o.revokeReason !== undefined) params.reason = o.revokeReason;
      if (o.publicKey !== undefined) params.publicKey = b64(await readSpki(o.publicKey));
      if (o.principal !== undefined) params.principal = o.principal;
      if (o.role !== undefined) params.role = o.role;
      if (o.operations !== undefined) params.operations = o.operations;
      // The file is the access policy (policy-change) or the policy document (policy-document-change).
      if (o.policyFile !== undefined) params[o.action === 'policy-document-change' ? 'document' : 'policy'] = await readPolicyFile(o.policyFile);
      const body = { action: o.action, key: o.key, reason: o.reason, duration: o.duration, params: Object.keys(params).length > 0 ? params : undefined };
      showRequest(await client.post<{ request: ApprovalRequestView }>('/v1/requests', body), format);
    });

  request
    .command('list')
    .description('List requests, newest first (without request:read: your own)')
    .addOption(new Option('--status <status>', 'only requests in this status').choices(REQUEST_STATUSES))
    .action(async (o: { status?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ requests: ApprovalRequestView[] }>(`/v1/requests${o.status ? `?status=${o.status}` : ''}`);
      if (format === 'json') return printJson(res);
      printTable(
        ['ID', 'ACTION', 'KEY', 'REQUESTER', 'STATUS', 'APPROVALS', 'CREATED'],
        res.requests.map((r) => [r.id, r.action, r.key ?? (r.params.principal as string | undefined) ?? '', r.requesterName, r.status, `${r.approvals.length}/${r.requiredApprovals}`, r.createdAt]),
      );
    });

  request
    .command('show')
    .description('Show a request (the requester of an export also gets the wrapped material)')
    .argument('<id>', 'request id')
    .action(async (id: string, _o: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      showRequest(await client.get(`/v1/requests/${encodeURIComponent(id)}`), format);
    });

  for (const [name, description] of [
    ['approve', 'Approve a request (security officers; never your own); the last approval runs it'],
    ['cancel', 'Withdraw your own pending request'],
  ] as const) {
    request
      .command(name)
      .description(description)
      .argument('<id>', 'request id')
      .action(async (id: string, _o: object, cmd: Command) => {
        const { client, format } = runtime(cmd);
        showRequest(await client.post(`/v1/requests/${encodeURIComponent(id)}/${name}`), format);
      });
  }

  request
    .command('deny')
    .description('Deny a request (security officers; never your own): it will not run')
    .argument('<id>', 'request id')
    .option('--reason <text>', 'why (shown to the requester)')
    .action(async (id: string, o: { reason?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      showRequest(await client.post(`/v1/requests/${encodeURIComponent(id)}/deny`, { reason: o.reason }), format);
    });
}
