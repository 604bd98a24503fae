/** TypeBox schemas of the incident routes (POST /v1/incidents/key-compromise, GET /v1/incidents[/{id}]). */
import { Type } from '@sinclair/typebox';
import { MAX_REASON } from '../../incident/incident.model.js';

const strict = { additionalProperties: false } as const;
const Str = (o: Parameters<typeof Type.String>[0] = {}) => Type.String(o);
const Iso = Str({ format: 'date-time' });
const Count = Type.Integer({ minimum: 0 });

export const KeyCompromiseBody = Type.Object(
  {
    key: Str({ minLength: 1, maxLength: 512, description: 'Key id or alias of the compromised key' }),
    reason: Str({ minLength: 1, maxLength: MAX_REASON, description: 'Why the key is considered compromised (in the report)' }),
    since: Type.Optional(Str({ format: 'date-time', description: 'Compromise date and start of the exposure window (default: the revocation is dated now, the window starts at the key\u2019s creation)' })),
    drill: Type.Optional(Type.Boolean({ description: 'Run against a scratch copy of the data; production is not changed' })),
  },
  strict,
);
export type KeyCompromiseBodyT = { key: string; reason: string; since?: string; drill?: boolean };

export const IncidentParams = Type.Object({ id: Str({ minLength: 1, maxLength: 64 }) }, strict);

export const IncidentListQuery = Type.Object(
  {
    key: Type.Optional(Str({ minLength: 1, maxLength: 512, description: 'Only incidents of this key (id, or an alias: the key it points to now)' })),
    limit: Type.Optional(Str({ pattern: '^[0-9]{1,4}$', description: 'Page size, 1-1000 (default 100)' })),
    cursor: Type.Optional(Str({ maxLength: 512, description: 'nextCursor of the previous page' })),
  },
  strict,
);
export type IncidentListQueryT = { key?: string; limit?: string; cursor?: string };

const Step = Type.Object({ step: Str(), outcome: Type.Union([Type.Literal('done'), Type.Literal('skipped'), Type.Literal('failed')]), at: Iso, detail: Str() });
const Principal = Type.Object({
  id: Str(),
  name: Str(),
  kind: Str(),
  operations: Type.Record(Str(), Count, { description: 'Allowed operations on the key in the window, by action' }),
  refused: Count,
  sourceAddresses: Type.Array(Str()),
  firstSeen: Iso,
  lastSeen: Iso,
  evidence: Type.Array(Count, { description: 'Audit ledger indexes of its events (oldest first, at most 20)' }),
});
const Result = Type.Object({
  steps: Type.Array(Step),
  exposure: Type.Object({
    windowStart: Iso,
    windowEnd: Iso,
    events: Count,
    truncated: Type.Boolean(),
    principals: Type.Array(Principal),
    sourceAddresses: Type.Array(Type.Object({ address: Str(), events: Count })),
  }),
  plan: Type.Object({
    from: Str(),
    to: Type.Union([Str(), Type.Null()]),
    versions: Type.Array(Type.Object({ version: Count, state: Str(), createdAt: Iso, produced: Count })),
    ciphertexts: Count,
    dataKeys: Count,
    command: Type.Union([Str(), Type.Null()], { description: 'keywarden incident rewrap ... (null: nothing to re-wrap with)' }),
    note: Str(),
  }),
  aliasesMoved: Type.Array(Str()),
  grantsCopied: Type.Array(Type.Object({ principal: Str(), operations: Type.Array(Str()) })),
  grantsNotCopied: Type.Array(Type.Object({ principal: Str(), reason: Str() })),
  key: Type.Object({
    id: Str(),
    spec: Str(),
    usage: Str(),
    classification: Type.Union([Str(), Type.Null()]),
    environment: Type.Union([Str(), Type.Null()]),
    protection: Str(),
    stateBefore: Str(),
    stateAfter: Str(),
  }),
});

const Summary = {
  id: Str(),
  kind: Type.Literal('key-compromise'),
  keyId: Str(),
  drill: Type.Boolean(),
  reason: Str(),
  windowStart: Iso,
  createdAt: Iso,
  createdBy: Type.Object({ id: Str(), name: Str(), kind: Str() }),
  successorId: Type.Union([Str(), Type.Null()], { description: 'null in a drill (the successor existed only in the copy)' }),
  requestId: Str({ description: 'The request that ran the playbook (its audit event has this request id)' }),
};

export const IncidentSummaryOut = Type.Object(Summary);
export const IncidentOut = Type.Object({
  ...Summary,
  result: Result,
  report: Str({ description: 'Incident report (Markdown)' }),
  notification: Str({ description: 'Customer-notification template (Markdown with {{PLACEHOLDERS}})' }),
});
export const IncidentResponse = Type.Object({ incident: IncidentOut });
export const IncidentListOut = Type.Object({ incidents: Type.Array(IncidentSummaryOut), nextCursor: Type.Union([Str(), Type.Null()]) });
