/**
 * SQLite implementation of the Store interfaces (better-sqlite3, WAL journal).
 * Durability: synchronous=FULL, so every committed transaction — in particular any write that
 * creates or changes key material — is on disk before the promise resolves (ARCHITECTURE rule 7).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyStore } from '../../keys/key.store.js';
import type { SealStore } from '../../seal/seal.store.js';
import type { TokenStore } from '../../auth/token.store.js';
import type { Store } from '../store.js';
import { SQLITE_MIGRATIONS, type Migration } from './migrations.js';
import { SqliteKeyStore } from './sqlite-key-store.js';
import { SqliteJobStore } from './sqlite-job-store.js';
import type { JobStore } from '../../jobs/job.store.js';
import type { PrincipalStore } from '../../auth/principal.store.js';
import { SqlitePrincipalStore } from './sqlite-principal-store.js';
import type { AuditSearch, AuditStore } from '../../audit/audit.store.js';
import { SqliteAuditStore } from './sqlite-audit-store.js';
import type { ApprovalStore } from '../../auth/approval.store.js';
import { SqliteApprovalStore } from './sqlite-approval-store.js';
import type { UserStore } from '../../auth/user.store.js';
import { SqliteUserStore } from './sqlite-user-store.js';
import { writeTx } from './tx.js';
import type { PolicyStore } from '../../policy/policy.store.js';
import { SqlitePolicyStore } from './sqlite-policy-store.js';
import type { AccessKeyStore } from '../../auth/access-key.model.js';
import { SqliteAccessKeyStore } from './sqlite-access-key-store.js';
import type { KeyPolicyStore } from '../../auth/key-policy.js';
import { SqliteKeyPolicyStore } from './sqlite-key-policy-store.js';
import type { AlertStore } from '../../alerts/alert.store.js';
import { SqliteAlertStore } from './sqlite-alert-store.js';
import type { IncidentStore } from '../../incident/incident.store.js';
import { SqliteIncidentStore } from './sqlite-incident-store.js';
import type { KeyCanaryStore } from '../../keys/canary.js';
import { SqliteCanaryStore } from './sqlite-canary-store.js';
import { sqliteRestore, sqliteSnapshot } from './sqlite-snapshot.js';
import type { Snapshot, SnapshotChunk } from '../snapshot.js';
import { SqliteCluster } from './sqlite-cluster.js';
import { sealConfigFromRow, tokenFromRow } from '../record-rows.js';

type Row = Record<string, unknown>;

export function applyMigrations(db: Database.Database, migrations: Migration[] = SQLITE_MIGRATIONS): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
  const known = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  const currentVersion = () => (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  let current = currentVersion();
  if (current > known) {
    throw new Error(`the database schema (version ${current}) is newer than this Keywarden (version ${known}); upgrade Keywarden`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    // IMMEDIATE takes the write lock before re-reading the version, so two processes opening the
    // same fresh file cannot both apply the same migration.
    writeTx(db, () => {
      if (currentVersion() >= m.version) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
    current = m.version;
  }
  return Math.max(current, known);
}

export class SqliteStore implements Store {
  readonly keys: KeyStore;
  readonly seal: SealStore;
  readonly tokens: TokenStore;
  readonly jobs: JobStore;
  readonly principals: PrincipalStore;
  readonly audit: AuditStore & AuditSearch;
  readonly approvals: ApprovalStore;
  readonly users: UserStore;
  readonly policies: PolicyStore;
  readonly accessKeys: AccessKeyStore;
  readonly keyPolicies: KeyPolicyStore;
  readonly alerts: AlertStore;
  readonly incidents: IncidentStore;
  readonly canaries: KeyCanaryStore;
  readonly cluster = new SqliteCluster();
  readonly #db: Database.Database;
  readonly #audit: SqliteAuditStore;

  constructor(path: string, opts: { auditFsync?: 'interval' | 'commit' } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const db = new Database(path);
    this.#db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('secure_delete = ON');
    try {
      applyMigrations(db);
    } catch (e) {
      db.close();
      throw e;
    }

    const q = {
      getSeal: db.prepare('SELECT * FROM seal_config WHERE id = 1'),
      insertSeal: db.prepare(
        `INSERT OR IGNORE INTO seal_config (id, type, shares, threshold, wrapped_root_key, share_digests, share_check_salt, created_at)
         VALUES (1, @type, @shares, @threshold, @wrappedRootKey, @shareDigests, @shareCheckSalt, @createdAt)`,
      ),
      // Seal migration: one statement (one transaction), only over the config the caller read.
      replaceSeal: db.prepare(
        `UPDATE seal_config SET type = @type, shares = @shares, threshold = @threshold, wrapped_root_key = @wrappedRootKey,
           share_digests = @shareDigests, share_check_salt = @shareCheckSalt, created_at = @createdAt
         WHERE id = 1 AND type = @previousType AND wrapped_root_key = @previousWrapped`,
      ),
      insertToken: db.prepare(
        `INSERT OR IGNORE INTO tokens (hash, accessor, kind, display_name, created_at)
         VALUES (@hash, @accessor, @kind, @displayName, @createdAt)`,
      ),
      getToken: db.prepare('SELECT * FROM tokens WHERE hash = ?'),
      getTokenByAccessor: db.prepare('SELECT * FROM tokens WHERE accessor = ?'),
      deleteTokensOfKind: db.prepare('DELETE FROM tokens WHERE kind = ?'),
      schemaVersion: db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck(),
    };

    this.keys = new SqliteKeyStore(db);
    this.jobs = new SqliteJobStore(db);
    this.principals = new SqlitePrincipalStore(db);
    // For a file, audit appends run on a writer thread with its own connection (no fsync stalls).
    this.audit = this.#audit = new SqliteAuditStore(db, path, opts.auditFsync ?? 'interval');
    this.approvals = new SqliteApprovalStore(db);
    this.users = new SqliteUserStore(db);
    this.policies = new SqlitePolicyStore(db);
    this.accessKeys = new SqliteAccessKeyStore(db);
    this.keyPolicies = new SqliteKeyPolicyStore(db);
    this.alerts = new SqliteAlertStore(db);
    this.incidents = new SqliteIncidentStore(db);
    this.canaries = new SqliteCanaryStore(db);

    this.seal = {
      getSealConfig: async () => {
        const row = q.getSeal.get() as Row | undefined;
        return row && sealConfigFromRow(row);
      },
      createSealConfig: async (c) =>
        q.insertSeal.run({ ...c, shareDigests: JSON.stringify(c.shareDigests) }).changes === 1,
      replaceSealConfig: async (prev, c) =>
        q.replaceSeal.run({ ...c, shareDigests: JSON.stringify(c.shareDigests), previousType: prev.type, previousWrapped: prev.wrappedRootKey }).changes === 1,
    };

    this.tokens = {
      putToken: async (t) => {
        q.insertToken.run(t);
      },
      findTokenByHash: async (hash) => {
        const row = q.getToken.get(hash) as Row | undefined;
        return row && tokenFromRow(row);
      },
      findTokenByAccessor: async (accessor) => {
        const row = q.getTokenByAccessor.get(accessor) as Row | undefined;
        return row === undefined ? undefined : this.tokens.findTokenByHash(row.hash as string);
      },
      deleteTokensOfKind: async (kind) => q.deleteTokensOfKind.run(kind).changes,
    };
    this.schemaVersion = async () => q.schemaVersion.get() as number;
  }

  schemaVersion: () => Promise<number>;

  snapshot(): AsyncIterable<SnapshotChunk> {
    return sqliteSnapshot(this.#db);
  }

  async restore(snapshot: Snapshot): Promise<void> {
    await sqliteRestore(this.#db, await this.schemaVersion(), snapshot);
  }

  async close(): Promise<void> {
    await this.cluster.close();
    await this.#audit.close();
    if (this.#db.open) this.#db.close();
  }
}
