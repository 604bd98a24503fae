/**
 * Approval requests (quorum approval, just-in-time grants) and the access policy. Thin (rule 1):
 * decoding and encoding only; every decision is in ops/approval.ops.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { AccessPolicyView } from '../../../auth/access-policy.service.js';
import type { ApprovalRequest, RequestStatus } from '../../../auth/approval.model.js';
import type { ApprovalOps, RequestInput } from '../../../ops/approval.ops.js';
import * as S from '../approval.schemas.js';
import { withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { call, iso } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    approvals: ApprovalOps;
  }
}

const tags = ['approvals'];
type IdParams = { id: string };

const requestView = (r: ApprovalRequest) => ({
  id: r.id,
  action: r.action,
  key: r.keyRef,
  keyId: r.keyId,
  params: r.params,
  requesterId: r.requesterId,
  requesterName: r.requesterName,
  reason: r.reason,
  requiredApprovals: r.requiredApprovals,
  approvals: r.approvals.map((a) => ({ ...a, at: iso(a.at) as string })),
  denial: r.denial && { ...r.denial, at: iso(r.denial.at) as string },
  status: r.status,
  result: r.result,
  createdAt: iso(r.createdAt) as string,
  expiresAt: iso(r.expiresAt) as string,
  decidedAt: iso(r.decidedAt),
});

const policyView = (v: AccessPolicyView) => ({ ...v, updatedAt: iso(v.updatedAt) });

export function registerApprovalRoutes(app: FastifyInstance, { approvals }: HttpDeps): void {
  const one = { schema: { tags, params: S.RequestIdParams, response: withErrors({ 200: S.RequestEnvelope }) } };

  app.post('/v1/requests', { schema: { tags, body: S.CreateRequestBody, response: withErrors({ 201: S.RequestEnvelope }) } }, async (req, reply) => {
    const r = await approvals.createRequest(call(req), req.body as RequestInput);
    reply.code(201);
    return { request: requestView(r) };
  });
  app.get('/v1/requests', { schema: { tags, querystring: S.RequestQuery, response: withErrors({ 200: S.RequestListOut }) } }, async (req) => ({
    requests: (await approvals.listRequests(call(req), (req.query as { status?: RequestStatus }).status)).map(requestView),
  }));
  app.get('/v1/requests/:id', one, async (req) => ({ request: requestView(await approvals.getRequest(call(req), (req.params as IdParams).id)) }));
  app.post('/v1/requests/:id/approve', one, async (req) => ({ request: requestView(await approvals.approve(call(req), (req.params as IdParams).id)) }));
  app.post('/v1/requests/:id/deny', { schema: { ...one.schema, body: S.DenyBody } }, async (req) => ({
    request: requestView(await approvals.deny(call(req), (req.params as IdParams).id, (req.body as { reason?: string } | undefined)?.reason)),
  }));
  app.post('/v1/requests/:id/cancel', one, async (req) => ({ request: requestView(await approvals.cancel(call(req), (req.params as IdParams).id)) }));

  app.get('/v1/access-policy', { schema: { tags, response: withErrors({ 200: S.AccessPolicyOut }) } }, async (req) => policyView(await approvals.getPolicy(call(req))));
  app.put('/v1/access-policy', { schema: { tags, body: S.PutAccessPolicyBody, response: withErrors({ 200: S.AccessPolicyOut }) } }, async (req) =>
    policyView(await approvals.setPolicy(call(req), (req.body as { policy: unknown }).policy)),
  );
}
