/**
 * Identities other than the bootstrap root token: principals (service accounts today, users in a
 * later increment of issue 3/10), their built-in roles, service-account credentials, per-key
 * grants, revoked access tokens and the access-token signing key.
 */

import type { Environment } from '../policy/policy.model.js';

/** Built-in roles (docs/access-control.md has the table). */
export const ROLES = ['admin', 'key-administrator', 'security-officer', 'application', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const PRINCIPAL_KINDS = ['service-account', 'user'] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** Principal names: what operators type in role bindings and grants. */
export const PRINCIPAL_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$';
export const PRINCIPAL_NAME_RE = new RegExp(PRINCIPAL_NAME_PATTERN);

export interface PrincipalRecord {
  id: string;
  name: string;
  kind: PrincipalKind;
  roles: Role[];
  createdAt: number;
  disabled: boolean;
  /** The environment the principal works in (policy principalEnvironments rules); null = none. */
  environment: Environment | null;
}

/**
 * A service account's client credentials. `secretHash` is SHA-256 (hex) of the client secret.
 * The secret is 256 bits from the CSPRNG, so a slow password hash (argon2) would add nothing:
 * brute force of a 2^256 space is infeasible whatever the hash cost, and SHA-256 is
 * preimage-resistant. The comparison is constant-time (see ServiceAccountService.authenticate).
 */
export interface ClientCredential {
  clientId: string;
  principalId: string;
  secretHash: string;
  createdAt: number;
}

/** Operations a grant can allow; each maps to one `key:<operation>` action. */
export const GRANT_OPERATIONS = ['encrypt', 'decrypt', 'generate-data-key', 're-encrypt', 're-wrap', 'sign', 'verify', 'mac', 'verify-mac', 'export'] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];

/**
 * Conditions a request must meet for a grant to apply (all of those present; issue 3/10 §4).
 * contextEquals / contextIncludes follow AWS KMS grant constraints EncryptionContextEquals /
 * EncryptionContextSubset: the operation's encryption context equals exactly / contains these
 * pairs. sourceCidrs: the caller's address lies in one of the ranges. Times are epoch ms;
 * notBefore is inclusive, notAfter exclusive.
 */
export interface GrantConditions {
  contextEquals?: Record<string, string>;
  contextIncludes?: Record<string, string>;
  sourceCidrs?: string[];
  notBefore?: number;
  notAfter?: number;
}

/** A grant on one key (`keyId`) or on every key whose current tags contain `tagSelector`. */
export interface GrantRecord {
  id: string;
  /** The key granted; null for a tag-selector grant. */
  keyId: string | null;
  /** Tag pairs a key must all carry (evaluated at call time); null for a key grant. */
  tagSelector: Record<string, string> | null;
  principalId: string;
  operations: GrantOperation[];
  conditions: GrantConditions;
  /** Principal id of whoever created the grant (the last approver for a just-in-time grant). */
  createdBy: string;
  createdAt: number;
  revokedAt: number | null;
  /** Last allowed use as flushed to the store (the in-memory part is flushed by the usage-flush job). */
  lastUsedAt: number | null;
  /** The approval request a just-in-time grant came from. */
  approvalRequestId: string | null;
}

/** The Ed25519 key that signs access tokens; the private key is stored only barrier-wrapped. */
export interface TokenSigningKeyRecord {
  kid: string;
  wrappedPrivateKey: Buffer;
  publicKey: Buffer;
  createdAt: number;
}
