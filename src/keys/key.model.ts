/** KMS key model. A KMS key (a.k.a. KEK / customer master key) has versions v1..vN, one primary. */
import type { KeySpec, KeyUsage, WrappingAlgorithm } from '../crypto/keyspecs.js';
import type { Classification, Environment, Protection } from '../policy/policy.model.js';

/** Specs, usages and their allowed algorithms are defined once, in crypto/keyspecs.ts. */
export { KEY_SPECS, KEY_USAGES, type KeySpec, type KeyUsage } from '../crypto/keyspecs.js';

/** Lifecycle states; transitions live in key.lifecycle.ts. */
export const KEY_STATES = ['Enabled', 'Disabled', 'PendingDeletion', 'Destroyed', 'Compromised', 'PendingImport'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export const KEY_ORIGINS = ['KEYWARDEN', 'EXTERNAL'] as const;
export type KeyOrigin = (typeof KEY_ORIGINS)[number];

export type RevocationReason = 'compromised' | 'superseded';

export interface KeyRecord {
  id: string;
  description: string;
  spec: KeySpec;
  usage: KeyUsage;
  state: KeyState;
  origin: KeyOrigin;
  exportable: boolean;
  createdAt: number;
  /**
   * Principal id of the key's creator (separation of duties: it never uses the key). Stored with
   * the key in one write; null for keys created outside a principal's call.
   */
  createdBy: string | null;
  updatedAt: number;
  /** 0 while an EXTERNAL key waits for its first imported material. */
  primaryVersion: number;
  minDecryptionVersion: number;
  /** Automatic rotation period, or null for none. */
  rotationPeriodMs: number | null;
  nextRotationAt: number | null;
  /** Encryptions per version before automatic rotation; null = the spec's default. */
  usageLimit: number | null;
  deletionAt: number | null;
  destroyedAt: number | null;
  compromisedAt: number | null;
  revocationReason: RevocationReason | null;
  materialExpiresAt: number | null;
  tags: Record<string, string>;
  aliases: string[];
  /** Data classification (policy scope); may only become stricter. null = unclassified. */
  classification: Classification | null;
  /** Deployment environment (policy scope); set once, never changed. null = none. */
  environment: Environment | null;
  /** Where the material lives; 'hsm' needs an HSM (issue 6/10). */
  protection: Protection;
  /** Derived by the store: the latest lastUsedAt of the key's versions (flushed usage only). */
  lastUsedAt: number | null;
}

export type KeyVersionState = 'Enabled' | 'Disabled' | 'Destroyed';

export interface KeyVersionRecord {
  keyId: string;
  version: number;
  state: KeyVersionState;
  createdAt: number;
  /** Key material wrapped by the barrier under the root key. Never plaintext; empty once destroyed, always empty for an HSM version. */
  wrappedMaterial: Buffer;
  /** CKA_LABEL of the HSM object holding an HSM-protected version's material (never the material); null in software. */
  hsmLabel: string | null;
  /** SPKI DER public key of an asymmetric version (not secret). */
  publicKey: Buffer | null;
  usageCount: number;
  lastUsedAt: number | null;
  destroyedAt: number | null;
}

/** One atomic change to a key and its versions (rotation, import, destruction, ...). */
export interface KeyChange {
  key?: KeyRecord;
  /**
   * The `updatedAt` of the stored key the change was built from: the write is refused
   * (InvalidState) when the key changed since — a concurrent change by another request or node —
   * so a change made from a stale read never silently undoes another (e.g. re-enables a key that
   * was just disabled). Every key write moves `updatedAt` forward (KeyService).
   */
  expectedUpdatedAt?: number;
  newVersion?: KeyVersionRecord;
  versions?: KeyVersionRecord[];
}

export interface UsageDelta {
  keyId: string;
  version: number;
  count: number;
  lastUsedAt: number;
}

export interface ImportTokenRecord {
  id: string;
  keyId: string;
  /** RSA-4096 private key (PKCS#8) wrapped by the barrier. */
  wrappedPrivateKey: Buffer;
  publicKey: Buffer;
  wrappingAlgorithm: WrappingAlgorithm;
  createdAt: number;
  expiresAt: number;
}

export type DueKind = 'rotation' | 'deletion' | 'material-expiry';

/** AWS KMS alias rules: alias/ prefix, 1–256 chars of [a-zA-Z0-9/_-], not the reserved alias/aws/. */
export const ALIAS_PATTERN = '^alias/[a-zA-Z0-9/_-]+$';
const ALIAS_RE = new RegExp(ALIAS_PATTERN);

export function aliasProblem(alias: string): string | undefined {
  if (alias.length > 256) return `alias "${alias.slice(0, 40)}..." is longer than 256 characters`;
  if (!ALIAS_RE.test(alias)) return `alias "${alias}" must match alias/[a-zA-Z0-9/_-]+`;
  if (alias.startsWith('alias/aws/') || alias.startsWith('alias/keywarden/')) return `alias "${alias}" uses a reserved prefix`;
  return undefined;
}

export const KEY_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
export const KEY_ID_RE = new RegExp(KEY_ID_PATTERN);

type KeyIdentity = Pick<KeyRecord, 'id' | 'spec' | 'usage' | 'createdAt'>;

/** A key record with every lifecycle field at its initial value; `fields` override. */
export function newKeyRecord(fields: KeyIdentity & Partial<KeyRecord>): KeyRecord {
  return {
    description: '',
    state: 'Enabled',
    origin: 'KEYWARDEN',
    exportable: false,
    createdBy: null,
    updatedAt: fields.createdAt,
    primaryVersion: 1,
    minDecryptionVersion: 1,
    rotationPeriodMs: null,
    nextRotationAt: null,
    usageLimit: null,
    deletionAt: null,
    destroyedAt: null,
    compromisedAt: null,
    revocationReason: null,
    materialExpiresAt: null,
    tags: {},
    aliases: [],
    classification: null,
    environment: null,
    protection: 'software',
    lastUsedAt: null,
    ...fields,
  };
}

/** A fresh, enabled, unused key version. */
export function newKeyVersion(
  fields: Pick<KeyVersionRecord, 'keyId' | 'version' | 'createdAt' | 'wrappedMaterial'> & Partial<KeyVersionRecord>,
): KeyVersionRecord {
  return { state: 'Enabled', publicKey: null, usageCount: 0, lastUsedAt: null, destroyedAt: null, hsmLabel: null, ...fields };
}
