/**
 * The little DER the adapter needs (no node:crypto here, ARCHITECTURE rule 9): ECDSA signatures
 * from PKCS#11's r||s to DER, SubjectPublicKeyInfo for the public halves of generated key pairs,
 * curve OIDs (CKA_EC_PARAMS) and PKCS#1 v1.5 DigestInfo prefixes.
 */

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), len(value.length), value]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));

/** A non-negative INTEGER from big-endian bytes (leading zeros dropped, a 0x00 added when the top bit is set). */
export function derUnsigned(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  return tlv(0x02, (v[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** PKCS#11 CKM_ECDSA output (r||s, each the curve's size) → ECDSA-Sig-Value DER. */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  return seq(derUnsigned(raw.subarray(0, half)), derUnsigned(raw.subarray(half)));
}

export const CURVE_OIDS = {
  'P-256': Buffer.from('06082a8648ce3d030107', 'hex'),
  'P-384': Buffer.from('06052b81040022', 'hex'),
} as const;

const EC_PUBLIC_KEY_OID = Buffer.from('06072a8648ce3d0201', 'hex');
const RSA_ENCRYPTION_ALG = Buffer.from('300d06092a864886f70d0101010500', 'hex');

/** CKA_EC_POINT is the point wrapped in a DER OCTET STRING (as SoftHSM2 and most modules return it). */
function unwrapEcPoint(ecPoint: Buffer): Buffer {
  if (ecPoint[0] !== 0x04 || ecPoint.length < 3) return ecPoint;
  let offset = 2;
  let length = ecPoint[1] as number;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = ecPoint.readUIntBE(2, n);
    offset = 2 + n;
  }
  // An uncompressed point also starts with 0x04: it is wrapped only when the lengths agree.
  return offset + length === ecPoint.length ? ecPoint.subarray(offset) : ecPoint;
}

export function ecSpki(curve: keyof typeof CURVE_OIDS, ecPoint: Buffer): Buffer {
  const point = unwrapEcPoint(ecPoint);
  return seq(seq(EC_PUBLIC_KEY_OID, CURVE_OIDS[curve]), tlv(0x03, Buffer.concat([Buffer.from([0]), point])));
}

export function rsaSpki(modulus: Buffer, publicExponent: Buffer): Buffer {
  const rsaPublicKey = seq(derUnsigned(modulus), derUnsigned(publicExponent));
  return seq(RSA_ENCRYPTION_ALG, tlv(0x03, Buffer.concat([Buffer.from([0]), rsaPublicKey])));
}

/** DigestInfo prefixes (RFC 8017 §9.2 note 1): CKM_RSA_PKCS signs prefix || digest. */
export const DIGEST_INFO_PREFIX = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
} as const;

export const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;
