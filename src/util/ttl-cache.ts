import type { Clock } from './clock.js';

/**
 * A small read-through cache with a time-to-live, for hot lookups on the request path (tokens,
 * key records). Writers in this process MUST call delete()/clear() after changing the source; the
 * TTL bounds how long another node's change can go unseen (issue 9/10 adds cross-node invalidation).
 * When full, it is simply emptied: bounded memory without LRU bookkeeping on the hot path.
 */
export class TtlCache<K, V> {
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: K): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.clock.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: K, value: V): void {
    if (this.#entries.size >= this.maxEntries) this.#entries.clear();
    this.#entries.set(key, { value, expiresAt: this.clock.now() + this.ttlMs });
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
