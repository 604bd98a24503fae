/**
 * The data-key cache: reuses a data key for several messages so that encryption does not call the
 * server every time, within limits on age, messages and bytes per data key. Entries are scoped by
 * key(s) and encryption context (a data key wrapped under one context is never used for another).
 * Plaintext keys (and their HKDF-Extract, kept so that a cache hit costs one HMAC, not two) are
 * zeroized when an entry is evicted; callers get copies, which they zeroize after deriving the
 * message key, so an eviction never pulls a key out from under a message.
 */
import type { Clock } from './http.js';
import type { WrappedKey } from './format.js';

export interface CacheLimits {
  /** Longest life of a cached data key (default 300 s); the key's policy hint can shorten it. */
  maxAgeSeconds?: number;
  /** Messages per data key (default 10 000). */
  maxMessages?: number;
  /** Plaintext bytes per data key (default 1 GiB). */
  maxBytes?: number;
  /** Entries kept; the least recently used one is evicted first (default 100). */
  capacity?: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

export interface CachedMaterials {
  /** A copy of the plaintext data key: the caller zeroizes it. */
  dataKey: Buffer;
  /** A copy of the data key's HKDF-Extract (format.ts extractKey), when known: the caller zeroizes it. */
  prk?: Buffer;
  wrappedKeys: WrappedKey[];
  keyId: string;
}

interface Entry {
  dataKey: Buffer;
  prk: Buffer | undefined;
  wrappedKeys: WrappedKey[];
  keyId: string;
  expiresAt: number;
  messages: number;
  bytes: number;
}

export class DataKeyCache {
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0 };
  readonly maxAgeMs: number;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly capacity: number;
  private readonly entries = new Map<string, Entry>();

  constructor(
    limits: CacheLimits = {},
    private readonly clock: Clock = { now: () => Date.now() },
  ) {
    this.maxAgeMs = (limits.maxAgeSeconds ?? 300) * 1000;
    this.maxMessages = limits.maxMessages ?? 10_000;
    this.maxBytes = limits.maxBytes ?? 2 ** 30;
    this.capacity = limits.capacity ?? 100;
    for (const [name, v] of Object.entries({ maxAgeSeconds: this.maxAgeMs, maxMessages: this.maxMessages, maxBytes: this.maxBytes, capacity: this.capacity })) {
      if (!(Number.isFinite(v) && v >= 1)) throw new RangeError(`cache ${name} must be a positive number`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Materials for one more message of `bytes` bytes, if the entry is within all its limits. */
  take(scope: string, bytes: number): CachedMaterials | undefined {
    const e = this.entries.get(scope);
    if (e === undefined || this.clock.now() >= e.expiresAt || e.messages + 1 > this.maxMessages || e.bytes + bytes > this.maxBytes) {
      if (e !== undefined) this.evict(scope);
      this.stats.misses++;
      return undefined;
    }
    e.messages++;
    e.bytes += bytes;
    this.stats.hits++;
    const out = { dataKey: Buffer.from(e.dataKey), prk: e.prk && Buffer.from(e.prk), wrappedKeys: e.wrappedKeys, keyId: e.keyId };
    if (e.messages >= this.maxMessages || e.bytes >= this.maxBytes) this.evict(scope); // used up: zeroize now
    else {
      this.entries.delete(scope); // most recently used goes last
      this.entries.set(scope, e);
    }
    return out;
  }

  /**
   * Stores fresh materials, already used once for `bytes` bytes. The cache takes ownership of
   * `m.dataKey` and `m.prk` (it zeroizes them on eviction, or at once when one message already uses them up).
   */
  put(scope: string, m: CachedMaterials, bytes: number, maxAgeMs = this.maxAgeMs): void {
    if (this.maxMessages <= 1 || bytes >= this.maxBytes) {
      m.dataKey.fill(0);
      m.prk?.fill(0);
      return;
    }
    if (this.entries.has(scope)) this.evict(scope);
    const now = this.clock.now();
    for (const [s, e] of this.entries) if (now >= e.expiresAt) this.evict(s);
    while (this.entries.size >= this.capacity) this.evict(this.entries.keys().next().value as string);
    this.entries.set(scope, {
      dataKey: m.dataKey,
      prk: m.prk,
      wrappedKeys: m.wrappedKeys,
      keyId: m.keyId,
      expiresAt: now + Math.min(maxAgeMs, this.maxAgeMs),
      messages: 1,
      bytes,
    });
  }

  /** Evicts (and zeroizes) every entry. */
  clear(): void {
    for (const s of [...this.entries.keys()]) this.evict(s);
  }

  private evict(scope: string): void {
    const e = this.entries.get(scope);
    if (e === undefined) return;
    e.dataKey.fill(0);
    e.prk?.fill(0);
    this.entries.delete(scope);
    this.stats.evictions++;
  }
}
