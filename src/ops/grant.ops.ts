/**
 * Grant use-cases: create (on a key or a tag selector, with conditions), list, revoke. Same
 * pipeline as every other use-case (ARCHITECTURE rule 2); the transport only translates.
 */
import type { GrantService } from '../auth/grant.service.js';
import type { GrantConditions, GrantRecord, PrincipalRecord } from '../auth/principal.model.js';
import { errors } from '../errors/catalog.js';
import type { Call, Pipeline } from './pipeline.js';

export interface GrantOpsDeps {
  pipeline: Pipeline;
  grants: GrantService;
  /** Principal lookup by name (NotFound when absent). */
  principals: { get(name: string): Promise<PrincipalRecord> };
}

export interface CreateGrantInput {
  /** Key id or alias; exactly one of key and tagSelector. */
  key?: string;
  tagSelector?: Record<string, string>;
  principal: string;
  operations: readonly string[];
  conditions?: GrantConditions;
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
      return this.d.grants.create(principal, { keyId: key.id }, grantee, input.operations, input.conditions);
    }
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

  async revoke(call: Call, id: string): Promise<GrantRecord> {
    await this.d.pipeline.begin(call, 'grant:revoke');
    return this.d.grants.revoke(id);
  }
}
