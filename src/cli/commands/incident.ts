/**
 * `keywarden incident key-compromise|list|show|rewrap` (issue 10/10 §5). The playbook runs on the
 * server (POST /v1/incidents/key-compromise), which authorizes, audits and records it; this command
 * shows what will happen and asks for --yes before a real run, and writes the report and the
 * notification template. `rewrap` moves a file of ciphertexts / wrapped data keys (one base64 per
 * line) from the compromised key to its successor with the server's re-encrypt, line by line.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { parseCiphertext } from '../../crypto/ciphertext.js';
import type { KeywardenClient } from '../client.js';
import { printFields, printJson, printLine, printTable } from '../output.js';
import type { Key } from './key.js';
import { keyPath, pairsOption, runtime, type Pairs } from './shared.js';

interface Step { step: string; outcome: string; at: string; detail: string }
interface Principal { id: string; name: string; kind: string; operations: Record<string, number>; refused: number; sourceAddresses: string[]; firstSeen: string; lastSeen: string; evidence: number[] }
interface IncidentSummary { id: string; keyId: string; drill: boolean; reason: string; windowStart: string; createdAt: string; createdBy: { name: string }; successorId: string | null }
interface Incident extends IncidentSummary {
  result: {
    steps: Step[];
    exposure: { events: number; truncated: boolean; principals: Principal[] };
    plan: { from: string; to: string | null; ciphertexts: number; dataKeys: number; command: string | null; note: string };
    aliasesMoved: string[];
    key: { stateBefore: string; stateAfter: string };
  };
  report: string;
  notification: string;
}

const KEY_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function isoTime(value: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError('expected an ISO 8601 time, e.g. 2026-03-01T00:00:00Z.');
  return new Date(t).toISOString();
}

/** report.md and notification.md into `dir` (created; files readable by their owner only). */
async function writeFiles(dir: string, inc: Incident): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = [join(dir, 'report.md'), join(dir, 'notification.md')];
  await writeFile(files[0]!, inc.report, { mode: 0o600 });
  await writeFile(files[1]!, inc.notification, { mode: 0o600 });
  return files;
}

function printIncident(inc: Incident, files: string[] = []): void {
  const x = inc.result;
  printFields([
    ['Incident', `${inc.id}${inc.drill ? '  (DRILL: production was not changed)' : ''}`],
    ['Key', `${inc.keyId}  ${x.key.stateBefore} -> ${x.key.stateAfter}${inc.drill ? ' (in the copy)' : ''}`],
    ['Successor', x.plan.to === null ? 'none' : `${x.plan.to}${inc.drill ? ' (in the copy only)' : ''}`],
    ['Aliases moved', x.aliasesMoved.join(', ') || 'none'],
    ['Reason', inc.reason],
    ['Window from', inc.windowStart],
  ]);
  printLine();
  printTable(['STEP', 'OUTCOME', 'DETAIL'], x.steps.map((s) => [s.step, s.outcome, s.detail]));
  printLine();
  printLine(`Exposure: ${x.exposure.events} ledger event(s)${x.exposure.truncated ? ' (truncated)' : ''}`);
  printTable(
    ['PRINCIPAL', 'KIND', 'OPERATIONS', 'REFUSED', 'SOURCE ADDRESSES', 'FIRST SEEN', 'LAST SEEN'],
    x.exposure.principals.map((p) => [p.name, p.kind, Object.entries(p.operations).map(([o, n]) => `${o}=${n}`).join(', '), p.refused, p.sourceAddresses.join(', '), p.firstSeen, p.lastSeen]),
  );
  printLine();
  printLine(`Re-wrap plan: ${x.plan.ciphertexts} ciphertext(s), ${x.plan.dataKeys} data key(s) in the window.`);
  printLine(x.plan.command ? `  ${x.plan.command}` : `  ${x.plan.note}`);
  for (const f of files) printLine(`wrote ${f}`);
}

