import type { Migration } from '../migrations.js';

/** Users: password hashes, TOTP enrolment, recovery codes, sessions, login attempts (issue 3/10 §1). */
export const V5_USERS: Migration = {
  version: 5,
  name: 'users, sessions, login attempts',
  sql: `
    CREATE TABLE users (
      principal_id TEXT PRIMARY KEY REFERENCES principals(id),
      password_hash TEXT NOT NULL,
      password_changed_at INTEGER NOT NULL,
      totp_secret BLOB,
      totp_pending BLOB,
      totp_last_step INTEGER,
      mfa_enabled_at INTEGER
    ) STRICT;
    CREATE TABLE user_recovery_codes (
      principal_id TEXT NOT NULL REFERENCES principals(id),
      code_hash TEXT NOT NULL,
      pending INTEGER NOT NULL,
      used_at INTEGER,
      PRIMARY KEY (principal_id, code_hash)
    ) STRICT;
    CREATE TABLE user_sessions (
      id TEXT PRIMARY KEY,
      principal_id TEXT NOT NULL REFERENCES principals(id),
      token_hash TEXT NOT NULL UNIQUE,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      absolute_expires_at INTEGER NOT NULL,
      mfa_verified_at INTEGER
    ) STRICT;
    CREATE INDEX user_sessions_principal ON user_sessions (principal_id);
    CREATE INDEX user_sessions_expiry ON user_sessions (expires_at);
    CREATE TABLE login_attempts (
      name TEXT PRIMARY KEY,
      failures INTEGER NOT NULL,
      locked_until INTEGER,
      last_failure_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX login_attempts_last ON login_attempts (last_failure_at);
    -- Disabling a principal kills its sessions whichever code path disables it.
    CREATE TRIGGER user_sessions_die_on_disable AFTER UPDATE OF disabled ON principals
      WHEN NEW.disabled = 1
      BEGIN DELETE FROM user_sessions WHERE principal_id = NEW.id; END;
  `,
};
