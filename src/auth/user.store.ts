import type { PrincipalRecord } from './principal.model.js';
import type { LoginAttemptState, SessionLookup, SessionRecord, UserRecord } from './user.model.js';

/** Persistence of users, recovery codes, sessions and failed-login counters (migration v5). */
export interface UserStore {
  /** Inserts the principal and its user row atomically; false when the name is taken. */
  createUser(p: PrincipalRecord, u: UserRecord): Promise<boolean>;
  getUser(principalId: string): Promise<UserRecord | undefined>;
  /** Every user with its principal, by name. */
  listUsers(): Promise<Array<{ principal: PrincipalRecord; user: UserRecord }>>;
  setPassword(principalId: string, passwordHash: string, at: number): Promise<void>;

  /** Starts (or restarts) an enrolment: the pending secret and pending recovery-code digests. */
  setPendingMfa(principalId: string, wrappedSecret: Buffer, recoveryCodeHashes: string[]): Promise<void>;
  /**
   * Confirms the pending enrolment: the pending secret becomes the secret, the pending codes
   * replace the old ones, `lastStep` is the step of the confirming code. False when nothing is pending.
   */
  confirmMfa(principalId: string, lastStep: number, at: number): Promise<boolean>;
  /** Removes the secret, any pending enrolment and every recovery code. */
  resetMfa(principalId: string): Promise<void>;
  /** Records `step` as the last accepted TOTP step unless a step at or after it was already accepted (atomic replay refusal). */
  advanceTotpStep(principalId: string, step: number): Promise<boolean>;
  /** Consumes an active, unused recovery code; false when there is none with that digest (atomic: single use). */
  useRecoveryCode(principalId: string, codeHash: string, at: number): Promise<boolean>;
  /** Active, unused recovery codes left. */
  recoveryCodesLeft(principalId: string): Promise<number>;

  createSession(s: SessionRecord): Promise<void>;
  findSession(tokenHash: string): Promise<SessionLookup | undefined>;
  /** Replaces the token of a live session (refresh); false when the old token is no longer current. */
  rotateSessionToken(id: string, oldHash: string, newHash: string, expiresAt: number): Promise<boolean>;
  setSessionMfaVerified(id: string, at: number): Promise<void>;
  deleteSession(id: string): Promise<boolean>;
  /** Deletes every session of a principal, except `keep`; returns how many. */
  deleteSessionsOf(principalId: string, keep?: string): Promise<number>;
  purgeExpiredSessions(now: number): Promise<number>;

  /**
   * Counts a login attempt for `name` BEFORE the password is checked (so parallel guesses are all
   * counted): unless locked, failures += 1 and, from the threshold on, a lock of
   * `lockMs(failures)` starts now. Returns the state before the attempt and whether it is locked.
   */
  beginLoginAttempt(name: string, now: number, lockMs: (failures: number) => number, forgetBefore: number): Promise<{ lockedUntil: number | null }>;
  /** Takes back the attempt counted by beginLoginAttempt (the password was right but a second factor is still to come). */
  undoLoginAttempt(name: string): Promise<void>;
  /** A successful login: the counter goes back to zero. */
  clearLoginAttempts(name: string): Promise<void>;
  getLoginAttempts(name: string): Promise<LoginAttemptState | undefined>;
}
