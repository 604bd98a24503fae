/**
 * The alert use-cases (issue 10/10 §4): list and read alerts (`alert:read`: security officers,
 * auditors, admins), acknowledge and resolve them (`alert:manage`: security officers). Audited
 * at the composition root like every use-case; acknowledge and resolve also record
 * `alert:acknowledged` / `alert:resolved` naming the alert (src/alerts/alert.service.ts).
 */
import type { Alert, AlertStatus } from '../alerts/alert.model.js';
import { ALERT_LIMITS, type AlertService } from '../alerts/alert.service.js';
import type { DetectorName, Severity } from '../anomaly/model.js';
import { errors } from '../errors/catalog.js';
import type { Call, Pipeline } from './pipeline.js';

export interface AlertQuery {
  status?: AlertStatus;
  detector?: DetectorName;
  severity?: Severity;
  key?: string;
  principal?: string;
  since?: number;
  /** nextCursor of the previous page. */
  cursor?: string;
  limit?: number;
}

/** Cursor of a page: `<createdAt>.<id>` of its last alert (opaque to clients). */
const cursorOf = (a: Alert) => `${a.createdAt}.${a.id}`;

function parseCursor(c: string): { createdAt: number; id: string } {
  const m = /^(\d{1,15})\.([A-Za-z0-9-]{1,64})$/.exec(c);
  if (!m) throw errors.validation('cursor is not a cursor this API returned');
  return { createdAt: Number(m[1]), id: m[2] as string };
}

export class AlertOps {
  constructor(private readonly d: { pipeline: Pipeline; alerts: AlertService }) {}

  /** Alerts matching every filter, newest first; `nextCursor` is null on the last page. */
  async list(call: Call, q: AlertQuery): Promise<{ alerts: Alert[]; nextCursor: string | null }> {
    await this.d.pipeline.begin(call, 'alert:read');
    const limit = q.limit ?? ALERT_LIMITS.defaultList;
    if (!Number.isInteger(limit) || limit < 1 || limit > ALERT_LIMITS.maxList) throw errors.validation(`limit must be between 1 and ${ALERT_LIMITS.maxList}`);
    const alerts = await this.d.alerts.list({
      ...(q.status !== undefined && { status: q.status }),
      ...(q.detector !== undefined && { detector: q.detector }),
      ...(q.severity !== undefined && { severity: q.severity }),
      ...(q.key !== undefined && { keyId: q.key }),
      ...(q.principal !== undefined && { principal: q.principal }),
      ...(q.since !== undefined && { since: q.since }),
      ...(q.cursor !== undefined && { before: parseCursor(q.cursor) }),
      limit,
    });
    const last = alerts.at(-1);
    return { alerts, nextCursor: alerts.length === limit && last !== undefined ? cursorOf(last) : null };
  }

  async get(call: Call, id: string): Promise<Alert> {
    await this.d.pipeline.begin(call, 'alert:read');
    return this.d.alerts.get(id);
  }

  async acknowledge(call: Call, id: string): Promise<Alert> {
    const by = await this.d.pipeline.begin(call, 'alert:manage');
    return this.d.alerts.acknowledge(by, id, call.requestId);
  }

  async resolve(call: Call, id: string, note: string): Promise<Alert> {
    const by = await this.d.pipeline.begin(call, 'alert:manage');
    return this.d.alerts.resolve(by, id, call.requestId, note);
  }
}
