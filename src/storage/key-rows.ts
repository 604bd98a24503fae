/**
 * Key and key-version rows to records: the same columns in SQLite and PostgreSQL (the backends
 * share one logical schema), so one mapper serves both stores.
 */
import type { ImportTokenRecord, KeyRecord, KeyVersionRecord } from '../keys/key.model.js';
import { KeywardenError } from '../errors/catalog.js';

type Row = Record<string, unknown>;

/** `aliases`: the key's alias names, read by the caller (each backend lists them its own way). */
export function keyFromRow(row: Row, aliases: string[]): KeyRecord {
  return {
    id: row.id as string,
    description: row.description as string,
    spec: row.spec as KeyRecord['spec'],
    usage: row.usage as KeyRecord['usage'],
    state: row.state as KeyRecord['state'],
    origin: row.origin as KeyRecord['origin'],
    // SQLite stores booleans as 0/1, PostgreSQL as booleans.
    exportable: row.exportable === 1 || row.exportable === true,
    createdAt: row.created_at as number,
    createdBy: (row.created_by as string | null) ?? null,
    updatedAt: row.updated_at as number,
    primaryVersion: row.primary_version as number,
    minDecryptionVersion: row.min_decryption_version as number,
    rotationPeriodMs: row.rotation_period_ms as number | null,
    nextRotationAt: row.next_rotation_at as number | null,
    usageLimit: row.usage_limit as number | null,
    deletionAt: row.deletion_at as number | null,
    destroyedAt: row.destroyed_at as number | null,
    compromisedAt: row.compromised_at as number | null,
    revocationReason: row.revocation_reason as KeyRecord['revocationReason'],
    materialExpiresAt: row.material_expires_at as number | null,
    tags: JSON.parse(row.tags as string) as Record<string, string>,
    aliases,
    classification: (row.classification as KeyRecord['classification']) ?? null,
    environment: (row.environment as KeyRecord['environment']) ?? null,
    protection: row.protection as KeyRecord['protection'],
    lastUsedAt: (row.last_used as number | null) ?? null,
  };
}

export function versionFromRow(row: Row): KeyVersionRecord {
  return {
    keyId: row.key_id as string,
    version: row.version as number,
    state: row.state as KeyVersionRecord['state'],
    createdAt: row.created_at as number,
    wrappedMaterial: row.wrapped_material as Buffer,
    publicKey: (row.public_key as Buffer | null) ?? null,
    usageCount: row.usage_count as number,
    lastUsedAt: row.last_used_at as number | null,
    destroyedAt: row.destroyed_at as number | null,
    hsmLabel: (row.hsm_label as string | null) ?? null,
  };
}

export function importTokenFromRow(row: Row): ImportTokenRecord {
  return {
    id: row.id as string,
    keyId: row.key_id as string,
    wrappedPrivateKey: row.wrapped_private_key as Buffer,
    publicKey: row.public_key as Buffer,
    wrappingAlgorithm: row.wrapping_algorithm as ImportTokenRecord['wrappingAlgorithm'],
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
}

/** A key write whose `expectedUpdatedAt` no longer matches the stored key. */
export const keyChangedConcurrently = (id: string) =>
  new KeywardenError('InvalidState', `key ${id} was changed by another request or node at the same time; read it again and retry`);

export const aliasInUse = (alias: string) => new KeywardenError('AlreadyExists', `alias "${alias}" is already in use`);
export const aliasNotFound = (alias: string) => new KeywardenError('NotFound', `alias "${alias}" was not found`);
