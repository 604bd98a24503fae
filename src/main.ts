/**
 * Composition root: config -> store -> seal -> services -> transports. The only place that wires
 * dependencies together; nothing else holds module-level state (ARCHITECTURE rule 3).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { TokenService } from './auth/token.service.js';
import { AccessTokenService } from './auth/access-token.service.js';
import { GrantService } from './auth/grant.service.js';
import { ServiceAccountService } from './auth/service-account.service.js';
import { AccessOps } from './ops/access.ops.js';
import { GrantOps } from './ops/grant.ops.js';
import { ClientAssertionVerifier } from './auth/client-assertion.js';
import { RootGenerationService } from './auth/root-generation.service.js';
import { AccessReviewer } from './auth/access-review.js';
import { AccessPolicyService } from './auth/access-policy.service.js';
import { ApprovalService } from './auth/approval.service.js';
import { ApprovalOps } from './ops/approval.ops.js';
import { SessionService } from './auth/session.service.js';
import { UserService } from './auth/user.service.js';
import { MfaGate } from './auth/mfa-gate.js';
import { UserOps } from './ops/user.ops.js';
import { KeyService } from './keys/key.service.js';
import { Ops } from './ops/ops.js';
import { KeyAdminOps } from './ops/key-admin.ops.js';
import { LedgerService } from './audit/ledger.service.js';
import { AuditOps } from './ops/audit.ops.js';
import { ComplianceOps } from './ops/compliance.ops.js';
import { IncidentOps } from './ops/incident.ops.js';
import { AlertOps } from './ops/alert.ops.js';
import { startAnomalyDetection } from './alerts/index.js';
import type { AlertService } from './alerts/alert.service.js';
import type { AnomalyEngine } from './anomaly/engine.js';
import { resolveAnomalySettings, type AnomalyConfig } from './anomaly/config.js';
import type { QueueOptions } from './audit/sinks/sink.js';
import { attachSinks, closeSinks, createSinks, sinkStats, type AuditSink, type SinksConfig } from './audit/sinks/index.js';
import { audited } from './ops/audited.js';
import { MAX_PENDING_COUNTED, Metrics } from './ops/metrics.js';
import { MetricsOps } from './ops/metrics.ops.js';
import { Scheduler } from './jobs/scheduler.js';
import { SysOps } from './ops/sys.ops.js';
import { SealService } from './seal/seal.service.js';
import type { SealType } from './seal/seal.model.js';
import { AutoUnseal, type Timers } from './seal/auto-unseal.js';
import { HsmEntropyPool } from './hsm/entropy-pool.js';
import { setExtraEntropy } from './crypto/primitives/entropy.js';
import { openStore } from './storage/index.js';
import { announceChanges } from './cluster/announce.js';
import { invalidateOnChanges } from './cluster/invalidation.js';
import type { Store, StorageConfig } from './storage/store.js';
import { VERSION, buildHttpServer } from './transport/http/server.js';
import { systemClock, type Clock } from './util/clock.js';
import { PolicyService } from './policy/policy.service.js';
import { PolicyGate } from './policy/policy-gate.js';
import { PolicyOps } from './ops/policy.ops.js';
import { AccessKeyService } from './auth/access-key.service.js';
import { AccessKeyOps } from './ops/access-key.ops.js';
import { KeyPolicyService } from './auth/key-policy.service.js';
import { DEFAULT_AWS, acceptedRegions, type AwsSettings } from './transport/aws/arn.js';
import type { Hsm } from './hsm/hsm.js';
import { KeywardenError } from './errors/catalog.js';
import { CanaryService } from './keys/canary.js';
import { BACKUP_JOB, ScheduledBackups, type BackupSchedule } from './backup/scheduled.js';

export interface KeywardenOptions {
  storage: StorageConfig;
  seal: SealType;
  logger: Logger | false;
  clock?: Clock;
  https?: { cert: Buffer; key: Buffer };
  /** Run the lifecycle jobs on a timer (servers: yes; tests drive scheduler.tick() themselves). */
  startJobs?: boolean;
  /** Record every use-case in the audit ledger (default true; false only to measure its cost: bench/). */
  audit?: boolean;
  /** Copies of every committed event and checkpoint (SIEM, witnesses); config `audit.sinks`. */
  auditSinks?: SinksConfig;
  /** The AWS KMS-compatible API: region and account of key ARNs (config `aws`; default us-east-1 / 000000000000). */
  aws?: AwsSettings;
  /** The HSM (config `hsm`): it holds the material of `protection: hsm` keys and the pkcs11 seal's key. The caller owns (and closes) it. */
  hsm?: Hsm;
  /** pkcs11 seal: label of the HSM key that wraps the root key (config `seal.keyLabel`, default keywarden-seal). */
  sealKeyLabel?: string;
  /** Timers of the pkcs11 auto-unseal back-off (tests drive them). */
  timers?: Timers;
  /** `mix` (config `hsm.entropy`): symmetric key material also draws on the HSM's RNG (HKDF over OS || HSM bytes). */
  hsmEntropy?: 'off' | 'mix';
  /** Anomaly detection, alerts, their webhooks and automatic responses (config `anomaly`; docs/operations.md). */
  anomaly?: AnomalyConfig;
  /** Back-off of the alert webhooks (tests use short ones). */
  alertWebhookQueue?: QueueOptions;
  /** Several nodes on PostgreSQL (docs/ha.md): how often the job timer polls, which is also how often a follower tries to take the leader lock (default 10 s). */
  cluster?: { pollMs?: number };
  /** Scheduled online backups (config `backup.schedule`): the `backup` job. */
  backupSchedule?: BackupSchedule;
}

