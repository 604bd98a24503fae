/**
 * KMS keys: creation, lookup, the governed lifecycle (rotation, states, versions, deletion,
 * revocation, import), usage accounting and access to (cached) key material.
 *
 * Contracts:
 * - Key material comes from the OS CSPRNG (or an authenticated import), is wrapped by the barrier
 *   under the root key before it touches the store, and is cached unwrapped only while unsealed.
 * - Every state change goes through key.lifecycle.ts and is one atomic store write; caches are
 *   cleared after every write through this service and on seal.
 * - Destroyed material is overwritten in the store and dropped from every cache of this process.
 * - `protection: hsm` keys: each version's material is generated inside the HSM and never leaves
 *   it; the store keeps only the object's label. The object is created before the store row (and
 *   destroyed again if that write fails); destruction writes the store first, then destroys it.
 */
import { barrierUnwrap, barrierWrap } from '../crypto/aead.js';
import {
  checkKeyUsage,
  defaultUsage,
  generateImportWrappingKeyPair,
  generateMaterial,
  isAsymmetric,
  publicKeyFromMaterial,
  unwrapImportedMaterial,
  validateImportedMaterial,
  type WrappingAlgorithm,
} from '../crypto/keyspecs.js';
import { randomUUID } from '../crypto/primitives/index.js';
import { SecretBytes, zeroize } from '../crypto/secret-bytes.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { SealService } from '../seal/seal.service.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import { transition, type KeyEvent } from './key.lifecycle.js';
import {
  KEY_ID_RE,
  aliasProblem,
  newKeyRecord,
  newKeyVersion,
  type KeyChange,
  type KeyOrigin,
  type KeyRecord,
  type KeySpec,
  type KeyUsage,
  type KeyVersionRecord,
  type RevocationReason,
} from './key.model.js';
import type { KeyStore } from './key.store.js';
import { HsmVersionCrypto, SoftwareVersionCrypto, hsmKindOf, hsmLabelFor, type VersionCrypto } from './version-crypto.js';
import type { Hsm } from '../hsm/hsm.js';
import { strictness, type Classification, type Environment, type Protection } from '../policy/policy.model.js';

export interface CreateKeyInput {
  description?: string;
  aliases?: string[];
  tags?: Record<string, string>;
  spec?: KeySpec;
  usage?: KeyUsage;
  origin?: KeyOrigin;
  exportable?: boolean;
  rotationPeriodDays?: number;
  usageLimit?: number;
  classification?: Classification;
  environment?: Environment;
  protection?: Protection;
}

export interface UpdateKeyInput {
  description?: string;
  rotationPeriodDays?: number | null;
  minDecryptionVersion?: number;
  usageLimit?: number | null;
  /** Only to a stricter classification (CLASSIFICATIONS order). */
  classification?: Classification;
  /** Only when the key has none yet (set once). */
  environment?: Environment;
}

/**
 * `protection: hsm` needs an HSM on this server, a spec the HSM keys offer, and material generated
 * inside the HSM: no imported (EXTERNAL) and no exportable HSM keys.
 */
export function checkProtection(input: Pick<CreateKeyInput, 'protection' | 'spec' | 'origin' | 'exportable'>, hsm: Hsm | undefined): void {
  if (input.protection !== 'hsm') return;
  if (hsm === undefined) throw errors.validation('protection hsm is not available: no HSM is configured on this server (keys are protected in software)');
  hsmKindOf(input.spec ?? 'SYMMETRIC_DEFAULT');
  if ((input.origin ?? 'KEYWARDEN') !== 'KEYWARDEN') throw errors.validation('keys with protection hsm are generated inside the HSM: imported material (origin EXTERNAL) is not supported');
  if (input.exportable === true) throw errors.validation('keys with protection hsm are non-extractable: they cannot be exportable');
}

/**
 * A key's policy scope may only tighten: the classification only to a stricter one, the
 * environment only from none to one (then never changed). ValidationError otherwise.
 */
export function checkScopeChange(key: KeyRecord, input: Pick<UpdateKeyInput, 'classification' | 'environment'>): void {
  const c = input.classification;
  if (c !== undefined && key.classification !== null && strictness(c) < strictness(key.classification)) {
    throw errors.validation(`the classification of key ${key.id} may only become stricter: it is ${key.classification}, and ${c} is less strict`);
  }
  const e = input.environment;
  if (e !== undefined && key.environment !== null && e !== key.environment) {
    throw errors.validation(`the environment of key ${key.id} is ${key.environment}: it is set once and cannot be changed`);
  }
}

/** A usable key version in the cache, with its usage counters. The cache owns `crypto` (and disposes it). */
export interface VersionHandle {
  keyId: string;
  version: number;
  /** The version's cryptography: software (unwrapped material) or HSM (a reference to its object). */
  crypto: VersionCrypto;
  publicKey: Buffer | null;
  /** Persisted + not yet flushed encryptions/signatures with this version. */
  uses: number;
  pending: number;
  lastUsedAt: number;
  /** When the version's stored state was last confirmed (re-checked after KEY_CACHE_TTL_MS or another node's change). */
  checkedAt: number;
}

