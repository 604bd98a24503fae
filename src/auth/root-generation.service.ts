/**
 * Bootstrap (issue 3/10 §7): the root token exists to create the first admin and should then be
 * revoked; a new one can only be made by a quorum of unseal shares, as Vault's generate-root.
 *
 * - revokeAll: deletes EVERY root token at once, but never leaves the service without an enabled
 *   principal holding `admin` (who could otherwise manage identities? nobody: lock-out).
 * - Generation attempts: one at a time, held in memory on this node, expire after 10 minutes (by
 *   the injected Clock) and are dropped on seal. Shares are checked exactly as for unseal
 *   (SealService.checkShare: stored per-share digests, no duplicates); on the threshold the
 *   shares must reconstruct the unseal key that unwraps the stored root key, and only then is a
 *   new root token created and returned, once. Collected shares are zeroized as soon as the
 *   attempt ends (completed, failed, cancelled, expired or sealed).
 */
import { constantTimeEqual, randomBytes } from '../crypto/primitives/index.js';
import { zeroize } from '../crypto/secret-bytes.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { SealService } from '../seal/seal.service.js';
import type { Clock } from '../util/clock.js';
import type { PrincipalStore } from './principal.store.js';
import type { TokenService } from './token.service.js';

export const GENERATE_ROOT_ATTEMPT_TTL_MS = 10 * 60_000;

export interface GenerateRootStatus {
  started: boolean;
  nonce: string | null;
  /** Shares needed (the seal threshold). */
  required: number;
  progress: number;
  expiresAt: number | null;
}

interface Attempt {
  nonce: string;
  expiresAt: number;
  shares: Buffer[];
}

export class RootGenerationService {
  #attempt: Attempt | undefined;

  constructor(private readonly d: { seal: SealService; tokens: TokenService; principals: PrincipalStore; clock: Clock }) {
    d.seal.onSeal(() => this.#drop());
  }

  /** Revokes every root token; refused while no enabled principal holds `admin`. */
  async revokeAll(): Promise<{ revoked: number }> {
    const principals = await this.d.principals.listPrincipals();
    if (!principals.some((p) => !p.disabled && p.roles.includes('admin'))) {
      throw errors.validation('no enabled principal holds the admin role: create one (and check it can log in) before revoking the root token, or nobody could manage identities');
    }
    return { revoked: await this.d.tokens.revokeAllRootTokens() };
  }

  status(): GenerateRootStatus {
    const a = this.#current();
    return { started: a !== undefined, nonce: a?.nonce ?? null, required: this.#threshold(), progress: a?.shares.length ?? 0, expiresAt: a?.expiresAt ?? null };
  }

  /** Starts an attempt (shamir seal only); refused while another one is in progress. */
  start(): GenerateRootStatus {
    if (this.d.seal.type !== 'shamir') {
      throw new KeywardenError('InvalidState', `this Keywarden uses the ${this.d.seal.type ?? 'unknown'} seal: a new root token needs the shamir seal's unseal shares`);
    }
    if (this.#current() !== undefined) {
      throw new KeywardenError('InvalidState', 'a root token generation attempt is already in progress: finish it, or cancel it with DELETE /v1/sys/generate-root/attempt');
    }
    this.#attempt = { nonce: randomBytes(16).toString('hex'), expiresAt: this.d.clock.now() + GENERATE_ROOT_ATTEMPT_TTL_MS, shares: [] };
    return this.status();
  }

  /**
   * Adds one share to the attempt named by `nonce`. At the threshold, returns the new root token
   * (the only time it is shown) if the shares unwrap the root key; otherwise the attempt ends.
   */
  async update(nonce: string, share: string): Promise<GenerateRootStatus & { complete: boolean; rootToken?: string }> {
    const expired = this.#attempt !== undefined && this.#attempt.expiresAt <= this.d.clock.now();
    const a = this.#current();
    if (a === undefined) {
      throw new KeywardenError(
        'InvalidState',
        expired
          ? `the root token generation attempt expired (attempts last ${GENERATE_ROOT_ATTEMPT_TTL_MS / 60_000} minutes): start a new one`
          : 'no root token generation attempt is in progress: start one with POST /v1/sys/generate-root/attempt',
      );
    }
    if (!constantTimeEqual(Buffer.from(nonce), Buffer.from(a.nonce))) {
      throw errors.validation('the nonce does not match the root token generation attempt in progress');
    }
    a.shares.push(this.d.seal.checkShare(share, a.shares));
    const required = this.#threshold();
    if (a.shares.length < required) return { ...this.status(), complete: false };

    // The attempt ends here whatever the outcome (synchronously, so a concurrent update cannot reuse it).
    this.#attempt = undefined;
    try {
      if (!(await this.d.seal.sharesUnwrapRootKey(a.shares))) {
        throw new KeywardenError('InvalidShare', 'the submitted shares do not reconstruct the unseal key; the attempt was cancelled');
      }
    } finally {
      zeroize(...a.shares);
    }
    const rootToken = await this.d.tokens.createRootToken('generated root token');
    return { started: false, nonce: a.nonce, required, progress: required, expiresAt: null, complete: true, rootToken };
  }

  cancel(): GenerateRootStatus {
    this.#drop();
    return this.status();
  }

  /** The attempt in progress; an expired one is dropped (and its shares zeroized) here. */
  #current(): Attempt | undefined {
    if (this.#attempt !== undefined && this.#attempt.expiresAt <= this.d.clock.now()) this.#drop();
    return this.#attempt;
  }

  #drop(): void {
    if (this.#attempt !== undefined) zeroize(...this.#attempt.shares);
    this.#attempt = undefined;
  }

  #threshold(): number {
    return this.d.seal.status().threshold;
  }
}
