/**
 * The SDK's local cryptography (src/sdk/ envelope encryption): AES-256-GCM frames, HKDF, HMAC,
 * randomness. It lives with the other node:crypto wrappers (the one folder that may import
 * node:crypto) but stands alone — it imports nothing else — because the SDK is client code that
 * loads no server module at run time (test/boundaries.test.ts checks both).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes as nodeRandomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export const randomBytes = (n: number): Buffer => nodeRandomBytes(n);

/**
 * Fills `target` from a pool of CSPRNG bytes refilled 4 KiB at a time: one randomFillSync per 128
 * message ids instead of one randomBytes call per message (about 1.5 µs each). Only for PUBLIC
 * values (message ids): the pool stays in memory until it is used.
 */
export function fillRandomPublic(target: Buffer): void {
  if (target.length > POOL_BYTES) throw new RangeError('fillRandomPublic is for short values');
  if (poolOffset + target.length > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(target, 0, poolOffset, poolOffset + target.length);
  pool.fill(0, poolOffset, poolOffset + target.length); // every pool byte is handed out once
  poolOffset += target.length;
}
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** HKDF-SHA-512 Extract (RFC 5869): PRK = HMAC-SHA-512(salt, ikm), 64 bytes. */
export const hkdfExtract = (salt: Buffer, ikm: Buffer): Buffer => createHmac('sha512', salt).update(ikm).digest();

/** HKDF-SHA-512 Expand for up to 64 bytes (one block): HMAC-SHA-512(prk, info ‖ 0x01). */
export function hkdfExpand64(prk: Buffer, info: Buffer, length = 64): Buffer {
  if (length > 64) throw new RangeError('hkdfExpand64 gives at most 64 bytes');
  return createHmac('sha512', prk).update(info).update(ONE).digest().subarray(0, length);
}
const ONE = Buffer.from([1]);

/**
 * HKDF-SHA-512 (RFC 5869): extract, then expand. Written with two HMACs for up to 64 bytes because
 * that is about twice as fast as hkdfSync for one block; test/sdk/vectors.test.ts checks it
 * against hkdfSync.
 */
export function hkdf(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  if (length > 64) return Buffer.from(hkdfSync('sha512', ikm, salt, info, length));
  const prk = hkdfExtract(salt, ikm);
  const okm = hkdfExpand64(prk, info, length);
  prk.fill(0);
  return okm;
}

/**
 * AES-256-GCM encryption written into `out` at `pos` (ciphertext, then the 16-byte tag); returns
 * the offset after the tag. node:crypto cannot encrypt into a given buffer: the ciphertext is
 * copied once, as any framing of GCM output needs.
 */
export function gcmSealInto(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer, out: Buffer, pos: number): number {
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(aad);
  if (plaintext.length > 0) pos += c.update(plaintext).copy(out, pos);
  c.final();
  return pos + c.getAuthTag().copy(out, pos);
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
