/**
 * System use-cases: health, seal status, init, unseal, root token revocation and generation.
 * Init, unseal and root token generation are unauthenticated by design (as in Vault): they need
 * the unseal shares, which are the credential.
 */
import { KeywardenError } from '../errors/catalog.js';
import type { RootGenerationService } from '../auth/root-generation.service.js';
import type { TokenService } from '../auth/token.service.js';
import type { SealService } from '../seal/seal.service.js';
import type { SealStatus, SealType } from '../seal/seal.model.js';
import type { Clock } from '../util/clock.js';
import type { Hsm, HsmHealth } from '../hsm/hsm.js';
import type { Scheduler } from '../jobs/scheduler.js';
import type { RequestFacts } from './audited.js';
import type { LedgerStats } from '../audit/ledger.service.js';
import type { SinkStats } from '../audit/sinks/sink.js';
import type { Call, Pipeline } from './pipeline.js';
import { clusterStatus, type Cluster, type ClusterStatus } from '../cluster/cluster.js';

export interface Health {
  initialized: boolean;
  sealed: boolean;
  sealType: SealType | null;
  version: string;
  serverTime: string;
  /** pkcs11 seal: why Keywarden is still sealed (auto-unseal failing); never a secret. */
  sealReason?: string;
  /** When an HSM is configured: can it be reached, and how fast. */
  hsm?: HsmHealth;
  /** This node: its name, whether it holds the leader lock (runs the jobs), the shared store's backend. */
  cluster?: ClusterStatus;
}

/** A health probe must answer even when a network HSM hangs. */
export const HSM_HEALTH_TIMEOUT_MS = 2_000;
/** Likewise for the store (a PostgreSQL server that stopped answering). */
export const STORE_HEALTH_TIMEOUT_MS = 2_000;

/** What the readiness probe reads besides the seal and the HSM (wired by src/main.ts). */
export interface ReadinessSources {
  /** A trivial store query (schema version): rejects when the store cannot be reached. */
  pingStore(): Promise<unknown>;
  ledger(): LedgerStats;
  sinks(): Record<string, SinkStats>;
}

interface Check {
  ok: boolean;
  /** Why not ok: a fixed sentence, never a driver message (it could hold a connection URL). */
  error?: string;
}

/** GET /v1/sys/health/ready (docs/operations.md): every check, and the status code they add up to. */
export interface Readiness {
  ready: boolean;
  /** 200 ready; 501 not initialized; 503 sealed or a dependency down (429 standby, 472 DR: not used by a single node). */
  status: 200 | 429 | 472 | 501 | 503;
  initialized: boolean;
  sealed: boolean;
  /** Holds the cluster's leader lock (runs the jobs); a follower is ready all the same: every node serves every request. */
  leader: boolean;
  cluster?: ClusterStatus;
  /** An audit sink dropped records since the previous probe: reported, but not a reason to stop serving. */
  degraded: boolean;
  checks: {
    store: Check & { latencyMs: number | null };
    seal: Check;
    hsm?: HsmHealth;
    auditLedger: Check & { queued: number; failedBatches: number };
    auditSinks: Check & { sinks: number; dropping: number };
  };
}

export class SysOps {
  constructor(
    private readonly d: {
      seal: SealService;
      tokens: TokenService;
      clock: Clock;
      version: string;
      configuredSeal: SealType;
      pipeline: Pipeline;
      scheduler: Scheduler;
      rootGeneration: RootGenerationService;
      hsm?: Hsm;
      readiness?: ReadinessSources;
      cluster?: Cluster;
    },
  ) {}

  /** Ledger and sink counters at the previous readiness probe: failures are judged since then. */
  #lastProbe: { transactions: number; failedBatches: number; dropped: Map<string, number> } | undefined;

