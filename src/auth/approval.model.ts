/**
 * Approval requests (issue 3/10 §5–6): a sensitive action, or a just-in-time grant, that runs only
 * once M distinct eligible approvers (never the requester) have approved it. Any deny or expiry
 * cancels it. M is fixed when the request is created.
 */
import type { AccessPolicy, ApprovableAction } from './access-policy.js';
import type { GrantOperation, Role } from './principal.model.js';
import type { Principal } from './token.model.js';
import type { PolicyDocument } from '../policy/policy.model.js';

/** Request actions as the REST API and the CLI name them. */
export const REQUEST_ACTIONS = ['schedule-deletion', 'disable', 'revoke', 'export', 'policy-change', 'policy-document-change', 'role-bind', 'role-unbind', 'jit-grant'] as const;
export type RequestAction = (typeof REQUEST_ACTIONS)[number];

/** The pipeline action each request executes; a jit-grant creates a grant instead (no pipeline action). */
export const REQUEST_PIPELINE_ACTION = {
  'schedule-deletion': 'key:schedule-deletion',
  disable: 'key:disable',
  revoke: 'key:revoke',
  export: 'key:export',
  'policy-change': 'policy:edit',
  /** A new version of the policy document (issue 5/10; the access policy is policy-change). */
  'policy-document-change': 'policy:edit',
  'role-bind': 'principal:bind',
  'role-unbind': 'principal:bind',
  'jit-grant': undefined,
} as const satisfies Record<RequestAction, ApprovableAction | undefined>;

/** The request that carries a gated pipeline action (named in ApprovalRequired messages). */
export const REQUEST_FOR_ACTION: Record<ApprovableAction, RequestAction> = {
  'key:schedule-deletion': 'schedule-deletion',
  'key:disable': 'disable',
  'key:revoke': 'revoke',
  'key:export': 'export',
  'policy:edit': 'policy-change',
  'principal:bind': 'role-bind',
};

/** Request actions that target one key (`key` is required for them and refused for the others). */
export const KEY_REQUEST_ACTIONS: ReadonlySet<RequestAction> = new Set(['schedule-deletion', 'disable', 'revoke', 'export', 'jit-grant']);

/**
 * pending -> approved (quorum reached, executing) -> executed | failed;
 * pending -> denied | expired | cancelled. Only `pending` accepts approvals.
 */
export const REQUEST_STATUSES = ['pending', 'approved', 'executed', 'failed', 'denied', 'expired', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** Action-specific parameters (validated at creation; which ones apply depends on the action). */
export interface RequestParams {
  /** schedule-deletion: waiting period in days (7–30). */
  pendingWindowDays?: number;
  /** revoke: why the key is revoked. */
  reason?: 'compromised' | 'superseded';
  /** export: the RSA public key (SPKI DER, base64) to wrap the material under. */
  publicKey?: string;
  /** policy-change: the complete new access policy. */
  policy?: AccessPolicy;
  /** policy-document-change: the complete new policy document (validated at creation). */
  document?: PolicyDocument;
  /** role-bind / role-unbind: whose role, and which. */
  principal?: string;
  role?: Role;
  /** jit-grant: the operations and how long the grant lasts once approved. */
  operations?: GrantOperation[];
  durationSeconds?: number;
}

export interface Approval {
  principalId: string;
  name: string;
  at: number;
}

export interface Denial extends Approval {
  reason: string | null;
}

export interface ApprovalRequest {
  id: string;
  action: RequestAction;
  /** The key, resolved at creation (null for actions without a key, or a jit-grant naming no existing key). */
  keyId: string | null;
  /** The key as the requester named it. */
  keyRef: string | null;
  params: RequestParams;
  requesterId: string;
  requesterName: string;
  requesterKind: Principal['kind'];
  reason: string;
  /** M, fixed at creation from the access policy. */
  requiredApprovals: number;
  approvals: Approval[];
  denial: Denial | null;
  status: RequestStatus;
  /** What the execution produced (executed), or `{error: {code, message}}` (failed). */
  result: Record<string, unknown> | null;
  createdAt: number;
  expiresAt: number;
  /** When the request left `pending` (quorum reached, denied, expired, cancelled); re-set when execution ends. */
  decidedAt: number | null;
  /** Optimistic-concurrency version: every change is a conditional update on it. */
  version: number;
}
