/**
 * The root of trust. Key hierarchy:
 *   unseal key (Shamir-split across operators | dev key file)  --unwraps-->  root key (256-bit)
 *   or: a non-extractable AES-256 key in an HSM (pkcs11 seal)  --AES-GCM in the HSM-->  root key
 *   root key --barrier-->  every piece of key material at rest.
 * The root key exists only in memory while unsealed; seal() zeroizes it and notifies listeners so
 * that every cached key is dropped too. The unseal key is never stored (Shamir) and lives in memory
 * only for the instant it takes to unwrap the root key.
 */
import { split, combine } from 'shamir-secret-sharing';
import { barrierUnwrap, barrierWrap } from '../crypto/aead.js';
import { constantTimeEqual, hmacSha256, randomBytes } from '../crypto/primitives/index.js';
import { SecretBytes, zeroize } from '../crypto/secret-bytes.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { Hsm } from '../hsm/hsm.js';
import type { Clock } from '../util/clock.js';
import { decodeHsmWrappedRootKey, hsmUnwrapRootKey, hsmWrapRootKey } from './pkcs11-seal.js';
import type { SealConfig, SealStatus, SealType } from './seal.model.js';
import type { SealStore } from './seal.store.js';

const ROOT_KEY_PURPOSE = 'root-key';
const SINGLE_SHARE_BYTES = 32;
const SHAMIR_SHARE_BYTES = 33;

export class SealService {
  #rootKey: SecretBytes | undefined;
  #config: SealConfig | undefined;
  #pending: Buffer[] = [];
  readonly #sealListeners: Array<() => void> = [];
  #sealReason: string | undefined;

  /** `hsm`: the HSM of a pkcs11 seal; `hsmKeyLabel`: the label of its wrapping key (at init). */
  constructor(
    private readonly store: SealStore,
    private readonly clock: Clock,
    private readonly opts: { hsm?: Hsm; hsmKeyLabel?: string } = {},
  ) {}

  /** Loads the stored seal config; call once at start. */
  async load(): Promise<void> {
    this.#config = await this.store.getSealConfig();
  }

  get initialized(): boolean {
    return this.#config !== undefined;
  }

  get sealed(): boolean {
    return this.#rootKey === undefined;
  }

  get type(): SealType | undefined {
    return this.#config?.type;
  }

