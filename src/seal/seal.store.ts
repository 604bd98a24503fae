import type { SealConfig } from './seal.model.js';

export interface SealStore {
  getSealConfig(): Promise<SealConfig | undefined>;
  /** Stores the seal config only if none exists; returns false when one already did. Durable. */
  createSealConfig(config: SealConfig): Promise<boolean>;
}
