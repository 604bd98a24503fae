/**
 * Grant routes: create (key or tag selector, with conditions), list, revoke. Thin (rule 1):
 * ISO times in and out, every decision in ops/grant.ops.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { GrantRecord } from '../../../auth/principal.model.js';
import type { GrantOps } from '../../../ops/grant.ops.js';
import * as G from '../grants.schemas.js';
import { withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { call, iso, parseIso } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    grantOps: GrantOps;
  }
}

const tags = ['access'];

export function grantView(g: GrantRecord) {
  const { notBefore, notAfter, ...rest } = g.conditions;
  return {
    id: g.id,
    keyId: g.keyId,
    tagSelector: g.tagSelector,
    principalId: g.principalId,
    operations: g.operations,
    conditions: {
      ...rest,
      ...(notBefore !== undefined ? { notBefore: iso(notBefore) as string } : {}),
      ...(notAfter !== undefined ? { notAfter: iso(notAfter) as string } : {}),
    },
    createdBy: g.createdBy,
    createdAt: iso(g.createdAt) as string,
    revokedAt: iso(g.revokedAt),
    lastUsedAt: iso(g.lastUsedAt),
    approvalRequestId: g.approvalRequestId,
  };
}

export function registerGrantRoutes(app: FastifyInstance, { grantOps }: HttpDeps): void {
  app.post('/v1/grants', { schema: { tags, body: G.CreateGrantBody, response: withErrors({ 201: G.GrantEnvelope }) } }, async (req, reply) => {
    const { conditions: c, ...b } = req.body as G.CreateGrantBodyT;
    const conditions = c && {
      ...(c.contextEquals !== undefined ? { contextEquals: c.contextEquals } : {}),
      ...(c.contextIncludes !== undefined ? { contextIncludes: c.contextIncludes } : {}),
      ...(c.sourceCidrs !== undefined ? { sourceCidrs: c.sourceCidrs } : {}),
      ...(c.notBefore !== undefined ? { notBefore: parseIso('conditions.notBefore', c.notBefore) } : {}),
      ...(c.notAfter !== undefined ? { notAfter: parseIso('conditions.notAfter', c.notAfter) } : {}),
    };
    const g = await grantOps.create(call(req), { ...b, ...(conditions ? { conditions } : {}) });
    reply.code(201);
    return { grant: grantView(g) };
  });
  app.get('/v1/grants', { schema: { tags, querystring: G.GrantQuery, response: withErrors({ 200: G.GrantListOut }) } }, async (req) => ({
    grants: (await grantOps.list(call(req), req.query as { key?: string; principal?: string })).map(grantView),
  }));
  app.delete('/v1/grants/:id', { schema: { tags, params: G.IdParams, response: withErrors({ 200: G.GrantEnvelope }) } }, async (req) => ({
    grant: grantView(await grantOps.revoke(call(req), (req.params as { id: string }).id)),
  }));
}
