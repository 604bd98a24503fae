/**
 * Checkpoints (signed tree heads) of the audit ledger: the signed message, Ed25519 signing and
 * verification, the key id, and the JSON form used by exports and by a verifier's saved
 * "trusted checkpoint" (docs/audit-format.md).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { checkSignature, createSignature, rawSigner } from '../crypto/primitives/asymmetric.js';
import { sha256 } from '../crypto/primitives/index.js';
import { errors } from '../errors/catalog.js';
import type { CheckpointRecord } from './audit.store.js';
import { HASH_BYTES } from './merkle.js';

export type Checkpoint = CheckpointRecord;

const ED25519 = { type: 'ed25519' } as const;

/**
 * The exact bytes signed (UTF-8, LF line ends, trailing LF):
 *   keywarden-audit-checkpoint/v1\n<size>\n<base64 root hash>\n<time ms>\n
 */
export function checkpointMessage(c: Pick<Checkpoint, 'size' | 'rootHash' | 'time'>): Buffer {
  return Buffer.from(`keywarden-audit-checkpoint/v1\n${c.size}\n${c.rootHash.toString('base64')}\n${c.time}\n`, 'utf8');
}

/** The key id of a checkpoint public key: hex of the first 16 bytes of SHA-256(SPKI DER). */
export function checkpointKeyId(publicSpki: Buffer): string {
  return sha256(publicSpki).subarray(0, 16).toString('hex');
}

export function signCheckpoint(privatePkcs8: Buffer, c: Pick<Checkpoint, 'size' | 'rootHash' | 'time'>): Buffer {
  return createSignature(ED25519, privatePkcs8, checkpointMessage(c), false);
}

/** A checkpoint signer holding the parsed key (for the ledger, which signs many). */
export function checkpointSigner(privatePkcs8: Buffer): (c: Pick<Checkpoint, 'size' | 'rootHash' | 'time'>) => Buffer {
  const sign = rawSigner(ED25519, privatePkcs8);
  return (c) => sign(checkpointMessage(c));
}

/** True iff `c` is signed by `publicSpki` and names that key. False (never throws) for any bad input. */
export function verifyCheckpoint(c: Checkpoint, publicSpki: Buffer): boolean {
  try {
    return c.keyId === checkpointKeyId(publicSpki) && c.rootHash.length === HASH_BYTES && checkSignature(ED25519, publicSpki, checkpointMessage(c), false, c.signature);
  } catch {
    return false;
  }
}

// ---- JSON form -------------------------------------------------------------------------------
const B64 = Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 1_000_000 });
const Size = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const CheckpointJsonSchema = Type.Object(
  { size: Size, rootHash: B64, time: Size, keyId: Type.String({ maxLength: 128 }), signature: B64 },
  { additionalProperties: false },
);
export type CheckpointJson = Static<typeof CheckpointJsonSchema>;

/** A checkpoint a verifier saved earlier, with the public key it trusts (`--trusted-checkpoint FILE`). */
export const TrustedCheckpointSchema = Type.Object(
  {
    format: Type.Literal('keywarden-audit-checkpoint/v1'),
    ...CheckpointJsonSchema.properties,
    publicKey: B64,
  },
  { additionalProperties: false },
);
export type TrustedCheckpoint = Static<typeof TrustedCheckpointSchema>;

export function checkpointToJson(c: Checkpoint): CheckpointJson {
  return { size: c.size, rootHash: c.rootHash.toString('base64'), time: c.time, keyId: c.keyId, signature: c.signature.toString('base64') };
}

export function checkpointFromJson(j: CheckpointJson): Checkpoint {
  return { size: j.size, rootHash: Buffer.from(j.rootHash, 'base64'), time: j.time, keyId: j.keyId, signature: Buffer.from(j.signature, 'base64') };
}

export function trustedCheckpoint(c: Checkpoint, publicSpki: Buffer): TrustedCheckpoint {
  return { format: 'keywarden-audit-checkpoint/v1', ...checkpointToJson(c), publicKey: publicSpki.toString('base64') };
}

/** Validates a parsed trusted-checkpoint file; throws ValidationError naming the first problem. */
export function parseTrustedCheckpoint(v: unknown): TrustedCheckpoint {
  if (Value.Check(TrustedCheckpointSchema, v)) return v;
  const e = [...Value.Errors(TrustedCheckpointSchema, v)][0];
  throw errors.validation(`not a trusted checkpoint: ${e ? `${e.path || '/'} ${e.message}` : 'invalid'}`);
}
