/**
 * Alert routes (issue 10/10 §4): list with filters and pagination, read, acknowledge, resolve.
 * Thin (rule 1): every check is in ops/alert.ops.ts (alert:read, alert:manage), audited there.
 */
import type { FastifyInstance } from 'fastify';
import type { AlertStatus } from '../../alerts/alert.model.js';
import { alertView } from '../../alerts/delivery.js';
import type { DetectorName, Severity } from '../../anomaly/model.js';
import type { AlertOps } from '../../ops/alert.ops.js';
import * as S from './alert.schemas.js';
import { withErrors } from './schemas.js';
import type { HttpDeps } from './server.js';
import { call, parseIso } from './wire.js';

declare module './server.js' {
  interface HttpDeps {
    alerts?: AlertOps;
  }
}

const tags = ['alerts'];

export function registerAlertRoutes(app: FastifyInstance, { alerts }: HttpDeps): void {
  if (alerts === undefined) return;
  app.get('/v1/alerts', { schema: { tags, querystring: S.AlertsQuery, response: withErrors({ 200: S.AlertsOut }) } }, async (req) => {
    const q = req.query as S.AlertsQueryT;
    const r = await alerts.list(call(req), {
      ...(q.status !== undefined && { status: q.status as AlertStatus }),
      ...(q.detector !== undefined && { detector: q.detector as DetectorName }),
      ...(q.severity !== undefined && { severity: q.severity as Severity }),
      ...(q.key !== undefined && { key: q.key }),
      ...(q.principal !== undefined && { principal: q.principal }),
      ...(q.since !== undefined && { since: parseIso('since', q.since) as number }),
      ...(q.cursor !== undefined && { cursor: q.cursor }),
      ...(q.limit !== undefined && { limit: Number(q.limit) }),
    });
    return { alerts: r.alerts.map(alertView), nextCursor: r.nextCursor };
  });
  app.get('/v1/alerts/:id', { schema: { tags, params: S.AlertId, response: withErrors({ 200: S.AlertOut }) } }, async (req) => ({
    alert: alertView(await alerts.get(call(req), (req.params as { id: string }).id)),
  }));
  app.post('/v1/alerts/:id/acknowledge', { schema: { tags, params: S.AlertId, response: withErrors({ 200: S.AlertOut }) } }, async (req) => ({
    alert: alertView(await alerts.acknowledge(call(req), (req.params as { id: string }).id)),
  }));
  app.post('/v1/alerts/:id/resolve', { schema: { tags, params: S.AlertId, body: S.ResolveBody, response: withErrors({ 200: S.AlertOut }) } }, async (req) => ({
    alert: alertView(await alerts.resolve(call(req), (req.params as { id: string }).id, (req.body as { note: string }).note)),
  }));
}
