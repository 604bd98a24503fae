/**
 * The pkcs11 seal's stored form of the root key: wrapped by AES-256-GCM inside the HSM with a key
 * that never leaves it. Stored (seal_config.wrapped_root_key, so no schema change):
 *   "KWH1" || u16 label length || label (UTF-8) || IV (12) || ciphertext (32) || tag (16)
 * The AAD binds the blob to its purpose and to the label of the wrapping key, so the wrapped root
 * key cannot be replayed as any other HSM-encrypted value (or under another label).
 */
import { randomBytes } from '../crypto/primitives/index.js';
import { KeywardenError } from '../errors/catalog.js';
import type { Hsm, HsmKeyRef } from '../hsm/hsm.js';

const MAGIC = Buffer.from('KWH1');
const IV_BYTES = 12;

const aadFor = (label: string) => Buffer.from(`keywarden/seal/pkcs11/root-key/v1\0${label}`, 'utf8');

export function decodeHsmWrappedRootKey(blob: Buffer): { label: string; iv: Buffer; sealed: Buffer } | undefined {
  if (blob.length < MAGIC.length + 2 || !blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const labelLength = blob.readUInt16BE(MAGIC.length);
  const start = MAGIC.length + 2;
  if (blob.length < start + labelLength + IV_BYTES + 16) return undefined;
  return {
    label: blob.subarray(start, start + labelLength).toString('utf8'),
    iv: blob.subarray(start + labelLength, start + labelLength + IV_BYTES),
    sealed: blob.subarray(start + labelLength + IV_BYTES),
  };
}

/** Wraps `rootKey` with the AES key `label` in the HSM (created non-extractable if missing). */
export async function hsmWrapRootKey(hsm: Hsm, label: string, rootKey: Buffer): Promise<Buffer> {
  if (label === '' || Buffer.byteLength(label) > 255) throw new KeywardenError('ValidationError', 'seal.keyLabel must be 1 to 255 bytes');
  const ref: HsmKeyRef = { label };
  if (!(await hsm.exists(ref))) await hsm.generateKey(label, { type: 'aes', bits: 256 });
  const iv = randomBytes(IV_BYTES);
  const sealed = await hsm.aesGcmEncrypt(ref, iv, aadFor(label), rootKey);
  const header = Buffer.alloc(2);
  header.writeUInt16BE(Buffer.byteLength(label));
  return Buffer.concat([MAGIC, header, Buffer.from(label, 'utf8'), iv, sealed]);
}

/** The root key, or undefined when the HSM key does not open the blob. Throws HsmUnavailable etc. */
export async function hsmUnwrapRootKey(hsm: Hsm, blob: Buffer): Promise<Buffer | undefined> {
  const d = decodeHsmWrappedRootKey(blob);
  if (d === undefined) throw new KeywardenError('Internal', 'the stored pkcs11 seal is malformed');
  return hsm.aesGcmDecrypt({ label: d.label }, d.iv, aadFor(d.label), d.sealed);
}
