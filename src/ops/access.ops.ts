/**
 * Access-control use-cases: service accounts, role bindings, access tokens (grants: grant.ops.ts). Same
 * pipeline as every other use-case (ARCHITECTURE rule 2); the transport only translates.
 */
import type { AccessTokenService } from '../auth/access-token.service.js';
import type { AccessReview, AccessReviewer } from '../auth/access-review.js';
import type { ClientAssertionVerifier } from '../auth/client-assertion.js';
import { permissionDenied } from '../auth/authorize.js';
import type { PrincipalRecord } from '../auth/principal.model.js';
import type { ServiceAccountService } from '../auth/service-account.service.js';
import { authorize } from '../auth/authorize.js';
import type { RequestFacts } from './audited.js';
import type { Call, Pipeline } from './pipeline.js';
import type { Environment } from '../policy/policy.model.js';

export interface AccessOpsDeps {
  pipeline: Pipeline;
  serviceAccounts: ServiceAccountService;
  accessTokens: AccessTokenService;
  assertions: ClientAssertionVerifier;
  reviewer: AccessReviewer;
}

/** Records who got the token, and the token's id (HMAC'd by the ledger), on the audit facts. */
function noteIssued<T extends { jti: string }>(req: RequestFacts | undefined, p: PrincipalRecord, issued: T): T {
  if (req?.audit !== undefined) {
    req.audit.principal = p;
    req.audit.tokenId = issued.jti;
  }
  return issued;
}

export class AccessOps {
  constructor(private readonly d: AccessOpsDeps) {}

  async createServiceAccount(call: Call, name: string, roles: readonly string[], publicKey?: string, environment?: Environment) {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    // Binding roles is quorum-approvable (principal:bind); an account without roles is not.
    if (roles.length > 0) await this.d.pipeline.begin(call, 'principal:bind');
    return this.d.serviceAccounts.create(by, name, roles, publicKey, environment ?? null);
  }

  /** The environment of a principal (service account or user): policy principalEnvironments rules. */
  async setEnvironment(call: Call, name: string, environment: Environment | null): Promise<PrincipalRecord> {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    return this.d.serviceAccounts.setEnvironment(by, name, environment);
  }

  async listPrincipals(call: Call): Promise<PrincipalRecord[]> {
    await this.d.pipeline.begin(call, 'principal:read');
    return this.d.serviceAccounts.list();
  }

  async bindRoles(call: Call, name: string, roles: readonly string[]): Promise<PrincipalRecord> {
    const by = await this.d.pipeline.begin(call, 'principal:bind');
    return this.d.serviceAccounts.bindRoles(by, name, roles);
  }

  async unbindRole(call: Call, name: string, role: string): Promise<PrincipalRecord> {
    const by = await this.d.pipeline.begin(call, 'principal:bind');
    return this.d.serviceAccounts.unbindRole(by, name, role);
  }

  async rotateSecret(call: Call, name: string) {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    return this.d.serviceAccounts.rotateSecret(by, name);
  }

  async setDisabled(call: Call, name: string, disabled: boolean): Promise<PrincipalRecord> {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    return this.d.serviceAccounts.setDisabled(by, name, disabled);
  }

  /** Client-assertion public keys of a service account (RFC 7523). */
  async addClientKey(call: Call, name: string, publicKey: string) {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    return this.d.serviceAccounts.addKey(by, name, publicKey);
  }

  async listClientKeys(call: Call, name: string) {
    await this.d.pipeline.begin(call, 'principal:read');
    return this.d.serviceAccounts.listKeys(name);
  }

  async deleteClientKey(call: Call, name: string, id: string): Promise<void> {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    await this.d.serviceAccounts.deleteKey(by, name, id);
  }

  /** Who can do what on which key, unused and expiring grants, people without MFA (issue 3/10 §8). */
  async accessReview(call: Call, opts: { unusedDays?: number; expiringWithinDays?: number }): Promise<AccessReview> {
    await this.d.pipeline.begin(call, 'access:review');
    return this.d.reviewer.review(opts);
  }

  /** OAuth 2.0 client credentials grant (RFC 6749 §4.4): unauthenticated by bearer; the client secret is the credential. */
  async issueToken(clientId: string, clientSecret: string, expiresIn?: number, req?: RequestFacts) {
    this.d.pipeline.requireUnsealed();
    const p = await this.d.serviceAccounts.authenticateClient(clientId, clientSecret);
    return noteIssued(req, p, await this.d.accessTokens.issue(p, expiresIn));
  }

  /** Client credentials grant authenticated by a signed JWT client assertion (RFC 7523 §2.2). */
  async issueTokenForAssertion(assertion: string, opts: { clientId?: string; host?: string }, expiresIn?: number, req?: RequestFacts) {
    this.d.pipeline.requireUnsealed();
    const p = await this.d.assertions.verify(assertion, opts);
    return noteIssued(req, p, await this.d.accessTokens.issue(p, expiresIn));
  }

  /**
   * Token revocation (RFC 7009 §2): a principal may revoke its own tokens; revoking another's
   * needs token:revoke. A token that is not a valid, unexpired token of this server is a no-op
   * (RFC 7009 §2.2), so the answer reveals nothing about it.
   */
  async revokeToken(call: Call, token: string): Promise<{ revoked: boolean }> {
    const caller = await this.d.pipeline.begin(call, 'principal:self');
    const t = await this.d.accessTokens.inspect(token);
    if (t === undefined) return { revoked: false };
    if (t.sub !== caller.id) {
      try {
        await authorize(caller, 'token:revoke');
      } catch {
        throw permissionDenied(caller, 'token:revoke', 'only the token\u2019s own principal or a holder of token:revoke may revoke it');
      }
    }
    await this.d.accessTokens.revokeJti(t.jti, t.exp);
    return { revoked: true };
  }
}
