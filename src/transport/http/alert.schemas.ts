/** TypeBox schemas of the alert routes (/v1/alerts). */
import { Type } from '@sinclair/typebox';
import { RESPONSE_KINDS } from '../../anomaly/config.js';
import { ANOMALY_DETECTORS, SEVERITIES } from '../../anomaly/model.js';
import { ALERT_STATUSES } from '../../alerts/alert.model.js';
import { ALERT_LIMITS } from '../../alerts/alert.service.js';

const strict = { additionalProperties: false } as const;
const lit = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Time = Type.String({ format: 'date-time' });
const NullableTime = Type.Union([Time, Type.Null()]);
const NullableStr = Type.Union([Type.String(), Type.Null()]);

export const AlertId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' }) }, strict);

export const AlertsQuery = Type.Object(
  {
    status: Type.Optional(lit(ALERT_STATUSES)),
    detector: Type.Optional(lit(ANOMALY_DETECTORS)),
    severity: Type.Optional(lit(SEVERITIES)),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Key id' })),
    principal: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Principal id or name' })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Alerts last seen at or after this time' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'nextCursor of the previous page' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `Page size, 1-${ALERT_LIMITS.maxList} (default ${ALERT_LIMITS.defaultList})` })),
  },
  strict,
);
export type AlertsQueryT = { status?: string; detector?: string; severity?: string; key?: string; principal?: string; since?: string; cursor?: string; limit?: string };

export const ResolveBody = Type.Object({ note: Type.String({ minLength: 1, maxLength: ALERT_LIMITS.maxNote, description: 'What was found or done' }) }, strict);

export const AlertView = Type.Object({
  id: Type.String(),
  detector: lit(ANOMALY_DETECTORS),
  severity: lit(SEVERITIES),
  status: lit(ALERT_STATUSES),
  subject: Type.Object({ keyId: NullableStr, principalId: NullableStr, principalName: NullableStr, sourceIp: NullableStr }),
  summary: Type.String(),
  evidence: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), { description: 'baseline, observed, threshold, ...' }),
  auditEvents: Type.Array(Type.Integer(), { description: 'Ledger indexes of the events involved (GET /v1/audit/events, inclusion proofs)' }),
  count: Type.Integer({ description: 'Findings folded into this alert' }),
  firstSeen: Time,
  lastSeen: Time,
  createdAt: Time,
  updatedAt: Time,
  acknowledgedAt: NullableTime,
  acknowledgedBy: NullableStr,
  resolvedAt: NullableTime,
  resolvedBy: NullableStr,
  resolutionNote: NullableStr,
  responses: Type.Array(
    Type.Object({
      kind: lit(RESPONSE_KINDS),
      status: lit(['done', 'approval-requested', 'skipped', 'failed']),
      detail: Type.String(),
      at: Time,
      approvalRequestId: Type.Optional(Type.String()),
    }),
  ),
});

export const AlertOut = Type.Object({ alert: AlertView });
export const AlertsOut = Type.Object({ alerts: Type.Array(AlertView), nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next (older) page; null on the last' }) });
