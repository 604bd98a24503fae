/**
 * PostgreSQL implementation of the Store interfaces (`pg`, one connection pool per store). Built
 * synchronously (openStore is synchronous); the migrations run at once and every call waits for
 * them, so a store whose migration failed rejects every call with that error. Durability:
 * PostgreSQL's synchronous_commit (on by default), so a resolved write is in the server's WAL.
 * Isolation: READ COMMITTED plus row locks (SELECT ... FOR UPDATE) for version and state changes
 * and advisory locks for the ledger; see docs/adr/0011-postgresql-store.md.
 */
import type { KeyStore } from '../../keys/key.store.js';
import type { SealStore } from '../../seal/seal.store.js';
import type { TokenStore } from '../../auth/token.store.js';
import type { JobStore } from '../../jobs/job.store.js';
import type { PrincipalStore } from '../../auth/principal.store.js';
import type { AuditSearch, AuditStore } from '../../audit/audit.store.js';
import type { ApprovalStore } from '../../auth/approval.store.js';
import type { UserStore } from '../../auth/user.store.js';
import type { PolicyStore } from '../../policy/policy.store.js';
import type { AccessKeyStore } from '../../auth/access-key.model.js';
import type { KeyPolicyStore } from '../../auth/key-policy.js';
import type { Store } from '../store.js';
import { Db } from './db.js';
import { applyPgMigrations } from './migrations.js';
import { postgresRestore, postgresSnapshot } from './postgres-snapshot.js';
import type { Snapshot, SnapshotChunk } from '../snapshot.js';
import { PgCluster } from './pg-cluster.js';
import { PostgresKeyStore } from './postgres-key-store.js';
import { PostgresAuditStore } from './postgres-audit-store.js';
import { PostgresPrincipalStore } from './postgres-principal-store.js';
import { PostgresUserStore } from './postgres-user-store.js';
import type { AlertStore } from '../../alerts/alert.store.js';
import { PostgresAlertStore } from './postgres-alert-store.js';
import type { IncidentStore } from '../../incident/incident.store.js';
import { PostgresIncidentStore } from './postgres-incident-store.js';
import type { KeyCanaryStore } from '../../keys/canary.js';
import { PostgresCanaryStore } from './postgres-canary-store.js';
import { PostgresAccessKeyStore, PostgresApprovalStore, PostgresJobStore, PostgresKeyPolicyStore, PostgresPolicyStore } from './postgres-other-stores.js';
import { sealConfigFromRow, tokenFromRow } from '../record-rows.js';

export interface PostgresConfig {
  /** postgres://user:password@host:port/database (libpq URL parameters such as sslmode apply). */
  url: string;
  pool?: { max?: number };
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable url)';
  }
}

export class PostgresStore implements Store {
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
  readonly cluster: PgCluster;
  readonly #db: Db;

  constructor(config: PostgresConfig) {
    const db = new Db(config.url, config.pool?.max ?? 10);
    this.#db = db;
    db.ready = applyPgMigrations(db).then(
      () => undefined,
      (e: Error & { code?: string }) => {
        // The driver's messages do not contain the URL; the location is named without the password.
        throw Object.assign(new Error(`PostgreSQL store at ${redactUrl(config.url)}: ${e.message}`), { code: e.code });
      },
    );
    this.keys = new PostgresKeyStore(db);
    this.jobs = new PostgresJobStore(db);
    this.principals = new PostgresPrincipalStore(db);
    this.audit = new PostgresAuditStore(db);
    this.approvals = new PostgresApprovalStore(db);
    this.users = new PostgresUserStore(db);
    this.policies = new PostgresPolicyStore(db);
    this.accessKeys = new PostgresAccessKeyStore(db);
    this.keyPolicies = new PostgresKeyPolicyStore(db);
    this.alerts = new PostgresAlertStore(db);
    this.cluster = new PgCluster({ url: config.url, db });
    this.incidents = new PostgresIncidentStore(db);
    this.canaries = new PostgresCanaryStore(db);

    this.seal = {
      getSealConfig: async () => {
        const row = await db.row('SELECT * FROM seal_config WHERE id = 1');
        return row && sealConfigFromRow(row);
      },
      createSealConfig: async (c) =>
        (await db.changes(
          `INSERT INTO seal_config (id, type, shares, threshold, wrapped_root_key, share_digests, share_check_salt, created_at)
           VALUES (1, $1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
          [c.type, c.shares, c.threshold, c.wrappedRootKey, JSON.stringify(c.shareDigests), c.shareCheckSalt, c.createdAt],
        )) === 1,
      // Seal migration: one statement, only over the config the caller read.
      replaceSealConfig: async (prev, c) =>
        (await db.changes(
          `UPDATE seal_config SET type = $1, shares = $2, threshold = $3, wrapped_root_key = $4, share_digests = $5, share_check_salt = $6, created_at = $7
           WHERE id = 1 AND type = $8 AND wrapped_root_key = $9`,
          [c.type, c.shares, c.threshold, c.wrappedRootKey, JSON.stringify(c.shareDigests), c.shareCheckSalt, c.createdAt, prev.type, prev.wrappedRootKey],
        )) === 1,
    };

    this.tokens = {
      putToken: async (t) => {
        await db.query(
          'INSERT INTO tokens (hash, accessor, kind, display_name, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
          [t.hash, t.accessor, t.kind, t.displayName, t.createdAt],
        );
      },
      findTokenByHash: async (hash) => {
        const row = await db.row('SELECT * FROM tokens WHERE hash = $1', [hash]);
        return row && tokenFromRow(row);
      },
      findTokenByAccessor: async (accessor) => {
        const row = await db.row('SELECT * FROM tokens WHERE accessor = $1', [accessor]);
        return row && tokenFromRow(row);
      },
      deleteTokensOfKind: async (kind) => db.changes('DELETE FROM tokens WHERE kind = $1', [kind]),
    };
  }

  /** Opens the store and waits for its migrations (rejects if they fail; the pool is then closed). */
  static async open(config: PostgresConfig): Promise<PostgresStore> {
    const store = new PostgresStore(config);
    try {
      await store.#db.ready;
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  async schemaVersion(): Promise<number> {
    return (await this.#db.row('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations'))!.v as number;
  }

  snapshot(): AsyncIterable<SnapshotChunk> {
    return postgresSnapshot(this.#db);
  }

  async restore(snapshot: Snapshot): Promise<void> {
    await postgresRestore(this.#db, await this.schemaVersion(), snapshot);
  }

  async close(): Promise<void> {
    await this.cluster.close();
    await this.#db.close();
  }
}
