/**
 * People (issue 3/10 §1): principals of kind 'user' with a password, optional TOTP MFA and
 * recovery codes, and the sessions they log in to. Nothing here holds a secret in the clear:
 * passwords are argon2id PHC strings, TOTP secrets are barrier-wrapped under the root key
 * (purpose `totp:<principalId>`), recovery codes and session tokens are SHA-256 digests.
 */
import type { PrincipalRecord } from './principal.model.js';

export interface UserRecord {
  principalId: string;
  /** argon2id PHC string (src/crypto/primitives/password.ts). */
  passwordHash: string;
  passwordChangedAt: number;
  /** The enabled TOTP secret, barrier-wrapped; null until MFA is confirmed. */
  totpSecret: Buffer | null;
  /** A secret being enrolled (shown to the user, not yet confirmed), barrier-wrapped. */
  totpPending: Buffer | null;
  /** The last TOTP time step accepted (RFC 6238 §5.2: a step at or before it is a replay). */
  totpLastStep: number | null;
  mfaEnabledAt: number | null;
}

export interface UserView {
  principal: PrincipalRecord;
  mfaEnabled: boolean;
  mfaEnabledAt: number | null;
}

/**
 * A login session. The bearer token (`kwu_` + 256 random bits) is never stored: only its SHA-256.
 * `expiresAt` is the idle expiry (moved by refresh), never past `absoluteExpiresAt`.
 */
export interface SessionRecord {
  id: string;
  principalId: string;
  tokenHash: string;
  createdAt: number;
  expiresAt: number;
  absoluteExpiresAt: number;
  /** When the user last proved a second factor in this session (login with MFA, step-up, enrolment). */
  mfaVerifiedAt: number | null;
}

/** A session with what authentication needs to know about its user, read in one query. */
export interface SessionLookup {
  session: SessionRecord;
  principal: PrincipalRecord;
  mfaEnabled: boolean;
}

/** Failed-login bookkeeping for one lower-cased user name (exists or not). */
export interface LoginAttemptState {
  failures: number;
  lockedUntil: number | null;
}

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

export const SESSION = {
  tokenPrefix: 'kwu_',
  idleSeconds: 15 * 60,
  absoluteSeconds: 8 * 3600,
  /** How long another node's revocation can go unseen by a cached session (like TokenService). */
  cacheMs: 1000,
} as const;

export const LOCKOUT = {
  /** Consecutive failures before the first lock. */
  threshold: 5,
  firstLockSeconds: 30,
  maxLockSeconds: 15 * 60,
  /** A name with no failure for this long starts again from zero. */
  forgetAfterSeconds: 24 * 3600,
} as const;

/** Lock length after `failures` consecutive failures: 30 s at the 5th, doubling, capped at 15 min. */
export function lockSeconds(failures: number): number {
  if (failures < LOCKOUT.threshold) return 0;
  return Math.min(LOCKOUT.maxLockSeconds, LOCKOUT.firstLockSeconds * 2 ** Math.min(failures - LOCKOUT.threshold, 16));
}

export const RECOVERY_CODES = { count: 10, bytes: 10 } as const;
