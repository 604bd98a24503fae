/**
 * The access policy of issue 3/10: which roles must use MFA, which actions demand a fresh TOTP
 * (step-up), how many approvals (M of N) each sensitive action needs, and the limits of
 * just-in-time grants. Stored in the store and changed only through quorum approval
 * (src/auth/approval.service.ts); the policy engine of issue 5/10 will feed the same fields from
 * its policy document.
 */
import type { Action } from './authorize.js';
import type { Role } from './principal.model.js';

/** Actions that can be put under quorum approval (issue 3/10 §6). */
export const APPROVABLE_ACTIONS = [
  'key:schedule-deletion',
  'key:disable',
  'key:revoke',
  'key:export',
  'policy:edit',
  'principal:bind',
] as const satisfies readonly Action[];
export type ApprovableAction = (typeof APPROVABLE_ACTIONS)[number];

export interface AccessPolicy {
  /** Roles whose holders, when they are people (users), must enrol MFA and present it at login. */
  mfaRequiredRoles: Role[];
  /** Actions for which a user must present a fresh TOTP code (step-up). Service accounts and the root token are not gated. */
  mfaGatedActions: Action[];
  /** How long a TOTP verification (at login or by step-up) counts as fresh, seconds. */
  stepUpMaxAgeSeconds: number;
  /** Approvals (M) each action needs before it runs; 0 or absent = none. */
  approvals: Partial<Record<ApprovableAction, number>>;
  /** Approvals a just-in-time grant needs (at least 1: a JIT grant is active only once approved). */
  jitApprovals: number;
  /** Longest just-in-time grant a principal may request, seconds. */
  jitMaxDurationSeconds: number;
  /** How long an approval request stays open before it expires, seconds. */
  requestTtlSeconds: number;
}

export const DEFAULT_ACCESS_POLICY: AccessPolicy = {
  mfaRequiredRoles: ['admin', 'security-officer', 'key-administrator'],
  mfaGatedActions: [
    'key:schedule-deletion',
    'key:revoke',
    'key:export',
    'key:disable',
    'principal:manage',
    'principal:bind',
    'request:approve',
    'policy:edit',
    'sys:revoke-root',
  ],
  stepUpMaxAgeSeconds: 300,
  approvals: {},
  jitApprovals: 1,
  jitMaxDurationSeconds: 8 * 3600,
  requestTtlSeconds: 24 * 3600,
};

/** Where services read the current access policy (synchronous: it is cached in memory). */
export interface AccessPolicySource {
  current(): AccessPolicy;
}