/** What a real run will do, from the key as it is now (nothing is changed). */
async function describePlan(client: KeywardenClient, keyRef: string, opts: { reason: string; since?: string }): Promise<void> {
  const key = (await client.get<{ key: Key & { classification?: string | null; environment?: string | null; protection?: string; compromisedAt?: string | null } }>(keyPath(keyRef))).key;
  printLine(`The key-compromise playbook will, for key ${key.id} (${key.spec}, ${key.state}${key.aliases.length ? `, aliases ${key.aliases.join(', ')}` : ''}):`);
  printLine(
    key.state === 'Compromised'
      ? '  1. leave it Compromised (it already is)'
      : `  1. revoke it as compromised (compromise date ${opts.since ?? 'now'}) and rotate it: it encrypts nothing from then on; its ciphertexts only move by re-encrypt`,
  );
  printLine(`  2. create a successor: ${key.spec}, ${key.usage}, classification ${key.classification ?? 'none'}, environment ${key.environment ?? 'none'}, protection ${key.protection ?? 'software'}, same tags`);
  printLine(`  3. move ${key.aliases.length ? key.aliases.join(', ') : 'its aliases (none)'} to the successor, and copy the key's grants to it`);
  printLine(`  4. list every principal and source address that used it since ${opts.since ?? 'its creation'} (audit ledger), with evidence`);
  printLine('  5. plan the re-wrap of its ciphertexts and data keys, and write the incident report and a customer-notification template');
  printLine(`Reason: ${opts.reason}`);
  printLine('Nothing was changed. Run again with --yes to do it, or with --drill to rehearse it on a copy.');
}

/** Key id of a key named by id or alias (an alias is looked up: it may have moved to a successor). */
async function keyIdOf(client: KeywardenClient, ref: string): Promise<string> {
  return KEY_ID_RE.test(ref) ? ref : (await client.get<{ key: Key }>(keyPath(ref))).key.id;
}

interface RewrapOutcome { line: number; status: 'moved' | 'already-moved' | 'failed'; error?: string }

