/**
 * Versioned, forward-only schema migrations for PostgreSQL. The PostgreSQL store starts at the
 * schema SQLite reached at its migration 14, in one step numbered 14, so `schemaVersion()` means
 * the same logical schema on both backends (backups and restores compare it). Every later change
 * adds a migration with the same number to both lists. Contract: NEVER edit a released migration.
 *
 * Differences from SQLite, all invisible through the Store interfaces: BIGINT for epoch ms and
 * counters, BOOLEAN flags, BYTEA for bytes, COLLATE "C" where rows are ordered or compared by
 * text (code-point order, as SQLite's binary collation), a sequence column instead of SQLite's
 * rowid for client keys, and PL/pgSQL triggers (which also refuse TRUNCATE on the ledger).
 */
import type { Db } from './db.js';
import { PG_V15_CANARIES } from './migrations/v15-canaries.js';
import { PG_V16_ALERTS } from './migrations/v16-alerts.js';
import { PG_V17_INCIDENTS } from './migrations/v17-incidents.js';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export const POSTGRES_MIGRATIONS: PgMigration[] = [
  {
    version: 14,
    name: 'schema of SQLite migrations 1-14',
    sql: `
      CREATE TABLE seal_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        type TEXT NOT NULL,
        shares INTEGER NOT NULL,
        threshold INTEGER NOT NULL,
        wrapped_root_key BYTEA NOT NULL,
        share_digests TEXT NOT NULL,
        share_check_salt BYTEA NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        accessor TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        display_name TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE keys (
        id TEXT COLLATE "C" PRIMARY KEY,
        description TEXT NOT NULL,
        spec TEXT NOT NULL,
        usage TEXT NOT NULL,
        state TEXT NOT NULL,
        origin TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        primary_version INTEGER NOT NULL,
        tags TEXT NOT NULL,
        rotation_period_ms BIGINT,
        next_rotation_at BIGINT,
        min_decryption_version INTEGER NOT NULL DEFAULT 1,
        usage_limit BIGINT,
        deletion_at BIGINT,
        destroyed_at BIGINT,
        compromised_at BIGINT,
        revocation_reason TEXT,
        exportable BOOLEAN NOT NULL DEFAULT false,
        material_expires_at BIGINT,
        created_by TEXT,
        classification TEXT CHECK (classification IN ('public', 'internal', 'confidential', 'restricted')),
        environment TEXT CHECK (environment IN ('dev', 'staging', 'prod')),
        protection TEXT NOT NULL DEFAULT 'software' CHECK (protection IN ('software', 'hsm'))
      );
      CREATE INDEX keys_by_created ON keys (created_at, id);
      CREATE INDEX keys_by_next_rotation ON keys (next_rotation_at) WHERE next_rotation_at IS NOT NULL;
      CREATE INDEX keys_by_deletion ON keys (deletion_at) WHERE deletion_at IS NOT NULL;
      CREATE INDEX keys_by_material_expiry ON keys (material_expires_at) WHERE material_expires_at IS NOT NULL;
      CREATE TABLE key_versions (
        key_id TEXT COLLATE "C" NOT NULL REFERENCES keys (id),
        version INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        wrapped_material BYTEA NOT NULL,
        usage_count BIGINT NOT NULL DEFAULT 0,
        last_used_at BIGINT,
        public_key BYTEA,
        destroyed_at BIGINT,
        hsm_label TEXT CHECK (hsm_label IS NULL OR length(hsm_label) BETWEEN 1 AND 128),
        PRIMARY KEY (key_id, version)
      );
      CREATE TABLE aliases (
        alias TEXT COLLATE "C" PRIMARY KEY,
        key_id TEXT COLLATE "C" NOT NULL REFERENCES keys (id),
        created_at BIGINT NOT NULL
      );
      CREATE INDEX aliases_by_key ON aliases (key_id);
      CREATE TABLE import_tokens (
        id TEXT PRIMARY KEY,
        key_id TEXT COLLATE "C" NOT NULL REFERENCES keys (id),
        wrapped_private_key BYTEA NOT NULL,
        public_key BYTEA NOT NULL,
        wrapping_algorithm TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );

      CREATE TABLE jobs (
        name TEXT COLLATE "C" PRIMARY KEY,
        interval_ms BIGINT NOT NULL,
        next_run_at BIGINT NOT NULL,
        last_run_at BIGINT,
        last_status TEXT,
        last_error TEXT,
        lease_owner TEXT,
        lease_expires_at BIGINT
      );

      CREATE TABLE principals (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('service-account', 'user')),
        roles TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        disabled BOOLEAN NOT NULL DEFAULT false,
        environment TEXT CHECK (environment IN ('dev', 'staging', 'prod'))
      );
      CREATE TABLE client_credentials (
        client_id TEXT PRIMARY KEY,
        principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
        secret_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX client_credentials_principal ON client_credentials (principal_id);
      CREATE TABLE grants (
        id TEXT COLLATE "C" PRIMARY KEY,
        key_id TEXT COLLATE "C",
        tag_selector TEXT,
        principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
        operations TEXT NOT NULL,
        conditions TEXT NOT NULL DEFAULT '{}',
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT,
        last_used_at BIGINT,
        approval_request_id TEXT,
        CHECK ((key_id IS NULL) <> (tag_selector IS NULL))
      );
      CREATE INDEX grants_principal_key ON grants (principal_id, key_id);
      CREATE INDEX grants_key ON grants (key_id);
      CREATE INDEX grants_selectors ON grants (created_at) WHERE tag_selector IS NOT NULL;
      CREATE TABLE revoked_tokens (
        jti TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );
      CREATE TABLE token_signing_keys (
        slot INTEGER PRIMARY KEY CHECK (slot = 1),
        kid TEXT NOT NULL,
        wrapped_private_key BYTEA NOT NULL,
        public_key BYTEA NOT NULL,
        created_at BIGINT NOT NULL
      );

      CREATE TABLE users (
        principal_id TEXT COLLATE "C" PRIMARY KEY REFERENCES principals (id),
        password_hash TEXT NOT NULL,
        password_changed_at BIGINT NOT NULL,
        totp_secret BYTEA,
        totp_pending BYTEA,
        totp_last_step BIGINT,
        mfa_enabled_at BIGINT
      );
      CREATE TABLE user_recovery_codes (
        principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
        code_hash TEXT NOT NULL,
        pending BOOLEAN NOT NULL,
        used_at BIGINT,
        PRIMARY KEY (principal_id, code_hash)
      );
      CREATE TABLE user_sessions (
        id TEXT PRIMARY KEY,
        principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
        token_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        absolute_expires_at BIGINT NOT NULL,
        mfa_verified_at BIGINT
      );
      CREATE INDEX user_sessions_principal ON user_sessions (principal_id);
      CREATE INDEX user_sessions_expiry ON user_sessions (expires_at);
      CREATE TABLE login_attempts (
        name TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        locked_until BIGINT,
        last_failure_at BIGINT NOT NULL
      );
      CREATE INDEX login_attempts_last ON login_attempts (last_failure_at);
      -- Disabling a principal kills its sessions whichever code path disables it.
      CREATE FUNCTION kw_sessions_die_on_disable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM user_sessions WHERE principal_id = NEW.id; RETURN NULL; END $$;
      CREATE TRIGGER user_sessions_die_on_disable AFTER UPDATE OF disabled ON principals
        FOR EACH ROW WHEN (NEW.disabled) EXECUTE FUNCTION kw_sessions_die_on_disable();

      CREATE TABLE approval_requests (
        id TEXT COLLATE "C" PRIMARY KEY,
        action TEXT NOT NULL,
        key_id TEXT,
        key_ref TEXT,
        params TEXT NOT NULL,
        requester_id TEXT NOT NULL,
        requester_name TEXT NOT NULL,
        requester_kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        required_approvals INTEGER NOT NULL,
        approvals TEXT NOT NULL,
        denial TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'executed', 'failed', 'denied', 'expired', 'cancelled')),
        result TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        decided_at BIGINT,
        version INTEGER NOT NULL
      );
      CREATE INDEX approval_requests_by_created ON approval_requests (created_at, id);
      CREATE INDEX approval_requests_by_requester ON approval_requests (requester_id, created_at);
      CREATE INDEX approval_requests_pending ON approval_requests (expires_at) WHERE status = 'pending';
      CREATE INDEX approval_requests_approved ON approval_requests (decided_at) WHERE status = 'approved';
      CREATE TABLE access_policy (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        policy TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at BIGINT NOT NULL,
        updated_by TEXT NOT NULL
      );

      CREATE TABLE client_keys (
        id TEXT PRIMARY KEY,
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
        alg TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256')),
        public_key BYTEA NOT NULL,
        fingerprint TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        UNIQUE (principal_id, fingerprint)
      );
      CREATE INDEX client_keys_principal ON client_keys (principal_id);
      CREATE TABLE client_assertion_jtis (
        client_id TEXT NOT NULL,
        jti TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (client_id, jti)
      );
      CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis (expires_at);

      -- The audit ledger: append-only for every writer of the database (see V9_AUDIT for SQLite).
      CREATE TABLE audit_events (
        idx BIGINT PRIMARY KEY CHECK (idx >= 0),
        data BYTEA NOT NULL,
        leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32)
      );
      CREATE TABLE audit_checkpoints (
        n BIGINT PRIMARY KEY CHECK (n >= 0),
        size BIGINT NOT NULL CHECK (size >= 0),
        root_hash BYTEA NOT NULL CHECK (octet_length(root_hash) = 32),
        time BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        signature BYTEA NOT NULL
      );
      CREATE TABLE audit_keys (
        purpose TEXT PRIMARY KEY CHECK (purpose IN ('checkpoint-signing', 'hmac')),
        key_id TEXT NOT NULL,
        wrapped_key BYTEA NOT NULL,
        public_key BYTEA,
        created_at BIGINT NOT NULL
      );
      CREATE FUNCTION kw_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'raise_exception'; END $$;
      CREATE FUNCTION kw_audit_next_index() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.idx IS DISTINCT FROM (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_events) THEN
            RAISE EXCEPTION 'audit events are appended at the next index only';
          END IF;
          RETURN NEW;
        END $$;
      CREATE FUNCTION kw_audit_checkpoint_next() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.n IS DISTINCT FROM (SELECT COALESCE(MAX(n) + 1, 0) FROM audit_checkpoints)
             OR NEW.size < (SELECT COALESCE(MAX(size), 0) FROM audit_checkpoints) THEN
            RAISE EXCEPTION 'audit checkpoints are appended in order only';
          END IF;
          RETURN NEW;
        END $$;
      CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION kw_append_only();
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION kw_append_only();
      CREATE TRIGGER audit_events_next_index BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION kw_audit_next_index();
      CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION kw_append_only();
      CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION kw_append_only();
      CREATE TRIGGER audit_checkpoints_next BEFORE INSERT ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION kw_audit_checkpoint_next();
      CREATE TRIGGER audit_keys_no_change BEFORE UPDATE OR DELETE ON audit_keys FOR EACH ROW EXECUTE FUNCTION kw_append_only();
      CREATE TRIGGER audit_keys_no_truncate BEFORE TRUNCATE ON audit_keys FOR EACH STATEMENT EXECUTE FUNCTION kw_append_only();

      -- Event search: derived from the ledger by the search itself (as SQLite migration 10). The
      -- fields are UTF-8 bytes: event text may hold NUL, which a TEXT column refuses; ISO times
      -- compare bytewise.
      CREATE TABLE audit_search (
        idx BIGINT PRIMARY KEY,
        time BYTEA,
        key_id BYTEA,
        principal_id BYTEA,
        principal_name BYTEA,
        operation BYTEA,
        outcome BYTEA
      );
      CREATE INDEX audit_search_by_key ON audit_search (key_id, idx);
      CREATE INDEX audit_search_by_principal ON audit_search (principal_id, idx);
      CREATE INDEX audit_search_by_principal_name ON audit_search (principal_name, idx);
      CREATE INDEX audit_search_by_operation ON audit_search (operation, idx);
      CREATE INDEX audit_search_by_time ON audit_search (time);

      CREATE TABLE policy_versions (
        version INTEGER PRIMARY KEY CHECK (version >= 1),
        document TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT
      );
      CREATE TRIGGER policy_versions_no_change BEFORE UPDATE OR DELETE ON policy_versions FOR EACH ROW EXECUTE FUNCTION kw_append_only();

      CREATE TABLE aws_access_keys (
        access_key_id TEXT COLLATE "C" PRIMARY KEY,
        principal_id TEXT NOT NULL,
        wrapped_secret BYTEA NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL
      );
      CREATE INDEX aws_access_keys_principal ON aws_access_keys (principal_id);
      CREATE TABLE aws_key_policies (
        key_id TEXT COLLATE "C" PRIMARY KEY REFERENCES keys (id),
        document TEXT NOT NULL CHECK (octet_length(document) <= 32768),
        updated_at BIGINT NOT NULL,
        updated_by TEXT NOT NULL
      );
      CREATE TABLE aws_grant_retirees (
        grant_id TEXT COLLATE "C" PRIMARY KEY REFERENCES grants (id),
        principal_id TEXT NOT NULL
      );
      CREATE INDEX aws_grant_retirees_principal ON aws_grant_retirees (principal_id);
    `,
  },
  PG_V15_CANARIES,
  PG_V16_ALERTS,
  PG_V17_INCIDENTS,
];

/** Serializes migrations across nodes starting at once (an arbitrary, fixed advisory lock key). */
const MIGRATION_LOCK = 0x6b77_0001;

/** Applies the pending migrations in one transaction under an advisory lock; returns the schema version. */
export async function applyPgMigrations(db: Db, migrations: PgMigration[] = POSTGRES_MIGRATIONS): Promise<number> {
  const known = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const current = Number((await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations')).rows[0].v);
    if (current > known) {
      throw new Error(`the database schema (version ${current}) is newer than this Keywarden (version ${known}); upgrade Keywarden`);
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
    }
    await client.query('COMMIT');
    return Math.max(current, known);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
