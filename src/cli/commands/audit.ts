/**
 * `keywarden audit ...`: verify the ledger (a live server through its export, or an export file
 * offline with no server), export it, show the latest checkpoint, tail and search events.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CheckpointJsonSchema, checkpointFromJson, parseTrustedCheckpoint, trustedCheckpoint, type CheckpointJson, type TrustedCheckpoint } from '../../audit/checkpoint.js';
import { Value } from '@sinclair/typebox/value';
import { parseExport, type LedgerExport } from '../../audit/export.js';
import { verifyLedger } from '../../audit/verify.js';
import { printFields, printJson, printLine, printTable } from '../output.js';
import { intParser, runtime } from './shared.js';

interface EventView {
  index: number;
  time: string;
  requestId: string;
  principal: { id: string; name: string; kind: string } | null;
  authMethod: string;
  sourceIp: string | null;
  operation: string;
  keyId: string | null;
  keyVersion: number | null;
  outcome: string;
  errorCode: string | null;
  details?: Record<string, unknown>;
}
interface EventPage {
  events: EventView[];
  nextCursor: string | null;
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} ${file} is not JSON`);
  }
}

/**
 * The newest checkpoint in a witness file: the JSON lines an audit file sink writes (one record per
 * line; checkpoint records are `{"type":"checkpoint","checkpoint":{...}}`). Lines that are not
 * checkpoint records are skipped; a checkpoint record that does not parse is an error.
 */
async function newestWitnessedCheckpoint(file: string): Promise<CheckpointJson> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read witness file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let newest: CheckpointJson | undefined;
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.includes('"checkpoint"')) continue;
    let rec: { type?: unknown; checkpoint?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      throw new Error(`witness file ${file} line ${i + 1} is not JSON`);
    }
    if (rec.type !== 'checkpoint') continue;
    if (!Value.Check(CheckpointJsonSchema, rec.checkpoint)) throw new Error(`witness file ${file} line ${i + 1} is not a valid checkpoint record`);
    if (newest === undefined || rec.checkpoint.size >= newest.size) newest = rec.checkpoint;
  }
  if (newest === undefined) throw new Error(`witness file ${file} holds no checkpoint`);
  return newest;
}

function printEvents(events: EventView[]): void {
  printTable(
    ['INDEX', 'TIME', 'PRINCIPAL', 'OPERATION', 'KEY', 'OUTCOME', 'ERROR', 'SOURCE'],
    events.map((e) => [e.index, e.time, e.principal?.name ?? '-', e.operation, e.keyId ? `${e.keyId}${e.keyVersion !== null ? ` v${e.keyVersion}` : ''}` : '-', e.outcome, e.errorCode ?? '', e.sourceIp ?? '']),
  );
}