/** Lifecycle jobs and how often each runs (each one processes everything due at the time it runs). */
export const JOB_INTERVALS_MS = {
  'usage-flush': 10_000,
  'rotation-due': 60_000,
  'deletion-due': 60_000,
  'material-expiry': 60_000,
  'approval-expiry': 60_000,
  'canary-backfill': 3_600_000,
} as const;

export interface Keywarden {
  app: FastifyInstance;
  store: Store;
  seal: SealService;
  tokens: TokenService;
  keys: KeyService;
  ops: Ops;
  admin: KeyAdminOps;
  sys: SysOps;
  access: AccessOps;
  grants: GrantService;
  accessTokens: AccessTokenService;
  users: UserService;
  sessions: SessionService;
  accessPolicy: AccessPolicyService;
  approvals: ApprovalService;
  /** The stored policy document (version in force, versions). */
  policy: PolicyService;
  scheduler: Scheduler;
  ledger: LedgerService;
  /** The configured audit sinks (their stats feed metrics). */
  sinks: readonly AuditSink[];
  /** This instance's Prometheus registry and its counters (GET /v1/sys/metrics). */
  metrics: Metrics;
  /** The pkcs11 seal's auto-unseal (idle for other seals). */
  autoUnseal: AutoUnseal;
  /** Key version canaries (recorded per new version; backfilled by the canary-backfill job and before each scheduled backup). */
  canaries: CanaryService;
  /** Anomaly alerts (stored, deduplicated, delivered). */
  alerts: AlertService;
  /** The anomaly detectors fed by the ledger (undefined when `anomaly.enabled` is false). */
  anomaly: AnomalyEngine | undefined;
  /** Waits until every event committed so far has been analysed and its alerts are written (tests). */
  settleAlerts(): Promise<void>;
  close(): Promise<void>;
}

