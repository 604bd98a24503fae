/** The compliance report (issue 5/10 §4). Thin (rule 1): every check in ops/compliance.ops.ts. */
import type { FastifyInstance } from 'fastify';
import type { ComplianceOps } from '../../../ops/compliance.ops.js';
import * as C from '../compliance.schemas.js';
import { withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { call, iso } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    compliance: ComplianceOps;
  }
}

const tags = ['policy'];

export function registerComplianceRoutes(app: FastifyInstance, { compliance }: HttpDeps): void {
  app.get('/v1/compliance', { schema: { tags, querystring: C.ComplianceQuery, response: withErrors({ 200: C.ComplianceOut }) } }, async (req) => {
    const r = await compliance.report(call(req), req.query as C.ComplianceQueryT);
    return { ...r, generatedAt: iso(r.generatedAt) };
  });
}
