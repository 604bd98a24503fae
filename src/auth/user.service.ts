/**
 * People (issue 3/10 §1): users with argon2id passwords, TOTP MFA (RFC 6238) with single-use
 * recovery codes, login into sessions, lockout with back-off, and step-up verification.
 *
 * Login answers one uniform Unauthenticated for an unknown user, a wrong password, a disabled
 * account and a wrong one-time password, and an unknown user costs the same argon2 verification
 * (against a dummy hash). Failed attempts are counted per lower-cased name whether or not the
 * user exists (no enumeration through the lockout either), and counted BEFORE the password is
 * checked so that parallel guesses cannot outrun the counter.
 */
import type { Environment } from '../policy/policy.model.js';
import { barrierUnwrap, barrierWrap } from '../crypto/aead.js';
import { randomUUID, sha256Hex } from '../crypto/primitives/index.js';
import { dummyPasswordHash, hashPassword, randomPassword, verifyPassword } from '../crypto/primitives/password.js';
import { isTotpCode, newRecoveryCode, newTotpSecret, normalizeRecoveryCode, totpUri, verifyTotp } from '../crypto/primitives/totp.js';
import { zeroize } from '../crypto/secret-bytes.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { SealService } from '../seal/seal.service.js';
import type { Clock } from '../util/clock.js';
import type { AccessPolicySource } from './access-policy.js';
import { PRINCIPAL_NAME_RE, type PrincipalRecord, type Role } from './principal.model.js';
import type { PrincipalStore } from './principal.store.js';
import { isRole, roleConflict } from './roles.js';
import { mfaEnrollmentRequired, type IssuedSession, type SessionService } from './session.service.js';
import type { Principal } from './token.model.js';
import { LOCKOUT, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, RECOVERY_CODES, lockSeconds, type UserRecord, type UserView } from './user.model.js';
import type { UserStore } from './user.store.js';

export const LOGIN_FAILED_MESSAGE = 'The user name, password or one-time password is not valid';
const MAX_OTP_LENGTH = 64;

export interface UserServiceDeps {
  store: UserStore;
  principals: PrincipalStore;
  sessions: SessionService;
  seal: SealService;
  clock: Clock;
  policy: AccessPolicySource;
}

export interface LoginResult extends IssuedSession {
  principal: PrincipalRecord;
  mfaEnrollmentRequired: boolean;
}

const totpPurpose = (principalId: string) => `totp:${principalId}`;
const loginFailed = () => errors.unauthenticated(LOGIN_FAILED_MESSAGE);

/** `rule`: the policy rule that asked for the step-up, when the policy document did. */
export function mfaRequired(message: string, rule?: string): KeywardenError {
  return new KeywardenError('MfaRequired', message, rule !== undefined ? { rule } : undefined);
}

export class UserService {
  constructor(private readonly d: UserServiceDeps) {}

  async create(by: Principal, name: string, roles: readonly string[], password?: string, environment: Environment | null = null): Promise<{ principal: PrincipalRecord; initialPassword?: string }> {
    if (!PRINCIPAL_NAME_RE.test(name)) {
      throw errors.validation('name must be 1–128 characters: letters, digits, ".", "_" or "-", starting with a letter or digit');
    }
    const bad = roles.find((r) => !isRole(r));
    if (bad !== undefined) throw errors.validation(`unknown role "${bad.slice(0, 40)}"; roles are admin, key-administrator, security-officer, application, auditor`);
    const checked = [...new Set(roles)] as Role[];
    const conflict = roleConflict(checked);
    if (conflict !== undefined) throw new KeywardenError('PermissionDenied', `separation of duties: ${name} cannot hold both ${conflict}`);
    if (password !== undefined) checkPassword(password);
    const initial = password === undefined ? randomPassword() : undefined;
    const now = this.d.clock.now();
    const principal: PrincipalRecord = { id: randomUUID(), name, kind: 'user', roles: checked, createdAt: now, disabled: false, environment };
    const user: UserRecord = {
      principalId: principal.id,
      passwordHash: await hashPassword(password ?? (initial as string)),
      passwordChangedAt: now,
      totpSecret: null,
      totpPending: null,
      totpLastStep: null,
      mfaEnabledAt: null,
    };
    if (!(await this.d.store.createUser(principal, user))) throw new KeywardenError('AlreadyExists', `a principal named ${name} already exists`);
    void by;
    return initial === undefined ? { principal } : { principal, initialPassword: initial };
  }

