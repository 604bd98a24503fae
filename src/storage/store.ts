import type { KeyStore } from '../keys/key.store.js';
import type { SealStore } from '../seal/seal.store.js';
import type { TokenStore } from '../auth/token.store.js';
import type { JobStore } from '../jobs/job.store.js';
import type { PrincipalStore } from '../auth/principal.store.js';
import type { AuditSearch, AuditStore } from '../audit/audit.store.js';
import type { ApprovalStore } from '../auth/approval.store.js';
import type { UserStore } from '../auth/user.store.js';
import type { PolicyStore } from '../policy/policy.store.js';
import type { AccessKeyStore } from '../auth/access-key.model.js';
import type { KeyPolicyStore } from '../auth/key-policy.js';
import type { AlertStore } from '../alerts/alert.store.js';
import type { IncidentStore } from '../incident/incident.store.js';
import type { KeyCanaryStore } from '../keys/canary.js';
import type { Snapshot, SnapshotChunk } from './snapshot.js';
import type { Cluster } from '../cluster/cluster.js';

/** Everything Keywarden persists, behind Promise-based interfaces (ARCHITECTURE rule 7). */
export interface Store {
  readonly keys: KeyStore;
  readonly seal: SealStore;
  readonly tokens: TokenStore;
  readonly jobs: JobStore;
  readonly principals: PrincipalStore;
  /** The append-only audit ledger (no update or delete methods). */
  readonly audit: AuditStore & AuditSearch;
  readonly approvals: ApprovalStore;
  readonly users: UserStore;
  /** Versions of the policy document (append-only). */
  readonly policies: PolicyStore;
  /** AWS SigV4 access keys (secrets barrier-wrapped). */
  readonly accessKeys: AccessKeyStore;
  /** AWS key policies and grant retiring principals (migration 14). */
  readonly keyPolicies: KeyPolicyStore;
  /** Anomaly alerts (migration 16). */
  readonly alerts: AlertStore;
  /** Key-compromise incidents and drills (migration 17; append-only). */
  readonly incidents: IncidentStore;
  /** Key version canaries (migration 15; backups prove each version still works). */
  readonly canaries: KeyCanaryStore;
  /** Change feed and leader lock shared by the nodes on this database (src/cluster/cluster.ts); idle until start(). */
  readonly cluster: Cluster;
  /** Applied schema version (for health and backups). */
  schemaVersion(): Promise<number>;
  /** Every row of every table (backend-neutral, one consistent view; see snapshot.ts). For backups. */
  snapshot(): AsyncIterable<SnapshotChunk>;
  /** Loads a snapshot of the same schema version into this store; refuses a non-empty store. */
  restore(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}

/**
 * `auditFsync`: when an audit event reaches stable storage. 'interval' (default): it is written to
 * the database's write-ahead log before the call answers (it survives a crash of the process) and
 * fsync'd within 1 s; 'commit': every group commit is fsync'd before the calls answer (slower).
 */
export type StorageConfig =
  | { type: 'sqlite'; path: string; auditFsync?: 'interval' | 'commit' }
  /** `url`: postgres://user:password@host:port/db (the password is never logged); `pool.max`: connections (default 10). */
  | { type: 'postgres'; url: string; pool?: { max?: number } };
