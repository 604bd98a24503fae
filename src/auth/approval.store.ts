import type { AccessPolicy } from './access-policy.js';
import type { ApprovalRequest, RequestStatus } from './approval.model.js';

/** The stored access policy (a single row); absent until first changed (the defaults apply). */
export interface StoredAccessPolicy {
  policy: AccessPolicy;
  version: number;
  updatedAt: number;
  /** Name of the principal that changed it (for a policy-change request: the requester). */
  updatedBy: string;
}

/** Persistence of approval requests and of the access policy. */
export interface ApprovalStore {
  createRequest(r: ApprovalRequest): Promise<void>;
  getRequest(id: string): Promise<ApprovalRequest | undefined>;
  /** Newest first, at most `limit`. */
  listRequests(filter: { status?: RequestStatus; requesterId?: string; limit: number }): Promise<ApprovalRequest[]>;
  /**
   * Replaces the request by `next` (whose version MUST be `expectedVersion + 1`) only if the stored
   * version is still `expectedVersion`: false when someone else changed it first. This is what
   * stops two concurrent approvals from both executing.
   */
  updateRequest(next: ApprovalRequest, expectedVersion: number): Promise<boolean>;
  /** Marks every pending request with expiresAt <= now expired; returns how many. */
  expirePending(now: number): Promise<number>;
  /** Marks requests stuck in `approved` since before `before` (a crash mid-execution) failed; returns how many. */
  failStaleApproved(before: number, now: number, result: Record<string, unknown>): Promise<number>;

  getAccessPolicy(): Promise<StoredAccessPolicy | undefined>;
  /** Stores `p` if the stored version is `expectedVersion` (0 = none stored yet); false otherwise. */
  putAccessPolicy(p: StoredAccessPolicy, expectedVersion: number): Promise<boolean>;
}