export async function createKeywarden(opts: KeywardenOptions): Promise<Keywarden> {
  const clock = opts.clock ?? systemClock;
  // Sinks are validated and built before anything opens, so a bad sinks config changes nothing.
  const sinks = createSinks(opts.auditSinks ?? {});
  const anomalySettings = resolveAnomalySettings(opts.anomaly);
  // Writes to what nodes cache are announced on the cluster feed (src/cluster/announce.ts).
  const store = announceChanges(openStore(opts.storage));
  try {
    await store.cluster.start();
    if (opts.logger) {
      const log = opts.logger;
      store.cluster.onEvent = (event) => (event === 'leader-acquired' || event === 'feed-restored' ? log.info : log.warn).call(log, { node: store.cluster.node, event }, `cluster: ${event}`);
    }
    if (opts.seal === 'pkcs11' && !opts.hsm) throw new Error('the pkcs11 seal needs an HSM: configure the hsm section');
    const seal = new SealService(store.seal, clock, { ...(opts.hsm && { hsm: opts.hsm }), ...(opts.sealKeyLabel && { hsmKeyLabel: opts.sealKeyLabel }) });
    await seal.load();
    if (seal.initialized && seal.type !== opts.seal) {
      throw new Error(`the data was initialized with the ${seal.type} seal but the server is configured for the ${opts.seal} seal`);
    }
    if (opts.hsmEntropy === 'mix') {
      if (!opts.hsm) throw new Error('hsm.entropy: mix needs an HSM');
      const pool = new HsmEntropyPool(opts.hsm);
      await pool.fill();
      setExtraEntropy(pool);
    }
    // pkcs11 seal: unseal from the HSM now; while it fails, stay sealed (reason in health) and retry with back-off.
    const autoUnseal = new AutoUnseal(seal, opts.timers, (reason, next) => opts.logger && opts.logger.warn({ reason, retryInMs: next }, 'auto-unseal failed; still sealed'));
    if (opts.seal === 'pkcs11') await autoUnseal.start();
    const accessTokens = new AccessTokenService({ store: store.principals, seal, clock });
    // The stored access policy (MFA, quorum approvals, JIT limits), held in memory; people read it too.
    const accessPolicy = new AccessPolicyService(store.approvals, clock);
    await accessPolicy.load();
    const sessions = new SessionService({ store: store.users, clock, policy: accessPolicy });
    const aws = opts.aws ?? DEFAULT_AWS;
    const accessKeys = new AccessKeyService({ store: store.accessKeys, principals: store.principals, seal, clock, regions: acceptedRegions(aws) });
    const tokens = new TokenService(store.tokens, clock, accessTokens, sessions, accessKeys);
    const keys = new KeyService(store.keys, seal, clock, opts.hsm);
    // Every new key version records a canary (backups prove with it that the version still works).
    const canaries = new CanaryService({ canaries: store.canaries, keys: store.keys, seal, clock, ...(opts.hsm && { hsm: opts.hsm }) });
    keys.onVersionCreated((key, v) =>
      canaries.record(key, v).catch((e: unknown) => {
        if (opts.logger) opts.logger.warn({ keyId: key.id, version: v.version, err: (e as Error).message }, 'key version canary not recorded; the backup job backfills it');
      }),
    );
    // The policy document in force (held in memory) and the policy stage that evaluates it.
    const policy = new PolicyService(store.policies, clock);
    await policy.load();
    const policyGate = new PolicyGate(policy);
    // Grant evaluation reads a key's current tags and creator through the cached key lookup.
    const grants = new GrantService(store.principals, clock, async (id) => keys.findById(id));
    const ledger = new LedgerService({ store: store.audit, seal, clock }, { onError: (e) => opts.logger && opts.logger.error({ err: e }, 'audit ledger checkpoint failed') });
    // Witnessing: each sink gets every committed event and every signed checkpoint, off the commit path.
    attachSinks(ledger, sinks);
    // Metrics read the services at scrape time; use-case counters come from the audit stage below.
    const hsmStats = opts.hsm as { stats?: () => { calls: number; errors: number; latencyMsSum: number; reconnects: number } } | undefined;
    const metrics = new Metrics({
      clock,
      version: VERSION,
      listKeys: (limit, after) => keys.list(limit, after),
      keyCache: () => keys.cacheStats(),
      pendingApprovals: async () => (await store.approvals.listRequests({ status: 'pending', limit: MAX_PENDING_COUNTED })).length,
      ledger: () => ledger.stats(),
      sinks: () => sinkStats(sinks),
      leader: () => store.cluster.leader.isLeader(),
      ...(typeof hsmStats?.stats === 'function' && { hsm: hsmStats.stats.bind(hsmStats) }),
    });
    // The audit stage: every use-case of these classes records one event, awaited before its result leaves.
    const audit = <T extends object>(target: T, name: string, unauthenticated: Parameters<typeof audited<T>>[3] = {}) =>
      audited(target, opts.audit === false ? undefined : ledger, name, unauthenticated, metrics.observeOperation);
    const ops = audit(new Ops({ seal, tokens, keys, grants, clock }), 'ops');
    // AWS key policies: explicit Denies checked by the pipeline after authorization (src/auth/key-policy.ts).
    const keyPolicies = new KeyPolicyService({ store: store.keyPolicies, clock, accountId: aws.accountId });
    ops.pipeline.setGates({ keyPolicy: keyPolicies });
    // Another node's change drops what this node caches about it (src/cluster/invalidation.ts).
    invalidateOnChanges(store.cluster.feed, store.cluster.node, { keys, tokens, accessTokens, sessions, grants, accessKeys, keyPolicies, policy, accessPolicy });
    const admin = audit(new KeyAdminOps({ pipeline: ops.pipeline, keys, clock, keyPolicies }), 'key');
    const serviceAccounts = new ServiceAccountService({ store: store.principals, clock, accessTokens, sessions });
    const grantOps = audit(new GrantOps({ pipeline: ops.pipeline, grants, principals: serviceAccounts, retirees: keyPolicies }), 'grant');
    const assertions = new ClientAssertionVerifier({ store: store.principals, clock });
    const users = new UserService({ store: store.users, principals: store.principals, sessions, seal, clock, policy: accessPolicy });
    const reviewer = new AccessReviewer({ grants, keys, principals: store.principals, mfaStatus: () => users.mfaStatus(), clock });
    const access = audit(new AccessOps({ pipeline: ops.pipeline, serviceAccounts, accessTokens, assertions, reviewer }), 'access', {
      issueToken: { operation: 'auth:token', facts: 3, authMethod: 'client-credentials' },
      issueTokenForAssertion: { operation: 'auth:token', facts: 3, authMethod: 'client-credentials' },
    });
    const userOps = audit(new UserOps({ pipeline: ops.pipeline, users, sessions, clock }), 'user', {
      login: { operation: 'auth:login', facts: 3, authMethod: 'none' },
    });
    const approvals = new ApprovalService({ store: store.approvals, principals: store.principals, policy: accessPolicy, keyPolicy: policyGate, clock });
    ops.pipeline.setGates({ mfa: new MfaGate({ users, policy: accessPolicy, clock, keyPolicy: policyGate }), approvals, policy: policyGate });
    const policyOps = audit(new PolicyOps({ pipeline: ops.pipeline, policies: policy }), 'policy');
    const approvalOps = audit(new ApprovalOps({
      pipeline: ops.pipeline,
      approvals,
      policy: accessPolicy,
      admin,
      access,
      keys,
      grants,
      principals: store.principals,
      rootTokenExists: async (accessor) => (await store.tokens.findTokenByAccessor(accessor))?.kind === 'root',
      policyDocuments: policyOps,
      clock,
    }), 'request');
    // Jobs run on the cluster's leader only. A sealed node cannot run the key jobs, so on a shared
    // store it gives the lock up to an unsealed node (a single SQLite node keeps it: approval expiry runs sealed).
    const leader = {
      tryAcquire: async () => {
        if (store.cluster.backend === 'sqlite' || !seal.sealed) return store.cluster.leader.tryAcquire();
        if (store.cluster.leader.isLeader()) await store.cluster.leader.release();
        return false;
      },
    };
    const scheduler = new Scheduler({ store: store.jobs, clock, owner: store.cluster.node, leader, ...(opts.logger ? { logger: opts.logger } : {}) });
    // Jobs only touch keys while unsealed; a sealed node skips the run (and retries next interval).
    const whenUnsealed = (f: (now: number) => Promise<number>) => async (now: number) => ({ processed: seal.sealed ? 0 : await f(now) });
    await scheduler.register('usage-flush', JOB_INTERVALS_MS['usage-flush'], whenUnsealed(async () => (await keys.flushUsage()) + (await grants.flushUsage())));
    await scheduler.register('rotation-due', JOB_INTERVALS_MS['rotation-due'], whenUnsealed((now) => keys.rotateDue(now)));
    await scheduler.register('deletion-due', JOB_INTERVALS_MS['deletion-due'], whenUnsealed((now) => keys.destroyDue(now)));
    await scheduler.register('material-expiry', JOB_INTERVALS_MS['material-expiry'], whenUnsealed((now) => keys.expireMaterialDue(now)));
    // Approval requests live in the store only, so their expiry runs sealed or not.
    await scheduler.register('approval-expiry', JOB_INTERVALS_MS['approval-expiry'], async (now) => ({ processed: await approvals.expireDue(now) }));
    // Versions without a canary (created before canaries existed, or whose canary write failed) get one, so backups can prove them.
    await scheduler.register('canary-backfill', JOB_INTERVALS_MS['canary-backfill'], whenUnsealed(() => canaries.backfill()));
    if (opts.backupSchedule) {
      // An online backup runs sealed or not (the snapshot holds wrapped keys); canaries are backfilled only unsealed.
      const backups = new ScheduledBackups({ store, source: opts.storage.type, schedule: opts.backupSchedule, canaries, seal, audit: (e) => ledger.append(e) });
      await scheduler.register(BACKUP_JOB, opts.backupSchedule.intervalMinutes * 60_000, async (now, signal) => {
        await backups.run(now, signal);
        return { processed: 1 };
      });
    }
    if (opts.startJobs) scheduler.start(opts.cluster?.pollMs);
    const rootGeneration = new RootGenerationService({ seal, tokens, principals: store.principals, clock });
    const sys = audit(new SysOps({ seal, tokens, clock, version: VERSION, configuredSeal: opts.seal, pipeline: ops.pipeline, scheduler, rootGeneration, cluster: store.cluster, ...(opts.hsm && { hsm: opts.hsm }),
      readiness: { pingStore: () => store.schemaVersion(), ledger: () => ledger.stats(), sinks: () => sinkStats(sinks) },
    }), 'sys', {
      init: { operation: 'sys:init', facts: 2, authMethod: 'none' },
      unseal: { operation: 'sys:unseal', facts: 1, authMethod: 'none' },
      resetUnseal: { operation: 'sys:unseal-reset', facts: 0, authMethod: 'none' },
      startGenerateRoot: { operation: 'sys:generate-root', facts: 0, authMethod: 'none' },
      updateGenerateRoot: { operation: 'sys:generate-root', facts: 2, authMethod: 'none' },
      cancelGenerateRoot: { operation: 'sys:generate-root-cancel', facts: 0, authMethod: 'none' },
    });
    const auditOps = audit(new AuditOps({ pipeline: ops.pipeline, ledger, search: store.audit }), 'audit');
    const accessKeyOps = audit(new AccessKeyOps({ pipeline: ops.pipeline, accessKeys }), 'access-key');
    const compliance = audit(new ComplianceOps({ pipeline: ops.pipeline, keys, grants, policy, clock }), 'compliance');
    const metricsOps = audit(new MetricsOps({ pipeline: ops.pipeline, metrics }), 'metrics');
    // The key-compromise playbook: drills restore the store's snapshot into a scratch copy.
    const incidents = audit(new IncidentOps({ pipeline: ops.pipeline, keys, grants, store, seal, clock, ...(opts.audit !== false && { ledger }), ...(opts.hsm && { hsm: opts.hsm }) }), 'incident');
    // Anomaly detection: committed events -> detectors -> alerts (stored, audited, delivered, responses).
    const anomaly = startAnomalyDetection({
      settings: anomalySettings,
      store: store.alerts,
      ledger,
      clock,
      metrics,
      responder: { principals: store.principals, sessions, serviceAccounts, keys, approvals },
      onError: (e) => opts.logger && opts.logger.warn({ err: e }, 'anomaly detection'),
      ...(opts.alertWebhookQueue && { webhookQueue: opts.alertWebhookQueue }),
    });
    const alertOps = audit(new AlertOps({ pipeline: ops.pipeline, alerts: anomaly.alerts }), 'alert');
    ledger.start();
    const app = await buildHttpServer({ alerts: alertOps, ops, admin, sys, access, grantOps, users: userOps, approvals: approvalOps, audit: auditOps, compliance, policies: policyOps, accessKeys: accessKeyOps, metrics: metricsOps, incidents, observeHttp: (m, r, s, t) => metrics.observeHttp(m, r, s, t), aws, logger: opts.logger }, opts.https ? { https: opts.https } : {});
    let closed = false;
    return {
      app,
      store,
      seal,
      tokens,
      keys,
      ops,
      admin,
      sys,
      access,
      grants,
      accessTokens,
      users,
      sessions,
      accessPolicy,
      approvals,
      policy,
      scheduler,
      ledger,
      sinks,
      metrics,
      autoUnseal,
      canaries,
      alerts: anomaly.alerts,
      anomaly: anomaly.engine,
      settleAlerts: () => anomaly.settle(),
      async close() {
        if (closed) return;
        closed = true;
        autoUnseal.stop();
        await scheduler.stop();
        await app.close();
        // Events of the last requests are written, and a last checkpoint covers them (so nothing
        // recorded before a shutdown depends on a later run to be signed), before the store closes.
        await ledger.close();
        // Alerts of the last events (and their alert:* events) are written before the final checkpoint.
        await anomaly.settle();
        await ledger.close();
        if (!seal.sealed && ledger.stats().size > ((await ledger.latestCheckpoint().catch(() => undefined))?.size ?? 0)) {
          await ledger.checkpoint().catch((e: unknown) => opts.logger && opts.logger.error({ err: e }, 'final audit checkpoint failed'));
        }
        // The sinks get a moment to deliver what they hold, the final checkpoint included.
        await closeSinks(sinks, 5_000);
        await anomaly.close(5_000);
        if (!seal.sealed) await keys.flushUsage().catch(() => undefined);
        await grants.flushUsage().catch(() => undefined);
        seal.seal();
        if (opts.hsmEntropy === 'mix') setExtraEntropy(undefined);
        await store.close();
      },
    };
  } catch (e) {
    await closeSinks(sinks, 0);
    await store.close();
    throw e;
  }
}