export const DAY_MS = 86_400_000;
export const MAX_DESCRIPTION = 8192;
export const MAX_TAGS = 50;
/** How long a resolved key record (by id or alias) is reused without asking the store. */
export const KEY_CACHE_TTL_MS = 1000;
export const ROTATION_PERIOD_DAYS = { min: 1, max: 3650 } as const;
export const DELETION_WINDOW_DAYS = { min: 7, max: 30, default: 30 } as const;
/** Random-nonce AES-GCM: at most 2^32 encryptions per key (NIST SP 800-38D §8.3). */
export const DEFAULT_AES_GCM_USAGE_LIMIT = 2 ** 32;
export const IMPORT_TOKEN_TTL_MS = DAY_MS;

export function materialPurpose(keyId: string, version: number): string {
  return `key-material:${keyId}:${version}`;
}

const importTokenPurpose = (id: string) => `import-token:${id}`;

/** The usage limit in force for a key: its own, or the default of its spec (none for non-AES). */
export function effectiveUsageLimit(key: KeyRecord): number | null {
  return key.usageLimit ?? (key.spec === 'SYMMETRIC_DEFAULT' ? DEFAULT_AES_GCM_USAGE_LIMIT : null);
}

function checkWholeDays(name: string, days: number, range: { min: number; max: number }): number {
  if (!Number.isInteger(days) || days < range.min || days > range.max) {
    throw errors.validation(`${name} must be a whole number of days between ${range.min} and ${range.max}`);
  }
  return days;
}

export class KeyService {
  /** Unwrapped versions by "keyId:version". Contract: emptied and zeroized on seal. */
  readonly #handles = new Map<string, VersionHandle>();
  /** Key records by id and by alias. Contract: every write through this service clears it. */
  readonly #records: TtlCache<string, KeyRecord>;
  /** Pending uses of versions dropped from the cache, written by the next flushUsage. */
  readonly #unflushed: Array<{ keyId: string; version: number; count: number; lastUsedAt: number }> = [];
  /** Rotations in flight per key, so that concurrent triggers rotate once. */
  readonly #rotating = new Map<string, Promise<KeyRecord>>();
  /** Lookups answered from the caches and from the store (metrics: key cache hit ratio). */
  readonly #cacheStats = { material: { hits: 0, misses: 0 }, records: { hits: 0, misses: 0 } };
  /** Told of every version stored by create, rotate and import (canaries: src/keys/canary.ts). */
  readonly #versionListeners: Array<(key: KeyRecord, version: KeyVersionRecord) => Promise<unknown>> = [];

  constructor(
    private readonly store: KeyStore,
    private readonly seal: SealService,
    private readonly clock: Clock,
    /** The HSM holding the material of `protection: hsm` keys; absent = such keys cannot be created or used. */
    private readonly hsm?: Hsm,
  ) {
    this.#records = new TtlCache(clock, KEY_CACHE_TTL_MS);
    seal.onSeal(() => this.dropCache());
  }

  // ---- creation and lookup ------------------------------------------------------------------

  /**
   * Creates a key. `createdBy` (the creating principal's id) is stored with the key in the same
   * transaction: separation of duties depends on it, so it must never be lost to a crash.
   */
  async create(input: CreateKeyInput, createdBy: string | null = null): Promise<KeyRecord> {
    const spec = input.spec ?? 'SYMMETRIC_DEFAULT';
    const usage = input.usage ?? defaultUsage(spec);
    checkKeyUsage(spec, usage);
    const aliases = [...new Set(input.aliases ?? [])];
    for (const a of aliases) {
      const problem = aliasProblem(a);
      if (problem) throw errors.validation(problem);
    }
    const tags = input.tags ?? {};
    if (Object.keys(tags).length > MAX_TAGS) throw errors.validation(`a key can have at most ${MAX_TAGS} tags`);
    if ((input.description ?? '').length > MAX_DESCRIPTION) throw errors.validation(`description is longer than ${MAX_DESCRIPTION} characters`);
    const origin = input.origin ?? 'KEYWARDEN';
    this.checkProtection(input);
    if (input.usageLimit !== undefined) this.#checkUsageLimit(input.usageLimit);
    if (origin === 'EXTERNAL' && input.rotationPeriodDays !== undefined) {
      throw errors.validation('keys with imported material (origin EXTERNAL) rotate by importing new material, not automatically');
    }

    const rootKey = this.seal.rootKey();
    const now = this.clock.now();
    const id = randomUUID();
    const periodMs = input.rotationPeriodDays === undefined ? null : checkWholeDays('rotationPeriodDays', input.rotationPeriodDays, ROTATION_PERIOD_DAYS) * DAY_MS;
    const key = newKeyRecord({
      id,
      spec,
      usage,
      origin,
      createdAt: now,
      createdBy,
      description: input.description ?? '',
      tags,
      aliases,
      exportable: input.exportable ?? false,
      state: origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled',
      primaryVersion: origin === 'EXTERNAL' ? 0 : 1,
      rotationPeriodMs: periodMs,
      nextRotationAt: periodMs === null ? null : now + periodMs,
      usageLimit: input.usageLimit ?? null,
      classification: input.classification ?? null,
      environment: input.environment ?? null,
      protection: input.protection ?? 'software',
    });
    if (origin === 'EXTERNAL') {
      await this.store.createKey(key, undefined);
    } else {
      await this.#withNewVersion(rootKey, key, 1, now, (first) => this.store.createKey(key, first));
    }
    this.#records.clear();
    return key;
  }

