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
import type { Call, Pipeline } from './pipeline.js';

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
}

/** A health probe must answer even when a network HSM hangs. */
export const HSM_HEALTH_TIMEOUT_MS = 2_000;

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
    },
  ) {}

  async health(): Promise<Health> {
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
    };
  }

  /** Before init, sealType is the configured seal (what init will create), so clients know which init to run. */
  sealStatus(): SealStatus {
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
  unseal(share: string, _req?: RequestFacts): Promise<SealStatus> {
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
