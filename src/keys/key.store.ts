import type { Classification, Environment } from '../policy/policy.model.js';
import type { DueKind, ImportTokenRecord, KeyChange, KeyRecord, KeyVersionRecord, UsageDelta } from './key.model.js';

/**
 * Persistence of KMS keys. Implemented in src/storage/*; every implementation passes
 * test/conformance/store.conformance.ts.
 * Contracts:
 * - Every write is atomic and durable before the promise resolves.
 * - createKey stores the key (with its creator, `createdBy`), its first version (if any) and its
 *   aliases all or nothing; an alias already in use rejects with KeywardenError AlreadyExists.
 *   `createdBy` never changes afterwards (applyChange ignores it).
 * - applyChange writes the key row, a new version and updated versions in ONE transaction, so a
 *   crash leaves either the old or the new primary version, never neither.
 * - A destroyed version's wrappedMaterial is overwritten (empty) and the old bytes are not left in
 *   the database files (secure delete + WAL truncation for SQLite).
 * - Version updates in applyChange never touch usageCount/lastUsedAt (only addUsage does), and a
 *   record's lastUsedAt passed in is ignored (the store derives it), so a write built from an older
 *   read cannot lose flushed usage.
 * - Aliases sort by code point (PostgreSQL: COLLATE "C"); takeImportToken has exactly one winner
 *   among concurrent callers; updating a missing key rejects NotFound even with a new version.
 */
export interface KeyStore {
  createKey(key: KeyRecord, firstVersion: KeyVersionRecord | undefined): Promise<void>;
  getKey(id: string): Promise<KeyRecord | undefined>;
  /** Keys ordered by (createdAt, id), strictly after `after` when given; only those of the given classification / environment when given. */
  listKeys(opts: { limit: number; after?: { createdAt: number; id: string }; classification?: Classification; environment?: Environment }): Promise<KeyRecord[]>;
  applyChange(change: KeyChange): Promise<void>;

  getVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined>;
  listVersions(keyId: string): Promise<KeyVersionRecord[]>;

  /** Returns the key id an alias points to. */
  resolveAlias(alias: string): Promise<string | undefined>;
  createAlias(alias: string, keyId: string, now: number): Promise<void>;
  /** Points an existing alias at another key; NotFound when the alias does not exist. */
  updateAlias(alias: string, keyId: string): Promise<void>;
  /** NotFound when the alias does not exist. */
  deleteAlias(alias: string): Promise<void>;
  listAliases(): Promise<Array<{ alias: string; keyId: string }>>;

  /** Adds usage counts (batched by the caller). */
  addUsage(deltas: UsageDelta[]): Promise<void>;
  /** Keys whose rotation / deletion / material expiry time is <= now, oldest first. */
  findDue(kind: DueKind, now: number, limit: number): Promise<KeyRecord[]>;
  /**
   * Keys not used since `usedBefore` (never used: created before it), without aliases, and not
   * already PendingDeletion or Destroyed.
   */
  findUnused(usedBefore: number, limit: number): Promise<KeyRecord[]>;

  putImportToken(token: ImportTokenRecord): Promise<void>;
  /** Returns and deletes the token (single use). */
  takeImportToken(id: string): Promise<ImportTokenRecord | undefined>;
}
