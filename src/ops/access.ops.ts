/**
 * Access-control use-cases: service accounts, role bindings, grants, access tokens. Same
 * pipeline as every other use-case (ARCHITECTURE rule 2); the transport only translates.
 */
import type { AccessTokenService } from '../auth/access-token.service.js';
import { permissionDenied } from '../auth/authorize.js';
import type { GrantService } from '../auth/grant.service.js';
import type { GrantRecord, PrincipalRecord } from '../auth/principal.model.js';
import type { ServiceAccountService } from '../auth/service-account.service.js';
import { authorize } from '../auth/authorize.js';
import type { Call, Pipeline } from './pipeline.js';

export interface AccessOpsDeps {
  pipeline: Pipeline;
  serviceAccounts: ServiceAccountService;
  grants: GrantService;
  accessTokens: AccessTokenService;
}

export class AccessOps {
  constructor(private readonly d: AccessOpsDeps) {}

  async createServiceAccount(call: Call, name: string, roles: readonly string[]) {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    return this.d.serviceAccounts.create(by, name, roles);
  }

  async listPrincipals(call: Call): Promise<PrincipalRecord[]> {
    await this.d.pipeline.begin(call, 'principal:read');
    return this.d.serviceAccounts.list();
  }

  async bindRoles(call: Call, name: string, roles: readonly string[]): Promise<PrincipalRecord> {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
    return this.d.serviceAccounts.bindRoles(by, name, roles);
  }

  async unbindRole(call: Call, name: string, role: string): Promise<PrincipalRecord> {
    const by = await this.d.pipeline.begin(call, 'principal:manage');
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

  async createGrant(call: Call, keyRef: string, principalName: string, operations: readonly string[]): Promise<GrantRecord> {
    const { principal, key } = await this.d.pipeline.beginKey(call, 'grant:manage', keyRef);
    const grantee = await this.d.serviceAccounts.get(principalName);
    return this.d.grants.create(principal, key.id, grantee, operations);
  }

  async listGrants(call: Call, keyRef?: string): Promise<GrantRecord[]> {
    if (keyRef === undefined) {
      await this.d.pipeline.begin(call, 'grant:read');
      return this.d.grants.list({});
    }
    const { key } = await this.d.pipeline.beginKey(call, 'grant:read', keyRef);
    return this.d.grants.list({ keyId: key.id });
  }

  async revokeGrant(call: Call, id: string): Promise<GrantRecord> {
    await this.d.pipeline.begin(call, 'grant:revoke');
    return this.d.grants.revoke(id);
  }

  /** OAuth 2.0 client credentials grant (RFC 6749 §4.4): unauthenticated by bearer; the client secret is the credential. */
  async issueToken(clientId: string, clientSecret: string, expiresIn?: number) {
    this.d.pipeline.requireUnsealed();
    const p = await this.d.serviceAccounts.authenticateClient(clientId, clientSecret);
    return this.d.accessTokens.issue(p, expiresIn);
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
