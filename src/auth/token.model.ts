import type { Environment } from '../policy/policy.model.js';
import type { Role } from './principal.model.js';

export type TokenKind = 'root';

export interface TokenRecord {
  /** Public identifier of the token (safe to log), not the secret. */
  accessor: string;
  /** SHA-256 of the secret token, hex. The secret itself is never stored. */
  hash: string;
  kind: TokenKind;
  displayName: string;
  createdAt: number;
}

/**
 * The authenticated caller. `root` is the bootstrap token (all permissions); service accounts
 * (and users, later) carry their current role bindings.
 */
export interface Principal {
  kind: 'root' | 'service-account' | 'user';
  /** Stable id: the principal id, or the root token's accessor. */
  id: string;
  name: string;
  roles: readonly Role[];
  /** Safe-to-log identifier of the credential used (root accessor, or the access token's jti). */
  accessor: string;
  displayName: string;
  /** The principal's environment (policy environment rules; the root token has none and is exempt). */
  environment: Environment | null;
  /** Set for users authenticated by a login session (src/auth/session.service.ts): MFA state for the MFA gate. */
  session?: { id: string; mfaVerifiedAt: number | null; mfaEnrollmentRequired: boolean };
}
