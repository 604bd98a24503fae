/**
 * The front half of every use-case (ARCHITECTURE rule 2): seal check -> authenticate -> authorize
 * (roles, grants, separation of duties: src/auth/). Policy (5/10), audit (4/10) and metrics
 * (10/10) join here.
 */
import { authorize, needsGrant, noGrant, type Action, type GrantLookup } from '../auth/authorize.js';
import { ruleFor } from '../auth/roles.js';
import type { Principal } from '../auth/token.model.js';
import type { TokenService } from '../auth/token.service.js';
import { isKeywardenError } from '../errors/catalog.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { KeyService } from '../keys/key.service.js';
import type { SealService } from '../seal/seal.service.js';

/** Who is calling, as the transport saw it. */
export interface Call {
  token: string | undefined;
  requestId: string;
}

export interface PipelineDeps {
  seal: SealService;
  tokens: TokenService;
  /** Resolves key references for key-scoped authorization (beginKey). */
  keys?: KeyService;
  /**
   * Grant lookup for grant-scoped actions. Without it every grant-scoped action is denied (fail
   * closed): only the root token and role-wide permissions work.
   */
  grants?: GrantLookup;
}

export class Pipeline {
  constructor(private readonly d: PipelineDeps) {}

  /** Throws Sealed or NotInitialized unless unsealed (for unauthenticated use-cases such as the token endpoint). */
  requireUnsealed(): void {
    if (this.d.seal.sealed) this.d.seal.rootKey();
  }

  /**
   * Seal check, authentication and authorization of `action`. Key-scoped actions of a principal
   * whose permission comes from grants MUST pass the key id (`resource.keyId`), else they are denied.
   */
  async begin(call: Call, action: Action, resource?: { keyId?: string; ref?: string }): Promise<Principal> {
    this.requireUnsealed();
    const principal = await this.d.tokens.authenticate(call.token);
    await authorize(principal, action, resource, this.d.grants);
    return principal;
  }

  /**
   * For an action on a key named by the caller (id or alias): authenticates, checks the role
   * permits the action at all, resolves the key and authorizes on its id. For a principal that
   * may act only through grants, an unknown key gives the same PermissionDenied as a key it holds
   * no grant on, so the answer never reveals whether a key exists.
   */
  async beginKey(call: Call, action: Action, keyRef: string): Promise<{ principal: Principal; key: KeyRecord }> {
    const principal = await this.beginDeferred(call, action);
    if (this.d.keys === undefined) throw new Error('Pipeline.beginKey needs the key service');
    let key: KeyRecord;
    try {
      key = await this.d.keys.resolve(keyRef);
    } catch (e) {
      if (needsGrant(principal, action) && isKeywardenError(e) && (e.code === 'NotFound' || e.code === 'ValidationError')) {
        throw noGrant(principal, action, keyRef);
      }
      throw e;
    }
    await authorize(principal, action, { keyId: key.id, ref: keyRef }, this.d.grants);
    return { principal, key };
  }

  /**
   * Seal check, authentication, and a check that the principal's roles allow `action` at all. The
   * key-scoped check MUST follow with authorizeKey once the key is known (e.g. from a ciphertext).
   */
  async beginDeferred(call: Call, action: Action): Promise<Principal> {
    this.requireUnsealed();
    const principal = await this.d.tokens.authenticate(call.token);
    if (principal.kind !== 'root' && ruleFor(principal.roles, action) === undefined) {
      await authorize(principal, action, undefined, this.d.grants); // throws the role deny
    }
    return principal;
  }

  /** Authorizes an already authenticated principal on a key learnt later (e.g. from a ciphertext header). */
  authorizeKey(principal: Principal, action: Action, keyId: string): Promise<void> {
    return authorize(principal, action, { keyId }, this.d.grants);
  }
}
