/**
 * The stored access policy (src/auth/access-policy.ts): one row with a version, read into memory
 * at start so current() is synchronous and cheap (the approval and MFA gates call it on every
 * call). It is re-read after each write here and, for changes made by other nodes, in the
 * background at most once a second.
 */
import { KeywardenError, errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { APPROVABLE_ACTIONS, DEFAULT_ACCESS_POLICY, type AccessPolicy, type AccessPolicySource, type ApprovableAction } from './access-policy.js';
import type { ApprovalStore, StoredAccessPolicy } from './approval.store.js';
import type { Action } from './authorize.js';
import { ROLES, type Role } from './principal.model.js';
import type { Principal } from './token.model.js';

/** Every action of src/auth/authorize.ts (the type check below fails when one is missing). */
export const ACTIONS = [
  'key:create', 'key:describe', 'key:list', 'key:encrypt', 'key:decrypt', 'key:generate-data-key', 'key:re-encrypt',
  'key:rotate', 'key:update', 'key:enable', 'key:disable', 'key:schedule-deletion', 'key:cancel-deletion', 'key:revoke',
  'key:versions', 'key:tag', 'key:alias', 'key:import', 'key:export', 'key:sign', 'key:verify', 'key:public-key', 'key:mac',
  'key:verify-mac', 'key:re-wrap', 'key:report', 'key:purge', 'random:generate', 'sys:seal', 'sys:jobs', 'sys:metrics', 'principal:read',
  'principal:manage', 'principal:bind', 'grant:read', 'grant:manage', 'grant:revoke', 'token:revoke', 'request:create',
  'request:read', 'request:approve', 'access:review', 'policy:read', 'policy:edit', 'sys:revoke-root', 'principal:self',
  'audit:read', 'incident:respond', 'alert:read', 'alert:manage',
] as const satisfies readonly Action[];
// A new Action MUST be added above, or the policy validation would refuse it.
const allActionsListed: [Exclude<Action, (typeof ACTIONS)[number]>] extends [never] ? true : false = true;
void allActionsListed;

/** Bounds of the policy fields (seconds unless stated). */
export const POLICY_LIMITS = {
  maxApprovals: 10,
  stepUpMaxAgeSeconds: { min: 30, max: 3600 },
  jitApprovals: { min: 1, max: 10 },
  jitMaxDurationSeconds: { min: 60, max: 7 * 86_400 },
  requestTtlSeconds: { min: 300, max: 30 * 86_400 },
} as const;

const POLICY_FIELDS = ['mfaRequiredRoles', 'mfaGatedActions', 'stepUpMaxAgeSeconds', 'approvals', 'jitApprovals', 'jitMaxDurationSeconds', 'requestTtlSeconds'] as const;
const REFRESH_MS = 1000;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const clip = (s: string) => JSON.stringify(s.slice(0, 60));

function names<T extends string>(field: string, x: unknown, allowed: readonly T[], what: string): T[] {
  if (!Array.isArray(x)) throw errors.validation(`policy.${field} must be a list of ${what}`);
  const out: T[] = [];
  for (const v of x) {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw errors.validation(`policy.${field} names an unknown ${what.replace(/s$/, '')} ${typeof v === 'string' ? clip(v) : String(v)}`);
    }
    if (out.includes(v as T)) throw errors.validation(`policy.${field} lists ${v} twice`);
    out.push(v as T);
  }
  return out;
}

function int(field: string, x: unknown, { min, max }: { min: number; max: number }): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    throw errors.validation(`policy.${field} must be a whole number from ${min} to ${max}`);
  }
  return x;
}

/**
 * Strict validation of a complete access policy: every field present, nothing unknown, known
 * roles and actions only, M from 0 to 10, durations within POLICY_LIMITS. Returns a clean copy.
 */