  async list(): Promise<UserView[]> {
    return (await this.d.store.listUsers()).map(({ principal, user }) => ({ principal, mfaEnabled: user.mfaEnabledAt !== null, mfaEnabledAt: user.mfaEnabledAt }));
  }

  /** principal id -> MFA enabled, for every user (access review). */
  async mfaStatus(): Promise<Map<string, boolean>> {
    return new Map((await this.d.store.listUsers()).map(({ principal, user }) => [principal.id, user.mfaEnabledAt !== null]));
  }

  /**
   * Password login. Users with MFA enabled must send `otp` (a TOTP code or a recovery code);
   * without it the answer is MfaRequired (after the password was verified, and without counting
   * a failure: that is the first half of an interactive login).
   */
  async login(username: string, password: string, otp?: string): Promise<LoginResult> {
    const key = username.toLowerCase();
    await this.#beginAttempt(key);
    const principal = PRINCIPAL_NAME_RE.test(username) ? await this.d.principals.getPrincipalByName(username) : undefined;
    const user = principal?.kind === 'user' ? await this.d.store.getUser(principal.id) : undefined;
    const passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), password.length <= PASSWORD_MAX_LENGTH ? password : '');
    if (!passwordOk || principal === undefined || user === undefined || principal.disabled || password.length > PASSWORD_MAX_LENGTH) throw loginFailed();
    let mfaVerifiedAt: number | null = null;
    if (user.mfaEnabledAt !== null) {
      if (otp === undefined || otp === '') {
        await this.d.store.undoLoginAttempt(key);
        throw mfaRequired(`${principal.name} has MFA enabled: send otp (a TOTP code from the authenticator app, or a recovery code)`);
      }
      if (!(await this.#verifySecondFactor(principal.id, user, otp))) throw loginFailed();
      mfaVerifiedAt = this.d.clock.now();
    }
    await this.d.store.clearLoginAttempts(key);
    const issued = await this.d.sessions.create(principal.id, mfaVerifiedAt);
    return { ...issued, principal, mfaEnrollmentRequired: mfaEnrollmentRequired(principal.roles, user.mfaEnabledAt !== null, this.d.policy) };
  }

  /**
   * Step-up: a fresh one-time password (TOTP or recovery code) marks the caller's session as
   * MFA-verified now. Wrong codes count towards the lockout of the user's name (a 6-digit code
   * must not be guessable through an open session). Returns the verification time.
   */
  async stepUp(principal: Principal, otp: string): Promise<number> {
    const s = principal.session;
    if (principal.kind !== 'user' || s === undefined) throw errors.validation('step-up is for user sessions (log in with keywarden login --user NAME)');
    const user = await this.#user(principal.id);
    if (user.mfaEnabledAt === null) throw mfaRequired(enrolFirst(principal.name, `${principal.name} has no MFA enrolled`));
    const key = principal.name.toLowerCase();
    await this.#beginAttempt(key);
    if (!(await this.#verifySecondFactor(principal.id, user, otp))) throw mfaRequired('The one-time password is not valid');
    await this.d.store.clearLoginAttempts(key);
    return this.d.sessions.markMfaVerified(s.id);
  }

  /**
   * Starts MFA enrolment for the caller: a new secret (pending until confirmed) and 10 new
   * recovery codes, returned once. While MFA is enabled, re-enrolling needs a fresh second factor:
   * a session verified within the step-up window, or `otp` (TOTP or recovery code) now.
   */
  async enroll(principal: Principal, name: string, otp?: string): Promise<{ otpauthUri: string; recoveryCodes: string[] }> {
    self(principal, name, 'enrol MFA');
    const user = await this.#user(principal.id);
    if (user.mfaEnabledAt !== null && !this.#fresh(principal)) {
      if (otp === undefined) throw mfaRequired(`${principal.name} already has MFA enabled: re-enrolling needs a fresh one-time password (otp, or the X-Keywarden-OTP header)`);
      await this.stepUp(principal, otp);
    }
    const secret = newTotpSecret();
    const codes = Array.from({ length: RECOVERY_CODES.count }, newRecoveryCode);
    try {
      const wrapped = barrierWrap(this.d.seal.rootKey(), totpPurpose(principal.id), secret);
      await this.d.store.setPendingMfa(principal.id, wrapped, codes.map((c) => recoveryCodeHash(normalizeRecoveryCode(c) as string)));
      return { otpauthUri: totpUri(secret, principal.name), recoveryCodes: codes };
    } finally {
      zeroize(secret);
    }
  }

  /** Confirms a pending enrolment with a code from the new secret; the session counts as MFA-verified. */
  async confirm(principal: Principal, name: string, otp: string): Promise<UserView> {
    self(principal, name, 'confirm MFA');
    const user = await this.#user(principal.id);
    if (user.totpPending === null) throw new KeywardenError('InvalidState', `${principal.name} has no MFA enrolment to confirm: start one with POST /v1/users/${principal.name}/mfa/enroll`);
    // A new secret: steps accepted for the old one say nothing about its codes.
    const step = await this.#withSecret(principal.id, user.totpPending, (secret) => verifyTotp(secret, otp, this.d.clock.now()));
    if (step === undefined) throw mfaRequired('The one-time password is not valid for the secret being enrolled');
    if (!(await this.d.store.confirmMfa(principal.id, step, this.d.clock.now()))) {
      throw new KeywardenError('InvalidState', `${principal.name} has no MFA enrolment to confirm`);
    }
    this.d.sessions.invalidate();
    if (principal.session) await this.d.sessions.markMfaVerified(principal.session.id);
    return this.#view(principal.id);
  }

  /** An administrator resets another user's MFA (lost device); the user's sessions end. */
  async resetMfa(by: Principal, name: string): Promise<UserView> {
    const { principal } = await this.#byName(name);
    if (principal.id === by.id) throw new KeywardenError('PermissionDenied', `separation of duties: ${by.name} cannot reset its own MFA; another administrator must`);
    await this.d.store.resetMfa(principal.id);
    await this.d.sessions.revokeAll(principal.id);
    return { principal, mfaEnabled: false, mfaEnabledAt: null };
  }

  /** The caller changes its own password; its other sessions end. */
  async changePassword(principal: Principal, name: string, currentPassword: string, newPassword: string): Promise<UserView> {
    self(principal, name, 'change the password');
    checkPassword(newPassword);
    const user = await this.#user(principal.id);
    const key = principal.name.toLowerCase();
    await this.#beginAttempt(key);
    if (currentPassword.length > PASSWORD_MAX_LENGTH || !(await verifyPassword(user.passwordHash, currentPassword))) {
      throw errors.unauthenticated('The current password is not valid');
    }
    await this.d.store.clearLoginAttempts(key);
    await this.d.store.setPassword(principal.id, await hashPassword(newPassword), this.d.clock.now());
    await this.d.sessions.revokeAll(principal.id, principal.session?.id);
    return this.#view(principal.id);
  }

  /** Ends every session of a user (compromise response); returns how many ended. */
  async revokeSessions(name: string): Promise<number> {
    const { principal } = await this.#byName(name);
    return this.d.sessions.revokeAll(principal.id);
  }

  /** True when the caller's session proved a second factor within the policy's step-up window. */
  #fresh(principal: Principal): boolean {
    const at = principal.session?.mfaVerifiedAt;
    return at != null && this.d.clock.now() - at <= this.d.policy.current().stepUpMaxAgeSeconds * 1000;
  }

  async #beginAttempt(key: string): Promise<void> {
    const now = this.d.clock.now();
    const { lockedUntil } = await this.d.store.beginLoginAttempt(key, now, (f) => lockSeconds(f) * 1000, now - LOCKOUT.forgetAfterSeconds * 1000);
    if (lockedUntil !== null) {
      const retryAfterSeconds = Math.max(1, Math.ceil((lockedUntil - now) / 1000));
      throw new KeywardenError('LockedOut', `Too many failed attempts for this user name: try again in ${retryAfterSeconds} seconds`, { retryAfterSeconds });
    }
  }

  /** A TOTP code (replay refused: its step must be after the last accepted one) or an unused recovery code. */
  async #verifySecondFactor(principalId: string, user: UserRecord, otp: string): Promise<boolean> {
    if (user.totpSecret === null || otp.length > MAX_OTP_LENGTH) return false;
    if (isTotpCode(otp)) {
      const step = await this.#withSecret(principalId, user.totpSecret, (secret) => verifyTotp(secret, otp, this.d.clock.now(), user.totpLastStep));
      // The conditional update makes two concurrent uses of one code accept at most one.
      return step !== undefined && (await this.d.store.advanceTotpStep(principalId, step));
    }
    const code = normalizeRecoveryCode(otp);
    return code !== undefined && (await this.d.store.useRecoveryCode(principalId, recoveryCodeHash(code), this.d.clock.now()));
  }

  async #withSecret<T>(principalId: string, wrapped: Buffer, f: (secret: Buffer) => Promise<T>): Promise<T> {
    const secret = barrierUnwrap(this.d.seal.rootKey(), totpPurpose(principalId), wrapped);
    if (secret === undefined) throw errors.internal();
    try {
      return await f(secret);
    } finally {
      zeroize(secret);
    }
  }

  async #view(principalId: string): Promise<UserView> {
    const p = await this.d.principals.getPrincipalById(principalId);
    const u = await this.#user(principalId);
    if (p === undefined) throw errors.notFound('the user');
    return { principal: p, mfaEnabled: u.mfaEnabledAt !== null, mfaEnabledAt: u.mfaEnabledAt };
  }

  async #user(principalId: string): Promise<UserRecord> {
    const u = await this.d.store.getUser(principalId);
    if (u === undefined) throw errors.notFound('the user');
    return u;
  }

  async #byName(name: string): Promise<{ principal: PrincipalRecord; user: UserRecord }> {
    const p = PRINCIPAL_NAME_RE.test(name) ? await this.d.principals.getPrincipalByName(name) : undefined;
    const u = p?.kind === 'user' ? await this.d.store.getUser(p.id) : undefined;
    if (p === undefined || u === undefined) throw new KeywardenError('NotFound', `user ${name.slice(0, 128)} was not found`);
    return { principal: p, user: u };
  }
}

export function enrolFirst(name: string, why = `the roles of ${name} require multi-factor authentication`): string {
  return `enrol MFA first: ${why} (keywarden user mfa enroll ${name}, then keywarden user mfa confirm ${name} --otp CODE)`;
}

function self(principal: Principal, name: string, what: string): void {
  if (principal.kind !== 'user' || principal.name !== name) {
    throw new KeywardenError('PermissionDenied', `${principal.name} is not allowed to ${what} for ${name.slice(0, 128)}: a user can only ${what} for itself`);
  }
}

function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw errors.validation(`a password must be ${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters`);
  }
}

const recoveryCodeHash = (normalized: string) => sha256Hex(normalized);
