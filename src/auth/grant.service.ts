/**
 * Grants: a principal holding the `application` role may perform the listed operations on one key,
 * or on every key whose current tags contain a selector, when the request meets the grant's
 * conditions (src/auth/grant-conditions.ts). Also the grant lookup used by authorize().
 *
 * Hot path: the LIST of a principal's active grants is cached for 1 s (every write in this process
 * clears it); conditions and selectors are evaluated on every call, so a grant's notAfter bites at
 * the exact moment and a tag change applies as soon as the key record is re-read. Last use is kept
 * in memory and written by flushUsage() (the usage-flush job), never on the request path.
 *
 * Separation of duties enforced here: the creator of a key never holds (or uses) a grant on it,
 * also through a selector; a caller cannot grant itself; only applications can be granted.
 */
import { randomUUID } from '../crypto/primitives/index.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import type { GrantContext, GrantLookup } from './authorize.js';
import { checkConditions, checkSelector, compileConditions, containsPairs } from './grant-conditions.js';
import { GRANT_OPERATIONS, type GrantConditions, type GrantOperation, type GrantRecord, type PrincipalRecord } from './principal.model.js';
import type { PrincipalStore } from './principal.store.js';
import type { Principal } from './token.model.js';

export const GRANT_CACHE_TTL_MS = 1000;

/** What grant evaluation needs to know about a key: its current tags and its creator. */
export interface KeyFacts {
  tags: Readonly<Record<string, string>>;
  createdBy: string | null;
}
/** Looks a key up by id (backed by the cached KeyService.findById); undefined when it does not exist. */
export type KeyFactsLookup = (keyId: string) => Promise<KeyFacts | undefined>;

export type GrantTarget = { keyId: string } | { tagSelector: Record<string, string> };

interface CompiledGrant {
  grant: GrantRecord;
  ops: ReadonlySet<string>;
  holds: (ctx: GrantContext | undefined) => boolean;
}

/** A principal's active grants, indexed for the per-call check. */
interface PrincipalGrants {
  byKey: Map<string, CompiledGrant[]>;
  selectors: CompiledGrant[];
}

export class GrantService implements GrantLookup {
  readonly #cache: TtlCache<string, PrincipalGrants>;
  /** Allowed uses not yet flushed to the store: grant id -> latest use (epoch ms). */
  readonly #uses = new Map<string, number>();

  constructor(
    private readonly store: PrincipalStore,
    private readonly clock: Clock,
    private readonly keyFacts: KeyFactsLookup,
  ) {
    this.#cache = new TtlCache(clock, GRANT_CACHE_TTL_MS);
  }

  /** Another node changed grants (src/cluster/invalidation.ts): re-read them on the next check. */
  invalidate(): void {
    this.#cache.clear();
  }

  async hasGrant(principalId: string, keyId: string, operation: GrantOperation | 'any', ctx?: GrantContext): Promise<boolean> {
    const mine = await this.#grantsOf(principalId);
    const direct = mine.byKey.get(keyId);
    if (direct === undefined && mine.selectors.length === 0) return false;
    const key = await this.keyFacts(keyId);
    // SoD holds even for grants made before a role change, and for selectors: a key's creator never uses it.
    if (key === undefined || key.createdBy === principalId) return false;
    for (const g of direct ?? []) {
      if (this.#allows(g, operation, ctx)) return true;
    }
    for (const g of mine.selectors) {
      if (containsPairs(key.tags, g.grant.tagSelector as Record<string, string>) && this.#allows(g, operation, ctx)) return true;
    }
    return false;
  }

  #allows(g: CompiledGrant, operation: GrantOperation | 'any', ctx: GrantContext | undefined): boolean {
    if (operation !== 'any' && !g.ops.has(operation)) return false;
    if (!g.holds(ctx)) return false;
    this.#uses.set(g.grant.id, ctx?.now ?? this.clock.now());
    return true;
  }

  async #grantsOf(principalId: string): Promise<PrincipalGrants> {
    let mine = this.#cache.get(principalId);
    if (mine === undefined) {
      mine = { byKey: new Map(), selectors: [] };
      for (const grant of await this.store.listGrants({ principalId })) {
        const g: CompiledGrant = { grant, ops: new Set(grant.operations), holds: compileConditions(grant.conditions) };
        if (grant.keyId === null) mine.selectors.push(g);
        else mine.byKey.set(grant.keyId, [...(mine.byKey.get(grant.keyId) ?? []), g]);
      }
      this.#cache.set(principalId, mine);
    }
    return mine;
  }

