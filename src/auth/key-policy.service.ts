/**
 * Key policies (src/auth/key-policy.ts): stored per key, compiled, and checked by the pipeline
 * after authorization on every key-scoped call (AWS and native alike). A key without a policy
 * costs one cache lookup; compiled policies are cached for KEY_POLICY_CACHE_TTL_MS (a put in this
 * process clears the entry at once; another node's put is seen within the TTL, as grants are).
 */
import { KeywardenError } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import type { Action } from './authorize.js';
import { DENY_ALL_POLICY, compileKeyPolicy, deniedBy, type CompiledKeyPolicy, type GrantRetiree, type KeyPolicyRecord, type KeyPolicyStore } from './key-policy.js';
import type { Principal } from './token.model.js';

export const KEY_POLICY_CACHE_TTL_MS = 1000;

export class KeyPolicyService {
  readonly #cache: TtlCache<string, CompiledKeyPolicy | null>;

  constructor(private readonly d: { store: KeyPolicyStore; clock: Clock; accountId: string }) {
    this.#cache = new TtlCache(d.clock, KEY_POLICY_CACHE_TTL_MS);
  }

  /** Another node put the policy of `keyId` (absent: any key; src/cluster/invalidation.ts). */
  invalidate(keyId?: string): void {
    if (keyId === undefined) this.#cache.clear();
    else this.#cache.delete(keyId);
  }

  get(keyId: string): Promise<KeyPolicyRecord | undefined> {
    return this.d.store.getKeyPolicy(keyId);
  }

  /** Validates (MalformedPolicyDocumentException) and stores the document of `keyId`. */
  async put(keyId: string, document: string, by: Principal): Promise<KeyPolicyRecord> {
    compileKeyPolicy(document, this.d.accountId);
    const rec: KeyPolicyRecord = { keyId, document, updatedAt: this.d.clock.now(), updatedBy: by.id };
    await this.d.store.putKeyPolicy(rec);
    this.#cache.delete(keyId);
    return rec;
  }

  /**
   * The pipeline hook: throws PermissionDenied when a Deny statement of the key's policy names the
   * principal and matches the action. The root identity is never refused (no lockout).
   */
  async check(principal: Principal, action: Action, keyId: string): Promise<void> {
    if (principal.kind === 'root') return;
    let compiled = this.#cache.get(keyId);
    if (compiled === undefined) {
      const rec = await this.d.store.getKeyPolicy(keyId);
      // A stored document was validated when put; should it no longer compile, every call is refused (fail closed).
      compiled = rec === undefined ? null : safeCompile(rec.document, this.d.accountId);
      this.#cache.set(keyId, compiled);
    }
    if (compiled === null) return;
    const hit = deniedBy(compiled, principal.name, action);
    if (hit !== undefined) {
      throw new KeywardenError('PermissionDenied', `${principal.name} may not ${hit} key ${keyId}: an explicit Deny in the key's policy refuses it`);
    }
  }

  setGrantRetiree(r: GrantRetiree): Promise<void> {
    return this.d.store.setGrantRetiree(r);
  }

  async grantRetiree(grantId: string): Promise<string | undefined> {
    return (await this.d.store.getGrantRetiree(grantId))?.principalId;
  }

  retirableGrants(principalId: string): Promise<string[]> {
    return this.d.store.listRetirableGrants(principalId);
  }
}

function safeCompile(document: string, accountId: string): CompiledKeyPolicy {
  try {
    return compileKeyPolicy(document, accountId);
  } catch {
    return DENY_ALL_POLICY;
  }
}
