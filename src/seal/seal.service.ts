/**
 * The root of trust. Key hierarchy:
 *   unseal key (Shamir-split across operators | dev key file)  --unwraps-->  root key (256-bit)
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
import type { Clock } from '../util/clock.js';
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

  constructor(
    private readonly store: SealStore,
    private readonly clock: Clock,
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
    };
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

  /** Unseals with the dev unseal key (dev seal only). */
  unsealWithKey(unsealKey: Buffer): void {
    const c = this.#requireConfig();
    if (c.type !== 'dev') throw new KeywardenError('InvalidState', 'this Keywarden uses the shamir seal: unseal it with shares');
    if (!this.#tryUnwrap(unsealKey)) throw new KeywardenError('InvalidShare', 'the dev unseal key does not match this data directory');
  }

  /**
   * Submits one unseal share (base64). Returns the status; progress is kept across calls until
   * the threshold is reached. A share that was not issued by this Keywarden's init is rejected at
   * once with InvalidShare and does not count.
   */
  async submitShare(shareB64: string): Promise<SealStatus> {
    const c = this.#requireConfig();
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

const notInitialized = () => new KeywardenError('NotInitialized', 'Keywarden is not initialized: run `keywarden operator init`');
const alreadyInitialized = () => new KeywardenError('AlreadyInitialized', 'Keywarden is already initialized');
