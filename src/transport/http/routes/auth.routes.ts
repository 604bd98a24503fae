/**
 * Access-control routes: principals and role bindings, and the OAuth 2.0 token and revocation
 * endpoints (grants: grants.routes.ts). Thin (rule 1): decoding and encoding only; every decision is in ops/.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { ROLE_WIDE_POWERS, type AccessReview, type GrantFinding, type ReviewedGrant } from '../../../auth/access-review.js';
import { CLIENT_ASSERTION_TYPE, type ClientKeyRecord } from '../../../auth/client-assertion.js';
import type { GrantConditions, PrincipalRecord } from '../../../auth/principal.model.js';
import { errors } from '../../../errors/catalog.js';
import type { AccessOps } from '../../../ops/access.ops.js';
import * as A from '../auth.schemas.js';
import { withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { call, iso } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    access: AccessOps;
  }
}

const tags = ['access'];

const principalView = (p: PrincipalRecord) => ({ id: p.id, name: p.name, kind: p.kind, roles: p.roles, createdAt: iso(p.createdAt) as string, disabled: p.disabled, environment: p.environment });
const clientKeyView = (k: ClientKeyRecord) => ({ id: k.id, alg: k.alg, fingerprint: k.fingerprint, createdAt: iso(k.createdAt) as string });

const conditionsView = ({ notBefore, notAfter, ...rest }: GrantConditions) => ({
  ...rest,
  ...(notBefore !== undefined ? { notBefore: iso(notBefore) as string } : {}),
  ...(notAfter !== undefined ? { notAfter: iso(notAfter) as string } : {}),
});
const reviewGrantView = (g: ReviewedGrant) => ({ ...g, conditions: conditionsView(g.conditions), expiresAt: iso(g.expiresAt), createdAt: iso(g.createdAt) as string, lastUsedAt: iso(g.lastUsedAt) });
const findingView = (f: GrantFinding) => ({ ...f, createdAt: iso(f.createdAt) as string, lastUsedAt: iso(f.lastUsedAt), expiresAt: iso(f.expiresAt) });
const reviewView = (r: AccessReview) => ({
  ...r,
  generatedAt: iso(r.generatedAt) as string,
  roleWidePowers: ROLE_WIDE_POWERS,
  keys: r.keys.map((k) => ({ ...k, grants: k.grants.map(reviewGrantView) })),
  findings: { ...r.findings, unusedGrants: r.findings.unusedGrants.map(findingView), expiringGrants: r.findings.expiringGrants.map(findingView) },
});

/** application/x-www-form-urlencoded (RFC 6749 §4.4.2, Appendix B); repeated parameters are refused (§3.2). */
function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    if (Object.hasOwn(out, k)) throw errors.validation(`the parameter ${k.slice(0, 40)} is repeated`);
    out[k] = v;
  }
  return out;
}

/** HTTP Basic client authentication (RFC 6749 §2.3.1: id and secret form-urlencoded, then base64). */
function basicClient(req: FastifyRequest): { id: string; secret: string } | undefined {
  const m = /^Basic +([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) throw errors.unauthenticated('The client credentials are not valid');
  try {
    return { id: decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, ' ')) };
  } catch {
    throw errors.unauthenticated('The client credentials are not valid');
  }
}

