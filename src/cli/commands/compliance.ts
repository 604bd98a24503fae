/**
 * `keywarden compliance report|remediate` (issue 5/10 §4): the server's compliance report, and a
 * plan (then, with --yes, the calls) that fixes what can be fixed mechanically: overdue rotation
 * (rotate now), a missing or too long rotation period (set it to the scope's maximum) and a
 * retired algorithm (a successor key of the strongest allowed spec). Everything goes through the
 * REST API with the caller's token, so the server authorizes, enforces policy and audits each step.
 */
import { type Command, Option } from 'commander';
import { VIOLATION_KINDS } from '../../policy/compliance.js';
import { CLASSIFICATIONS, ENVIRONMENTS } from '../../policy/policy.model.js';
import type { KeywardenClient } from '../client.js';
import { printJson, printLine, printTable } from '../output.js';
import type { Key } from './key.js';
import { keyPath, runtime } from './shared.js';

export interface ReportViolation {
  kind: string;
  rule: string;
  message: string;
  maxRotationDays?: number;
  replacementSpec?: string | null;
  grantId?: string;
}
export interface ReportKey {
  id: string;
  aliases: string[];
  spec: string;
  classification: string | null;
  environment: string | null;
  state: string;
  violations: ReportViolation[];
}
export interface Report {
  generatedAt: string;
  policy: { version: number; hash: string };
  summary: { keys: number; compliant: number; pendingDeletion: number; violations: number; byKind: Record<string, number> };
  keys: ReportKey[];
}

/** Tags Keywarden itself sets: a successor names the key it replaces, the old key its successor. */
export const REPLACES_TAG = 'keywarden:replaces';
export const SUPERSEDED_TAG = 'keywarden:superseded-by';

/** One mechanical fix, in the order it is applied. */
export type Step =
  | { action: 'set-rotation'; keyId: string; aliases: string[]; days: number; kind: 'rotation-period'; rule: string }
  | { action: 'rotate'; keyId: string; aliases: string[]; kind: 'rotation-overdue'; rule: string }
  | { action: 'rekey'; keyId: string; aliases: string[]; from: string; spec: string; rotationPeriodDays: number | null; kind: 'weak-algorithm'; rule: string };

interface Plan {
  policy: Report['policy'];
  steps: Step[];
  /** Handled before: keys already superseded by a successor. */
  done: Array<{ keyId: string; supersededBy: string }>;
  /** Violations this command does not fix (they need a person). */
  manual: Array<{ keyId: string; kind: string; rule: string; message: string }>;
}

const label = (k: { keyId: string; aliases: string[] }) => (k.aliases.length > 0 ? `${k.keyId} (${k.aliases.join(', ')})` : k.keyId);

async function buildPlan(client: KeywardenClient, report: Report): Promise<Plan> {
  const plan: Plan = { policy: report.policy, steps: [], done: [], manual: [] };
  for (const k of report.keys) {
    const at = { keyId: k.id, aliases: k.aliases };
    const weak = k.violations.find((v) => v.kind === 'weak-algorithm');
    if (weak !== undefined) {
      // A key of a retired spec is replaced, not maintained: rotating or reconfiguring it would be
      // refused by the same policy, and its successor gets the rotation period the scope needs.
      const key = (await client.get<{ key: Key }>(keyPath(k.id))).key;
      const by = key.tags?.[SUPERSEDED_TAG];
      if (by !== undefined) plan.done.push({ keyId: k.id, supersededBy: by });
      else if (weak.replacementSpec) {
        // The successor keeps the old key's rotation period, capped by what the scope allows.
        const max = k.violations.find((v) => v.kind === 'rotation-period')?.maxRotationDays;
        const own = key.rotationPeriodDays ?? null;
        const rotationPeriodDays = max === undefined ? own : own === null ? max : Math.min(own, max);
        plan.steps.push({ action: 'rekey', ...at, from: k.spec, spec: weak.replacementSpec, rotationPeriodDays, kind: 'weak-algorithm', rule: weak.rule });
      }
      else plan.manual.push({ keyId: k.id, kind: weak.kind, rule: weak.rule, message: `${weak.message}; no allowed spec offers this key's usage` });
      continue;
    }
    for (const v of k.violations) {
      if (v.kind === 'rotation-period' && v.maxRotationDays !== undefined) plan.steps.push({ action: 'set-rotation', ...at, days: v.maxRotationDays, kind: v.kind, rule: v.rule });
      else if (v.kind !== 'rotation-overdue') plan.manual.push({ keyId: k.id, kind: v.kind, rule: v.rule, message: v.message });
    }
    // Rotation runs after a new period is set, so the next rotation is scheduled from the new period.
    const overdue = k.violations.find((v) => v.kind === 'rotation-overdue');
    if (overdue !== undefined && k.state === 'Enabled') plan.steps.push({ action: 'rotate', ...at, kind: 'rotation-overdue', rule: overdue.rule });
    else if (overdue !== undefined) plan.manual.push({ keyId: k.id, kind: overdue.kind, rule: overdue.rule, message: `${overdue.message}; only an enabled key rotates (it is ${k.state})` });
  }
  return plan;
}

