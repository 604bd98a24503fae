/**
 * AWS access keys for the AWS KMS-compatible API (issue 8 §1): create (the secret is in this one
 * response only), list, enable, disable, delete. Thin (rule 1): every decision in ops/access-key.ops.ts.
 */
import type { FastifyInstance } from 'fastify';
import { Type as T } from '@sinclair/typebox';
import type { AccessKeyView } from '../../../auth/access-key.service.js';
import type { AccessKeyOps } from '../../../ops/access-key.ops.js';
import { PRINCIPAL_NAME_PATTERN } from '../../../auth/principal.model.js';
import { withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { call, iso } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    accessKeys: AccessKeyOps;
  }
}

const tags = ['access'];
const Principal = T.String({ pattern: `(${PRINCIPAL_NAME_PATTERN})|^root$`, maxLength: 128 });
const AccessKey = T.Object(
  { accessKeyId: T.String(), principal: T.String(), status: T.Union([T.Literal('Active'), T.Literal('Inactive')]), createdAt: T.String() },
  { additionalProperties: false },
);
const Created = T.Object(
  { accessKeyId: T.String(), secretAccessKey: T.String(), principal: T.String(), status: T.String(), createdAt: T.String() },
  { additionalProperties: false },
);
const IdParams = T.Object({ id: T.String({ pattern: '^[A-Z0-9]{16,128}$' }) }, { additionalProperties: false });

const view = (k: AccessKeyView) => ({ ...k, createdAt: iso(k.createdAt) as string });

export function registerAccessKeyRoutes(app: FastifyInstance, { accessKeys }: HttpDeps): void {
  app.post(
    '/v1/access-keys',
    { schema: { tags, body: T.Object({ principal: Principal }, { additionalProperties: false }), response: withErrors({ 201: Created }) } },
    async (req, reply) => {
      const r = await accessKeys.create(call(req), (req.body as { principal: string }).principal);
      reply.code(201);
      return { ...view(r.view), accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey };
    },
  );
  app.get(
    '/v1/access-keys',
    { schema: { tags, querystring: T.Object({ principal: T.Optional(Principal) }, { additionalProperties: false }), response: withErrors({ 200: T.Object({ accessKeys: T.Array(AccessKey) }) }) } },
    async (req) => ({ accessKeys: (await accessKeys.list(call(req), (req.query as { principal?: string }).principal)).map(view) }),
  );
  for (const [action, status] of [['enable', 'Active'], ['disable', 'Inactive']] as const) {
    app.post(`/v1/access-keys/:id/${action}`, { schema: { tags, params: IdParams, response: withErrors({ 200: T.Object({ accessKey: AccessKey }) }) } }, async (req) => ({
      accessKey: view(await accessKeys.setStatus(call(req), (req.params as { id: string }).id, status)),
    }));
  }
  app.delete('/v1/access-keys/:id', { schema: { tags, params: IdParams, response: withErrors({ 200: T.Object({ deleted: T.String() }) }) } }, async (req) =>
    accessKeys.delete(call(req), (req.params as { id: string }).id),
  );
}