  /**
   * Readiness: store reachable, initialized and unsealed, HSM answering (when configured), audit
   * ledger not failing (no batch failed since the previous probe without one succeeding after it:
   * use-cases fail closed meanwhile). A sink dropping records makes the node `degraded`, not
   * unready: the ledger still holds every event, and taking the KMS out of service because a SIEM
   * is down would turn a monitoring problem into an outage.
   */
  async ready(): Promise<Readiness> {
    await this.#refreshSeal();
    const [store, hsm] = await Promise.all([this.#storeCheck(), this.d.hsm ? hsmHealth(this.d.hsm) : undefined]);
    const s = this.d.seal.status();
    const seal: Check = !s.initialized
      ? { ok: false, error: 'not initialized' }
      : s.sealed
        ? { ok: false, error: s.sealReason ?? 'sealed' }
        : { ok: true };
    const r = this.d.readiness;
    const ls = r?.ledger() ?? { size: 0, transactions: 0, events: 0, failedBatches: 0, queued: 0 };
    const sinks = r?.sinks() ?? {};
    const prev = this.#lastProbe;
    const ledgerFailing = ls.failedBatches > (prev?.failedBatches ?? 0) && ls.transactions === (prev?.transactions ?? 0);
    let dropping = 0;
    for (const [name, st] of Object.entries(sinks)) if (st.dropped > (prev?.dropped.get(name) ?? 0)) dropping++;
    this.#lastProbe = { transactions: ls.transactions, failedBatches: ls.failedBatches, dropped: new Map(Object.entries(sinks).map(([n, st]) => [n, st.dropped])) };
    const auditLedger = { ok: !ledgerFailing, queued: ls.queued, failedBatches: ls.failedBatches, ...(ledgerFailing && { error: 'audit batches are failing: operations fail closed' }) };
    const auditSinks = { ok: dropping === 0, sinks: Object.keys(sinks).length, dropping, ...(dropping > 0 && { error: 'an audit sink is dropping records (its queue is full)' }) };
    const ready = store.ok && seal.ok && (hsm?.ok ?? true) && auditLedger.ok;
    return {
      ready,
      status: !s.initialized ? 501 : ready ? 200 : 503,
      initialized: s.initialized,
      sealed: s.sealed,
      leader: this.d.cluster?.leader.isLeader() ?? true,
      ...(this.d.cluster && { cluster: clusterStatus(this.d.cluster) }),
      degraded: !auditSinks.ok,
      checks: { store, seal, ...(hsm && { hsm }), auditLedger, auditSinks },
    };
  }

  async #storeCheck(): Promise<Check & { latencyMs: number | null }> {
    if (this.d.readiness === undefined) return { ok: true, latencyMs: null };
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STORE_HEALTH_TIMEOUT_MS);
    });
    try {
      const r = await Promise.race([this.d.readiness.pingStore(), timeout]);
      if (r === 'timeout') return { ok: false, latencyMs: null, error: `the store did not answer within ${STORE_HEALTH_TIMEOUT_MS} ms` };
      return { ok: true, latencyMs: Math.round((performance.now() - started) * 1000) / 1000 };
    } catch {
      return { ok: false, latencyMs: null, error: 'the store could not be reached' };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Several nodes share one store: another node may have initialized it since this one read its
   * seal config at start. Re-read while uninitialized (never after: the config does not change
   * under a running node, except by migrate-seal, which needs every node stopped).
   */
  async #refreshSeal(): Promise<void> {
    if (!this.d.seal.initialized) await this.d.seal.load().catch(() => undefined);
  }

  async health(): Promise<Health> {
    await this.#refreshSeal();
    const hsm = this.d.hsm ? await hsmHealth(this.d.hsm) : undefined;
    const s = this.d.seal.status();
    return {
      initialized: s.initialized,
      sealed: s.sealed,
      sealType: s.sealType ?? this.d.configuredSeal,
      version: this.d.version,
      serverTime: new Date(this.d.clock.now()).toISOString(),
      ...(s.sealReason !== undefined && { sealReason: s.sealReason }),
      ...(hsm && { hsm }),
      ...(this.d.cluster && { cluster: clusterStatus(this.d.cluster) }),
    };
  }

  /** Before init, sealType is the configured seal (what init will create), so clients know which init to run. */
  async sealStatus(): Promise<SealStatus> {
    await this.#refreshSeal();
    const s = this.d.seal.status();
    return { ...s, sealType: s.sealType ?? this.d.configuredSeal };
  }

  /**
   * Initializes Keywarden: returns the initial root token once, and for the shamir seal the shares.
   * The pkcs11 seal issues no shares (the HSM key wraps the root key) and is unsealed at once.
   */
  async init(shares: number | undefined, threshold: number | undefined, _req?: RequestFacts): Promise<{ shares: string[]; rootToken: string; threshold: number; message?: string }> {
    if (this.d.configuredSeal === 'pkcs11') {
      if (shares !== undefined || threshold !== undefined) throw new KeywardenError('ValidationError', 'this server uses the pkcs11 seal, which issues no unseal shares: omit shares and threshold');
      await this.d.seal.initPkcs11();
      const rootToken = await this.d.tokens.createRootToken('initial root token');
      return { shares: [], rootToken, threshold: 0, message: `the root key is wrapped by the HSM key "${this.d.seal.hsmKeyLabel}" on token "${this.d.hsm?.tokenLabel}"; no unseal shares were issued and Keywarden unseals itself at start` };
    }
    if (shares === undefined || threshold === undefined) throw new KeywardenError('ValidationError', 'body must contain "shares" and "threshold"');
    if (this.d.configuredSeal !== 'shamir') {
      throw new KeywardenError('InvalidState', `this server is configured with the ${this.d.configuredSeal} seal, which is initialized automatically`);
    }
    const parts = await this.d.seal.initShamir(shares, threshold);
    const rootToken = await this.d.tokens.createRootToken('initial root token');
    return { shares: parts, rootToken, threshold };
  }

  /** `_req`: the request facts, for the audit event (src/ops/audited.ts); likewise below. */
  async unseal(share: string, _req?: RequestFacts): Promise<SealStatus> {
    await this.#refreshSeal();
    return this.d.seal.submitShare(share);
  }

  async resetUnseal(_req?: RequestFacts): Promise<SealStatus> {
    return this.d.seal.resetProgress();
  }

  /** Revokes every root token, the caller's own included (sys:revoke-root); refused without an enabled admin. */
  async revokeRoot(call: Call): Promise<{ revoked: number }> {
    await this.d.pipeline.begin(call, 'sys:revoke-root');
    return this.d.rootGeneration.revokeAll();
  }

  generateRootStatus() {
    this.d.pipeline.requireUnsealed();
    return this.d.rootGeneration.status();
  }

  /** Starts a root token generation attempt (shares are the credential; needs an unsealed shamir seal). */
  async startGenerateRoot(_req?: RequestFacts) {
    this.d.pipeline.requireUnsealed();
    return this.d.rootGeneration.start();
  }

  updateGenerateRoot(nonce: string, share: string, _req?: RequestFacts) {
    this.d.pipeline.requireUnsealed();
    return this.d.rootGeneration.update(nonce, share);
  }

  async cancelGenerateRoot(_req?: RequestFacts) {
    return this.d.rootGeneration.cancel();
  }

  /** The durable jobs (rotation due, deletion due, material expiry, usage flush) and their last runs. */
  async jobs(call: Call) {
    await this.d.pipeline.begin(call, 'sys:jobs');
    return (await this.d.scheduler.status()).map((j) => ({
      name: j.name,
      intervalMs: j.intervalMs,
      nextRunAt: j.nextRunAt,
      lastRunAt: j.lastRunAt,
      lastStatus: j.lastStatus,
      lastError: j.lastError,
    }));
  }
}

async function hsmHealth(hsm: Hsm): Promise<HsmHealth> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HsmHealth>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, latencyMs: null, error: `no answer within ${HSM_HEALTH_TIMEOUT_MS} ms`, tokenLabel: hsm.tokenLabel }), HSM_HEALTH_TIMEOUT_MS);
  });
  try {
    return await Promise.race([hsm.health(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