  /** ValidationError when `protection: hsm` cannot be had here (see checkProtection). */
  checkProtection(input: Pick<CreateKeyInput, 'protection' | 'spec' | 'origin' | 'exportable'>): void {
    checkProtection(input, this.hsm);
  }

  /** Resolves a key id or `alias/...` name; NotFound when neither exists. */
  async resolve(idOrAlias: string): Promise<KeyRecord> {
    const cached = this.#records.get(idOrAlias);
    if (cached !== undefined) {
      this.#cacheStats.records.hits++;
      return cached;
    }
    this.#cacheStats.records.misses++;
    let id: string | undefined = idOrAlias;
    if (idOrAlias.startsWith('alias/')) {
      id = await this.store.resolveAlias(idOrAlias);
    } else if (!KEY_ID_RE.test(idOrAlias)) {
      throw errors.validation(`"${idOrAlias.slice(0, 80)}" is neither a key id (UUID) nor an alias (alias/...)`);
    }
    const key = id === undefined ? undefined : await this.store.getKey(id);
    if (key === undefined) throw new KeywardenError('NotFound', `key "${idOrAlias.slice(0, 300)}" was not found`);
    this.#records.set(idOrAlias, key);
    return key;
  }

  /** Looks a key up by id; undefined when absent (decrypt maps that to InvalidCiphertext). */
  async findById(id: string): Promise<KeyRecord | undefined> {
    const cached = this.#records.get(id);
    if (cached !== undefined) {
      this.#cacheStats.records.hits++;
      return cached;
    }
    this.#cacheStats.records.misses++;
    const key = await this.store.getKey(id);
    if (key !== undefined) this.#records.set(id, key);
    return key;
  }

  /** Cache hits and misses since start: `material` (unwrapped versions), `records` (key lookups). */
  cacheStats(): { material: { hits: number; misses: number }; records: { hits: number; misses: number } } {
    const { material, records } = this.#cacheStats;
    return { material: { ...material }, records: { ...records } };
  }

  list(limit: number, after?: { createdAt: number; id: string }, scope: { classification?: Classification; environment?: Environment } = {}): Promise<KeyRecord[]> {
    return this.store.listKeys({ limit, ...(after ? { after } : {}), ...scope });
  }

  versions(key: KeyRecord): Promise<KeyVersionRecord[]> {
    return this.store.listVersions(key.id);
  }

  // ---- material -----------------------------------------------------------------------------

  /**
   * One enabled key version, ready for crypto (software: its unwrapped material; HSM: a reference
   * to its object); undefined when the version does not exist,
   * InvalidState when it was destroyed, Disabled when disabled. The caller MUST NOT dispose it (the
   * cache owns it; disabling or destroying a version drops it from the cache).
   */
  async handle(keyId: string, version: number): Promise<VersionHandle | undefined> {
    const cacheKey = `${keyId}:${version}`;
    const cached = this.#handles.get(cacheKey);
    if (cached !== undefined && (cached.checkedAt + KEY_CACHE_TTL_MS > this.clock.now() || (await this.#stillEnabled(cached)))) {
      this.#cacheStats.material.hits++;
      return cached;
    }
    this.#cacheStats.material.misses++;
    const rootKey = this.seal.rootKey();
    const record = await this.store.getVersion(keyId, version);
    if (record === undefined) return undefined;
    if (record.state === 'Destroyed') throw new KeywardenError('InvalidState', `version ${version} of key ${keyId} was destroyed: its ciphertexts can no longer be decrypted`);
    if (record.state === 'Disabled') throw new KeywardenError('Disabled', `version ${version} of key ${keyId} is disabled`);
    if (record.hsmLabel !== null) {
      // An HSM version: nothing to unwrap, only its object's label (usable only while unsealed, too).
      if (this.seal.sealed) throw errors.sealed();
      return this.#cache(cacheKey, record, this.#hsmCrypto(record.hsmLabel));
    }
    const raw = barrierUnwrap(rootKey, materialPurpose(keyId, version), record.wrappedMaterial);
    if (raw === undefined) {
      // The store holds material that does not authenticate under this root key: corruption or
      // tampering. Fail closed.
      throw new KeywardenError('Internal', 'stored key material failed its integrity check');
    }
    if (this.seal.sealed) {
      raw.fill(0);
      throw errors.sealed();
    }
    return this.#cache(cacheKey, record, new SoftwareVersionCrypto(SecretBytes.adopt(raw)));
  }

  /** Caches a handle for `record` (the first one cached wins; a later one is disposed). */
  #cache(cacheKey: string, record: KeyVersionRecord, crypto: VersionCrypto): VersionHandle {
    const existing = this.#handles.get(cacheKey);
    if (existing !== undefined) {
      crypto.dispose();
      return existing;
    }
    const handle: VersionHandle = {
      keyId: record.keyId,
      version: record.version,
      crypto,
      publicKey: record.publicKey,
      uses: record.usageCount,
      pending: 0,
      lastUsedAt: record.lastUsedAt ?? 0,
      checkedAt: this.clock.now(),
    };
    this.#handles.set(cacheKey, handle);
    return handle;
  }

  #hsmCrypto(label: string): HsmVersionCrypto {
    if (this.hsm === undefined) throw new KeywardenError('HsmUnavailable', 'this key is protected by an HSM, but no HSM is configured on this server');
    return new HsmVersionCrypto(this.hsm, label);
  }