  /**
   * Grants `operations` on a key or on a tag selector to `grantee`, under `conditions`. `by` is the
   * principal making the grant (for a just-in-time grant: the last approver; the grantee is the requester).
   */
  async create(
    by: Principal,
    target: GrantTarget,
    grantee: PrincipalRecord,
    operations: readonly string[],
    conditions?: GrantConditions,
    opts: { approvalRequestId?: string } = {},
  ): Promise<GrantRecord> {
    const ops = checkOperations(operations);
    if (grantee.disabled) throw errors.validation(`principal ${grantee.name} is disabled`);
    if (!grantee.roles.includes('application')) {
      throw errors.validation(`principal ${grantee.name} does not hold the application role: only applications use keys through grants`);
    }
    if (grantee.id === by.id) {
      throw new KeywardenError('PermissionDenied', `separation of duties: ${by.name} cannot grant itself use of a key`);
    }
    let keyId: string | null = null;
    let tagSelector: Record<string, string> | null = null;
    if ('keyId' in target) {
      keyId = target.keyId;
      if ((await this.store.getKeyCreator(keyId)) === grantee.id) {
        throw new KeywardenError('PermissionDenied', `separation of duties: ${grantee.name} created key ${keyId} and cannot be granted use of it`);
      }
    } else {
      tagSelector = checkSelector(target.tagSelector);
    }
    const now = this.clock.now();
    const approvalRequestId = opts.approvalRequestId ?? null;
    if (approvalRequestId !== null && (typeof approvalRequestId !== 'string' || approvalRequestId.length < 1 || approvalRequestId.length > 64)) {
      throw errors.validation('approvalRequestId must be 1–64 characters');
    }
    const g: GrantRecord = {
      id: randomUUID(),
      keyId,
      tagSelector,
      principalId: grantee.id,
      operations: ops,
      conditions: checkConditions(conditions, now),
      createdBy: by.id,
      createdAt: now,
      revokedAt: null,
      lastUsedAt: null,
      approvalRequestId,
    };
    await this.store.createGrant(g);
    this.#cache.clear();
    return g;
  }

  /**
   * Active grants, oldest first. With `keyId`: the grants that name the key plus the selector
   * grants whose selector matches its current tags. lastUsedAt includes uses not yet flushed.
   */
  async list(filter: { keyId?: string; principalId?: string }): Promise<GrantRecord[]> {
    let grants = await this.store.listGrants({ ...filter, withSelectors: filter.keyId !== undefined });
    if (filter.keyId !== undefined) {
      const key = await this.keyFacts(filter.keyId);
      grants = grants.filter((g) => g.tagSelector === null || (key !== undefined && containsPairs(key.tags, g.tagSelector)));
    }
    return grants.map((g) => this.#withPendingUse(g));
  }

  async revoke(id: string): Promise<GrantRecord> {
    const g = await this.store.getGrant(id);
    if (g === undefined || !(await this.store.revokeGrant(id, this.clock.now()))) {
      throw new KeywardenError('NotFound', `grant ${id.slice(0, 64)} was not found or is already revoked`);
    }
    this.#cache.clear();
    return this.#withPendingUse({ ...g, revokedAt: this.clock.now() });
  }

  /** Writes the in-memory last-use times to the store (usage-flush job, and on close); returns how many. */
  async flushUsage(): Promise<number> {
    if (this.#uses.size === 0) return 0;
    const uses = [...this.#uses].map(([id, lastUsedAt]) => ({ id, lastUsedAt }));
    this.#uses.clear();
    try {
      await this.store.recordGrantUse(uses);
    } catch (e) {
      // Keep them for the next flush (a later use of the same grant wins).
      for (const u of uses) if (!this.#uses.has(u.id)) this.#uses.set(u.id, u.lastUsedAt);
      throw e;
    }
    return uses.length;
  }

  #withPendingUse(g: GrantRecord): GrantRecord {
    const pending = this.#uses.get(g.id);
    return pending === undefined || (g.lastUsedAt !== null && g.lastUsedAt >= pending) ? g : { ...g, lastUsedAt: pending };
  }
}

function checkOperations(operations: readonly string[]): GrantOperation[] {
  if (operations.length === 0) throw errors.validation('operations must list at least one operation');
  const bad = operations.filter((o) => !(GRANT_OPERATIONS as readonly string[]).includes(o));
  if (bad.length > 0) throw errors.validation(`unknown grant operation "${bad[0]?.slice(0, 40)}"; allowed: ${GRANT_OPERATIONS.join(', ')}`);
  return [...new Set(operations)] as GrantOperation[];
}
