/**
 * pkcs11 auto-unseal: at start the server asks the HSM to unwrap the root key. While that fails
 * (HSM unreachable, token missing, key not opening the blob) the server stays sealed, the reason
 * is shown in health and seal status, and it tries again after 1 s, 2 s, 4 s ... at most 30 s
 * apart, until it unseals. Timers are injected so that tests drive the back-off.
 */
import { isKeywardenError } from '../errors/catalog.js';
import type { SealService } from './seal.service.js';

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export const AUTO_UNSEAL_FIRST_DELAY_MS = 1_000;
export const AUTO_UNSEAL_MAX_DELAY_MS = 30_000;

export class AutoUnseal {
  #timer: unknown;
  #delay = AUTO_UNSEAL_FIRST_DELAY_MS;
  #stopped = false;
  #running: Promise<boolean> | undefined;
  attempts = 0;

  constructor(
    private readonly seal: SealService,
    private readonly timers: Timers = realTimers,
    private readonly onError?: (reason: string, nextDelayMs: number) => void,
  ) {}

  /** Tries now; on failure schedules the next try. Resolves true once unsealed. */
  start(): Promise<boolean> {
    this.#stopped = false;
    return this.attempt();
  }

  /** One attempt (and, if it fails, the next one scheduled). Concurrent calls share one attempt. */
  attempt(): Promise<boolean> {
    this.#running ??= this.#attempt().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #attempt(): Promise<boolean> {
    if (this.#timer !== undefined) this.timers.clear(this.#timer);
    this.#timer = undefined;
    if (this.#stopped || !this.seal.initialized || !this.seal.sealed || this.seal.type !== 'pkcs11') return !this.seal.sealed;
    this.attempts++;
    try {
      await this.seal.unsealWithHsm();
      this.#delay = AUTO_UNSEAL_FIRST_DELAY_MS;
      return true;
    } catch (e) {
      // Catalog messages never carry a PIN or key material; anything else is summarised.
      const reason = isKeywardenError(e) ? e.message : 'the HSM unwrap failed';
      this.seal.setSealReason(`auto-unseal with the HSM failed: ${reason}`);
      const delay = this.#delay;
      this.#delay = Math.min(this.#delay * 2, AUTO_UNSEAL_MAX_DELAY_MS);
      this.onError?.(reason, delay);
      if (!this.#stopped) this.#timer = this.timers.set(() => void this.attempt(), delay);
      return false;
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.timers.clear(this.#timer);
    this.#timer = undefined;
  }
}