/**
 * `keywarden operator migrate-seal` (the server MUST be stopped): unseals the data at `storage`
 * with its current seal (shamir: `currentShares`; pkcs11: `hsm`), rewraps ONLY the root key under
 * the new seal, verifies the new seal unwraps the same root key, and replaces the seal config in one
 * store transaction. Key material stays wrapped under the unchanged root key. Returns the new
 * shares (shamir), shown once.
 */
export async function migrateSeal(opts: {
  storage: StorageConfig;
  to: { type: 'pkcs11'; keyLabel: string } | { type: 'shamir'; shares: number; threshold: number };
  hsm?: Hsm;
  currentShares?: string[];
  clock?: Clock;
}): Promise<{ from: SealType; to: SealType; shares: string[]; threshold: number; keyLabel?: string }> {
  const store = openStore(opts.storage);
  try {
    const seal = new SealService(store.seal, opts.clock ?? systemClock, opts.hsm ? { hsm: opts.hsm } : {});
    await seal.load();
    const from = seal.type;
    if (from === undefined) throw new KeywardenError('NotInitialized', 'this data is not initialized: nothing to migrate');
    if (from === opts.to.type) throw new KeywardenError('ValidationError', `this data already uses the ${from} seal`);
    if (from === 'pkcs11') {
      await seal.unsealWithHsm();
    } else if (from === 'shamir') {
      for (const share of opts.currentShares ?? []) if ((await seal.submitShare(share)).sealed === false) break;
      if (seal.sealed) throw new KeywardenError('InvalidShare', `not enough unseal shares: ${seal.status().threshold} of the current shares are needed`);
    } else {
      throw new KeywardenError('ValidationError', `migrating from the ${from} seal is not supported`);
    }
    if (opts.to.type === 'pkcs11' && !opts.hsm) throw new KeywardenError('ValidationError', 'migrating to the pkcs11 seal needs an HSM (--config with an hsm section)');
    const shares = await seal.migrate(opts.to.type === 'pkcs11' ? { type: 'pkcs11', hsm: opts.hsm as Hsm, keyLabel: opts.to.keyLabel } : opts.to);
    seal.seal();
    return {
      from,
      to: opts.to.type,
      shares,
      threshold: opts.to.type === 'shamir' ? opts.to.threshold : 0,
      ...(opts.to.type === 'pkcs11' && { keyLabel: opts.to.keyLabel }),
    };
  } finally {
    await store.close();
  }
}
