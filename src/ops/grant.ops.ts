/**
 * Grant use-cases: create (on a key or a tag selector, with conditions), list, revoke. Same
 * pipeline as every other use-case (ARCHITECTURE rule 2); the transport only translates.
 */
import type { GrantService } from '../auth/grant.service.js';
import type { GrantConditions, GrantRecord, PrincipalRecord } from '../auth/principal.model.js';
import { errors } from '../errors/catalog.js';
import { ROOT_PRINCIPAL_ID } from '../auth/access-key.model.js';
import type { KeyPolicyService } from '../auth/key-policy.service.js';
import type { Call, Pipeline } from './pipeline.js';

export interface GrantOpsDeps {
  pipeline: Pipeline;
  grants: GrantService;
  /** Principal lookup by name (NotFound when absent). */
  principals: { get(name: string): Promise<PrincipalRecord>; list?(): Promise<PrincipalRecord[]> };
  /** Retiring principals of grants (AWS CreateGrant RetiringPrincipal); absent = none can be named. */
  retirees?: KeyPolicyService;
}

export interface CreateGrantInput {
  /** Key id or alias; exactly one of key and tagSelector. */
  key?: string;
  tagSelector?: Record<string, string>;
  principal: string;
  operations: readonly string[];
  conditions?: GrantConditions;
  /** A principal (name) that may retire the grant without grant:revoke (key grants only). */
  retiringPrincipal?: string;
}

/** Grants with the names of their grantees (principal id -> name) and their retiring principals (grant id -> principal id). */
export interface NamedGrants {
  grants: GrantRecord[];
  names: Map<string, string>;
  retirees: Map<string, string>;
}

export class GrantOps {
  constructor(private readonly d: GrantOpsDeps) {}

  /**
   * A key grant is authorized on that key (grant:manage, without revealing other keys); a selector
   * grant, which reaches every key carrying the tags now or later, needs grant:manage as such.
   */
  async create(call: Call, input: CreateGrantInput): Promise<GrantRecord> {
    if ((input.key === undefined) === (input.tagSelector === undefined)) {
      throw errors.validation('give either key or tagSelector (exactly one)');
    }
    if (input.key !== undefined) {
      const { principal, key } = await this.d.pipeline.beginKey(call, 'grant:manage', input.key);
      // The policy of the key's scope may require grants to expire (maxGrantDays).
      this.d.pipeline.policy?.checkGrant(call, key, { createdAt: this.d.pipeline.grantContext(call).now, expiresAt: input.conditions?.notAfter ?? null });
      const grantee = await this.d.principals.get(input.principal);
      const retiree = input.retiringPrincipal === undefined ? undefined : await this.#retiree(input.retiringPrincipal);
      const g = await this.d.grants.create(principal, { keyId: key.id }, grantee, input.operations, input.conditions);
      if (retiree !== undefined) {
        try {
          await (this.d.retirees as KeyPolicyService).setGrantRetiree({ grantId: g.id, principalId: retiree });
        } catch (e) {
          // Never leave a grant without the retiring principal it was created with.
          await this.d.grants.revoke(g.id).catch(() => undefined);
          throw e;
        }
      }
      return g;
    }
    if (input.retiringPrincipal !== undefined) throw errors.validation('a retiring principal is only supported on key grants');
    const by = await this.d.pipeline.begin(call, 'grant:manage');
    const grantee = await this.d.principals.get(input.principal);
    return this.d.grants.create(by, { tagSelector: input.tagSelector as Record<string, string> }, grantee, input.operations, input.conditions);
  }

  /** Active grants; `key` keeps those that apply to the key (naming it, or selecting it by its tags). */
  async list(call: Call, filter: { key?: string; principal?: string } = {}): Promise<GrantRecord[]> {
    let keyId: string | undefined;
    if (filter.key === undefined) await this.d.pipeline.begin(call, 'grant:read');
    else keyId = (await this.d.pipeline.beginKey(call, 'grant:read', filter.key)).key.id;
    const principalId = filter.principal === undefined ? undefined : (await this.d.principals.get(filter.principal)).id;
    return this.d.grants.list({ ...(keyId !== undefined ? { keyId } : {}), ...(principalId !== undefined ? { principalId } : {}) });
  }

  /**
   * Retires a grant (AWS RetireGrant): its retiring principal may, without grant:revoke; anyone
   * else needs grant:revoke. `keyId`, when given, must be the key the grant is on.
   */
  async retire(call: Call, id: string, keyId?: string): Promise<GrantRecord> {
    if (call.audit !== undefined) call.audit.action ??= 'grant:revoke';
    const caller = await this.d.pipeline.begin(call, 'principal:self');
    const retiree = await this.d.retirees?.grantRetiree(id);
    if (retiree !== caller.id) await this.d.pipeline.begin(call, 'grant:revoke');
    if (keyId !== undefined) {
      const g = (await this.d.grants.list({ keyId })).find((x) => x.id === id);
      if (g === undefined || g.keyId !== keyId) throw errors.notFound(`grant ${id.slice(0, 64)} on key ${keyId.slice(0, 64)}`);
    }
    return this.d.grants.revoke(id);
  }

  /** As list, with the names of the grantees and retiring principals (AWS ListGrants shows them). */
  async listNamed(call: Call, filter: { key?: string; principal?: string } = {}): Promise<NamedGrants> {
    return this.#named(await this.list(call, filter));
  }

  async #named(grants: GrantRecord[]): Promise<NamedGrants> {
    const names = new Map<string, string>([[ROOT_PRINCIPAL_ID, 'root']]);
    for (const p of (await this.d.principals.list?.()) ?? []) names.set(p.id, p.name);
    const retirees = new Map<string, string>();
    for (const g of grants) {
      const r = await this.d.retirees?.grantRetiree(g.id);
      if (r !== undefined) retirees.set(g.id, r);
    }
    return { grants, names, retirees };
  }

  /** Active grants a principal may retire: the caller's own, or (grant:read) another principal's. */
  async listRetirable(call: Call, principal: string): Promise<NamedGrants> {
    const caller = await this.d.pipeline.begin(call, 'principal:self');
    const target = await this.#retiree(principal);
    if (target !== caller.id) await this.d.pipeline.begin(call, 'grant:read');
    const ids = new Set(await (this.d.retirees?.retirableGrants(target) ?? []));
    return this.#named(ids.size === 0 ? [] : (await this.d.grants.list({})).filter((g) => ids.has(g.id)));
  }

  /** A retiring principal's id from its name ('root' is the root identity). */
  async #retiree(name: string): Promise<string> {
    if (this.d.retirees === undefined) throw errors.validation('retiring principals are not available');
    return name === ROOT_PRINCIPAL_ID ? ROOT_PRINCIPAL_ID : (await this.d.principals.get(name)).id;
  }

  async revoke(call: Call, id: string): Promise<GrantRecord> {
    await this.d.pipeline.begin(call, 'grant:revoke');
    return this.d.grants.revoke(id);
  }
}
