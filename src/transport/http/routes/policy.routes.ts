/**
 * The policy document (issue 5/10 §1): GET /v1/policy, GET /v1/policy/versions[/N], PUT /v1/policy.
 * Thin (rule 1): decoding and encoding only; validation and every decision are in ops/ and src/policy/.
 */
import type { FastifyInstance } from 'fastify';
import type { PolicyVersion } from '../../../policy/policy.model.js';
import type { PolicyInput, PolicyOps } from '../../../ops/policy.ops.js';
import * as P from '../policy.schemas.js';
import { withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { call } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    policies: PolicyOps;
  }
}

const tags = ['policy'];

const versionView = (v: PolicyVersion) => ({
  version: v.version,
  hash: v.hash,
  createdAt: v.version === 0 ? null : new Date(v.createdAt).toISOString(),
  createdBy: v.createdBy,
});
const policyView = (v: PolicyVersion) => ({ ...versionView(v), document: v.document });

export function registerPolicyRoutes(app: FastifyInstance, { policies }: HttpDeps): void {
  app.get('/v1/keys/:keyRef/policy', { schema: { tags, params: P.KeyRefParams, response: withErrors({ 200: P.KeyPolicyOut }) } }, async (req) => {
    const r = await policies.keyPolicy(call(req), (req.params as { keyRef: string }).keyRef);
    return {
      keyId: r.key.id,
      classification: r.key.classification,
      environment: r.key.environment,
      protection: r.key.protection,
      policyVersion: r.policy.version,
      policyHash: r.policy.hash,
      layers: r.layers,
      limits: r.limits,
      violations: r.violations,
    };
  });
  app.get('/v1/policy', { schema: { tags, response: withErrors({ 200: P.PolicyOut }) } }, async (req) => policyView(await policies.getPolicy(call(req))));
  app.get('/v1/policy/versions', { schema: { tags, response: withErrors({ 200: P.PolicyVersionListOut }) } }, async (req) => ({
    versions: (await policies.listVersions(call(req))).map(versionView),
  }));
  app.get('/v1/policy/versions/:n', { schema: { tags, params: P.PolicyVersionParams, response: withErrors({ 200: P.PolicyOut }) } }, async (req) =>
    policyView(await policies.getVersion(call(req), Number((req.params as { n: string }).n))),
  );
  app.put('/v1/policy', { schema: { tags, body: P.PutPolicyBody, response: withErrors({ 200: P.PolicyOut }) } }, async (req) => {
    const b = req.body as Record<string, unknown>;
    const input: PolicyInput = typeof b.yaml === 'string' && Object.keys(b).length === 1 ? { yaml: b.yaml } : { document: b };
    return policyView(await policies.setPolicy(call(req), input));
  });
}