function eventQuery(o: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('Verify, export and search the tamper-evident audit ledger (auditor, security-officer)');

  audit
    .command('verify')
    .description('Verify every event, the Merkle tree and every checkpoint signature, of the live ledger or of an export file (offline)')
    .option('--file <export>', 'verify this export file offline (no server needed)')
    .option('--trusted-checkpoint <file>', 'a checkpoint saved earlier (--save-checkpoint): the ledger must extend it, signed by its key')
    .option('--witness <file>', 'a file audit sink (JSON lines): the ledger must extend the newest checkpoint it witnessed (detects truncation of the whole log)')
    .option('--save-checkpoint <file>', 'after a successful verification, save the newest checkpoint as a trusted checkpoint')
    .action(async (opts: { file?: string; trustedCheckpoint?: string; witness?: string; saveCheckpoint?: string }, cmd: Command) => {
      const exp: LedgerExport = opts.file !== undefined
        ? parseExport(await readJson(opts.file, 'export file'))
        : parseExport(await runtime(cmd).client.get<unknown>('/v1/audit/export'));
      const { format } = cmd.optsWithGlobals<{ format: 'json' | 'table' }>();
      let trusted: TrustedCheckpoint | undefined;
      if (opts.trustedCheckpoint !== undefined) trusted = parseTrustedCheckpoint(await readJson(opts.trustedCheckpoint, 'trusted checkpoint'));
      let r = await verifyLedger(exp, trusted !== undefined ? { trustedCheckpoint: trusted } : {});
      if (r.ok && opts.witness !== undefined) {
        // The witnessed checkpoint must be signed by the trusted key (or, without one, the export's
        // key, whose checkpoints just verified) and the ledger must extend it.
        const witnessed = await newestWitnessedCheckpoint(opts.witness);
        const key = trusted?.publicKey ?? exp.publicKey?.spki;
        if (key === undefined) throw new Error('the ledger has no checkpoint key: pass --trusted-checkpoint to check the witness');
        const w = await verifyLedger(exp, { trustedCheckpoint: { format: 'keywarden-audit-checkpoint/v1', ...witnessed, publicKey: key }, trustedName: `the witnessed checkpoint (${opts.witness})` });
        if (!w.ok) r = w;
      }
      if (format === 'json') printJson(r);
      else if (r.ok) printFields([['status', 'ok'], ['events', r.size], ['checkpoints', r.checkpoints], ['covered', r.coveredSize], ['message', r.message]]);
      if (!r.ok) {
        throw new Error(`audit ledger verification FAILED at index ${r.firstBadIndex ?? '-'} (${r.reason}): ${r.message}`);
      }
      if (opts.saveCheckpoint !== undefined) {
        const newest = exp.checkpoints.reduce<CheckpointJson | undefined>((a, c) => (a === undefined || c.size >= a.size ? c : a), undefined);
        if (newest === undefined || exp.publicKey === null) throw new Error('the ledger has no checkpoint yet: nothing to save');
        // The trusted key: the one already trusted, else the export's (just verified against its checkpoints).
        const spki = Buffer.from(trusted?.publicKey ?? exp.publicKey.spki, 'base64');
        await writeFile(opts.saveCheckpoint, `${JSON.stringify(trustedCheckpoint(checkpointFromJson(newest), spki), null, 2)}\n`);
        if (format !== 'json') printLine(`saved the checkpoint of size ${newest.size} to ${opts.saveCheckpoint}`);
      }
    });

  audit
    .command('export')
    .description('Download the whole ledger (events, checkpoints, public key) as an export file for offline verification')
    .option('--out <file>', 'write to FILE instead of stdout')
    .action(async (opts: { out?: string }, cmd: Command) => {
      const { client } = runtime(cmd);
      const exp = await client.get<LedgerExport>('/v1/audit/export');
      const text = `${JSON.stringify(exp)}\n`;
      if (opts.out === undefined) return void process.stdout.write(text);
      await writeFile(opts.out, text);
      process.stderr.write(`wrote ${exp.events.length} events and ${exp.checkpoints.length} checkpoints to ${opts.out}\n`);
    });

  audit
    .command('checkpoint')
    .description('Show the latest signed checkpoint and the checkpoint public key')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const r = await client.get<{ checkpoint: CheckpointJson | null; publicKey: { keyId: string; spki: string } }>('/v1/audit/checkpoint');
      if (format === 'json') return printJson(r);
      const c = r.checkpoint;
      printFields([
        ['size', c?.size ?? 'no checkpoint yet'],
        ['root hash', c ? Buffer.from(c.rootHash, 'base64').toString('hex') : undefined],
        ['time', c ? new Date(c.time).toISOString() : undefined],
        ['key id', r.publicKey.keyId],
        ['public key', r.publicKey.spki],
      ]);
    });

  audit
    .command('tail')
    .description('Show the newest events, oldest first')
    .option('-n, --lines <n>', 'how many events', intParser(1, 1000), 20)
    .action(async (opts: { lines: number }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const page = await client.get<EventPage>(`/v1/audit/events${eventQuery({ limit: opts.lines })}`);
      const events = [...page.events].reverse();
      if (format === 'json') return printJson(events);
      printEvents(events);
    });

  audit
    .command('search')
    .description('Search events (newest first); every given filter must match')
    .option('--key <id>', 'key id')
    .option('--principal <p>', 'principal id or name')
    .option('--operation <op>', 'operation, e.g. key:encrypt')
    .option('--outcome <o>', 'allow, deny or error')
    .option('--since <time>', 'ISO 8601 time (inclusive)')
    .option('--until <time>', 'ISO 8601 time (inclusive)')
    .option('--limit <n>', 'page size', intParser(1, 1000), 100)
    .option('--cursor <c>', 'continue after a previous page (its next cursor)')
    .action(async (o: { key?: string; principal?: string; operation?: string; outcome?: string; since?: string; until?: string; limit: number; cursor?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const page = await client.get<EventPage>(`/v1/audit/events${eventQuery({ ...o })}`);
      if (format === 'json') return printJson(page);
      printEvents(page.events);
      if (page.nextCursor !== null) printLine(`more: --cursor ${page.nextCursor}`);
    });
}
