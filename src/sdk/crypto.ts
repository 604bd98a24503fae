/**
 * The SDK's local cryptography. The SDK is client code shipped on its own and MUST NOT depend on
 * server internals, so it has its own node:crypto wrappers instead of src/crypto/primitives
 * (test/boundaries.test.ts allows node:crypto here for that reason).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export const randomBytes = (n: number): Buffer => nodeRandomBytes(n);

/**
 * HKDF-SHA-512 (RFC 5869) for up to 64 bytes: extract, then the first expand block. Written with
 * two HMACs because that is about twice as fast as hkdfSync for one block (it runs per message);
 * test/sdk/vectors.test.ts checks it against hkdfSync.
 */
export function hkdf(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  if (length > 64) return Buffer.from(hkdfSync('sha512', ikm, salt, info, length));
  const prk = createHmac('sha512', salt).update(ikm).digest();
  const okm = createHmac('sha512', prk).update(info).update(ONE).digest();
  prk.fill(0);
  return okm.subarray(0, length);
}
const ONE = Buffer.from([1]);

/** AES-256-GCM encryption; returns ciphertext and the 16-byte tag separately. */
export function gcmSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): { ciphertext: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(aad);
  const ciphertext = plaintext.length === 0 ? Buffer.alloc(0) : c.update(plaintext);
  c.final();
  return { ciphertext, tag: c.getAuthTag() };
}

/** AES-256-GCM decryption; undefined when the tag does not verify (the caller reports one uniform error). */
export function gcmOpen(key: Buffer, nonce: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer | undefined {
  if (tag.length !== TAG_BYTES) return undefined;
  const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  d.setAAD(aad);
  d.setAuthTag(tag);
  const out = ciphertext.length === 0 ? Buffer.alloc(0) : d.update(ciphertext);
  try {
    d.final();
  } catch {
    out.fill(0);
    return undefined;
  }
  return out;
}

/** Constant-time comparison of two equal-length secrets (different lengths compare unequal). */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
