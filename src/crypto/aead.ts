/**
 * Data encryption under a KMS key version (AES-256-GCM) in Keywarden ciphertext format v1, and
 * the barrier encryption that protects key material at rest under the root key.
 */
import { AES_GCM_NONCE_BYTES, AES_GCM_TAG_BYTES, aesGcmOpen, aesGcmSeal, aesGcmSealInto, randomBytes } from './primitives/index.js';
import { Algorithm, headerLength, parseCiphertext, writeHeader, type ParsedCiphertext } from './ciphertext.js';
import { canonicalContext, type EncryptionContext } from './encryption-context.js';
import type { SecretBytes } from './secret-bytes.js';

export interface KeyVersionRef {
  keyId: string;
  keyVersion: number;
}

/**
 * Encrypts `plaintext` under one key version. `nonce` MUST be a fresh random 96-bit value (NIST
 * SP 800-38D §8.2.2): leave it undefined, or pass one from a NoncePool; fixed nonces are for
 * known-answer tests only. `keyIdBytes`, when given, MUST be uuidToBytes(ref.keyId) (callers that
 * encrypt often under one key version compute it once).
 *
 * The header, ciphertext and tag are written into one buffer; the header and the canonical context
 * are fed to GCM as two AAD parts, which authenticates exactly header || canonicalContext(context).
 */
export function encryptV1(
  material: SecretBytes,
  ref: KeyVersionRef,
  plaintext: Buffer,
  context: EncryptionContext | undefined,
  nonce: Buffer = randomBytes(AES_GCM_NONCE_BYTES),
  keyIdBytes?: Buffer,
): Buffer {
  const header = { algorithm: Algorithm.AES_256_GCM, keyId: ref.keyId, keyVersion: ref.keyVersion, nonce };
  const headerLen = headerLength(header);
  const out = Buffer.allocUnsafe(headerLen + plaintext.length + AES_GCM_TAG_BYTES);
  writeHeader(out, header, keyIdBytes);
  aesGcmSealInto(material.expose(), nonce, plaintext, [out.subarray(0, headerLen), canonicalContext(context)], out, headerLen);
  return out;
}

/** Decrypts a parsed v1 ciphertext; undefined on any authentication failure. */
export function decryptV1(
  material: SecretBytes,
  parsed: ParsedCiphertext,
  context: EncryptionContext | undefined,
): Buffer | undefined {
  const aad = Buffer.concat([parsed.headerBytes, canonicalContext(context)]);
  return aesGcmOpen(material.expose(), parsed.header.nonce, parsed.body, aad);
}

export { parseCiphertext };

/**
 * Barrier format for secrets at rest: 0x01 || nonce(12) || AES-256-GCM(ciphertext || tag).
 * `purpose` is bound as AAD (e.g. "key-material:<keyId>:<version>") so that a wrapped blob cannot
 * be moved to another record in the store and still unwrap.
 */
const BARRIER_V1 = 0x01;

export function barrierWrap(wrappingKey: SecretBytes, purpose: string, secret: Buffer): Buffer {
  const nonce = randomBytes(AES_GCM_NONCE_BYTES);
  const aad = Buffer.from(`keywarden/barrier/v1/${purpose}`, 'utf8');
  const body = aesGcmSeal(wrappingKey.expose(), nonce, secret, aad);
  return Buffer.concat([Buffer.from([BARRIER_V1]), nonce, body]);
}

export function barrierUnwrap(wrappingKey: SecretBytes, purpose: string, blob: Buffer): Buffer | undefined {
  if (blob.length < 1 + AES_GCM_NONCE_BYTES + 16 || blob[0] !== BARRIER_V1) return undefined;
  const aad = Buffer.from(`keywarden/barrier/v1/${purpose}`, 'utf8');
  return aesGcmOpen(wrappingKey.expose(), blob.subarray(1, 13), blob.subarray(13), aad);
}
