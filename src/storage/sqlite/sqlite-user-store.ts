/**
 * SQLite implementation of UserStore over the tables of migration 5. The caller owns the handle:
 * migrations MUST already be applied; durability comes from synchronous=FULL (SqliteStore).
 */
import type Database from 'better-sqlite3';
import type { LoginAttemptState, SessionLookup, SessionRecord, UserRecord } from '../../auth/user.model.js';
import type { PrincipalRecord } from '../../auth/principal.model.js';
import type { UserStore } from '../../auth/user.store.js';
import { principalFromRow } from './sqlite-principal-store.js';
import { writeTx } from './tx.js';
import { sessionFromRow, userFromRow } from '../record-rows.js';

type Row = Record<string, unknown>;

export class SqliteUserStore implements UserStore {
  readonly #db: Database.Database;
  readonly #q;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#q = {
      insertPrincipal: db.prepare(
        'INSERT OR IGNORE INTO principals (id, name, kind, roles, created_at, disabled, environment) VALUES (@id, @name, @kind, @roles, @createdAt, @disabled, @environment)',
      ),
      insertUser: db.prepare(
        `INSERT INTO users (principal_id, password_hash, password_changed_at, totp_secret, totp_pending, totp_last_step, mfa_enabled_at)
         VALUES (@principalId, @passwordHash, @passwordChangedAt, @totpSecret, @totpPending, @totpLastStep, @mfaEnabledAt)`,
      ),
      user: db.prepare('SELECT * FROM users WHERE principal_id = ?'),
      listUsers: db.prepare(
        `SELECT u.*, p.id, p.name, p.kind, p.roles, p.created_at, p.disabled, p.environment
         FROM users u JOIN principals p ON p.id = u.principal_id ORDER BY p.name`,
      ),
      setPassword: db.prepare('UPDATE users SET password_hash = ?, password_changed_at = ? WHERE principal_id = ?'),
      setPending: db.prepare('UPDATE users SET totp_pending = ? WHERE principal_id = ?'),
      deletePendingCodes: db.prepare('DELETE FROM user_recovery_codes WHERE principal_id = ? AND pending = 1'),
      insertCode: db.prepare('INSERT INTO user_recovery_codes (principal_id, code_hash, pending, used_at) VALUES (?, ?, ?, NULL)'),
      confirm: db.prepare(
        `UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = MAX(COALESCE(totp_last_step, 0), ?), mfa_enabled_at = ?
         WHERE principal_id = ? AND totp_pending IS NOT NULL`,
      ),
      deleteActiveCodes: db.prepare('DELETE FROM user_recovery_codes WHERE principal_id = ? AND pending = 0'),
      activateCodes: db.prepare('UPDATE user_recovery_codes SET pending = 0 WHERE principal_id = ? AND pending = 1'),
      reset: db.prepare('UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, mfa_enabled_at = NULL WHERE principal_id = ?'),
      deleteAllCodes: db.prepare('DELETE FROM user_recovery_codes WHERE principal_id = ?'),
      advanceStep: db.prepare('UPDATE users SET totp_last_step = ? WHERE principal_id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)'),
      useCode: db.prepare(
        'UPDATE user_recovery_codes SET used_at = ? WHERE principal_id = ? AND code_hash = ? AND pending = 0 AND used_at IS NULL',
      ),
      codesLeft: db.prepare('SELECT COUNT(*) FROM user_recovery_codes WHERE principal_id = ? AND pending = 0 AND used_at IS NULL').pluck(),
      insertSession: db.prepare(
        `INSERT INTO user_sessions (id, principal_id, token_hash, created_at, expires_at, absolute_expires_at, mfa_verified_at)
         VALUES (@id, @principalId, @tokenHash, @createdAt, @expiresAt, @absoluteExpiresAt, @mfaVerifiedAt)`,
      ),
      findSession: db.prepare(
        `SELECT s.id AS s_id, s.principal_id, s.token_hash, s.created_at AS s_created_at, s.expires_at, s.absolute_expires_at,
                s.mfa_verified_at, p.id, p.name, p.kind, p.roles, p.created_at, p.disabled, p.environment, u.mfa_enabled_at
         FROM user_sessions s JOIN principals p ON p.id = s.principal_id JOIN users u ON u.principal_id = s.principal_id
         WHERE s.token_hash = ?`,
      ),
      rotateToken: db.prepare('UPDATE user_sessions SET token_hash = ?, expires_at = ? WHERE id = ? AND token_hash = ?'),
      setMfaVerified: db.prepare('UPDATE user_sessions SET mfa_verified_at = ? WHERE id = ?'),
      deleteSession: db.prepare('DELETE FROM user_sessions WHERE id = ?'),
      deleteSessionsOf: db.prepare('DELETE FROM user_sessions WHERE principal_id = ? AND id <> ?'),
      purgeSessions: db.prepare('DELETE FROM user_sessions WHERE expires_at <= ?'),
      forgetAttempts: db.prepare('DELETE FROM login_attempts WHERE last_failure_at < ?'),
      attempts: db.prepare('SELECT failures, locked_until FROM login_attempts WHERE name = ?'),
      putAttempts: db.prepare(
        `INSERT INTO login_attempts (name, failures, locked_until, last_failure_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until, last_failure_at = excluded.last_failure_at`,
      ),
      undoAttempt: db.prepare('UPDATE login_attempts SET failures = MAX(failures - 1, 0), locked_until = NULL WHERE name = ?'),
      clearAttempts: db.prepare('DELETE FROM login_attempts WHERE name = ?'),
    };
  }

  async createUser(p: PrincipalRecord, u: UserRecord) {
    return writeTx(this.#db, () => {
      const inserted = this.#q.insertPrincipal.run({ ...p, roles: JSON.stringify(p.roles), disabled: p.disabled ? 1 : 0 }).changes === 1;
      if (inserted) this.#q.insertUser.run(u);
      return inserted;
    })();
  }

  async getUser(principalId: string) {
    const r = this.#q.user.get(principalId) as Row | undefined;
    return r && userFromRow(r);
  }

  async listUsers() {
    return (this.#q.listUsers.all() as Row[]).map((r) => ({ principal: principalFromRow(r), user: userFromRow(r) }));
  }

  async setPassword(principalId: string, passwordHash: string, at: number) {
    this.#q.setPassword.run(passwordHash, at, principalId);
  }

  async setPendingMfa(principalId: string, wrappedSecret: Buffer, recoveryCodeHashes: string[]) {
    writeTx(this.#db, () => {
      this.#q.setPending.run(wrappedSecret, principalId);
      this.#q.deletePendingCodes.run(principalId);
      for (const h of recoveryCodeHashes) this.#q.insertCode.run(principalId, h, 1);
    })();
  }

  async confirmMfa(principalId: string, lastStep: number, at: number) {
    return writeTx(this.#db, () => {
      if (this.#q.confirm.run(lastStep, at, principalId).changes !== 1) return false;
      this.#q.deleteActiveCodes.run(principalId);
      this.#q.activateCodes.run(principalId);
      return true;
    })();
  }

  async resetMfa(principalId: string) {
    writeTx(this.#db, () => {
      this.#q.reset.run(principalId);
      this.#q.deleteAllCodes.run(principalId);
    })();
  }

  async advanceTotpStep(principalId: string, step: number) {
    return this.#q.advanceStep.run(step, principalId, step).changes === 1;
  }

  async useRecoveryCode(principalId: string, codeHash: string, at: number) {
    return this.#q.useCode.run(at, principalId, codeHash).changes === 1;
  }

  async recoveryCodesLeft(principalId: string) {
    return this.#q.codesLeft.get(principalId) as number;
  }

  async createSession(s: SessionRecord) {
    this.#q.insertSession.run(s);
  }

  async findSession(tokenHash: string): Promise<SessionLookup | undefined> {
    const r = this.#q.findSession.get(tokenHash) as Row | undefined;
    if (r === undefined) return undefined;
    return {
      session: sessionFromRow({ ...r, id: r.s_id, created_at: r.s_created_at }),
      principal: principalFromRow(r),
      mfaEnabled: r.mfa_enabled_at !== null,
    };
  }

  async rotateSessionToken(id: string, oldHash: string, newHash: string, expiresAt: number) {
    return this.#q.rotateToken.run(newHash, expiresAt, id, oldHash).changes === 1;
  }

  async setSessionMfaVerified(id: string, at: number) {
    this.#q.setMfaVerified.run(at, id);
  }

  async deleteSession(id: string) {
    return this.#q.deleteSession.run(id).changes === 1;
  }

  async deleteSessionsOf(principalId: string, keep = '') {
    return this.#q.deleteSessionsOf.run(principalId, keep).changes;
  }

  async purgeExpiredSessions(now: number) {
    return this.#q.purgeSessions.run(now).changes;
  }

  async beginLoginAttempt(name: string, now: number, lockMs: (failures: number) => number, forgetBefore: number) {
    return writeTx(this.#db, () => {
      this.#q.forgetAttempts.run(forgetBefore);
      const r = this.#q.attempts.get(name) as Row | undefined;
      const lockedUntil = (r?.locked_until as number | null | undefined) ?? null;
      if (lockedUntil !== null && lockedUntil > now) return { lockedUntil };
      const failures = ((r?.failures as number | undefined) ?? 0) + 1;
      const ms = lockMs(failures);
      this.#q.putAttempts.run(name, failures, ms > 0 ? now + ms : null, now);
      return { lockedUntil: null };
    })();
  }

  async undoLoginAttempt(name: string) {
    this.#q.undoAttempt.run(name);
  }

  async clearLoginAttempts(name: string) {
    this.#q.clearAttempts.run(name);
  }

  async getLoginAttempts(name: string): Promise<LoginAttemptState | undefined> {
    const r = this.#q.attempts.get(name) as Row | undefined;
    return r && { failures: r.failures as number, lockedUntil: (r.locked_until as number | null) ?? null };
  }
}