  /** Convenience for callers that only need the secret (software versions; undefined for HSM versions). */
  async material(keyId: string, version: number): Promise<SecretBytes | undefined> {
    return (await this.handle(keyId, version))?.crypto.material;
  }

  /** Counts one use of a version (flushed to the store in batches by flushUsage). */
  recordUse(h: VersionHandle, n = 1): void {
    h.uses += n;
    h.pending += n;
    h.lastUsedAt = this.clock.now();
  }

  /** True when the primary version has reached the key's usage limit and must rotate first. */
  limitReached(key: KeyRecord, h: VersionHandle): boolean {
    const limit = effectiveUsageLimit(key);
    return limit !== null && h.uses >= limit;
  }

  /** Writes pending usage counters to the store (the usage-flush job and shutdown call this). */
  async flushUsage(): Promise<number> {
    const dropped = this.#unflushed.splice(0);
    const deltas = [...dropped];
    for (const h of this.#handles.values()) {
      if (h.pending > 0) deltas.push({ keyId: h.keyId, version: h.version, count: h.pending, lastUsedAt: h.lastUsedAt });
    }
    if (deltas.length === 0) return 0;
    for (const h of this.#handles.values()) h.pending = 0;
    try {
      await this.store.addUsage(deltas);
    } catch (e) {
      this.#unflushed.push(...dropped);
      for (const d of deltas.slice(dropped.length)) {
        const h = this.#handles.get(`${d.keyId}:${d.version}`);
        if (h) h.pending += d.count;
      }
      throw e;
    }
    this.#records.clear();
    return deltas.length;
  }

  /**
   * `listener` runs after each new version is stored (create, rotate, import), awaited before the
   * call answers. Its failure never fails the change (the version exists): it handles its own errors.
   */
  onVersionCreated(listener: (key: KeyRecord, version: KeyVersionRecord) => Promise<unknown>): void {
    this.#versionListeners.push(listener);
  }

  async #versionCreated(key: KeyRecord, version: KeyVersionRecord): Promise<void> {
    for (const l of this.#versionListeners) await l(key, version).catch(() => undefined);
  }

  /**
   * Cross-node invalidation (src/cluster/invalidation.ts): another node changed key `keyId` (absent:
   * any key). Records are re-read; cached versions are re-checked against the store on their next
   * use (kept, with their pending usage, while still Enabled; dropped when disabled or destroyed).
   */
  invalidate(keyId?: string): void {
    this.#records.clear();
    for (const h of this.#handles.values()) if (keyId === undefined || h.keyId === keyId) h.checkedAt = -Infinity;
  }

  /**
   * The material cache's backstop against a missed change: a cached version is confirmed Enabled in
   * the store at most every KEY_CACHE_TTL_MS, and its usage count refreshed (other nodes' uses count
   * toward the limit). false (and the handle dropped) when it no longer is.
   */
  async #stillEnabled(h: VersionHandle): Promise<boolean> {
    const record = await this.store.getVersion(h.keyId, h.version);
    if (record !== undefined && record.state === 'Enabled' && this.#handles.get(`${h.keyId}:${h.version}`) === h) {
      h.uses = Math.max(h.uses, record.usageCount + h.pending);
      h.checkedAt = this.clock.now();
      return true;
    }
    this.#dropVersions(h.keyId, [h.version]);
    return false;
  }

  dropCache(): void {
    this.#records.clear();
    for (const h of this.#handles.values()) h.crypto.dispose();
    this.#handles.clear();
  }

  #dropVersions(keyId: string, versions?: number[]): void {
    for (const [k, h] of this.#handles) {
      if (h.keyId === keyId && (versions === undefined || versions.includes(h.version))) {
        // Uses made before the drop still count (the next flush writes them).
        if (h.pending > 0) this.#unflushed.push({ keyId: h.keyId, version: h.version, count: h.pending, lastUsedAt: h.lastUsedAt });
        h.crypto.dispose();
        this.#handles.delete(k);
      }
    }
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /**
   * Creates version N+1 and makes it primary in one atomic write (a crash leaves either the old
   * or the new primary). Concurrent calls for the same key share one rotation.
   */
  rotate(key: KeyRecord): Promise<KeyRecord> {
    const inflight = this.#rotating.get(key.id);
    if (inflight) return inflight;
    const p = this.#rotate(key).finally(() => this.#rotating.delete(key.id));
    this.#rotating.set(key.id, p);
    return p;
  }

  async #rotate(stale: KeyRecord): Promise<KeyRecord> {
    const key = await this.#fresh(stale.id);
    if (key.origin === 'EXTERNAL') {
      throw new KeywardenError('InvalidState', `key ${key.id} has imported material: rotate it by importing new material`);
    }
    if (key.state !== 'Enabled' && key.state !== 'Compromised') {
      throw new KeywardenError('InvalidState', `key ${key.id} is ${key.state}: only an Enabled key can be rotated`);
    }
    const rootKey = this.seal.rootKey();
    const now = this.clock.now();
    const versions = await this.store.listVersions(key.id);
    const next = versions.reduce((m, v) => Math.max(m, v.version), 0) + 1;
    const updated: KeyRecord = {
      ...key,
      primaryVersion: next,
      updatedAt: now,
      nextRotationAt: key.rotationPeriodMs === null ? null : now + key.rotationPeriodMs,
    };
    await this.#withNewVersion(rootKey, key, next, now, (newVersion) => this.#apply({ key: updated, newVersion }, key));
    return updated;
  }

  async update(key: KeyRecord, input: UpdateKeyInput): Promise<KeyRecord> {
    const now = this.clock.now();
    checkScopeChange(key, input);
    const next: KeyRecord = { ...key, updatedAt: now };
    if (input.classification !== undefined) next.classification = input.classification;
    if (input.environment !== undefined) next.environment = input.environment;
    if (input.description !== undefined) {
      if (input.description.length > MAX_DESCRIPTION) throw errors.validation(`description is longer than ${MAX_DESCRIPTION} characters`);
      next.description = input.description;
    }
    if (input.rotationPeriodDays !== undefined) {
      if (input.rotationPeriodDays !== null && key.origin === 'EXTERNAL') {
        throw errors.validation('keys with imported material (origin EXTERNAL) cannot rotate automatically');
      }
      const ms = input.rotationPeriodDays === null ? null : checkWholeDays('rotationPeriodDays', input.rotationPeriodDays, ROTATION_PERIOD_DAYS) * DAY_MS;
      next.rotationPeriodMs = ms;
      next.nextRotationAt = ms === null ? null : now + ms;
    }
    if (input.minDecryptionVersion !== undefined) {
      const v = input.minDecryptionVersion;
      if (!Number.isInteger(v) || v < 1 || v > key.primaryVersion) {
        throw errors.validation(`minDecryptionVersion must be between 1 and the primary version (${key.primaryVersion})`);
      }
      next.minDecryptionVersion = v;
    }
    if (input.usageLimit !== undefined) {
      if (input.usageLimit !== null) this.#checkUsageLimit(input.usageLimit);
      next.usageLimit = input.usageLimit;
    }
    this.#requireNotTerminal(key);
    await this.#apply({ key: next }, key);
    return next;
  }

  /** Applies a lifecycle event; `patch` adds the fields that event sets. */
  async #event(key: KeyRecord, event: KeyEvent, patch: Partial<KeyRecord> = {}): Promise<KeyRecord> {
    const state = transition(key.id, key.state, event);
    const next: KeyRecord = { ...key, ...patch, state, updatedAt: this.clock.now() };
    await this.#apply({ key: next }, key);
    return next;
  }

