/** Incidents (issue 10/10 §5). Thin (rule 1): every check in ops/incident.ops.ts. */
import type { FastifyInstance } from 'fastify';
import type { IncidentRecord } from '../../incident/incident.model.js';
import type { IncidentOps } from '../../ops/incident.ops.js';
import * as I from './incident.schemas.js';
import { withErrors } from './schemas.js';
import type { HttpDeps } from './server.js';
import { call, parseIso } from './wire.js';

declare module './server.js' {
  interface HttpDeps {
    incidents: IncidentOps;
  }
}

const tags = ['incidents'];
const iso = (ms: number) => new Date(ms).toISOString();

function summary(r: IncidentRecord) {
  return { id: r.id, kind: r.kind, keyId: r.keyId, drill: r.drill, reason: r.reason, windowStart: iso(r.windowStart), createdAt: iso(r.createdAt), createdBy: r.createdBy, successorId: r.successorId, requestId: r.requestId };
}

export function incidentView(r: IncidentRecord) {
  const x = r.result;
  return {
    ...summary(r),
    result: {
      ...x,
      steps: x.steps.map((s) => ({ ...s, at: iso(s.at) })),
      exposure: {
        ...x.exposure,
        windowStart: iso(x.exposure.windowStart),
        windowEnd: iso(x.exposure.windowEnd),
        principals: x.exposure.principals.map((p) => ({ ...p, firstSeen: iso(p.firstSeen), lastSeen: iso(p.lastSeen) })),
      },
      plan: { ...x.plan, versions: x.plan.versions.map((v) => ({ ...v, createdAt: iso(v.createdAt) })) },
    },
    report: r.report,
    notification: r.notification,
  };
}

export function registerIncidentRoutes(app: FastifyInstance, { incidents }: HttpDeps): void {
  app.post('/v1/incidents/key-compromise', { schema: { tags, body: I.KeyCompromiseBody, response: withErrors({ 201: I.IncidentResponse }) } }, async (req, reply) => {
    const b = req.body as I.KeyCompromiseBodyT;
    const since = parseIso('since', b.since);
    const r = await incidents.keyCompromise(call(req), { key: b.key, reason: b.reason, ...(since !== undefined && { since }), ...(b.drill !== undefined && { drill: b.drill }) });
    reply.code(201);
    return { incident: incidentView(r) };
  });
  app.get('/v1/incidents', { schema: { tags, querystring: I.IncidentListQuery, response: withErrors({ 200: I.IncidentListOut }) } }, async (req) => {
    const q = req.query as I.IncidentListQueryT;
    const r = await incidents.list(call(req), { ...(q.key !== undefined && { key: q.key }), ...(q.limit !== undefined && { limit: Number(q.limit) }), ...(q.cursor !== undefined && { cursor: q.cursor }) });
    return { incidents: r.incidents.map(summary), nextCursor: r.nextCursor };
  });
  app.get('/v1/incidents/:id', { schema: { tags, params: I.IncidentParams, response: withErrors({ 200: I.IncidentResponse }) } }, async (req) => ({
    incident: incidentView(await incidents.get(call(req), (req.params as { id: string }).id)),
  }));
}
