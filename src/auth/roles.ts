/**
 * The built-in roles of issue 3/10 (documented in docs/access-control.md; a test keeps the two
 * in step). Each role maps actions to:
 * - 'allow': on every key (or the action is not key-scoped);
 * - a GrantOperation: only on a key where the principal holds an active grant for that operation;
 * - 'any-grant': only on a key where the principal holds an active grant (any operation).
 * Anything not listed is denied (fail closed). The root token bypasses this table (bootstrap).
 */
import type { Action } from './authorize.js';
import { ROLES, type GrantOperation, type Role } from './principal.model.js';

export type Rule = 'allow' | 'any-grant' | GrantOperation;

const KEY_ADMIN_ACTIONS = [
  'key:create', 'key:describe', 'key:list', 'key:rotate', 'key:update', 'key:enable', 'key:disable',
  'key:schedule-deletion', 'key:cancel-deletion', 'key:versions', 'key:tag', 'key:alias', 'key:import',
  'key:public-key', 'key:report', 'key:purge', 'grant:manage', 'grant:revoke', 'grant:read', 'request:create', 'request:read',
  'policy:read',
] as const satisfies readonly Action[];

/** Cryptographic actions and the grant operation each one needs. */
export const GRANTED_ACTIONS = {
  'key:encrypt': 'encrypt',
  'key:decrypt': 'decrypt',
  'key:generate-data-key': 'generate-data-key',
  'key:re-encrypt': 're-encrypt',
  'key:re-wrap': 're-wrap',
  'key:sign': 'sign',
  'key:verify': 'verify',
  'key:mac': 'mac',
  'key:verify-mac': 'verify-mac',
  'key:export': 'export',
} as const satisfies Partial<Record<Action, GrantOperation>>;

const allow = (actions: readonly Action[]): Partial<Record<Action, Rule>> => Object.fromEntries(actions.map((a) => [a, 'allow' as const]));

export const ROLE_TABLE: Record<Role, Partial<Record<Action, Rule>>> = {
  /** Manages principals and role bindings; cannot use or manage keys. */
  admin: allow(['principal:manage', 'principal:bind', 'principal:read', 'token:revoke', 'sys:jobs', 'sys:metrics', 'request:create', 'request:read', 'access:review', 'policy:read', 'sys:revoke-root', 'alert:read']),
  /** Creates and governs keys and their grants; cannot use them. */
  'key-administrator': allow(KEY_ADMIN_ACTIONS),
  /** Revokes compromised keys, revokes grants and tokens, seals; cannot create or use keys. */
  'security-officer': allow([
    'key:describe', 'key:list', 'key:versions', 'key:revoke', 'key:report', 'grant:read', 'grant:revoke',
    'principal:read', 'token:revoke', 'sys:seal', 'sys:jobs', 'sys:metrics', 'request:create', 'request:read', 'request:approve',
    'access:review', 'policy:read', 'policy:edit', 'sys:revoke-root', 'audit:read', 'incident:respond', 'alert:read', 'alert:manage',
  ]),
  /** Cryptographic operations only on keys granted to it. */
  application: { ...GRANTED_ACTIONS, 'key:describe': 'any-grant', 'key:public-key': 'any-grant', 'random:generate': 'allow', 'request:create': 'allow' },
  /** Read-only metadata and the audit ledger. */
  auditor: allow(['key:describe', 'key:list', 'key:versions', 'key:report', 'grant:read', 'principal:read', 'sys:jobs', 'sys:metrics', 'request:read', 'access:review', 'policy:read', 'audit:read', 'alert:read']),
};

/**
 * Role pairs one principal may not hold together (separation of duties):
 * - key-administrator + application: it could administer and use the same key;
 * - admin + key-administrator / application: the admin mints identities and binds roles, so
 *   holding key roles as well would let one principal both control and use keys.
 */
export const CONFLICTING_ROLES: ReadonlyArray<readonly [Role, Role]> = [
  ['key-administrator', 'application'],
  ['admin', 'key-administrator'],
  ['admin', 'application'],
];

/** The first separation-of-duties conflict in a role set, described for an error message. */
export function roleConflict(roles: readonly Role[]): string | undefined {
  for (const [a, b] of CONFLICTING_ROLES) {
    if (roles.includes(a) && roles.includes(b)) return `${a} and ${b}`;
  }
  return undefined;
}

export function isRole(r: string): r is Role {
  return (ROLES as readonly string[]).includes(r);
}

/**
 * What the roles together allow for `action`: 'allow' beats a grant-scoped rule, which beats deny
 * (undefined). With several grant-scoped rules they all name the same operation (one per action).
 */
export function ruleFor(roles: readonly Role[], action: Action): Rule | undefined {
  if (action === 'principal:self') return 'allow';
  let best: Rule | undefined;
  for (const r of roles) {
    const rule = ROLE_TABLE[r]?.[action];
    if (rule === 'allow') return 'allow';
    if (rule !== undefined) best = rule;
  }
  return best;
}
