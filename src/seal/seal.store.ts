import type { SealConfig } from './seal.model.js';

export interface SealStore {
  getSealConfig(): Promise<SealConfig | undefined>;
  /** Stores the seal config only if none exists; returns false when one already did. Durable. */
  createSealConfig(config: SealConfig): Promise<boolean>;
  /**
   * Seal migration: replaces the stored config with `next` in one transaction, only if the stored
   * one is still `previous` (same type and wrapped root key); returns false otherwise. Durable.
   */
  replaceSealConfig(previous: SealConfig, next: SealConfig): Promise<boolean>;
}