export function validateAccessPolicy(x: unknown): AccessPolicy {
  if (!isObject(x)) throw errors.validation('the access policy must be an object');
  const unknown = Object.keys(x).find((k) => !(POLICY_FIELDS as readonly string[]).includes(k));
  if (unknown !== undefined) throw errors.validation(`the access policy has an unknown field ${clip(unknown)}; fields: ${POLICY_FIELDS.join(', ')}`);
  const missing = POLICY_FIELDS.find((k) => x[k] === undefined);
  if (missing !== undefined) throw errors.validation(`the access policy is missing the field ${missing} (give the complete policy)`);
  const gated = names<Action>('mfaGatedActions', x.mfaGatedActions, ACTIONS, 'actions');
  if (gated.includes('principal:self')) throw errors.validation('policy.mfaGatedActions cannot gate principal:self (MFA enrolment itself needs it)');
  if (!isObject(x.approvals)) throw errors.validation('policy.approvals must map actions to a number of approvals');
  const approvals: Partial<Record<ApprovableAction, number>> = {};
  for (const [action, m] of Object.entries(x.approvals)) {
    if (!(APPROVABLE_ACTIONS as readonly string[]).includes(action)) {
      throw errors.validation(`policy.approvals names ${clip(action)}, which cannot require approval; approvable: ${APPROVABLE_ACTIONS.join(', ')}`);
    }
    approvals[action as ApprovableAction] = int(`approvals.${action}`, m, { min: 0, max: POLICY_LIMITS.maxApprovals });
  }
  return {
    mfaRequiredRoles: names<Role>('mfaRequiredRoles', x.mfaRequiredRoles, ROLES, 'roles'),
    mfaGatedActions: gated,
    stepUpMaxAgeSeconds: int('stepUpMaxAgeSeconds', x.stepUpMaxAgeSeconds, POLICY_LIMITS.stepUpMaxAgeSeconds),
    approvals,
    jitApprovals: int('jitApprovals', x.jitApprovals, POLICY_LIMITS.jitApprovals),
    jitMaxDurationSeconds: int('jitMaxDurationSeconds', x.jitMaxDurationSeconds, POLICY_LIMITS.jitMaxDurationSeconds),
    requestTtlSeconds: int('requestTtlSeconds', x.requestTtlSeconds, POLICY_LIMITS.requestTtlSeconds),
  };
}

/** The policy in force and where it came from (version 0 = the built-in defaults). */
export interface AccessPolicyView {
  policy: AccessPolicy;
  version: number;
  updatedAt: number | null;
  updatedBy: string | null;
}

export class AccessPolicyService implements AccessPolicySource {
  #view: AccessPolicyView = { policy: DEFAULT_ACCESS_POLICY, version: 0, updatedAt: null, updatedBy: null };
  #loadedAt = -Infinity;
  #refreshing = false;

  constructor(
    private readonly store: Pick<ApprovalStore, 'getAccessPolicy' | 'putAccessPolicy'>,
    private readonly clock: Clock,
  ) {}

  /** Reads the stored policy (call once at start, before serving). */
  async load(): Promise<void> {
    const s = await this.store.getAccessPolicy();
    this.#loadedAt = this.clock.now();
    // Versions only grow; a read that raced a newer local write must not undo it.
    if (s !== undefined && s.version > this.#view.version) this.#view = s;
  }

  /** The policy in force: synchronous, no allocation; schedules a background re-read when over a second old. */
  current(): AccessPolicy {
    if (!this.#refreshing && this.clock.now() - this.#loadedAt >= REFRESH_MS) {
      this.#refreshing = true;
      this.load()
        .catch(() => undefined) // keep the last policy known (store closing, transient error)
        .finally(() => (this.#refreshing = false));
    }
    return this.#view.policy;
  }

  async view(): Promise<AccessPolicyView> {
    await this.load();
    return this.#view;
  }

  /** Replaces the policy (callers authorize policy:edit, including its quorum, first). */
  async update(by: Principal, input: unknown): Promise<AccessPolicyView> {
    const policy = validateAccessPolicy(input);
    const cur = await this.store.getAccessPolicy();
    const version = cur?.version ?? 0;
    const next: StoredAccessPolicy = { policy, version: version + 1, updatedAt: this.clock.now(), updatedBy: by.name };
    if (!(await this.store.putAccessPolicy(next, version))) {
      throw new KeywardenError('InvalidState', 'the access policy was changed concurrently; read it again and retry');
    }
    this.#view = next;
    this.#loadedAt = this.clock.now();
    return next;
  }
}