  status(): SealStatus {
    const c = this.#config;
    return {
      initialized: c !== undefined,
      sealed: this.sealed,
      sealType: c?.type ?? null,
      threshold: c?.threshold ?? 0,
      shares: c?.shares ?? 0,
      progress: this.#pending.length,
      ...(c?.type === 'pkcs11' && this.sealed && this.#sealReason !== undefined ? { sealReason: this.#sealReason } : {}),
    };
  }

  /** Why the pkcs11 auto-unseal has not succeeded (set by the auto-unseal loop; never a secret). */
  setSealReason(reason: string | undefined): void {
    this.#sealReason = reason;
  }

  /** The label of the HSM key that wraps the root key (pkcs11 seal), for health and docs. */
  get hsmKeyLabel(): string | undefined {
    const c = this.#config;
    return c?.type === 'pkcs11' ? decodeHsmWrappedRootKey(c.wrappedRootKey)?.label : undefined;
  }

  /** The root key, for the barrier. Throws Sealed when sealed. The caller MUST NOT dispose it. */
  rootKey(): SecretBytes {
    if (this.#rootKey === undefined) throw this.#config ? errors.sealed() : notInitialized();
    return this.#rootKey;
  }

  onSeal(listener: () => void): void {
    this.#sealListeners.push(listener);
  }

  /**
   * Creates the root key and splits a fresh unseal key into `shares` with threshold `threshold`.
   * Returns the shares (base64) exactly once; only the wrapped root key and per-share check digests
   * are stored. Leaves Keywarden sealed, as Vault does.
   */
  async initShamir(shares: number, threshold: number): Promise<string[]> {
    validateShareParams(shares, threshold);
    const unsealKey = randomBytes(32);
    try {
      const parts = shares === 1 ? [Buffer.from(unsealKey)] : await splitKey(unsealKey, shares, threshold);
      const salt = randomBytes(32);
      await this.#create('shamir', shares, threshold, unsealKey, parts.map((p) => hmacSha256(salt, p).toString('hex')), salt);
      const encoded = parts.map((p) => p.toString('base64'));
      zeroize(...parts);
      return encoded;
    } finally {
      zeroize(unsealKey);
    }
  }

  /** Dev seal: the caller keeps `unsealKey` in the data directory (insecure by design). */
  async initDev(unsealKey: Buffer): Promise<void> {
    await this.#create('dev', 1, 1, unsealKey, [], randomBytes(32));
  }

  /**
   * pkcs11 seal: creates the root key and wraps it with an AES-256 key inside the HSM (created,
   * non-extractable, when the token has none with the configured label). No shares are issued.
   * Leaves Keywarden unsealed (auto-unseal: the HSM is the unseal material).
   */
  async initPkcs11(): Promise<void> {
    if (this.#config) throw alreadyInitialized();
    const hsm = this.#hsm();
    const rootKey = SecretBytes.adopt(randomBytes(32));
    try {
      const config: SealConfig = {
        type: 'pkcs11',
        shares: 0,
        threshold: 0,
        wrappedRootKey: await hsmWrapRootKey(hsm, this.opts.hsmKeyLabel ?? DEFAULT_HSM_SEAL_KEY_LABEL, rootKey.expose()),
        shareDigests: [],
        shareCheckSalt: randomBytes(32),
        createdAt: this.clock.now(),
      };
      if (!(await this.store.createSealConfig(config))) throw alreadyInitialized();
      this.#config = config;
      this.#rootKey = SecretBytes.copyOf(rootKey.expose());
      this.#sealReason = undefined;
    } finally {
      rootKey.dispose();
    }
  }

  /**
   * pkcs11 seal: unwraps the root key in the HSM. Throws HsmUnavailable when the HSM cannot be
   * reached, InvalidState when its key does not unwrap the stored root key.
   */
  async unsealWithHsm(): Promise<SealStatus> {
    const c = this.#requireConfig();
    if (c.type !== 'pkcs11') throw new KeywardenError('InvalidState', `this Keywarden uses the ${c.type} seal, not the pkcs11 seal`);
    if (!this.sealed) return this.status();
    const root = await hsmUnwrapRootKey(this.#hsm(), c.wrappedRootKey);
    if (root === undefined) {
      const label = decodeHsmWrappedRootKey(c.wrappedRootKey)?.label ?? '?';
      throw new KeywardenError('InvalidState', `the HSM key "${label}" does not unwrap the root key (another token, or the key was replaced)`);
    }
    if (this.sealed) this.#rootKey = SecretBytes.adopt(root);
    else zeroize(root);
    this.#sealReason = undefined;
    return this.status();
  }

  /**
   * Seal migration (`keywarden operator migrate-seal`, server stopped): wraps the SAME root key
   * under a new seal, checks that the new seal unwraps it to the same bytes, then replaces the
   * stored config in one transaction. Needs this service unsealed with the current seal. Returns
   * the new shares (shown once) for the shamir seal. Key material stays wrapped under the root key.
   */
  async migrate(to: { type: 'pkcs11'; hsm: Hsm; keyLabel: string } | { type: 'shamir'; shares: number; threshold: number }): Promise<string[]> {
    const previous = this.#requireConfig();
    if (previous.type === to.type) throw errors.validation(`this Keywarden already uses the ${to.type} seal`);
    const root = this.rootKey().expose();
    let next: SealConfig;
    let shares: string[] = [];
    if (to.type === 'pkcs11') {
      next = { type: 'pkcs11', shares: 0, threshold: 0, wrappedRootKey: await hsmWrapRootKey(to.hsm, to.keyLabel, root), shareDigests: [], shareCheckSalt: randomBytes(32), createdAt: this.clock.now() };
      const back = await hsmUnwrapRootKey(to.hsm, next.wrappedRootKey);
      const same = back !== undefined && constantTimeEqual(back, root);
      zeroize(back);
      if (!same) throw new KeywardenError('Internal', 'the new pkcs11 seal did not unwrap the same root key; nothing was changed');
    } else {
      validateShareParams(to.shares, to.threshold);
      const unsealKey = randomBytes(32);
      const parts = to.shares === 1 ? [Buffer.from(unsealKey)] : await splitKey(unsealKey, to.shares, to.threshold);
      const wrapping = SecretBytes.copyOf(unsealKey);
      try {
        const salt = randomBytes(32);
        next = { type: 'shamir', shares: to.shares, threshold: to.threshold, wrappedRootKey: barrierWrap(wrapping, ROOT_KEY_PURPOSE, root), shareDigests: parts.map((p) => hmacSha256(salt, p).toString('hex')), shareCheckSalt: salt, createdAt: this.clock.now() };
        // Verified from the shares themselves (a threshold of them), not from the key they came from.
        const rebuilt = to.shares === 1 ? Buffer.from(parts[0] as Buffer) : await combineShares(parts.slice(0, to.threshold));
        const check = SecretBytes.adopt(rebuilt);
        const back = barrierUnwrap(check, ROOT_KEY_PURPOSE, next.wrappedRootKey);
        check.dispose();
        const same = back !== undefined && constantTimeEqual(back, root);
        zeroize(back);
        if (!same) throw new KeywardenError('Internal', 'the new shamir seal did not unwrap the same root key; nothing was changed');
        shares = parts.map((p) => p.toString('base64'));
      } finally {
        zeroize(unsealKey, ...parts);
        wrapping.dispose();
      }
    }
    if (!(await this.store.replaceSealConfig(previous, next))) {
      throw new KeywardenError('InvalidState', 'the seal configuration changed while migrating (is a server running on this data?); nothing was changed');
    }
    this.#config = next;
    return shares;
  }

  #hsm(): Hsm {
    if (!this.opts.hsm) throw new KeywardenError('InvalidState', 'the pkcs11 seal needs an HSM: configure the hsm section');
    return this.opts.hsm;
  }

  async #create(type: SealType, shares: number, threshold: number, unsealKey: Buffer, digests: string[], salt: Buffer) {
    if (this.#config) throw alreadyInitialized();
    const rootKey = SecretBytes.adopt(randomBytes(32));
    const wrapping = SecretBytes.copyOf(unsealKey);
    try {
      const config: SealConfig = {
        type,
        shares,
        threshold,
        wrappedRootKey: barrierWrap(wrapping, ROOT_KEY_PURPOSE, rootKey.expose()),
        shareDigests: digests,
        shareCheckSalt: salt,
        createdAt: this.clock.now(),
      };
      if (!(await this.store.createSealConfig(config))) throw alreadyInitialized();
      this.#config = config;
    } finally {
      rootKey.dispose();
      wrapping.dispose();
    }
  }

  /**
   * Drill seam (src/incident/drill.ts): unseals this service, opened on a scratch COPY of the data
   * `live` guards, with a copy of live's root key made in memory. The root key is never serialised
   * or written anywhere; both stored seal configs must wrap the same root key (InvalidState
   * otherwise), and seal() zeroizes the copy.
   */
  unsealFrom(live: SealService): void {
    const mine = this.#requireConfig();
    const root = live.rootKey();
    if (live.#config === undefined || !mine.wrappedRootKey.equals(live.#config.wrappedRootKey)) {
      throw new KeywardenError('InvalidState', 'this store is not a copy of the live data (another root key)');
    }
    this.#rootKey?.dispose();
    this.#rootKey = SecretBytes.copyOf(root.expose());
  }

  /** Unseals with the dev unseal key (dev seal only). */
  unsealWithKey(unsealKey: Buffer): void {
    const c = this.#requireConfig();
    if (c.type !== 'dev') throw new KeywardenError('InvalidState', `this Keywarden uses the ${c.type} seal, not the dev seal`);
    if (!this.#tryUnwrap(unsealKey)) throw new KeywardenError('InvalidShare', 'the dev unseal key does not match this data directory');
  }

  /**
   * Submits one unseal share (base64). Returns the status; progress is kept across calls until
   * the threshold is reached. A share that was not issued by this Keywarden's init is rejected at
   * once with InvalidShare and does not count.
   */
  async submitShare(shareB64: string): Promise<SealStatus> {
    const c = this.#requireConfig();
    if (c.type === 'pkcs11') throw pkcs11NoShares();
    if (!this.sealed) return this.status();
    if (c.type === 'dev') {
      // Dev seal: the "share" is the dev unseal key (printed by `keywarden dev`), as in Vault's dev mode.
      const key = decodeShare(shareB64, SINGLE_SHARE_BYTES);
      try {
        this.unsealWithKey(key);
      } finally {
        zeroize(key);
      }
      return this.status();
    }
    const share = this.checkShare(shareB64, this.#pending);
    this.#pending.push(share);
    if (this.#pending.length < c.threshold) return this.status();

    const pending = this.#pending;
    this.#pending = [];
    let unsealKey: Buffer | undefined;
    try {
      unsealKey = await this.#reconstruct(pending);
      if (!this.#tryUnwrap(unsealKey)) {
        throw new KeywardenError('InvalidShare', 'the submitted shares do not reconstruct the unseal key; progress was reset');
      }
    } finally {
      zeroize(unsealKey, ...pending);
    }
    return this.status();
  }

  /**
   * Decodes a shamir share and checks it against the per-share digests stored at init and against
   * the shares already collected in `collected` (compared in constant time). Throws InvalidShare
   * (with `{progress, threshold}`) for a malformed, foreign or repeated share. Used by unseal and
   * by root-token generation (src/auth/root-generation.service.ts). The caller owns the returned
   * buffer and MUST zeroize it.
   */
  checkShare(shareB64: string, collected: readonly Buffer[]): Buffer {
    const c = this.#requireConfig();
    if (c.type !== 'shamir') throw new KeywardenError('InvalidState', `this Keywarden uses the ${c.type} seal, which has no unseal shares`);
    const share = decodeShare(shareB64, c.shares === 1 ? SINGLE_SHARE_BYTES : SHAMIR_SHARE_BYTES);
    const details = { progress: collected.length, threshold: c.threshold };
    const digest = hmacSha256(c.shareCheckSalt, share);
    if (!c.shareDigests.some((d) => constantTimeEqual(Buffer.from(d, 'hex'), digest))) {
      zeroize(share);
      throw new KeywardenError('InvalidShare', 'this unseal share was not issued for this Keywarden (check for a typo or a share of another cluster)', details);
    }
    if (collected.some((p) => constantTimeEqual(p, share))) {
      zeroize(share);
      throw new KeywardenError('InvalidShare', 'this unseal share was already submitted; submit a different one', details);
    }
    return share;
  }

  /**
   * True when `shares` (checked with checkShare, at least the threshold) reconstruct the unseal
   * key that unwraps the stored root key. Changes no state: the reconstructed keys are zeroized
   * at once. The caller still owns (and zeroizes) `shares`.
   */
  async sharesUnwrapRootKey(shares: readonly Buffer[]): Promise<boolean> {
    const c = this.#requireConfig();
    if (shares.length < c.threshold) return false;
    let unsealKey: Buffer | undefined;
    let wrapping: SecretBytes | undefined;
    try {
      unsealKey = await this.#reconstruct(shares);
      wrapping = SecretBytes.copyOf(unsealKey);
      const root = barrierUnwrap(wrapping, ROOT_KEY_PURPOSE, c.wrappedRootKey);
      zeroize(root);
      return root !== undefined;
    } catch {
      return false;
    } finally {
      zeroize(unsealKey);
      wrapping?.dispose();
    }
  }

  #reconstruct(shares: readonly Buffer[]): Promise<Buffer> {
    return this.#requireConfig().shares === 1 ? Promise.resolve(Buffer.from(shares[0] as Buffer)) : combineShares(shares);
  }

  resetProgress(): SealStatus {
    zeroize(...this.#pending);
    this.#pending = [];
    return this.status();
  }

  /** Zeroizes the root key and tells every listener (key caches) to drop its secrets. */
  seal(): void {
    this.resetProgress();
    if (this.#rootKey) {
      this.#rootKey.dispose();
      this.#rootKey = undefined;
    }
    for (const l of this.#sealListeners) l();
  }

  #tryUnwrap(unsealKey: Buffer): boolean {
    const c = this.#requireConfig();
    const wrapping = SecretBytes.copyOf(unsealKey);
    try {
      const root = barrierUnwrap(wrapping, ROOT_KEY_PURPOSE, c.wrappedRootKey);
      if (root === undefined) return false;
      this.#rootKey?.dispose();
      this.#rootKey = SecretBytes.adopt(root);
      return true;
    } finally {
      wrapping.dispose();
    }
  }

  #requireConfig(): SealConfig {
    if (!this.#config) throw notInitialized();
    return this.#config;
  }
}

// shamir-secret-sharing requires plain Uint8Arrays (it rejects Buffers); the copies are zeroized.
async function splitKey(key: Buffer, shares: number, threshold: number): Promise<Buffer[]> {
  const plain = new Uint8Array(key);
  try {
    return (await split(plain, shares, threshold)).map((p) => {
      const b = Buffer.from(p);
      p.fill(0);
      return b;
    });
  } finally {
    plain.fill(0);
  }
}

async function combineShares(shares: readonly Buffer[]): Promise<Buffer> {
  const plain = shares.map((s) => new Uint8Array(s));
  try {
    const secret = await combine(plain);
    const b = Buffer.from(secret);
    secret.fill(0);
    return b;
  } finally {
    for (const p of plain) p.fill(0);
  }
}

function validateShareParams(shares: number, threshold: number): void {
  if (!Number.isInteger(shares) || !Number.isInteger(threshold)) throw errors.validation('shares and threshold must be integers');
  if (shares < 1 || shares > 255) throw errors.validation('shares must be between 1 and 255');
  if (threshold < 1 || threshold > shares) throw errors.validation('threshold must be between 1 and shares');
  if (threshold === 1 && shares !== 1) throw errors.validation('threshold 1 is only allowed with a single share (every share would be the whole key)');
}

function decodeShare(b64: string, bytes: number): Buffer {
  const s = b64.trim();
  const buf = /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0 ? Buffer.from(s, 'base64') : undefined;
  if (buf === undefined || buf.length !== bytes) {
    throw new KeywardenError('InvalidShare', `an unseal share is ${bytes} bytes in base64; this one is malformed`);
  }
  return buf;
}

export const DEFAULT_HSM_SEAL_KEY_LABEL = 'keywarden-seal';

const pkcs11NoShares = () =>
  new KeywardenError('InvalidState', 'this Keywarden uses the pkcs11 seal: it unseals itself with the HSM and has no unseal shares (after `operator seal`, restart the server to unseal)');
const notInitialized = () => new KeywardenError('NotInitialized', 'Keywarden is not initialized: run `keywarden operator init`');
const alreadyInitialized = () => new KeywardenError('AlreadyInitialized', 'Keywarden is already initialized');
