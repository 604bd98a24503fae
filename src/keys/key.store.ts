import type { KeyRecord, KeyVersionRecord } from './key.model.js';

/**
 * Persistence of KMS keys. Implemented in src/storage/*; every implementation passes
 * test/conformance/store.conformance.ts.
 * Contract: createKey MUST be atomic (key, first version and aliases all or nothing) and durable
 * before the promise resolves; an alias already in use MUST reject with KeywardenError AlreadyExists.
 */
export interface KeyStore {
  createKey(key: KeyRecord, firstVersion: KeyVersionRecord): Promise<void>;
  getKey(id: string): Promise<KeyRecord | undefined>;
  /** Returns the key id an alias points to. */
  resolveAlias(alias: string): Promise<string | undefined>;
  /** Keys ordered by (createdAt, id), strictly after `after` when given. */
  listKeys(opts: { limit: number; after?: { createdAt: number; id: string } }): Promise<KeyRecord[]>;
  getVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined>;
}
