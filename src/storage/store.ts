import type { KeyStore } from '../keys/key.store.js';
import type { SealStore } from '../seal/seal.store.js';
import type { TokenStore } from '../auth/token.store.js';
import type { JobStore } from '../jobs/job.store.js';

/** Everything Keywarden persists, behind Promise-based interfaces (ARCHITECTURE rule 7). */
export interface Store {
  readonly keys: KeyStore;
  readonly seal: SealStore;
  readonly tokens: TokenStore;
  readonly jobs: JobStore;
  /** Applied schema version (for health and backups). */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}

export type StorageConfig = { type: 'sqlite'; path: string };
