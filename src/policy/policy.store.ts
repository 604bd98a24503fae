import type { PolicyVersion } from './policy.model.js';

/**
 * Persistence of the policy document's versions (src/policy/policy.service.ts). Implemented in
 * src/storage/*; test/conformance/store.conformance.ts holds every implementation to it.
 * Contracts:
 * - Append-only: a version, once written, is never updated or deleted.
 * - appendPolicyVersion writes version N only when the newest stored version is N - 1 (none
 *   stored counts as 0), atomically; otherwise it returns false and writes nothing, so of two
 *   concurrent changes exactly one wins.
 */
export interface PolicyStore {
  latestPolicyVersion(): Promise<PolicyVersion | undefined>;
  getPolicyVersion(version: number): Promise<PolicyVersion | undefined>;
  /** Every stored version, oldest first. */
  listPolicyVersions(): Promise<PolicyVersion[]>;
  appendPolicyVersion(v: PolicyVersion): Promise<boolean>;
}
