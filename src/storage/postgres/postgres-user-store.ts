/** UserStore over PostgreSQL (users, recovery codes, sessions, login attempts). */
import type { LoginAttemptState, SessionLookup, SessionRecord, UserRecord } from '../../auth/user.model.js';
import type { PrincipalRecord } from '../../auth/principal.model.js';
import type { UserStore } from '../../auth/user.store.js';
import { insertPrincipal, principalFromRow } from './postgres-principal-store.js';
import type { Db } from './db.js';
import { sessionFromRow, userFromRow } from '../record-rows.js';

export class PostgresUserStore implements UserStore {
  constructor(private readonly db: Db) {}

  async createUser(p: PrincipalRecord, u: UserRecord) {
    return this.db.tx(async (c) => {
      const inserted = await insertPrincipal(c, p);
      if (inserted) {
        await c.query(
          `INSERT INTO users (principal_id, password_hash, password_changed_at, totp_secret, totp_pending, totp_last_step, mfa_enabled_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [u.principalId, u.passwordHash, u.passwordChangedAt, u.totpSecret, u.totpPending, u.totpLastStep, u.mfaEnabledAt],
        );
      }
      return inserted;
    });
  }

  async getUser(principalId: string) {
    const r = await this.db.row('SELECT * FROM users WHERE principal_id = $1', [principalId]);
    return r && userFromRow(r);
  }

  async listUsers() {
    const rows = await this.db.rows(
      `SELECT u.*, p.id, p.name, p.kind, p.roles, p.created_at, p.disabled, p.environment
       FROM users u JOIN principals p ON p.id = u.principal_id ORDER BY p.name`,
    );
    return rows.map((r) => ({ principal: principalFromRow(r), user: userFromRow(r) }));
  }

  async setPassword(principalId: string, passwordHash: string, at: number) {
    await this.db.query('UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE principal_id = $3', [passwordHash, at, principalId]);
  }

  async setPendingMfa(principalId: string, wrappedSecret: Buffer, recoveryCodeHashes: string[]) {
    await this.db.tx(async (c) => {
      await c.query('UPDATE users SET totp_pending = $1 WHERE principal_id = $2', [wrappedSecret, principalId]);
      await c.query('DELETE FROM user_recovery_codes WHERE principal_id = $1 AND pending', [principalId]);
      for (const h of recoveryCodeHashes) {
        await c.query('INSERT INTO user_recovery_codes (principal_id, code_hash, pending, used_at) VALUES ($1, $2, true, NULL)', [principalId, h]);
      }
    });
  }

  async confirmMfa(principalId: string, lastStep: number, at: number) {
    return this.db.tx(async (c) => {
      const r = await c.query(
        `UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = GREATEST(COALESCE(totp_last_step, 0), $1), mfa_enabled_at = $2
         WHERE principal_id = $3 AND totp_pending IS NOT NULL`,
        [lastStep, at, principalId],
      );
      if (r.rowCount !== 1) return false;
      await c.query('DELETE FROM user_recovery_codes WHERE principal_id = $1 AND NOT pending', [principalId]);
      await c.query('UPDATE user_recovery_codes SET pending = false WHERE principal_id = $1 AND pending', [principalId]);
      return true;
    });
  }

  async resetMfa(principalId: string) {
    await this.db.tx(async (c) => {
      await c.query('UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, mfa_enabled_at = NULL WHERE principal_id = $1', [principalId]);
      await c.query('DELETE FROM user_recovery_codes WHERE principal_id = $1', [principalId]);
    });
  }

  async advanceTotpStep(principalId: string, step: number) {
    return (await this.db.changes('UPDATE users SET totp_last_step = $1 WHERE principal_id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)', [step, principalId])) === 1;
  }

  async useRecoveryCode(principalId: string, codeHash: string, at: number) {
    const n = await this.db.changes(
      'UPDATE user_recovery_codes SET used_at = $1 WHERE principal_id = $2 AND code_hash = $3 AND NOT pending AND used_at IS NULL',
      [at, principalId, codeHash],
    );
    return n === 1;
  }

  async recoveryCodesLeft(principalId: string) {
    return (await this.db.row('SELECT COUNT(*) AS n FROM user_recovery_codes WHERE principal_id = $1 AND NOT pending AND used_at IS NULL', [principalId]))!.n as number;
  }

  async createSession(s: SessionRecord) {
    await this.db.query(
      `INSERT INTO user_sessions (id, principal_id, token_hash, created_at, expires_at, absolute_expires_at, mfa_verified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [s.id, s.principalId, s.tokenHash, s.createdAt, s.expiresAt, s.absoluteExpiresAt, s.mfaVerifiedAt],
    );
  }

  async findSession(tokenHash: string): Promise<SessionLookup | undefined> {
    const r = await this.db.row(
      `SELECT s.id AS s_id, s.principal_id, s.token_hash, s.created_at AS s_created_at, s.expires_at, s.absolute_expires_at,
              s.mfa_verified_at, p.id, p.name, p.kind, p.roles, p.created_at, p.disabled, p.environment, u.mfa_enabled_at
       FROM user_sessions s JOIN principals p ON p.id = s.principal_id JOIN users u ON u.principal_id = s.principal_id
       WHERE s.token_hash = $1`,
      [tokenHash],
    );
    if (r === undefined) return undefined;
    return {
      session: sessionFromRow({ ...r, id: r.s_id, created_at: r.s_created_at }),
      principal: principalFromRow(r),
      mfaEnabled: r.mfa_enabled_at !== null,
    };
  }

  async rotateSessionToken(id: string, oldHash: string, newHash: string, expiresAt: number) {
    return (await this.db.changes('UPDATE user_sessions SET token_hash = $1, expires_at = $2 WHERE id = $3 AND token_hash = $4', [newHash, expiresAt, id, oldHash])) === 1;
  }

  async setSessionMfaVerified(id: string, at: number) {
    await this.db.query('UPDATE user_sessions SET mfa_verified_at = $1 WHERE id = $2', [at, id]);
  }

  async deleteSession(id: string) {
    return (await this.db.changes('DELETE FROM user_sessions WHERE id = $1', [id])) === 1;
  }

  async deleteSessionsOf(principalId: string, keep = '') {
    return this.db.changes('DELETE FROM user_sessions WHERE principal_id = $1 AND id <> $2', [principalId, keep]);
  }

  async purgeExpiredSessions(now: number) {
    return this.db.changes('DELETE FROM user_sessions WHERE expires_at <= $1', [now]);
  }

  /** The attempts row is created if missing and locked, so concurrent failures (any node) all count. */
  async beginLoginAttempt(name: string, now: number, lockMs: (failures: number) => number, forgetBefore: number) {
    return this.db.tx(async (c) => {
      await c.query('DELETE FROM login_attempts WHERE last_failure_at < $1', [forgetBefore]);
      await c.query('INSERT INTO login_attempts (name, failures, locked_until, last_failure_at) VALUES ($1, 0, NULL, $2) ON CONFLICT DO NOTHING', [name, now]);
      const r = (await c.query('SELECT failures, locked_until FROM login_attempts WHERE name = $1 FOR UPDATE', [name])).rows[0]!;
      const lockedUntil = (r.locked_until as number | null) ?? null;
      if (lockedUntil !== null && lockedUntil > now) return { lockedUntil };
      const failures = (r.failures as number) + 1;
      const ms = lockMs(failures);
      await c.query('UPDATE login_attempts SET failures = $2, locked_until = $3, last_failure_at = $4 WHERE name = $1', [name, failures, ms > 0 ? now + ms : null, now]);
      return { lockedUntil: null };
    });
  }

  async undoLoginAttempt(name: string) {
    await this.db.query('UPDATE login_attempts SET failures = GREATEST(failures - 1, 0), locked_until = NULL WHERE name = $1', [name]);
  }

  async clearLoginAttempts(name: string) {
    await this.db.query('DELETE FROM login_attempts WHERE name = $1', [name]);
  }

  async getLoginAttempts(name: string): Promise<LoginAttemptState | undefined> {
    const r = await this.db.row('SELECT failures, locked_until FROM login_attempts WHERE name = $1', [name]);
    return r && { failures: r.failures as number, lockedUntil: (r.locked_until as number | null) ?? null };
  }
}