  enable(key: KeyRecord): Promise<KeyRecord> {
    return this.#event(key, 'enable');
  }

  disable(key: KeyRecord): Promise<KeyRecord> {
    return this.#event(key, 'disable');
  }

  scheduleDeletion(key: KeyRecord, days: number = DELETION_WINDOW_DAYS.default): Promise<KeyRecord> {
    checkWholeDays('days', days, DELETION_WINDOW_DAYS);
    return this.#event(key, 'schedule-deletion', { deletionAt: this.clock.now() + days * DAY_MS, nextRotationAt: null });
  }

  async cancelDeletion(key: KeyRecord): Promise<KeyRecord> {
    const now = this.clock.now();
    return this.#event(key, 'cancel-deletion', {
      deletionAt: null,
      nextRotationAt: key.rotationPeriodMs === null ? null : now + key.rotationPeriodMs,
    });
  }

  /**
   * Revokes a key. `compromised`: encrypt is refused from now on, decrypt only into re-encrypt
   * under another key, and the key is rotated so that its compromised versions are no longer
   * primary. `superseded`: the key is disabled, with the reason recorded.
   */
  async revoke(key: KeyRecord, reason: RevocationReason, compromisedAt?: number): Promise<KeyRecord> {
    const now = this.clock.now();
    if (reason === 'superseded') return this.#event(key, 'revoke-superseded', { revocationReason: reason });
    if (compromisedAt !== undefined && compromisedAt > now) throw errors.validation('compromisedAt must not be in the future');
    const revoked = await this.#event(key, 'revoke-compromised', { revocationReason: reason, compromisedAt: compromisedAt ?? now });
    return key.origin === 'EXTERNAL' || key.primaryVersion === 0 ? revoked : this.rotate(revoked);
  }

  /** Destroys all material of a key whose deletion window has ended (the deletion-due job). */
  async destroy(key: KeyRecord): Promise<KeyRecord> {
    const now = this.clock.now();
    if (key.deletionAt === null || key.deletionAt > now) {
      throw new KeywardenError('InvalidState', `key ${key.id} cannot be destroyed before the end of its deletion window`);
    }
    const state = transition(key.id, key.state, 'destroy');
    const versions = (await this.store.listVersions(key.id)).filter((v) => v.state !== 'Destroyed').map((v) => destroyed(v, now));
    const next: KeyRecord = { ...key, state, destroyedAt: now, updatedAt: now, nextRotationAt: null, materialExpiresAt: null };
    await this.#apply({ key: next, versions }, key);
    this.#dropVersions(key.id);
    // The store says Destroyed first (no use from now on), then the HSM objects go; if the HSM
    // fails here, the deletion job destroys them on its next run (destroyDue, below).
    await this.#destroyHsmObjects(versions);
    return next;
  }

  async setVersionState(key: KeyRecord, version: number, action: 'enable' | 'disable' | 'destroy'): Promise<KeyVersionRecord> {
    this.#requireNotTerminal(key);
    const v = await this.store.getVersion(key.id, version);
    if (v === undefined) throw new KeywardenError('NotFound', `version ${version} of key ${key.id} was not found`);
    if (version === key.primaryVersion && action !== 'enable') {
      throw new KeywardenError('InvalidState', `version ${version} is the primary version of key ${key.id}: rotate first, then ${action} it`);
    }
    if (v.state === 'Destroyed') {
      throw new KeywardenError('InvalidState', `version ${version} of key ${key.id} is Destroyed: it cannot be ${action}d`);
    }
    const now = this.clock.now();
    const next: KeyVersionRecord =
      action === 'destroy' ? destroyed(v, now) : { ...v, state: action === 'enable' ? 'Enabled' : 'Disabled' };
    await this.#apply({ key: { ...key, updatedAt: now }, versions: [next] }, key);
    if (action !== 'enable') this.#dropVersions(key.id, [version]);
    if (action === 'destroy') await this.#destroyHsmObjects([next]);
    return next;
  }

  async tag(key: KeyRecord, tags: Record<string, string>): Promise<KeyRecord> {
    const merged = { ...key.tags, ...tags };
    if (Object.keys(merged).length > MAX_TAGS) throw errors.validation(`a key can have at most ${MAX_TAGS} tags`);
    this.#requireNotTerminal(key);
    const next = { ...key, tags: merged, updatedAt: this.clock.now() };
    await this.#apply({ key: next }, key);
    return next;
  }

  async untag(key: KeyRecord, tagKeys: string[]): Promise<KeyRecord> {
    this.#requireNotTerminal(key);
    const tags = Object.fromEntries(Object.entries(key.tags).filter(([k]) => !tagKeys.includes(k)));
    const next = { ...key, tags, updatedAt: this.clock.now() };
    await this.#apply({ key: next }, key);
    return next;
  }

  // ---- aliases -------------------------------------------------------------------------------

  async createAlias(alias: string, key: KeyRecord): Promise<void> {
    const problem = aliasProblem(alias);
    if (problem) throw errors.validation(problem);
    this.#requireNotTerminal(key);
    await this.store.createAlias(alias, key.id, this.clock.now());
    this.#records.clear();
  }

  async updateAlias(alias: string, key: KeyRecord): Promise<void> {
    this.#requireNotTerminal(key);
    const current = await this.resolve(alias);
    if (current.spec !== key.spec || current.usage !== key.usage) {
      throw errors.validation(`alias "${alias}" points at a ${current.spec}/${current.usage} key; it can only move to a key of the same spec and usage`);
    }
    await this.store.updateAlias(alias, key.id);
    this.#records.clear();
  }

  async deleteAlias(alias: string): Promise<void> {
    await this.store.deleteAlias(alias);
    this.#records.clear();
  }

  listAliases(): Promise<Array<{ alias: string; keyId: string }>> {
    return this.store.listAliases();
  }

  // ---- import (bring your own key) ----------------------------------------------------------

  /** A fresh RSA-4096 wrapping key pair and a single-use import token valid for 24 h. */
  async importParameters(key: KeyRecord, wrappingAlgorithm: WrappingAlgorithm): Promise<{ importToken: string; publicKey: Buffer; expiresAt: number }> {
    if (key.origin !== 'EXTERNAL') throw new KeywardenError('InvalidState', `key ${key.id} was not created for imported material (origin EXTERNAL)`);
    this.#requireNotTerminal(key);
    const rootKey = this.seal.rootKey();
    const pair = generateImportWrappingKeyPair();
    const id = randomUUID();
    const now = this.clock.now();
    try {
      await this.store.putImportToken({
        id,
        keyId: key.id,
        wrappedPrivateKey: barrierWrap(rootKey, importTokenPurpose(id), pair.privatePkcs8),
        publicKey: pair.publicSpki,
        wrappingAlgorithm,
        createdAt: now,
        expiresAt: now + IMPORT_TOKEN_TTL_MS,
      });
    } finally {
      zeroize(pair.privatePkcs8);
    }
    return { importToken: id, publicKey: pair.publicSpki, expiresAt: now + IMPORT_TOKEN_TTL_MS };
  }

  /**
   * Imports material wrapped under the token's public key (with the wrapping algorithm chosen when
   * the token was issued) as a new primary version.
   */
  async importMaterial(key: KeyRecord, importToken: string, encrypted: Buffer, validTo?: number): Promise<KeyRecord> {
    const now = this.clock.now();
    if (validTo !== undefined && validTo <= now) throw errors.validation('validTo must be in the future');
    const invalidToken = () => errors.validation('the import token is invalid, expired, already used, or belongs to another key');
    const token = await this.store.takeImportToken(importToken);
    if (token === undefined || token.keyId !== key.id || token.expiresAt <= now) throw invalidToken();
    const rootKey = this.seal.rootKey();
    const privateKey = barrierUnwrap(rootKey, importTokenPurpose(token.id), token.wrappedPrivateKey);
    if (privateKey === undefined) throw new KeywardenError('Internal', 'stored import key failed its integrity check');
    const wrapping = SecretBytes.adopt(privateKey);
    let material: Buffer | undefined;
    try {
      material = unwrapImportedMaterial(token.wrappingAlgorithm, wrapping, encrypted);
      if (material === undefined) throw errors.validation(`the encrypted key material could not be unwrapped with this import token (${token.wrappingAlgorithm} expected)`);
      validateImportedMaterial(key.spec, material);
      const state = transition(key.id, key.state, 'import-material');
      const versions = await this.store.listVersions(key.id);
      const next = versions.reduce((m, v) => Math.max(m, v.version), 0) + 1;
      const version = this.#wrapVersion(rootKey, key, next, now, material);
      const updated: KeyRecord = { ...key, state, primaryVersion: next, materialExpiresAt: validTo ?? null, updatedAt: now };
      await this.#apply({ key: updated, newVersion: version }, key);
      await this.#versionCreated(updated, version);
      return updated;
    } finally {
      wrapping.dispose();
      zeroize(material);
    }
  }

  /**
   * DeleteImportedKeyMaterial (as AWS KMS): the imported material of every version is destroyed and
   * the key returns to PendingImport until material is imported again. Only EXTERNAL keys; a key
   * already PendingImport has nothing left to delete (accepted, no change).
   */
  async deleteImportedMaterial(key: KeyRecord): Promise<KeyRecord> {
    if (key.origin !== 'EXTERNAL') {
      throw new KeywardenError('InvalidState', `key ${key.id} was not created for imported material (origin EXTERNAL): it has no imported material to delete`);
    }
    if (key.state === 'PendingImport') return key;
    const now = this.clock.now();
    const state = transition(key.id, key.state, 'material-expired');
    const versions = (await this.store.listVersions(key.id)).filter((v) => v.state !== 'Destroyed').map((v) => destroyed(v, now));
    const next: KeyRecord = { ...key, state, materialExpiresAt: null, updatedAt: now };
    await this.#apply({ key: next, versions }, key);
    this.#dropVersions(key.id);
    return next;
  }

  // ---- scheduled work -------------------------------------------------------------------------

  /** Rotates every key whose automatic rotation is due. Idempotent: a rotated key is no longer due. */
  async rotateDue(now: number = this.clock.now()): Promise<number> {
    // A key that is not Enabled when its rotation falls due is postponed by one period (it rotates
    // again on schedule once enabled); rotating it now is not allowed.
    return this.#forDue('rotation', now, (k) =>
      k.state === 'Enabled' ? this.rotate(k) : this.#apply({ key: { ...k, nextRotationAt: k.rotationPeriodMs === null ? null : now + k.rotationPeriodMs } }, k),
    );
  }

  /** Destroys every key whose deletion window has ended. */
  async destroyDue(now: number = this.clock.now()): Promise<number> {
    return this.#forDue('deletion', now, async (k) => {
      if (k.state === 'PendingDeletion') return this.destroy(k);
      // A destroyed key passes here once more: its HSM objects are destroyed again (idempotent), so
      // an HSM that failed during destroy() is retried before the key leaves the due list.
      if (k.state === 'Destroyed') await this.#destroyHsmObjects(await this.store.listVersions(k.id));
      return this.#apply({ key: { ...k, deletionAt: null } }, k);
    });
  }

  /** Imported material past its validTo: destroyed; the key returns to PendingImport (as AWS KMS). */
  async expireMaterialDue(now: number = this.clock.now()): Promise<number> {
    return this.#forDue('material-expiry', now, async (k) => {
      if (k.state !== 'Enabled' && k.state !== 'Disabled') return this.#apply({ key: { ...k, materialExpiresAt: null } }, k);
      const state = transition(k.id, k.state, 'material-expired');
      const versions = (await this.store.listVersions(k.id)).filter((v) => v.state !== 'Destroyed').map((v) => destroyed(v, now));
      await this.#apply({ key: { ...k, state, materialExpiresAt: null, updatedAt: now }, versions }, k);
      this.#dropVersions(k.id);
    });
  }

  async #forDue(kind: 'rotation' | 'deletion' | 'material-expiry', now: number, act: (k: KeyRecord) => Promise<unknown>): Promise<number> {
    let done = 0;
    for (;;) {
      const due = await this.store.findDue(kind, now, 100);
      if (due.length === 0) return done;
      for (const k of due) {
        await act(k);
        done++;
      }
    }
  }

  /** Keys with no use since `usedBefore` and no alias (candidates for purge). */
  async unused(usedBefore: number): Promise<KeyRecord[]> {
    await this.flushUsage();
    return this.store.findUnused(usedBefore, 10_000);
  }

  // ---- helpers --------------------------------------------------------------------------------

  /**
   * Writes `change`. With `from` (the stored key the change was built from) the write is refused
   * if the key changed since (KeyChange.expectedUpdatedAt), and `updatedAt` moves strictly forward
   * so that two writes in one millisecond are still told apart.
   */
  async #apply(change: KeyChange, from?: KeyRecord): Promise<void> {
    if (from !== undefined && change.key !== undefined) {
      change.key.updatedAt = Math.max(change.key.updatedAt, from.updatedAt + 1);
      change.expectedUpdatedAt = from.updatedAt;
    }
    await this.store.applyChange(change);
    this.#records.clear();
  }

  async #fresh(id: string): Promise<KeyRecord> {
    const key = await this.store.getKey(id);
    if (key === undefined) throw new KeywardenError('NotFound', `key "${id}" was not found`);
    return key;
  }

  /**
   * Creates version `version` and hands it to `write` (the store write that makes it exist). An HSM
   * version's object is created inside the HSM first; if the write fails, it is destroyed again,
   * so a failed create or rotation leaves no object behind (a crash in between leaves an orphan
   * with a label of its own, which no version points at: see hsmLabelFor).
   */
  async #withNewVersion(rootKey: SecretBytes, key: KeyRecord, version: number, now: number, write: (v: KeyVersionRecord) => Promise<void>): Promise<void> {
    if (key.protection !== 'hsm') {
      const v = this.#newVersion(rootKey, key, version, now);
      await write(v);
      return this.#versionCreated(key, v);
    }
    const hsm = this.hsm;
    if (hsm === undefined) throw new KeywardenError('HsmUnavailable', `key ${key.id} is protected by an HSM, but no HSM is configured on this server`);
    const label = hsmLabelFor(key.id, version);
    const { publicSpki } = await hsm.generateKey(label, hsmKindOf(key.spec));
    const v = newKeyVersion({ keyId: key.id, version, createdAt: now, wrappedMaterial: Buffer.alloc(0), hsmLabel: label, publicKey: publicSpki ?? null });
    try {
      await write(v);
    } catch (e) {
      await hsm.destroy({ label }).catch(() => undefined);
      throw e;
    }
    await this.#versionCreated(key, v);
  }

  /** C_DestroyObject for the HSM objects of these (destroyed) versions; idempotent. */
  async #destroyHsmObjects(versions: KeyVersionRecord[]): Promise<void> {
    for (const v of versions) {
      if (v.hsmLabel === null || v.state !== 'Destroyed') continue;
      if (this.hsm === undefined) throw new KeywardenError('HsmUnavailable', `version ${v.version} of key ${v.keyId} is held by an HSM, but no HSM is configured on this server`);
      await this.hsm.destroy({ label: v.hsmLabel });
    }
  }

  #newVersion(rootKey: SecretBytes, key: KeyRecord, version: number, now: number): KeyVersionRecord {
    const generated = generateMaterial(key.spec);
    try {
      return this.#wrapVersion(rootKey, key, version, now, generated.material, generated.publicKey);
    } finally {
      zeroize(generated.material);
    }
  }

  #wrapVersion(rootKey: SecretBytes, key: KeyRecord, version: number, now: number, material: Buffer, publicKey?: Buffer): KeyVersionRecord {
    return newKeyVersion({
      keyId: key.id,
      version,
      createdAt: now,
      wrappedMaterial: barrierWrap(rootKey, materialPurpose(key.id, version), material),
      publicKey: publicKey ?? (isAsymmetric(key.spec) ? publicKeyFromMaterial(key.spec, material) : null),
    });
  }

  #checkUsageLimit(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > DEFAULT_AES_GCM_USAGE_LIMIT) {
      throw errors.validation(`usageLimit must be an integer between 1 and ${DEFAULT_AES_GCM_USAGE_LIMIT}`);
    }
  }

  #requireNotTerminal(key: KeyRecord): void {
    if (key.state === 'Destroyed' || key.state === 'PendingDeletion') {
      throw new KeywardenError('InvalidState', `key ${key.id} is ${key.state}: it cannot be changed`);
    }
  }
}

function destroyed(v: KeyVersionRecord, now: number): KeyVersionRecord {
  return { ...v, state: 'Destroyed', wrappedMaterial: Buffer.alloc(0), destroyedAt: now };
}
