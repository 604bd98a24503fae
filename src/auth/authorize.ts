import type { ContextForGrants } from './grant-conditions.js';
import { KeywardenError } from '../errors/catalog.js';
import type { GrantOperation } from './principal.model.js';
import { ruleFor } from './roles.js';
import type { Principal } from './token.model.js';
import type { KeyRecord } from '../keys/key.model.js';

/** Actions checked by the ops/ pipeline; src/auth/roles.ts maps them onto roles and grants. */
export type Action =
  | 'key:create'
  | 'key:describe'
  | 'key:list'
  | 'key:encrypt'
  | 'key:decrypt'
  | 'key:generate-data-key'
  | 'key:re-encrypt'
  | 'key:rotate'
  | 'key:update'
  | 'key:enable'
  | 'key:disable'
  | 'key:schedule-deletion'
  | 'key:cancel-deletion'
  | 'key:revoke'
  | 'key:versions'
  | 'key:tag'
  | 'key:alias'
  | 'key:import'
  | 'key:export'
  | 'key:sign'
  | 'key:verify'
  | 'key:public-key'
  | 'key:mac'
  | 'key:verify-mac'
  | 'key:re-wrap'
  | 'key:report'
  | 'key:purge'
  | 'random:generate'
  | 'sys:seal'
  | 'sys:jobs'
  /** Scraping the Prometheus metrics (GET /v1/sys/metrics). */
  | 'sys:metrics'
  | 'principal:read'
  | 'principal:manage'
  /** Binding or unbinding roles (also creating a principal with roles): quorum-approvable. */
  | 'principal:bind'
  | 'grant:read'
  | 'grant:manage'
  | 'grant:revoke'
  | 'token:revoke'
  /** Approval requests (quorum approval, just-in-time grants). Creating one: any principal; see ApprovalService. */
  | 'request:create'
  | 'request:read'
  | 'request:approve'
  /** Who can do what on which key (GET /v1/access-review). */
  | 'access:review'
  /** The access policy: MFA-required roles, MFA-gated actions, approvals per action, JIT maximum. */
  | 'policy:read'
  | 'policy:edit'
  /** Revoking the bootstrap root token(s). */
  | 'sys:revoke-root'
  /** Acting on one's own identity (revoking one's own token): every authenticated principal. */
  | 'principal:self'
  /** Reading the audit ledger: checkpoints, proofs, export, event search (issue 4/10 §7). */
  | 'audit:read'
  /** Reading anomaly alerts (GET /v1/alerts; issue 10/10 §4). */
  | 'alert:read'
  /** Acknowledging and resolving anomaly alerts. */
  | 'alert:manage'
  /** Running the key-compromise playbook on a key, or a drill of it (issue 10/10 §5). */
  | 'incident:respond';

/**
 * Facts of the request that grant conditions are evaluated against (issue 3/10 §4): the time, the
 * caller's source address, and the encryption context of the operation. `encryptionContext`
 * undefined means the operation carries no context (a context condition then does not match).
 */
export interface GrantContext {
  now: number;
  sourceIp?: string;
  encryptionContext?: ContextForGrants;
}

/** The key an action targets. `ref` is the key as the caller named it (used in deny messages). */
export interface Resource {
  keyId?: string;
  ref?: string;
  /** Request facts for grant conditions; without it conditional grants do not match (fail closed). */
  context?: GrantContext;
  /** The key record once resolved (its policy scope drives the MFA and approval gates' policy rules). */
  key?: KeyRecord;
}

/** Answers whether a principal holds an active grant on a key (for one operation, or for any) whose conditions `ctx` meets. */
export interface GrantLookup {
  hasGrant(principalId: string, keyId: string, operation: GrantOperation | 'any', ctx?: GrantContext): Promise<boolean>;
}

export function permissionDenied(principal: Principal, action: Action, why: string): KeywardenError {
  return new KeywardenError('PermissionDenied', `${principal.name} is not allowed to perform ${action}: ${why}`);
}

/** The deny when no role of the principal allows `action` at all. */
export function roleDenied(principal: Principal, action: Action): KeywardenError {
  return permissionDenied(principal, action, `none of its roles (${principal.roles.join(', ') || 'none'}) grants it`);
}

/** True when the roles allow `action` on some key only through a grant (so existence must not leak). */
export function needsGrant(principal: Principal, action: Action): boolean {
  if (principal.kind === 'root') return false;
  const rule = ruleFor(principal.roles, action);
  return rule !== undefined && rule !== 'allow';
}

/** What a grant's conditions check, named in the deny for a grant-scoped operation. */
export const GRANT_CONDITIONS_HINT = 'that matches this request (conditions: encryption context, source address, validity window)';

/**
 * The deny for a grant-scoped action on a key: identical whether the key exists or not, and
 * whether the principal holds no grant at all or only grants whose conditions this request fails.
 */
export function noGrant(principal: Principal, action: Action, ref: string): KeywardenError {
  const rule = ruleFor(principal.roles, action);
  if (rule === undefined || rule === 'allow' || rule === 'any-grant') return permissionDenied(principal, action, `it holds no grant on key ${ref}`);
  return permissionDenied(principal, action, `it holds no grant for ${rule} on key ${ref} ${GRANT_CONDITIONS_HINT}`);
}

/**
 * Decides whether `principal` may perform `action` (on `resource.keyId` for key-scoped actions).
 * Fails closed: anything the role table does not allow is denied, a grant-scoped action without a
 * key is denied, and a missing grant lookup denies. The deny message names the missing permission
 * and the key exactly as the caller named it, and is the same whether or not that key exists.
 * The root token (bootstrap) may do everything.
 */
export async function authorize(principal: Principal, action: Action, resource: Resource = {}, grants?: GrantLookup): Promise<void> {
  if (principal.kind === 'root' || action === 'principal:self') return;
  const rule = ruleFor(principal.roles, action);
  if (rule === 'allow') return;
  if (rule === undefined) {
    throw roleDenied(principal, action);
  }
  if (resource.keyId === undefined || grants === undefined) {
    throw permissionDenied(principal, action, `it needs a grant${rule === 'any-grant' ? '' : ` for ${rule}`} on the key, and the call named none`);
  }
  if (!(await grants.hasGrant(principal.id, resource.keyId, rule === 'any-grant' ? 'any' : rule, resource.context))) {
    throw noGrant(principal, action, resource.ref ?? resource.keyId);
  }
}