export function registerIncidentCommands(program: Command): void {
  const incident = program.command('incident').description('Key-compromise playbook: respond, drill, read incidents, re-wrap data (security-officer)');

  incident
    .command('key-compromise')
    .description('Revoke a key as compromised, replace it, report who used it and plan the re-wrap (asks for --yes; --drill rehearses on a copy)')
    .argument('<key>', 'key id or alias')
    .requiredOption('--reason <text>', 'why the key is considered compromised')
    .option('--since <time>', 'compromise date and start of the exposure window (ISO 8601; default: now / the key\u2019s creation)', isoTime)
    .option('--drill', 'run against a scratch copy of the data: production is not changed')
    .option('--yes', 'really do it (without --drill)')
    .option('--out <dir>', 'write report.md and notification.md into this directory')
    .action(async (keyRef: string, opts: { reason: string; since?: string; drill?: boolean; yes?: boolean; out?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      if (!opts.drill && !opts.yes) {
        if (format === 'json') throw new Error('a real run needs --yes (or --drill to rehearse); nothing was changed');
        return describePlan(client, keyRef, opts);
      }
      const body = { key: keyRef, reason: opts.reason, ...(opts.since && { since: opts.since }), ...(opts.drill && { drill: true }) };
      const inc = (await client.post<{ incident: Incident }>('/v1/incidents/key-compromise', body)).incident;
      const files = opts.out === undefined ? [] : await writeFiles(opts.out, inc);
      if (format === 'json') printJson({ ...inc, files });
      else printIncident(inc, files);
    });

  incident
    .command('list')
    .description('Incidents and drills, newest first')
    .option('--key <key>', 'only incidents of this key')
    .action(async (opts: { key?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const r = await client.get<{ incidents: IncidentSummary[] }>(`/v1/incidents${opts.key ? `?key=${encodeURIComponent(opts.key)}` : ''}`);
      if (format === 'json') return printJson(r);
      printTable(['ID', 'KEY', 'MODE', 'SUCCESSOR', 'BY', 'CREATED', 'REASON'], r.incidents.map((i) => [i.id, i.keyId, i.drill ? 'drill' : 'real', i.successorId ?? '-', i.createdBy.name, i.createdAt, i.reason]));
    });

  incident
    .command('show')
    .description('One incident; --out writes its report.md and notification.md')
    .argument('<id>', 'incident id')
    .option('--out <dir>', 'write report.md and notification.md into this directory')
    .action(async (id: string, opts: { out?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const inc = (await client.get<{ incident: Incident }>(`/v1/incidents/${encodeURIComponent(id)}`)).incident;
      const files = opts.out === undefined ? [] : await writeFiles(opts.out, inc);
      if (format === 'json') printJson({ ...inc, files });
      else printIncident(inc, files);
    });

  incident
    .command('rewrap')
    .description('Re-encrypt a file of ciphertexts / wrapped data keys (one base64 per line) from a compromised key to its successor; lines already moved are kept')
    .requiredOption('--from <key>', 'the compromised key (id)')
    .requiredOption('--to <key>', 'the successor (id or alias)')
    .requiredOption('--in <file>', 'input file: one base64 ciphertext per line')
    .requiredOption('--out <file>', 'output file: the same lines, under the successor')
    .addOption(pairsOption('--context <k=v>', 'encryption context of the ciphertexts (kept for the new ones)'))
    .action(async (opts: { from: string; to: string; in: string; out: string; context?: Pairs }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const [from, to] = [await keyIdOf(client, opts.from), await keyIdOf(client, opts.to)];
      if (from === to) throw new Error('--from and --to name the same key');
      const lines = (await readFile(opts.in, 'utf8')).split(/\r?\n/);
      if (lines.at(-1) === '') lines.pop();
      const out: string[] = [];
      const outcomes: RewrapOutcome[] = [];
      for (const [i, raw] of lines.entries()) {
        const line = raw.trim();
        if (line === '') {
          out.push('');
          continue;
        }
        const parsed = /^[A-Za-z0-9+/]+={0,2}$/.test(line) ? parseCiphertext(Buffer.from(line, 'base64')) : undefined;
        const keyId = parsed?.header.keyId;
        if (keyId === to) {
          out.push(line);
          outcomes.push({ line: i + 1, status: 'already-moved' });
          continue;
        }
        if (keyId !== from) {
          out.push(line);
          outcomes.push({ line: i + 1, status: 'failed', error: keyId === undefined ? 'not a Keywarden ciphertext' : `a ciphertext of another key (${keyId})` });
          continue;
        }
        try {
          const r = await client.post<{ ciphertext: string }>('/v1/re-encrypt', { ciphertext: line, destinationKey: to, ...(opts.context && { context: opts.context, destinationContext: opts.context }) });
          out.push(r.ciphertext);
          outcomes.push({ line: i + 1, status: 'moved' });
        } catch (e) {
          out.push(line);
          outcomes.push({ line: i + 1, status: 'failed', error: e instanceof Error ? e.message : String(e) });
        }
      }
      await writeFile(opts.out, out.map((l) => `${l}\n`).join(''), { mode: 0o600 });
      const count = (s: RewrapOutcome['status']) => outcomes.filter((o) => o.status === s).length;
      const failed = outcomes.filter((o) => o.status === 'failed');
      const summary = { from, to, lines: outcomes.length, moved: count('moved'), alreadyMoved: count('already-moved'), failed: failed.length };
      if (format === 'json') printJson({ ...summary, failures: failed });
      else {
        printLine(`${summary.moved} moved, ${summary.alreadyMoved} already under ${to}, ${summary.failed} failed (of ${summary.lines}); wrote ${opts.out}`);
        for (const f of failed) printLine(`  line ${f.line}: ${f.error}`);
      }
      if (failed.length > 0) throw new Error(`${failed.length} line(s) were not re-wrapped (kept unchanged in ${opts.out})`);
    });
}