export function registerAuthRoutes(app: FastifyInstance, { access }: HttpDeps): void {
  app.post('/v1/principals', { schema: { tags, body: A.CreatePrincipalBody, response: withErrors({ 201: A.CredentialsOut }) } }, async (req, reply) => {
    const b = req.body as Static<typeof A.CreatePrincipalBody>;
    const r = await access.createServiceAccount(call(req), b.name, b.roles, b.publicKey, b.environment);
    reply.code(201);
    return { principal: principalView(r.principal), clientId: r.clientId, clientSecret: r.clientSecret, ...(r.key ? { key: clientKeyView(r.key) } : {}) };
  });
  app.get('/v1/principals', { schema: { tags, response: withErrors({ 200: A.PrincipalListOut }) } }, async (req) => ({
    principals: (await access.listPrincipals(call(req))).map(principalView),
  }));
  app.patch('/v1/principals/:name', { schema: { tags, params: A.NameParams, body: A.UpdatePrincipalBody, response: withErrors({ 200: A.PrincipalEnvelope }) } }, async (req) => ({
    principal: principalView(await access.setEnvironment(call(req), (req.params as { name: string }).name, (req.body as Static<typeof A.UpdatePrincipalBody>).environment)),
  }));
  app.post('/v1/principals/:name/roles', { schema: { tags, params: A.NameParams, body: A.RolesBody, response: withErrors({ 200: A.PrincipalEnvelope }) } }, async (req) => ({
    principal: principalView(await access.bindRoles(call(req), (req.params as { name: string }).name, (req.body as { roles: string[] }).roles)),
  }));
  app.delete('/v1/principals/:name/roles/:role', { schema: { tags, params: A.NameRoleParams, response: withErrors({ 200: A.PrincipalEnvelope }) } }, async (req) => {
    const p = req.params as { name: string; role: string };
    return { principal: principalView(await access.unbindRole(call(req), p.name, p.role)) };
  });
  app.post('/v1/principals/:name/rotate-secret', { schema: { tags, params: A.NameParams, response: withErrors({ 200: A.CredentialsOut }) } }, async (req) => {
    const r = await access.rotateSecret(call(req), (req.params as { name: string }).name);
    return { principal: principalView(r.principal), clientId: r.clientId, clientSecret: r.clientSecret };
  });
  app.post('/v1/principals/:name/keys', { schema: { tags, params: A.NameParams, body: A.ClientKeyBody, response: withErrors({ 201: A.ClientKeyEnvelope }) } }, async (req, reply) => {
    const r = await access.addClientKey(call(req), (req.params as { name: string }).name, (req.body as { publicKey: string }).publicKey);
    reply.code(201);
    return { key: clientKeyView(r.key) };
  });
  app.get('/v1/principals/:name/keys', { schema: { tags, params: A.NameParams, response: withErrors({ 200: A.ClientKeyListOut }) } }, async (req) => ({
    keys: (await access.listClientKeys(call(req), (req.params as { name: string }).name)).keys.map(clientKeyView),
  }));
  app.delete('/v1/principals/:name/keys/:id', { schema: { tags, params: A.NameKeyParams, response: withErrors({ 200: A.DeletedOut }) } }, async (req) => {
    const p = req.params as { name: string; id: string };
    await access.deleteClientKey(call(req), p.name, p.id);
    return { deleted: true };
  });
  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post(`/v1/principals/:name/${action}`, { schema: { tags, params: A.NameParams, response: withErrors({ 200: A.PrincipalEnvelope }) } }, async (req) => ({
      principal: principalView(await access.setDisabled(call(req), (req.params as { name: string }).name, disabled)),
    }));
  }

  app.get('/v1/access-review', { schema: { tags, querystring: A.AccessReviewQuery, response: withErrors({ 200: A.AccessReviewOut }) } }, async (req) => {
    const q = req.query as { unusedDays?: string; expiringWithinDays?: string };
    const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    return reviewView(await access.accessReview(call(req), { unusedDays: n(q.unusedDays), expiringWithinDays: n(q.expiringWithinDays) }));
  });

  app.post('/v1/auth/revoke', { schema: { tags, body: A.RevokeTokenBody, response: withErrors({ 200: A.RevokeTokenOut }) } }, async (req) =>
    access.revokeToken(call(req), (req.body as { token: string }).token),
  );

  // The token endpoint also accepts form bodies; the parser is scoped to this child context so no
  // other route ever accepts a form (which a browser can send cross-site without a preflight).
  void app.register(async (child) => {
    child.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8192 }, (_req, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    child.post('/v1/auth/token', { schema: { tags, security: [], body: A.TokenBody, response: withErrors({ 200: A.TokenOut }) } }, async (req, reply) => {
      const b = req.body as { grant_type: string; client_id?: string; client_secret?: string; client_assertion_type?: string; client_assertion?: string; expires_in?: number | string };
      if (b.grant_type !== 'client_credentials') throw errors.validation('grant_type must be client_credentials (RFC 6749 §4.4)');
      const expiresIn = b.expires_in === undefined ? undefined : Number(b.expires_in);
      const basic = basicClient(req);
      if (b.client_assertion !== undefined || b.client_assertion_type !== undefined) {
        // RFC 7521 §4.2: the assertion is the client's only credential; client_id, if sent, must name the same client.
        if (b.client_assertion_type !== CLIENT_ASSERTION_TYPE) throw errors.validation(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE} (RFC 7523 §2.2)`);
        if (b.client_assertion === undefined) throw errors.validation('client_assertion is required with client_assertion_type');
        if (basic || b.client_secret !== undefined) throw errors.validation('authenticate the client with one method: a client assertion or a client secret, not both');
        const t = await access.issueTokenForAssertion(b.client_assertion, { ...(b.client_id !== undefined ? { clientId: b.client_id } : {}), host: req.host }, expiresIn, call(req));
        reply.header('pragma', 'no-cache');
        return { access_token: t.token, token_type: 'Bearer' as const, expires_in: t.expiresIn };
      }
      if (basic && (b.client_id !== undefined || b.client_secret !== undefined)) {
        throw errors.validation('authenticate the client with HTTP Basic or with client_id/client_secret in the body, not both');
      }
      const id = basic?.id ?? b.client_id;
      const secret = basic?.secret ?? b.client_secret;
      if (id === undefined || secret === undefined) throw errors.validation('client_id and client_secret are required');
      const t = await access.issueToken(id, secret, expiresIn, call(req));
      reply.header('pragma', 'no-cache');
      return { access_token: t.token, token_type: 'Bearer' as const, expires_in: t.expiresIn };
    });
  });
}
