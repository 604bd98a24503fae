/**
 * Access-control routes: principals and role bindings, grants, and the OAuth 2.0 token and
 * revocation endpoints. Thin (rule 1): decoding and encoding only; every decision is in ops/.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GrantRecord, PrincipalRecord } from '../../../auth/principal.model.js';
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

const principalView = (p: PrincipalRecord) => ({ id: p.id, name: p.name, kind: p.kind, roles: p.roles, createdAt: iso(p.createdAt) as string, disabled: p.disabled });
const grantView = (g: GrantRecord) => ({ ...g, createdAt: iso(g.createdAt) as string, revokedAt: iso(g.revokedAt) });

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
    const b = req.body as { name: string; roles: string[] };
    const r = await access.createServiceAccount(call(req), b.name, b.roles);
    reply.code(201);
    return { principal: principalView(r.principal), clientId: r.clientId, clientSecret: r.clientSecret };
  });
  app.get('/v1/principals', { schema: { tags, response: withErrors({ 200: A.PrincipalListOut }) } }, async (req) => ({
    principals: (await access.listPrincipals(call(req))).map(principalView),
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
  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post(`/v1/principals/:name/${action}`, { schema: { tags, params: A.NameParams, response: withErrors({ 200: A.PrincipalEnvelope }) } }, async (req) => ({
      principal: principalView(await access.setDisabled(call(req), (req.params as { name: string }).name, disabled)),
    }));
  }

  app.post('/v1/grants', { schema: { tags, body: A.CreateGrantBody, response: withErrors({ 201: A.GrantEnvelope }) } }, async (req, reply) => {
    const b = req.body as { key: string; principal: string; operations: string[] };
    const g = await access.createGrant(call(req), b.key, b.principal, b.operations);
    reply.code(201);
    return { grant: grantView(g) };
  });
  app.get('/v1/grants', { schema: { tags, querystring: A.GrantQuery, response: withErrors({ 200: A.GrantListOut }) } }, async (req) => ({
    grants: (await access.listGrants(call(req), (req.query as { key?: string }).key)).map(grantView),
  }));
  app.delete('/v1/grants/:id', { schema: { tags, params: A.IdParams, response: withErrors({ 200: A.GrantEnvelope }) } }, async (req) => ({
    grant: grantView(await access.revokeGrant(call(req), (req.params as { id: string }).id)),
  }));

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
      const b = req.body as { grant_type: string; client_id?: string; client_secret?: string; expires_in?: number | string };
      if (b.grant_type !== 'client_credentials') throw errors.validation('grant_type must be client_credentials (RFC 6749 §4.4)');
      const basic = basicClient(req);
      if (basic && (b.client_id !== undefined || b.client_secret !== undefined)) {
        throw errors.validation('authenticate the client with HTTP Basic or with client_id/client_secret in the body, not both');
      }
      const id = basic?.id ?? b.client_id;
      const secret = basic?.secret ?? b.client_secret;
      if (id === undefined || secret === undefined) throw errors.validation('client_id and client_secret are required');
      const t = await access.issueToken(id, secret, b.expires_in === undefined ? undefined : Number(b.expires_in));
      reply.header('pragma', 'no-cache');
      return { access_token: t.token, token_type: 'Bearer' as const, expires_in: t.expiresIn };
    });
  });
}
