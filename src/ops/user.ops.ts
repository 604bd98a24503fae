/**
 * People use-cases: users, login sessions, MFA enrolment, step-up, password change. Same
 * pipeline as every other use-case (ARCHITECTURE rule 2); the transport only translates. Login
 * is unauthenticated by bearer: the password (and one-time password) are the credential.
 */
import type { Environment } from '../policy/policy.model.js';
import type { PrincipalRecord } from '../auth/principal.model.js';
import type { SessionService } from '../auth/session.service.js';
import type { Principal } from '../auth/token.model.js';
import type { UserView } from '../auth/user.model.js';
import type { LoginResult, UserService } from '../auth/user.service.js';
import { errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import type { RequestFacts } from './audited.js';
import type { Call, Pipeline } from './pipeline.js';

export interface UserOpsDeps {
  pipeline: Pipeline;
  users: UserService;
  sessions: SessionService;
  clock: Clock;
}

export class UserOps {
  constructor(private readonly d: UserOpsDeps) {}

  /** Creating a user with roles is also a role binding (principal:bind: quorum approval may apply). */
  async create(call: Call, name: string, roles: readonly string[], password?: string, environment?: Environment): Promise<{ principal: PrincipalRecord; initialPassword?: string }> {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    if (roles.length > 0) await this.d.pipeline.begin(call, 'principal:bind');
    return this.d.users.create(by, name, roles, password, environment ?? null);
  }

  async list(call: Call): Promise<UserView[]> {
    await this.d.pipeline.begin(call, 'principal:read');
    return this.d.users.list();
  }

  async login(username: string, password: string, otp?: string, req?: RequestFacts): Promise<LoginResult> {
    this.d.pipeline.requireUnsealed();
    const r = await this.d.users.login(username, password, otp);
    if (req?.audit !== undefined) req.audit.principal = r.principal;
    return r;
  }

  async refresh(call: Call) {
    const p = await this.#session(call, 'refresh');
    const issued = await this.d.sessions.refresh(p, call.token as string);
    return { ...issued, principal: p, now: this.d.clock.now() };
  }

  async logout(call: Call): Promise<{ revoked: boolean }> {
    const p = await this.#session(call, 'log out');
    return { revoked: await this.d.sessions.revoke(p.session!.id) };
  }

  async stepUp(call: Call, otp: string): Promise<{ sessionId: string; mfaVerifiedAt: number }> {
    const p = await this.#session(call, 'step up');
    return { sessionId: p.session!.id, mfaVerifiedAt: await this.d.users.stepUp(p, otp) };
  }

  async enrollMfa(call: Call, name: string, otp?: string) {
    const p = await this.d.pipeline.begin(call, 'principal:self');
    return this.d.users.enroll(p, name, otp ?? call.otp);
  }

  async confirmMfa(call: Call, name: string, otp: string): Promise<UserView> {
    const p = await this.d.pipeline.begin(call, 'principal:self');
    return this.d.users.confirm(p, name, otp);
  }

  async resetMfa(call: Call, name: string): Promise<UserView> {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    return this.d.users.resetMfa(by, name);
  }

  async changePassword(call: Call, name: string, currentPassword: string, newPassword: string): Promise<UserView> {
    const p = await this.d.pipeline.begin(call, 'principal:self');
    return this.d.users.changePassword(p, name, currentPassword, newPassword);
  }

  async revokeSessions(call: Call, name: string): Promise<{ revoked: number }> {
    await this.d.pipeline.begin(call, 'token:revoke');
    return { revoked: await this.d.users.revokeSessions(name) };
  }

  /** The caller, which must be a user session (refresh, logout and step-up act on the session itself). */
  async #session(call: Call, what: string): Promise<Principal> {
    const p = await this.d.pipeline.begin(call, 'principal:self');
    if (p.session === undefined) {
      throw errors.validation(`only a user session can ${what}: log in with POST /v1/auth/login (service-account tokens are revoked with POST /v1/auth/revoke)`);
    }
    return p;
  }
}
