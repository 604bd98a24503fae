/**
 * `keywarden alert list|show|ack|resolve`: anomaly alerts (GET /v1/alerts, acknowledge, resolve).
 * The server validates the filters (and names the allowed values when one is wrong).
 */
import type { Command } from 'commander';
import { type Format, printFields, printJson, printTable } from '../output.js';
import { intParser, runtime } from './shared.js';

export interface AlertView {
  id: string;
  detector: string;
  severity: string;
  status: string;
  subject: { keyId: string | null; principalId: string | null; principalName: string | null; sourceIp: string | null };
  summary: string;
  evidence: Record<string, string | number | boolean | null>;
  auditEvents: number[];
  count: number;
  firstSeen: string;
  lastSeen: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
  responses: Array<{ kind: string; status: string; detail: string; at: string; approvalRequestId?: string }>;
}

const subjectText = (s: AlertView['subject']) =>
  [s.keyId && `key ${s.keyId}`, (s.principalName ?? s.principalId) && `principal ${s.principalName ?? s.principalId}`, s.sourceIp && `address ${s.sourceIp}`].filter(Boolean).join(', ');

function printAlert(a: AlertView): void {
  printFields([
    ['ID', a.id],
    ['Detector', a.detector],
    ['Severity', a.severity],
    ['Status', a.status],
    ['Subject', subjectText(a.subject)],
    ['Summary', a.summary],
    ['Evidence', Object.entries(a.evidence).map(([k, v]) => `${k}=${String(v)}`).join(', ')],
    ['Count', a.count],
    ['First seen', a.firstSeen],
    ['Last seen', a.lastSeen],
    ['Audit events', a.auditEvents.join(', ')],
    ['Acknowledged', a.acknowledgedAt ? `${a.acknowledgedAt} by ${a.acknowledgedBy}` : undefined],
    ['Resolved', a.resolvedAt ? `${a.resolvedAt} by ${a.resolvedBy}: ${a.resolutionNote}` : undefined],
    ...a.responses.map((r, i) => [i === 0 ? 'Responses' : '', `${r.kind}: ${r.status} (${r.detail})`] as const),
  ]);
}

const show = (res: { alert: AlertView }, format: Format) => (format === 'json' ? printJson(res) : printAlert(res.alert));

interface ListOptions {
  status?: string;
  detector?: string;
  severity?: string;
  key?: string;
  principal?: string;
  since?: string;
  limit?: number;
  cursor?: string;
}

export function registerAlertCommands(program: Command): void {
  const alert = program.command('alert').description('Anomaly alerts: list, show, acknowledge, resolve (docs/operations.md, alert reference)');

  alert
    .command('list')
    .description('List alerts, newest first')
    .option('--status <status>', 'open, acknowledged or resolved')
    .option('--detector <name>', 'rate-spike, new-zone, unusual-hours, probing, inactive-key-use or mass-data-key')
    .option('--severity <level>', 'low, medium, high or critical')
    .option('--key <id>', 'alerts about this key')
    .option('--principal <name>', 'alerts about this principal (name or id)')
    .option('--since <time>', 'alerts last seen at or after this ISO 8601 time')
    .option('--limit <n>', 'page size, 1 to 1000 (default 100)', intParser(1, 1000))
    .option('--cursor <cursor>', 'nextCursor of the previous page')
    .action(async (o: ListOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(o)) if (v !== undefined) q.set(k, String(v));
      const res = await client.get<{ alerts: AlertView[]; nextCursor: string | null }>(`/v1/alerts${q.toString() ? `?${q}` : ''}`);
      if (format === 'json') return printJson(res);
      printTable(
        ['ID', 'DETECTOR', 'SEVERITY', 'STATUS', 'COUNT', 'SUBJECT', 'LAST SEEN'],
        res.alerts.map((a) => [a.id, a.detector, a.severity, a.status, a.count, subjectText(a.subject), a.lastSeen]),
      );
      if (res.nextCursor !== null) process.stdout.write(`\nMore: --cursor ${res.nextCursor}\n`);
    });

  alert
    .command('show')
    .description('Show an alert: evidence, linked audit events, responses')
    .argument('<id>', 'alert id')
    .action(async (id: string, _o: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      show(await client.get(`/v1/alerts/${encodeURIComponent(id)}`), format);
    });

  alert
    .command('ack')
    .description('Acknowledge an open alert (security officers): someone is on it; repeats keep folding into it')
    .argument('<id>', 'alert id')
    .action(async (id: string, _o: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      show(await client.post(`/v1/alerts/${encodeURIComponent(id)}/acknowledge`), format);
    });

  alert
    .command('resolve')
    .description('Resolve an alert (security officers), saying what was found or done')
    .argument('<id>', 'alert id')
    .requiredOption('--note <text>', 'what was found or done')
    .action(async (id: string, o: { note: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      show(await client.post(`/v1/alerts/${encodeURIComponent(id)}/resolve`, { note: o.note }), format);
    });
}