function describeStep(s: Step): string {
  switch (s.action) {
    case 'set-rotation':
      return `~ ${label(s)}: set the rotation period to ${s.days} days  [${s.kind}: ${s.rule}]`;
    case 'rotate':
      return `~ ${label(s)}: rotate now  [${s.kind}: ${s.rule}]`;
    case 'rekey':
      return `+ ${label(s)}: create a ${s.spec} successor of this ${s.from} key  [${s.kind}: ${s.rule}]`;
  }
}

/** Applies one step; returns what it did (for --format json). */
async function applyStep(client: KeywardenClient, s: Step): Promise<Record<string, unknown>> {
  switch (s.action) {
    case 'set-rotation':
      await client.call('PATCH', keyPath(s.keyId), { rotationPeriodDays: s.days });
      return { ...s, status: 'applied' };
    case 'rotate': {
      const k = (await client.post<{ key: Key }>(`${keyPath(s.keyId)}/rotate`)).key;
      return { ...s, status: 'applied', primaryVersion: k.primaryVersion };
    }
    case 'rekey': {
      const old = (await client.get<{ key: Key & { classification?: string | null; environment?: string | null; protection?: string } }>(keyPath(s.keyId))).key;
      // Keywarden's own tags (manifest ownership, earlier successions) stay with the old key.
      const tags = Object.fromEntries(Object.entries(old.tags ?? {}).filter(([t]) => !t.startsWith('keywarden:')));
      const body: Record<string, unknown> = { spec: s.spec, usage: old.usage, description: old.description ?? '', tags: { ...tags, [REPLACES_TAG]: old.id } };
      if (old.classification) body.classification = old.classification;
      if (old.environment) body.environment = old.environment;
      if (old.protection === 'hsm') body.protection = 'hsm';
      if (s.rotationPeriodDays !== null) body.rotationPeriodDays = s.rotationPeriodDays;
      const created = (await client.post<{ key: Key }>('/v1/keys', body)).key;
      await client.post(`${keyPath(old.id)}/tags`, { tags: { [SUPERSEDED_TAG]: created.id } });
      return { ...s, status: 'applied', successor: created.id };
    }
  }
}

function reportQuery(o: { kind?: string; classification?: string; environment?: string }): string {
  const q = new URLSearchParams();
  for (const k of ['classification', 'environment', 'kind'] as const) if (o[k] !== undefined) q.set(k, o[k] as string);
  const s = q.toString();
  return `/v1/compliance${s ? `?${s}` : ''}`;
}

