/**
 * A Map that holds at most `cap` entries: reading or writing an entry makes it the most recent,
 * and adding one past the cap forgets the least recently used. Detectors keep per-subject state
 * in these, so memory stays bounded however many keys, principals or addresses appear.
 */
export class BoundedMap<K, V> {
  readonly #m = new Map<K, V>();
  #evicted = 0;

  constructor(readonly cap: number) {
    if (!Number.isSafeInteger(cap) || cap < 1) throw new RangeError('BoundedMap cap must be a positive integer');
  }

  get size(): number {
    return this.#m.size;
  }

  /** Entries forgotten because the map was full. */
  get evicted(): number {
    return this.#evicted;
  }

  get(k: K): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }

  /** The entry for `k`, created by `make` (and made the most recent) when absent. */
  upsert(k: K, make: () => V): V {
    let v = this.get(k);
    if (v === undefined) {
      v = make();
      this.#m.set(k, v);
      if (this.#m.size > this.cap) {
        this.#m.delete(this.#m.keys().next().value as K);
        this.#evicted++;
      }
    }
    return v;
  }
}
