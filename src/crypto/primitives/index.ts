/**
 * The only module in Keywarden that imports node:crypto (ARCHITECTURE rule 9, enforced by
 * test/boundaries.test.ts). Everything above this layer works with SecretBytes and the small
 * primitives exported here.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hash as oneShotHash,
  randomBytes as nodeRandomBytes,
  randomFillSync,
  randomUUID as nodeRandomUUID,
  timingSafeEqual,
} from 'node:crypto';

export const AES_GCM_NONCE_BYTES = 12;
export const AES_GCM_TAG_BYTES = 16;

/** Bytes from the OS CSPRNG (OpenSSL's DRBG seeded from getrandom(2)). */
export function randomBytes(n: number): Buffer {
  return nodeRandomBytes(n);
}

/**
 * Nonces for random-nonce AES-GCM come from a pool refilled from the CSPRNG 4 KiB at a time:
 * a 12-byte randomBytes() call costs ~2 µs of native-call overhead, a pool slice ~0.1 µs. Nonces
 * are public; the only requirement (NIST SP 800-38D §8.2.2) is that they are random and never
 * reused, and every pool byte is handed out exactly once.
 *
 * next() returns a view into the pool, not a copy (one allocation less per encryption). A refill
 * allocates a new pool, so a view stays valid; callers MUST NOT write to it.
 */
export class NoncePool {
  #pool = Buffer.alloc(0);
  #offset = 0;

  constructor(private readonly poolBytes = 4096) {}

  next(size: number = AES_GCM_NONCE_BYTES): Buffer {
    if (this.#offset + size > this.#pool.length) {
      this.#pool = randomFillSync(Buffer.allocUnsafeSlow(Math.max(this.poolBytes, size)));
      this.#offset = 0;
    }
    const nonce = this.#pool.subarray(this.#offset, this.#offset + size);
    this.#offset += size;
    return nonce;
  }
}

export function randomUUID(): string {
  return nodeRandomUUID();
}

/** SHA-256 (one-shot API: cheaper than createHash on the audit hot path, where every event is hashed). */
export function sha256(data: Buffer | string): Buffer {
  return oneShotHash('sha256', data, 'buffer') as unknown as Buffer;
}

/**
 * SHA-256 of `data` written to `out` at `offset` (32 bytes), for the audit ledger's leaf and node
 * hashes. Node 20's one-shot API is ~2x slower with 'buffer' output (~600 ns) than with a string
 * output (~220 ns, the digest itself is ~50 ns with SHA-NI): the latin1 ('binary') string maps
 * each byte to one char, so writing it back gives the digest bytes without a Buffer per hash.
 */
export function sha256Into(data: Buffer, out: Buffer, offset: number): void {
  out.write(oneShotHash('sha256', data, 'binary'), offset, 32, 'latin1'); // 'binary' is latin1
}

/** SHA-256 as lowercase hex (one-shot API: ~3x cheaper than createHash for short inputs). */
export function sha256Hex(data: string): string {
  return oneShotHash('sha256', data, 'hex');
}

export function hmacSha256(key: Buffer, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Constant-time equality; different lengths compare unequal without leaking where they differ. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    // Still spend comparable time so that the length check is not a faster path to probe.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/**
 * AES-256 only: every caller labels its output AES-256-GCM (ciphertext algorithm id 0x01, the
 * barrier format), so a 16-byte key must not silently select AES-128.
 */
function cipherName(key: Buffer): 'aes-256-gcm' {
  if (key.length === 32) return 'aes-256-gcm';
  throw new Error('AES-256-GCM key must be 32 bytes');
}

/**
 * AES-256-GCM (NIST SP 800-38D) with a 96-bit nonce and a 128-bit tag.
 * Returns ciphertext || tag.
 */
export function aesGcmSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + AES_GCM_TAG_BYTES);
  aesGcmSealInto(key, nonce, plaintext, [aad], out, 0);
  return out;
}

/**
 * aesGcmSeal without intermediate buffers: writes ciphertext || tag into `out` at `offset` and
 * returns the number of bytes written (plaintext.length + 16). The AAD is the concatenation of
 * `aad` in order (GCM authenticates AAD supplied in parts exactly like the joined bytes), so callers
 * need not copy a header and a context into one buffer. `out` MUST have room for the result.
 */
export function aesGcmSealInto(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: readonly Buffer[], out: Buffer, offset: number): number {
  if (nonce.length !== AES_GCM_NONCE_BYTES) throw new Error('AES-GCM nonce must be 12 bytes');
  const size = plaintext.length + AES_GCM_TAG_BYTES;
  if (offset < 0 || out.length - offset < size) throw new Error('AES-GCM output buffer is too small');
  const cipher = createCipheriv(cipherName(key), key, nonce, { authTagLength: AES_GCM_TAG_BYTES });
  for (const part of aad) cipher.setAAD(part);
  let o = offset;
  o += cipher.update(plaintext).copy(out, o);
  o += cipher.final().copy(out, o);
  o += cipher.getAuthTag().copy(out, o);
  // GCM is a stream mode: update() and final() together return exactly the plaintext length.
  if (o - offset !== size) throw new Error('AES-GCM produced an unexpected output length');
  return size;
}

/**
 * Opens ciphertext || tag. Returns undefined on ANY failure (wrong key, wrong AAD, modified
 * bytes, short input) so that callers cannot distinguish the causes (ARCHITECTURE rule 5).
 */
export function aesGcmOpen(key: Buffer, nonce: Buffer, sealed: Buffer, aad: Buffer): Buffer | undefined {
  if (nonce.length !== AES_GCM_NONCE_BYTES || sealed.length < AES_GCM_TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv(cipherName(key), key, nonce, { authTagLength: AES_GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - AES_GCM_TAG_BYTES));
    const head = decipher.update(sealed.subarray(0, sealed.length - AES_GCM_TAG_BYTES));
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    return undefined;
  }
}