function printReport(r: Report): void {
  printLine(`Policy version ${r.policy.version}, generated ${r.generatedAt}`);
  printTable(
    ['KEY', 'ALIASES', 'CLASSIFICATION', 'ENV', 'VIOLATIONS'],
    r.keys.map((k) => [k.id, k.aliases.join(', '), k.classification ?? '-', k.environment ?? '-', k.state === 'PendingDeletion' ? '(pending deletion)' : k.violations.map((v) => v.kind).join(', ') || 'none']),
  );
  const kinds = Object.entries(r.summary.byKind).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
  printLine();
  printLine(`${r.summary.keys} keys, ${r.summary.compliant} compliant, ${r.summary.pendingDeletion} pending deletion, ${r.summary.violations} violations${kinds.length ? ` (${kinds.join(', ')})` : ''}`);
  for (const k of r.keys) for (const v of k.violations) printLine(`  ${k.id} ${v.kind} [${v.rule}]: ${v.message}`);
}

export function registerComplianceCommands(program: Command): void {
  const compliance = program.command('compliance').description('Compliance of the keys with the stored policy');

  compliance
    .command('report')
    .description('Every key with its policy violations, and summary counts')
    .addOption(new Option('--kind <kind>', 'only keys with this kind of violation').choices(VIOLATION_KINDS))
    .addOption(new Option('--classification <c>', 'only keys of this classification').choices(CLASSIFICATIONS))
    .addOption(new Option('--environment <e>', 'only keys of this environment').choices(ENVIRONMENTS))
    .action(async (opts: { kind?: string; classification?: string; environment?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const r = await client.get<Report>(reportQuery(opts));
      if (format === 'json') printJson(r);
      else printReport(r);
    });

  compliance
    .command('remediate')
    .description('Plan (and with --yes, apply) the fixes for overdue rotation, rotation periods and retired algorithms')
    .option('--yes', 'apply the plan')
    .action(async (opts: { yes?: boolean }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const report = await client.get<Report>('/v1/compliance');
      const plan = await buildPlan(client, report);
      const applied: Array<Record<string, unknown>> = [];
      // Each step stands alone: a refusal (policy, permission) is reported and the rest still run.
      if (opts.yes) {
        for (const s of plan.steps) applied.push(await applyStep(client, s).catch((e: unknown) => ({ ...s, status: 'failed', error: e instanceof Error ? e.message : String(e) })));
      }
      const failed = applied.filter((a) => a.status === 'failed');
      if (format === 'json') {
        printJson({ ...plan, ...(opts.yes ? { applied } : {}) });
        if (failed.length > 0) throw new Error(`${failed.length} of ${applied.length} change(s) failed`);
        return;
      }
      printLine(`Remediation plan (policy version ${plan.policy.version}):`);
      if (plan.steps.length === 0) printLine('  nothing to do');
      for (const s of plan.steps) printLine(`  ${describeStep(s)}`);
      for (const d of plan.done) printLine(`  = ${d.keyId}: already superseded by ${d.supersededBy}`);
      for (const m of plan.manual) printLine(`  ! ${m.keyId}: ${m.kind} needs a person [${m.rule}]: ${m.message}`);
      if (plan.steps.some((s) => s.action === 'rekey') || plan.done.length > 0) {
        printLine(`Successors are tagged ${REPLACES_TAG}=<old id> and old keys ${SUPERSEDED_TAG}=<new id>; moving aliases and re-encrypting data under the successor is the key owner's job.`);
      }
      if (!opts.yes) {
        if (plan.steps.length > 0) printLine(`${plan.steps.length} change(s) planned; run again with --yes to apply them.`);
        return;
      }
      for (const a of applied) {
        if (a.status === 'failed') printLine(`failed: ${String(a.action)} ${String(a.keyId)}: ${String(a.error)}`);
        else printLine(`applied: ${String(a.action)} ${String(a.keyId)}${a.successor ? ` -> ${String(a.successor)}` : ''}`);
      }
      printLine(`${applied.length - failed.length} change(s) applied.`);
      if (failed.length > 0) throw new Error(`${failed.length} of ${applied.length} change(s) failed`);
    });
}
