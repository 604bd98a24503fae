/**
 * People routes: users, login sessions, MFA enrolment and step-up. Thin (rule 1): decoding and
 * encoding only; every decision is in ops/ and src/auth/.
 */
import type { FastifyInstance } from 'fastify';
import type { PrincipalRecord } from '../../../auth/principal.model.js';
import type { UserView } from '../../../auth/user.model.js';
import type { IssuedSession } from '../../../auth/session.service.js';
import type { UserOps } from '../../../ops/user.ops.js';
import type { Environment } from '../../../policy/policy.model.js';
import * as U from '../user.schemas.js';
import { withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { call, iso } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    users: UserOps;
  }
}

const tags = ['users'];

const principalView = (p: PrincipalRecord) => ({ id: p.id, name: p.name, kind: p.kind, roles: p.roles, createdAt: iso(p.createdAt) as string, disabled: p.disabled, environment: p.environment });
const userView = (u: UserView) => ({ ...principalView(u.principal), mfaEnabled: u.mfaEnabled, mfaEnabledAt: iso(u.mfaEnabledAt) });

function sessionView(r: IssuedSession & { principal: { id: string; name: string; roles: readonly string[] } }, mfaEnrollmentRequired: boolean, now: number) {
  return {
    token: r.token,
    token_type: 'Bearer' as const,
    expires_in: Math.max(0, Math.floor((r.session.expiresAt - now) / 1000)),
    session: { id: r.session.id, expiresAt: iso(r.session.expiresAt) as string, absoluteExpiresAt: iso(r.session.absoluteExpiresAt) as string },
    principal: { id: r.principal.id, name: r.principal.name, roles: [...r.principal.roles] },
    mfaEnrollmentRequired,
  };
}

export function registerUserRoutes(app: FastifyInstance, { users }: HttpDeps): void {
  const name = (req: { params: unknown }) => (req.params as { name: string }).name;

  app.post('/v1/users', { schema: { tags, body: U.CreateUserBody, response: withErrors({ 201: U.CreateUserOut }) } }, async (req, reply) => {
    const b = req.body as { name: string; roles: string[]; password?: string; environment?: Environment };
    const r = await users.create(call(req), b.name, b.roles, b.password, b.environment);
    reply.code(201);
    return { principal: principalView(r.principal), ...(r.initialPassword === undefined ? {} : { initialPassword: r.initialPassword }) };
  });
  app.get('/v1/users', { schema: { tags, response: withErrors({ 200: U.UserListOut }) } }, async (req) => ({
    users: (await users.list(call(req))).map(userView),
  }));

  app.post('/v1/auth/login', { schema: { tags, security: [], body: U.LoginBody, response: withErrors({ 200: U.SessionOut }) } }, async (req, reply) => {
    const b = req.body as { username: string; password: string; otp?: string };
    const r = await users.login(b.username, b.password, b.otp, call(req));
    reply.header('pragma', 'no-cache');
    return sessionView(r, r.mfaEnrollmentRequired, r.session.createdAt);
  });
  app.post('/v1/auth/refresh', { schema: { tags, response: withErrors({ 200: U.SessionOut }) } }, async (req, reply) => {
    const r = await users.refresh(call(req));
    reply.header('pragma', 'no-cache');
    return sessionView(r, r.principal.session?.mfaEnrollmentRequired ?? false, r.now);
  });
  app.post('/v1/auth/logout', { schema: { tags, response: withErrors({ 200: U.LogoutOut }) } }, async (req) => users.logout(call(req)));
  app.post('/v1/auth/step-up', { schema: { tags, body: U.OtpBody, response: withErrors({ 200: U.StepUpOut }) } }, async (req) => {
    const r = await users.stepUp(call(req), (req.body as { otp: string }).otp);
    return { session: { id: r.sessionId, mfaVerifiedAt: iso(r.mfaVerifiedAt) as string } };
  });

  app.post('/v1/users/:name/mfa/enroll', { schema: { tags, params: U.UserNameParams, body: U.EnrollBody, response: withErrors({ 200: U.EnrollOut }) } }, async (req) =>
    users.enrollMfa(call(req), name(req), (req.body as { otp?: string } | undefined)?.otp),
  );
  app.post('/v1/users/:name/mfa/confirm', { schema: { tags, params: U.UserNameParams, body: U.OtpBody, response: withErrors({ 200: U.UserEnvelope }) } }, async (req) => ({
    user: userView(await users.confirmMfa(call(req), name(req), (req.body as { otp: string }).otp)),
  }));
  app.delete('/v1/users/:name/mfa', { schema: { tags, params: U.UserNameParams, response: withErrors({ 200: U.UserEnvelope }) } }, async (req) => ({
    user: userView(await users.resetMfa(call(req), name(req))),
  }));
  app.post('/v1/users/:name/password', { schema: { tags, params: U.UserNameParams, body: U.PasswordBody, response: withErrors({ 200: U.UserEnvelope }) } }, async (req) => {
    const b = req.body as { currentPassword: string; newPassword: string };
    return { user: userView(await users.changePassword(call(req), name(req), b.currentPassword, b.newPassword)) };
  });
  app.post('/v1/users/:name/sessions/revoke', { schema: { tags, params: U.UserNameParams, response: withErrors({ 200: U.RevokedCountOut }) } }, async (req) =>
    users.revokeSessions(call(req), name(req)),
  );
}
