/**
 * Audit ledger routes (issue 4/10): latest checkpoint, inclusion and consistency proofs, the
 * export file, event search. Thin (rule 1): numbers and times parsed here, every check in
 * ops/audit.ops.ts (audit:read) and every read audited there too.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../../errors/catalog.js';
import { AUDIT_LIMITS, type AuditOps } from '../../../ops/audit.ops.js';
import * as A from '../audit.schemas.js';
import { withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { b64, call, parseIso } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    audit: AuditOps;
  }
}

const tags = ['audit'];
const int = (v: string | undefined) => (v === undefined ? undefined : Number(v));

export function registerAuditRoutes(app: FastifyInstance, { audit }: HttpDeps): void {
  app.get('/v1/audit/checkpoint', { schema: { tags, response: withErrors({ 200: A.CheckpointOut }) } }, async (req) => audit.checkpoint(call(req)));
  app.get('/v1/audit/proof/inclusion', { schema: { tags, querystring: A.InclusionQuery, response: withErrors({ 200: A.InclusionOut }) } }, async (req) => {
    const q = req.query as { index: string; size?: string };
    const p = await audit.inclusionProof(call(req), Number(q.index), int(q.size));
    return { index: p.index, size: p.size, leafHash: b64(p.leafHash), rootHash: b64(p.rootHash), path: p.path.map(b64) };
  });
  app.get('/v1/audit/proof/consistency', { schema: { tags, querystring: A.ConsistencyQuery, response: withErrors({ 200: A.ConsistencyOut }) } }, async (req) => {
    const q = req.query as { from: string; to: string };
    const p = await audit.consistencyProof(call(req), Number(q.from), Number(q.to));
    return { from: p.from, to: p.to, fromRoot: b64(p.fromRoot), toRoot: b64(p.toRoot), proof: p.proof.map(b64) };
  });
  app.get('/v1/audit/export', { schema: { tags, response: withErrors({ 200: A.ExportOut }) } }, async (req) => audit.export(call(req)));
  app.get('/v1/audit/events', { schema: { tags, querystring: A.EventsQuery, response: withErrors({ 200: A.EventsOut }) } }, async (req) => {
    const { since, until, cursor, limit, ...q } = req.query as A.EventsQueryT;
    const n = int(limit);
    if (n !== undefined && (n < 1 || n > AUDIT_LIMITS.maxEvents)) throw errors.validation(`limit must be between 1 and ${AUDIT_LIMITS.maxEvents}`);
    const r = await audit.events(call(req), {
      ...q,
      ...(since !== undefined ? { since: parseIso('since', since) } : {}),
      ...(until !== undefined ? { until: parseIso('until', until) } : {}),
      ...(cursor !== undefined ? { cursor: Number(cursor) } : {}),
      ...(n !== undefined ? { limit: n } : {}),
    });
    return { events: r.events, nextCursor: r.nextCursor === null ? null : String(r.nextCursor) };
  });
}
