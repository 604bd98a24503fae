/**
 * Rows of the governance tables (principals, grants, credentials, users, approvals, jobs, policy
 * versions, AWS access keys) to records: both backends share one logical schema, so one mapper
 * serves SQLite and PostgreSQL (key rows: key-rows.ts). The only backend difference is booleans
 * (SQLite 0/1, PostgreSQL true/false), read with `flag`.
 */
import type { ClientKeyRecord } from '../auth/client-assertion.js';
import type { ClientCredential, GrantConditions, GrantOperation, GrantRecord, PrincipalKind, PrincipalRecord, Role, TokenSigningKeyRecord } from '../auth/principal.model.js';
import type { SessionRecord, UserRecord } from '../auth/user.model.js';
import type { ApprovalRequest } from '../auth/approval.model.js';
import type { AccessKeyRecord, AccessKeyStatus } from '../auth/access-key.model.js';
import type { JobRecord, JobRunStatus } from '../jobs/job.model.js';
import type { PolicyDocument, PolicyVersion } from '../policy/policy.model.js';
import type { SealConfig } from '../seal/seal.model.js';
import type { TokenRecord } from '../auth/token.model.js';

type Row = Record<string, unknown>;

const flag = (v: unknown): boolean => v === 1 || v === true;
const json = <T>(v: unknown): T => JSON.parse(v as string) as T;
const jsonOrNull = <T>(v: unknown): T | null => (v === null || v === undefined ? null : json<T>(v));

export const sealConfigFromRow = (r: Row): SealConfig => ({
  type: r.type as SealConfig['type'],
  shares: r.shares as number,
  threshold: r.threshold as number,
  wrappedRootKey: r.wrapped_root_key as Buffer,
  shareDigests: json<string[]>(r.share_digests),
  shareCheckSalt: r.share_check_salt as Buffer,
  createdAt: r.created_at as number,
});

export const tokenFromRow = (r: Row): TokenRecord => ({
  hash: r.hash as string,
  accessor: r.accessor as string,
  kind: r.kind as TokenRecord['kind'],
  displayName: r.display_name as string,
  createdAt: r.created_at as number,
});

/** A principals row (also joined into user rows) as a record. */
export const principalFromRow = (r: Row): PrincipalRecord => ({
  id: r.id as string,
  name: r.name as string,
  kind: r.kind as PrincipalKind,
  roles: json<Role[]>(r.roles),
  createdAt: r.created_at as number,
  disabled: flag(r.disabled),
  environment: (r.environment as PrincipalRecord['environment']) ?? null,
});

export const grantFromRow = (r: Row): GrantRecord => ({
  id: r.id as string,
  keyId: (r.key_id as string | null) ?? null,
  tagSelector: jsonOrNull<Record<string, string>>(r.tag_selector),
  principalId: r.principal_id as string,
  operations: json<GrantOperation[]>(r.operations),
  conditions: json<GrantConditions>(r.conditions),
  createdBy: r.created_by as string,
  createdAt: r.created_at as number,
  revokedAt: (r.revoked_at as number | null) ?? null,
  lastUsedAt: (r.last_used_at as number | null) ?? null,
  approvalRequestId: (r.approval_request_id as string | null) ?? null,
});

export const credentialFromRow = (r: Row): ClientCredential => ({
  clientId: r.client_id as string,
  principalId: r.principal_id as string,
  secretHash: r.secret_hash as string,
  createdAt: r.created_at as number,
});

export const signingKeyFromRow = (r: Row): TokenSigningKeyRecord => ({
  kid: r.kid as string,
  wrappedPrivateKey: r.wrapped_private_key as Buffer,
  publicKey: r.public_key as Buffer,
  createdAt: r.created_at as number,
});

export const clientKeyFromRow = (r: Row): ClientKeyRecord => ({
  id: r.id as string,
  principalId: r.principal_id as string,
  alg: r.alg as ClientKeyRecord['alg'],
  publicKey: r.public_key as Buffer,
  fingerprint: r.fingerprint as string,
  createdAt: r.created_at as number,
});

export const userFromRow = (r: Row): UserRecord => ({
  principalId: r.principal_id as string,
  passwordHash: r.password_hash as string,
  passwordChangedAt: r.password_changed_at as number,
  totpSecret: (r.totp_secret as Buffer | null) ?? null,
  totpPending: (r.totp_pending as Buffer | null) ?? null,
  totpLastStep: (r.totp_last_step as number | null) ?? null,
  mfaEnabledAt: (r.mfa_enabled_at as number | null) ?? null,
});

/** A user_sessions row (joined reads pass the session's own id and created_at under those names). */
export const sessionFromRow = (r: Row): SessionRecord => ({
  id: r.id as string,
  principalId: r.principal_id as string,
  tokenHash: r.token_hash as string,
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
  absoluteExpiresAt: r.absolute_expires_at as number,
  mfaVerifiedAt: (r.mfa_verified_at as number | null) ?? null,
});

export const approvalRequestFromRow = (r: Row): ApprovalRequest => ({
  id: r.id as string,
  action: r.action as ApprovalRequest['action'],
  keyId: (r.key_id as string | null) ?? null,
  keyRef: (r.key_ref as string | null) ?? null,
  params: json(r.params),
  requesterId: r.requester_id as string,
  requesterName: r.requester_name as string,
  requesterKind: r.requester_kind as ApprovalRequest['requesterKind'],
  reason: r.reason as string,
  requiredApprovals: r.required_approvals as number,
  approvals: json(r.approvals),
  denial: jsonOrNull(r.denial),
  status: r.status as ApprovalRequest['status'],
  result: jsonOrNull(r.result),
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
  decidedAt: (r.decided_at as number | null) ?? null,
  version: r.version as number,
});

export const jobFromRow = (r: Row): JobRecord => ({
  name: r.name as string,
  intervalMs: r.interval_ms as number,
  nextRunAt: r.next_run_at as number,
  lastRunAt: r.last_run_at as number | null,
  lastStatus: r.last_status as JobRunStatus | null,
  lastError: r.last_error as string | null,
  leaseOwner: r.lease_owner as string | null,
  leaseExpiresAt: r.lease_expires_at as number | null,
});

export const policyVersionFromRow = (r: Row): PolicyVersion => ({
  version: r.version as number,
  document: json<PolicyDocument>(r.document),
  hash: r.hash as string,
  createdAt: r.created_at as number,
  createdBy: (r.created_by as string | null) ?? null,
});

export const accessKeyFromRow = (r: Row): AccessKeyRecord => ({
  accessKeyId: r.access_key_id as string,
  principalId: r.principal_id as string,
  wrappedSecret: r.wrapped_secret as Buffer,
  status: r.status as AccessKeyStatus,
  createdAt: r.created_at as number,
  createdBy: r.created_by as string,
});
