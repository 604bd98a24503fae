/**
 * The HSM as an extra entropy source (config `hsm.entropy: mix`): key generation is synchronous
 * and an HSM call is not, so this keeps `capacity` bytes from C_GenerateRandom ready and tops the
 * pool up after every take. Every byte is handed out once and zeroized from the pool. When the
 * pool cannot serve a request (HSM down for a while) it throws HsmUnavailable: key generation fails
 * closed rather than silently using OS randomness alone.
 */
import type { EntropySource } from '../crypto/primitives/entropy.js';
import { KeywardenError } from '../errors/catalog.js';
import type { Hsm } from './hsm.js';

export class HsmEntropyPool implements EntropySource {
  #pool = Buffer.alloc(0);
  #refilling: Promise<void> | undefined;

  constructor(
    private readonly hsm: Hsm,
    private readonly capacity = 1024,
  ) {}

  /** Fills the pool (awaited at start; later refills run in the background). Never throws. */
  fill(): Promise<void> {
    this.#refilling ??= (async () => {
      try {
        const want = this.capacity - this.#pool.length;
        if (want > 0) {
          const fresh = await this.hsm.random(want);
          const next = Buffer.concat([this.#pool, fresh]);
          this.#pool.fill(0);
          fresh.fill(0);
          this.#pool = next;
        }
      } catch {
        // The HSM is unavailable: the next take fails closed and asks again.
      } finally {
        this.#refilling = undefined;
      }
    })();
    return this.#refilling;
  }

  bytes(n: number): Buffer {
    if (this.#pool.length < n) {
      void this.fill();
      throw new KeywardenError('HsmUnavailable', 'hsm.entropy is mix but the HSM random number generator is unavailable: key material was not generated');
    }
    const out = Buffer.from(this.#pool.subarray(0, n));
    const rest = Buffer.from(this.#pool.subarray(n));
    this.#pool.fill(0);
    this.#pool = rest;
    void this.fill();
    return out;
  }
}
