/**
 * Per-key grants: a principal holding the `application` role may perform the listed operations on
 * one key. Also the grant lookup used by authorize(), cached for 1 s per (principal, key) so the
 * hot path does not hit the store on every call; every write in this process clears the cache.
 *
 * Separation of duties enforced here: the creator of a key can never hold (or use) a grant on it,
 * a caller cannot grant itself, and only principals with the application role can be granted.
 */
import { randomUUID } from '../crypto/primitives/index.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import type { GrantLookup } from './authorize.js';
import { GRANT_OPERATIONS, type GrantOperation, type GrantRecord, type PrincipalRecord } from './principal.model.js';
import type { PrincipalStore } from './principal.store.js';
import type { Principal } from './token.model.js';

export const GRANT_CACHE_TTL_MS = 1000;

export class GrantService implements GrantLookup {
  /** `${principalId}\n${keyId}` -> operations usable now (empty for the key's creator). */
  readonly #cache: TtlCache<string, ReadonlySet<string>>;

  constructor(
    private readonly store: PrincipalStore,
    private readonly clock: Clock,
  ) {
    this.#cache = new TtlCache(clock, GRANT_CACHE_TTL_MS);
  }

  async hasGrant(principalId: string, keyId: string, operation: GrantOperation | 'any'): Promise<boolean> {
    const k = `${principalId}\n${keyId}`;
    let ops = this.#cache.get(k);
    if (ops === undefined) {
      const [grants, creator] = await Promise.all([this.store.listGrants({ principalId, keyId }), this.store.getKeyCreator(keyId)]);
      // SoD holds even for grants made before a role change: a key's creator never uses it.
      ops = creator === principalId ? new Set() : new Set(grants.flatMap((g) => g.operations));
      this.#cache.set(k, ops);
    }
    return operation === 'any' ? ops.size > 0 : ops.has(operation);
  }

  /** Records who created a key (called by the create-key use-case). */
  async recordKeyCreator(keyId: string, principal: Principal): Promise<void> {
    await this.store.setKeyCreator(keyId, principal.id, this.clock.now());
    this.#cache.clear();
  }

  async create(by: Principal, keyId: string, grantee: PrincipalRecord, operations: readonly string[]): Promise<GrantRecord> {
    const ops = checkOperations(operations);
    if (grantee.disabled) throw errors.validation(`principal ${grantee.name} is disabled`);
    if (!grantee.roles.includes('application')) {
      throw errors.validation(`principal ${grantee.name} does not hold the application role: only applications use keys through grants`);
    }
    if (grantee.id === by.id) {
      throw new KeywardenError('PermissionDenied', `separation of duties: ${by.name} cannot grant itself use of a key`);
    }
    if ((await this.store.getKeyCreator(keyId)) === grantee.id) {
      throw new KeywardenError('PermissionDenied', `separation of duties: ${grantee.name} created key ${keyId} and cannot be granted use of it`);
    }
    const g: GrantRecord = { id: randomUUID(), keyId, principalId: grantee.id, operations: ops, createdBy: by.id, createdAt: this.clock.now(), revokedAt: null };
    await this.store.createGrant(g);
    this.#cache.clear();
    return g;
  }

  list(filter: { keyId?: string; principalId?: string }): Promise<GrantRecord[]> {
    return this.store.listGrants(filter);
  }

  async revoke(id: string): Promise<GrantRecord> {
    const g = await this.store.getGrant(id);
    if (g === undefined || !(await this.store.revokeGrant(id, this.clock.now()))) {
      throw new KeywardenError('NotFound', `grant ${id.slice(0, 64)} was not found or is already revoked`);
    }
    this.#cache.clear();
    return { ...g, revokedAt: this.clock.now() };
  }
}

function checkOperations(operations: readonly string[]): GrantOperation[] {
  if (operations.length === 0) throw errors.validation('operations must list at least one operation');
  const bad = operations.filter((o) => !(GRANT_OPERATIONS as readonly string[]).includes(o));
  if (bad.length > 0) throw errors.validation(`unknown grant operation "${bad[0]?.slice(0, 40)}"; allowed: ${GRANT_OPERATIONS.join(', ')}`);
  return [...new Set(operations)] as GrantOperation[];
}
