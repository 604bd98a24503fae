/**
 * Keywarden ciphertext format, version 1 (documented in docs/ciphertext-format.md).
 *
 *   offset  size  field
 *   0       1     format version       0x01
 *   1       1     algorithm id         0x01 = AES-256-GCM (96-bit nonce, 128-bit tag)
 *   2       16    key id               the KMS key's UUID, 16 raw bytes
 *   18      4     key version          uint32 big-endian, >= 1
 *   22      1     nonce length         12 for AES-256-GCM
 *   23      n     nonce
 *   23+n    ...   AES-GCM ciphertext || 16-byte tag
 *
 * AAD = header (bytes 0 .. 23+n) || canonicalContext(context). The whole header is therefore
 * authenticated: changing the key id, version, algorithm or nonce makes decryption fail.
 * A raw ciphertext always starts with byte 0x01, which is not a base64 character, so tools can
 * tell raw and base64 forms apart unambiguously.
 */
export const CIPHERTEXT_FORMAT_V1 = 0x01;

export const Algorithm = {
  AES_256_GCM: 0x01,
} as const;
export type AlgorithmId = (typeof Algorithm)[keyof typeof Algorithm];

const NONCE_BYTES: Record<AlgorithmId, number> = { [Algorithm.AES_256_GCM]: 12 };
const TAG_BYTES: Record<AlgorithmId, number> = { [Algorithm.AES_256_GCM]: 16 };

export interface CiphertextHeader {
  formatVersion: typeof CIPHERTEXT_FORMAT_V1;
  algorithm: AlgorithmId;
  keyId: string;
  keyVersion: number;
  nonce: Buffer;
}

export interface ParsedCiphertext {
  header: CiphertextHeader;
  /** The serialized header, used as the first part of the AAD. */
  headerBytes: Buffer;
  /** ciphertext || tag */
  body: Buffer;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function uuidToBytes(id: string): Buffer {
  if (!UUID_RE.test(id)) throw new Error('key id is not a lowercase UUID');
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

export function bytesToUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function encodeHeader(h: Omit<CiphertextHeader, 'formatVersion'>): Buffer {
  const out = Buffer.allocUnsafe(headerLength(h));
  writeHeader(out, h);
  return out;
}

/** The serialized size of a header; throws for an unknown algorithm or a nonce of the wrong length. */
export function headerLength(h: Pick<CiphertextHeader, 'algorithm' | 'nonce'>): number {
  const expected = NONCE_BYTES[h.algorithm];
  if (expected === undefined) throw new Error('unknown algorithm id');
  if (h.nonce.length !== expected) throw new Error('nonce length does not match the algorithm');
  return 23 + h.nonce.length;
}

/**
 * Writes the header into `out` at offset 0 (`out` MUST hold at least headerLength(h) bytes) and
 * returns its length. `keyIdBytes`, when given, MUST be uuidToBytes(h.keyId): hot paths compute it
 * once per key version instead of parsing the UUID for every ciphertext.
 */
export function writeHeader(out: Buffer, h: Omit<CiphertextHeader, 'formatVersion'>, keyIdBytes?: Buffer): number {
  const length = headerLength(h);
  if (!Number.isInteger(h.keyVersion) || h.keyVersion < 1 || h.keyVersion > 0xffffffff) {
    throw new Error('key version out of range');
  }
  const id = keyIdBytes ?? uuidToBytes(h.keyId);
  if (id.length !== 16) throw new Error('key id must be 16 bytes');
  if (out.length < length) throw new Error('header does not fit the output buffer');
  out[0] = CIPHERTEXT_FORMAT_V1;
  out[1] = h.algorithm;
  id.copy(out, 2);
  out.writeUInt32BE(h.keyVersion, 18);
  out[22] = h.nonce.length;
  h.nonce.copy(out, 23);
  return length;
}

/** Parses a ciphertext; returns undefined for anything malformed (callers map it to InvalidCiphertext). */
export function parseCiphertext(blob: Buffer): ParsedCiphertext | undefined {
  if (blob.length < 23) return undefined;
  if (blob[0] !== CIPHERTEXT_FORMAT_V1) return undefined;
  const algorithm = blob[1] as AlgorithmId;
  const nonceLen = NONCE_BYTES[algorithm];
  const tagLen = TAG_BYTES[algorithm];
  if (nonceLen === undefined || tagLen === undefined) return undefined;
  if (blob[22] !== nonceLen) return undefined;
  const headerLen = 23 + nonceLen;
  if (blob.length < headerLen + tagLen) return undefined;
  const keyVersion = blob.readUInt32BE(18);
  if (keyVersion < 1) return undefined;
  return {
    header: {
      formatVersion: CIPHERTEXT_FORMAT_V1,
      algorithm,
      keyId: bytesToUuid(blob.subarray(2, 18)),
      keyVersion,
      nonce: blob.subarray(23, headerLen),
    },
    headerBytes: blob.subarray(0, headerLen),
    body: blob.subarray(headerLen),
  };
}
