/**
 * The Markdown an incident hands to people: the incident report (timeline, exposure, actions taken,
 * re-wrap plan, evidence as audit ledger indexes) and a customer-notification template whose
 * {{PLACEHOLDERS}} the operator fills. Pure functions of the record (tested through the API).
 */
import type { IncidentRecord } from './incident.model.js';

const iso = (ms: number) => new Date(ms).toISOString();
/** Table cells: no line breaks, no unescaped pipes. */
const cell = (s: string | number) => String(s).replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
const row = (cells: Array<string | number>) => `| ${cells.map(cell).join(' | ')} |`;
const table = (head: string[], rows: Array<Array<string | number>>) => [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');

const DRILL_BANNER =
  '> **DRILL.** This playbook ran against a scratch copy of the data. No production key, alias or grant was changed; the successor and the moved aliases below exist only in the deleted copy.';

type Draft = Omit<IncidentRecord, 'report' | 'notification'>;

export function renderReport(r: Draft): string {
  const { result: x } = r;
  const e = x.exposure;
  const title = `# ${r.drill ? 'DRILL — ' : ''}Incident report: compromise of key ${r.keyId}`;
  const summary = table(
    ['', ''],
    [
      ['Incident', r.id],
      ['Mode', r.drill ? 'DRILL (scratch copy; production untouched)' : 'REAL'],
      ['Key', `${x.key.id} (${x.key.spec}, ${x.key.usage}, protection ${x.key.protection}, classification ${x.key.classification ?? 'none'}, environment ${x.key.environment ?? 'none'})`],
      ['State', `${x.key.stateBefore} -> ${x.key.stateAfter}`],
      ['Successor', r.drill ? `${x.plan.to ?? 'none'} (in the scratch copy only)` : (r.successorId ?? 'none')],
      ['Reason', r.reason],
      ['Exposure window', `${iso(e.windowStart)} to ${iso(e.windowEnd)}`],
      ['Handled by', `${r.createdBy.name} (${r.createdBy.kind}, ${r.createdBy.id})`],
      ['Started', iso(r.createdAt)],
      ['Request id', `${r.requestId} (the incident's own audit event carries it)`],
    ],
  );
  const timeline = table(['time', 'step', 'outcome', 'detail'], x.steps.map((s) => [iso(s.at), s.step, s.outcome, s.detail]));
  const principals = e.principals.length
    ? table(
        ['principal', 'kind', 'id', 'operations (allowed)', 'refused', 'source addresses', 'first seen', 'last seen'],
        e.principals.map((p) => [
          p.name, p.kind, p.id,
          Object.entries(p.operations).map(([op, n]) => `${op} ×${n}`).join(', ') || '-',
          p.refused, p.sourceAddresses.join(', ') || '-', iso(p.firstSeen), iso(p.lastSeen),
        ]),
      )
    : '_No principal used the key in the window._';
  const addresses = e.sourceAddresses.length ? table(['source address', 'events'], e.sourceAddresses.map((a) => [a.address, a.events])) : '_No source address recorded._';
  const actions = [
    `- Key ${r.keyId}: ${x.key.stateBefore} -> ${x.key.stateAfter}.`,
    x.plan.to ? `- Successor ${x.plan.to}${r.drill ? ' (scratch copy)' : ''} created with the same spec, usage, classification, environment, protection and tags.` : '- No successor was created (see the timeline).',
    x.aliasesMoved.length ? `- Aliases moved to the successor: ${x.aliasesMoved.join(', ')}.` : '- No alias was moved.',
    x.grantsCopied.length ? `- Grants copied to the successor: ${x.grantsCopied.map((g) => `${g.principal} (${g.operations.join(', ')})`).join('; ')}.` : '- No key grant was copied.',
    ...x.grantsNotCopied.map((g) => `- Grant of ${g.principal} NOT copied: ${g.reason}.`),
  ].join('\n');
  const p = x.plan;
  const plan = [
    table(['version', 'state', 'created', 'ciphertexts + data keys in the window'], p.versions.map((v) => [v.version, v.state, iso(v.createdAt), v.produced])),
    '',
    `In the window the ledger shows **${p.ciphertexts} ciphertext(s)** and **${p.dataKeys} data key(s)** produced under the key.`,
    `Note: ${p.note}.`,
    '',
    p.command
      ? [
          'Collect every ciphertext and wrapped data key of the key into a file (one base64 value per line) and run, with a token allowed to re-encrypt from the old key to the successor:',
          '',
          '```sh',
          p.command,
          '```',
          '',
          'Lines already under the successor are copied unchanged, so the command can be re-run. Replace the stored values with the output, then schedule the compromised key for deletion once nothing refers to it.',
        ].join('\n')
      : 'There is no re-wrap command for this key (see the note).',
  ].join('\n');
  const evidence = e.principals.length
    ? [
        'Ledger indexes of each principal\u2019s events (oldest first, at most 20 each). Prove any of them against the signed checkpoint with `GET /v1/audit/proof/inclusion?index=N`, and check the whole ledger with `keywarden audit verify`.',
        '',
        ...e.principals.map((q) => `- ${q.name}: ${q.evidence.join(', ')}`),
        '',
        `All events: \`GET /v1/audit/events?key=${r.keyId}&since=${iso(e.windowStart)}\`.`,
      ].join('\n')
    : `No events. Query: \`GET /v1/audit/events?key=${r.keyId}&since=${iso(e.windowStart)}\`.`;
  return [
    title,
    ...(r.drill ? ['', DRILL_BANNER] : []),
    '',
    summary,
    '',
    '## Timeline',
    '',
    timeline,
    '',
    '## Exposure',
    '',
    `${e.events} ledger event(s) on the key in the window${e.truncated ? ' (truncated: only the newest were read)' : ''}.`,
    '',
    principals,
    '',
    addresses,
    '',
    '## Actions taken',
    '',
    actions,
    '',
    '## Re-wrap plan',
    '',
    plan,
    '',
    '## Evidence',
    '',
    evidence,
    '',
  ].join('\n');
}

export function renderNotification(r: Draft): string {
  const e = r.result.exposure;
  const systems = e.principals.length ? e.principals.map((p) => `- ${p.name} (${p.sourceAddresses.join(', ') || 'no address'})`).join('\n') : '- none recorded';
  return [
    ...(r.drill ? ['<!-- DRILL: rehearsal output. Do not send. -->', ''] : []),
    `Subject: Security notice from {{ORGANISATION}}: an encryption key was replaced`,
    '',
    'Dear {{CUSTOMER_NAME}},',
    '',
    `On {{DISCOVERY_DATE}} we found that an encryption key protecting {{AFFECTED_SERVICE}} may have been exposed. The exposure window starts ${iso(e.windowStart)}. We revoked the key on ${iso(r.createdAt)}${r.result.plan.to ? ' and replaced it with a new key' : ''}; it can no longer encrypt, and data under it is being moved to the new key.`,
    '',
    '## What happened',
    '',
    '{{DESCRIPTION_OF_INCIDENT}}',
    '',
    '## What information was involved',
    '',
    `{{AFFECTED_DATA}} (our records show ${r.result.plan.ciphertexts} encrypted item(s) and ${r.result.plan.dataKeys} data key(s) produced under the key in the window).`,
    '',
    '## What we are doing',
    '',
    '- The key was revoked and replaced; our systems now encrypt under the new key.',
    '- Data protected by the old key is being re-encrypted under the new key, to be completed by {{REWRAP_COMPLETION_DATE}}.',
    '- {{ADDITIONAL_MEASURES}}',
    '',
    '## What you can do',
    '',
    '{{CUSTOMER_ACTIONS}}',
    '',
    '## For more information',
    '',
    '{{CONTACT_DETAILS}}',
    '',
    '{{SIGNATURE}}',
    '',
    '<!-- For the operator, not the customer: systems that used the key in the window (from the incident',
    `report ${r.id}); decide what to disclose, then delete this comment.`,
    systems.replace(/--/g, '- -'),
    '-->',
    '',
  ].join('\n');
}
