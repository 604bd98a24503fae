/**
 * Asymmetric signatures (RSASSA-PSS, RSASSA-PKCS1-v1_5, ECDSA, Ed25519), RSAES-OAEP, HMAC and
 * AES key wrap with padding over node:crypto (ARCHITECTURE rule 9: with index.ts, the only place
 * importing node:crypto). Spec-agnostic: `src/crypto/keyspecs.ts` decides which key may use which
 * scheme. Keys travel as DER: private keys PKCS#8 (RFC 5208), public keys SPKI (RFC 5280 §4.1).
 *
 * Pre-hashed ("DIGEST") signing. Node signs only messages (it hashes itself), so:
 * - RSA: the encoded message is built here (EMSA-PKCS1-v1_5, RFC 8017 §9.2; EMSA-PSS, §9.1.1 with
 *   sLen = hLen and MGF1 over the same hash) and OpenSSL applies the raw private-key operation
 *   (RSASP1 with blinding; RSA_NO_PADDING). Verification applies RSAVP1 and compares against the
 *   re-encoding, which is equivalent to the §9.1.2 / §8.2.2 checks.
 * - ECDSA: key blinding. For a digest e, OpenSSL signs a fresh random message m' (e' = H(m')) under
 *   d' = λ·d with λ = e'/e mod n; then s' = k⁻¹(e' + r·λd) = λ·k⁻¹(e + r·d), so (r, s'/λ) is the
 *   ECDSA signature of e under d (SEC 1 v2 §4.1.3). The nonce k and k·G never leave OpenSSL; the
 *   only JS arithmetic touching d is one multiplication mod n by the fresh random λ.
 *   Verification (public data only) is SEC 1 §4.1.4 in BigInt Jacobian arithmetic.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  privateEncrypt,
  publicEncrypt,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { constantTimeEqual, randomBytes } from './index.js';
import { zeroize } from '../secret-bytes.js';
import { errors } from '../../errors/catalog.js';

export type HashName = 'sha256' | 'sha384' | 'sha512';
export const HASH_BYTES: Readonly<Record<HashName, number>> = { sha256: 32, sha384: 48, sha512: 64 };
export type Curve = 'P-256' | 'P-384';
export type KeyPairParams = { type: 'rsa'; bits: number } | { type: 'ec'; curve: Curve } | { type: 'ed25519' };
export type SignatureScheme = { type: 'rsa-pss' | 'rsa-pkcs1' | 'ecdsa'; hash: HashName } | { type: 'ed25519' };

/** Only public exponent accepted for imported RSA keys (generated keys use it too). */
const RSA_E = 65537n;
const big = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));
const bytesOf = (x: bigint, len: number): Buffer => Buffer.from(x.toString(16).padStart(len * 2, '0'), 'hex');
const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;
function powMod(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b = mod(b, m); e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
/** Inverse modulo a prime (Fermat). Only for public values or blinded ones. */
const inv = (x: bigint, p: bigint): bigint => powMod(x, p - 2n, p);

// ---- DER (X.690) just enough for ECDSA-Sig-Value, ECPrivateKey and the outer PKCS#8 length ----
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}
/** One DER TLV at `at` (definite, minimal length); undefined if truncated or malformed. */
function readTlv(b: Buffer, at: number): { tag: number; start: number; end: number } | undefined {
  if (at + 2 > b.length) return undefined;
  let len = b[at + 1] as number;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3 || start + n > b.length || b[start] === 0) return undefined;
    len = b.subarray(start, start + n).reduce((acc, x) => acc * 256 + x, 0);
    if (len < 0x80) return undefined;
    start += n;
  }
  return start + len <= b.length ? { tag: b[at] as number, start, end: start + len } : undefined;
}
const derInt = (x: bigint): Buffer => {
  const hex = x.toString(16);
  const b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return tlv(0x02, (b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
};
const ecdsaDer = (r: bigint, s: bigint): Buffer => tlv(0x30, derInt(r), derInt(s));
/** (r, s) from a DER ECDSA-Sig-Value; strict: re-encoding must give the same bytes. */
function parseEcdsaDer(sig: Buffer): [bigint, bigint] | undefined {
  const seq = readTlv(sig, 0);
  const r = seq?.tag === 0x30 ? readTlv(sig, seq.start) : undefined;
  const s = r?.tag === 0x02 ? readTlv(sig, r.end) : undefined;
  if (!r || !s || s.tag !== 0x02 || s.end !== seq?.end) return undefined;
  const rs: [bigint, bigint] = [big(sig.subarray(r.start, r.end)), big(sig.subarray(s.start, s.end))];
  return ecdsaDer(...rs).equals(sig) ? rs : undefined;
}

// ---- curves: FIPS 186-4 §D.1.2.3 / §D.1.2.4 (a = -3). G is taken from OpenSSL (1·G). ----
type Point = readonly [bigint, bigint, bigint]; // Jacobian; Z = 0 is the point at infinity
const INFINITY: Point = [1n, 1n, 0n];
const CURVES = {
  'P-256': {
    ossl: 'prime256v1',
    oid: '06082a8648ce3d030107',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  'P-384': {
    ossl: 'secp384r1',
    oid: '06052b81040022',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
} as const;
const CURVE_INFO = {
  'P-256': { ...CURVES['P-256'], size: 32, G: generator('P-256') },
  'P-384': { ...CURVES['P-384'], size: 48, G: generator('P-384') },
};
/** G = 1·G as computed by OpenSSL, so that no generator constant can be mistyped here. */
function generator(curve: Curve): Point {
  const ecdh = createECDH(CURVES[curve].ossl);
  ecdh.setPrivateKey(Buffer.from([1]));
  const g = ecdh.getPublicKey(); // 04 || x || y (SEC 1 §2.3.3)
  const half = (g.length - 1) / 2;
  return [big(g.subarray(1, 1 + half)), big(g.subarray(1 + half)), 1n];
}
const curveOfKey = (key: KeyObject): Curve | undefined =>
  (Object.keys(CURVES) as Curve[]).find((c) => CURVES[c].ossl === key.asymmetricKeyDetails?.namedCurve);

function double([x, y, z]: Point, p: bigint): Point {
  if (z === 0n || y === 0n) return INFINITY;
  const d = (z * z) % p, g = (y * y) % p, b = (x * g) % p, a = mod(3n * (x - d) * (x + d), p);
  const x3 = mod(a * a - 8n * b, p);
  return [x3, mod(a * (4n * b - x3) - 8n * g * g, p), mod((y + z) * (y + z) - g - d, p)];
}
function add(P: Point, Q: Point, p: bigint): Point {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const z1z1 = (P[2] * P[2]) % p, z2z2 = (Q[2] * Q[2]) % p;
  const u1 = (P[0] * z2z2) % p, u2 = (Q[0] * z1z1) % p;
  const s1 = (P[1] * Q[2] * z2z2) % p, s2 = (Q[1] * P[2] * z1z1) % p;
  if (u1 === u2) return s1 === s2 ? double(P, p) : INFINITY;
  const h = mod(u2 - u1, p), r = mod(s2 - s1, p), hh = (h * h) % p, hhh = (h * hh) % p, v = (u1 * hh) % p;
  const x3 = mod(r * r - hhh - 2n * v, p);
  return [x3, mod(r * (v - x3) - s1 * hhh, p), (P[2] * Q[2] * h) % p];
}
/** a·P + b·Q by Shamir's trick (one shared doubling chain). Variable time: public values only (verification). */
function twoMultiply(a: bigint, P: Point, b: bigint, Q: Point, p: bigint): Point {
  const table = [INFINITY, P, Q, add(P, Q, p)];
  let R = INFINITY;
  for (let i = Math.max(a.toString(2).length, b.toString(2).length) - 1; i >= 0; i--) {
    const bit = BigInt(i);
    R = add(double(R, p), table[Number((a >> bit) & 1n) | (Number((b >> bit) & 1n) << 1)] as Point, p);
  }
  return R;
}

/** SEC 1 v2 §4.1.4 steps 1–8 for a digest whose bit length equals the curve order's. */
function ecdsaVerifyDigest(curve: Curve, spki: KeyObject, digest: Buffer, sig: Buffer): boolean {
  const { p, n, G } = CURVE_INFO[curve];
  const rs = parseEcdsaDer(sig);
  if (!rs || rs.some((v) => v < 1n || v >= n)) return false;
  const [r, s] = rs;
  const jwk = spki.export({ format: 'jwk' });
  const Q: Point = [big(Buffer.from(jwk.x as string, 'base64url')), big(Buffer.from(jwk.y as string, 'base64url')), 1n];
  const w = inv(s, n);
  const R = twoMultiply(mod(big(digest) * w, n), G, (r * w) % n, Q, p);
  if (R[2] === 0n) return false;
  return mod(R[0] * inv((R[2] * R[2]) % p, p), p) % n === r;
}

function ecdsaSignDigest(curve: Curve, hash: HashName, key: KeyObject, digest: Buffer): Buffer {
  const { n, size, oid } = CURVE_INFO[curve];
  const e = big(digest) % n;
  // e ≡ 0 has no preimage in practice, and its signatures are forgeable without the key (u1 = 0).
  if (e === 0n) throw errors.validation('The digest is zero modulo the curve order and cannot be signed');
  const sec1 = key.export({ format: 'der', type: 'sec1' }); // ECPrivateKey (RFC 5915): SEQ { 1, OCTET d, ... }
  const outer = readTlv(sec1, 0);
  const version = outer && readTlv(sec1, outer.start);
  const dTlv = version && readTlv(sec1, version.end);
  if (!dTlv || dTlv.tag !== 0x04) throw new Error('unexpected ECPrivateKey encoding');
  const d = big(sec1.subarray(dTlv.start, dTlv.end));
  zeroize(sec1);
  let mPrime: Buffer, lambda: bigint;
  do {
    mPrime = randomBytes(32);
    lambda = ((big(createHash(hash).update(mPrime).digest()) % n) * inv(e, n)) % n; // λ = e'/e
  } while (lambda === 0n);
  // PKCS#8 of d' = λ·d without the optional public key (OpenSSL recomputes it), d' copied in last.
  const template = tlv(0x30, tlv(0x02, Buffer.from([0])), tlv(0x30, Buffer.from('06072a8648ce3d0201', 'hex'), Buffer.from(oid, 'hex')),
    tlv(0x04, tlv(0x30, tlv(0x02, Buffer.from([1])), tlv(0x04, Buffer.alloc(size)))));
  const dPrime = bytesOf((lambda * d) % n, size);
  dPrime.copy(template, template.length - size);
  const blinded = createPrivateKey({ key: template, format: 'der', type: 'pkcs8' });
  zeroize(dPrime, template);
  const raw = nodeSign(hash, mPrime, { key: blinded, dsaEncoding: 'ieee-p1363' });
  return ecdsaDer(big(raw.subarray(0, size)), (big(raw.subarray(size)) * inv(lambda, n)) % n);
}

// ---- RSA encodings (RFC 8017) ----
/** DigestInfo DER prefixes, RFC 8017 §9.2 note 1. */
const DIGEST_INFO: Record<HashName, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};
const emsaPkcs1 = (hash: HashName, digest: Buffer, k: number): Buffer => {
  const t = Buffer.concat([Buffer.from(DIGEST_INFO[hash], 'hex'), digest]);
  return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - t.length - 3, 0xff), Buffer.from([0]), t]);
};
/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: HashName, seed: Buffer, len: number): Buffer {
  const out: Buffer[] = [];
  for (let c = 0; out.length * HASH_BYTES[hash] < len; c++) {
    out.push(createHash(hash).update(seed).update(Buffer.from([c >>> 24, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff])).digest());
  }
  return Buffer.concat(out).subarray(0, len);
}
/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with emBits = modBits - 1, left-padded to k bytes. */
function emsaPss(hash: HashName, digest: Buffer, salt: Buffer, modBits: number): Buffer {
  const hLen = HASH_BYTES[hash], emBits = modBits - 1, emLen = Math.ceil(emBits / 8);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[db.length - salt.length - 1] = 1;
  salt.copy(db, db.length - salt.length);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([Buffer.alloc(Math.ceil(modBits / 8) - emLen), db, h, Buffer.from([0xbc])]);
}
/** The salt an encoded message (k bytes) claims: the last hLen bytes of its unmasked DB. */
function pssSalt(hash: HashName, em: Buffer, modBits: number): Buffer {
  const hLen = HASH_BYTES[hash], dbLen = Math.ceil((modBits - 1) / 8) - hLen - 1, hAt = em.length - hLen - 1;
  const mask = mgf1(hash, em.subarray(hAt, hAt + hLen), dbLen);
  return Buffer.from(em.subarray(hAt - hLen, hAt).map((x, i) => x ^ (mask[dbLen - hLen + i] as number)));
}
type RsaScheme = { type: 'rsa-pss' | 'rsa-pkcs1'; hash: HashName };
const rsaBits = (key: KeyObject): number => key.asymmetricKeyDetails?.modulusLength ?? 0;

function rsaSignDigest(scheme: RsaScheme, key: KeyObject, digest: Buffer): Buffer {
  const bits = rsaBits(key);
  const em = scheme.type === 'rsa-pss'
    ? emsaPss(scheme.hash, digest, randomBytes(HASH_BYTES[scheme.hash]), bits)
    : emsaPkcs1(scheme.hash, digest, Math.ceil(bits / 8));
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, em);
}
function rsaVerifyDigest(scheme: RsaScheme, key: KeyObject, digest: Buffer, sig: Buffer): boolean {
  const bits = rsaBits(key), k = Math.ceil(bits / 8);
  if (sig.length !== k) return false;
  const em = publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, sig); // RSAVP1; throws if sig >= n
  const expected = scheme.type === 'rsa-pss'
    ? emsaPss(scheme.hash, digest, pssSalt(scheme.hash, em, bits), bits)
    : emsaPkcs1(scheme.hash, digest, k);
  return constantTimeEqual(em, expected);
}

// ---- keys ----
const privateKeyOf = (pkcs8: Buffer): KeyObject => createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
const publicKeyOf = (spki: Buffer): KeyObject => createPublicKey({ key: spki, format: 'der', type: 'spki' });
const KEY_TYPE = { 'rsa-pss': 'rsa', 'rsa-pkcs1': 'rsa', ecdsa: 'ec', ed25519: 'ed25519' } as const;
function keyFor(scheme: SignatureScheme, key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== KEY_TYPE[scheme.type]) throw new Error(`key type does not match signature scheme ${scheme.type}`);
  return key;
}

export function generateKeyPair(params: KeyPairParams): { privatePkcs8: Buffer; publicSpki: Buffer } {
  const { privateKey, publicKey } =
    params.type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: params.bits, publicExponent: Number(RSA_E) })
      : params.type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: CURVES[params.curve].ossl })
        : generateKeyPairSync('ed25519');
  return { privatePkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }), publicSpki: publicKey.export({ format: 'der', type: 'spki' }) };
}

export function publicSpkiOf(privatePkcs8: Buffer): Buffer {
  return createPublicKey(privateKeyOf(privatePkcs8)).export({ format: 'der', type: 'spki' });
}

export function spkiToPem(spki: Buffer): string {
  return publicKeyOf(spki).export({ format: 'pem', type: 'spki' }).toString();
}

/**
 * True iff `pkcs8` is exactly one DER PKCS#8 private key of the given kind: RSA (rsaEncryption,
 * not the PSS-restricted OID) with that modulus size and e = 65537, EC on that named curve, Ed25519.
 */
export function privateKeyMatches(pkcs8: Buffer, want: KeyPairParams): boolean {
  const outer = readTlv(pkcs8, 0);
  if (!outer || outer.tag !== 0x30 || outer.end !== pkcs8.length) return false; // OpenSSL ignores trailing bytes
  let key: KeyObject;
  try {
    key = privateKeyOf(pkcs8);
  } catch {
    return false;
  }
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType !== want.type) return false;
  if (want.type === 'rsa') return d.modulusLength === want.bits && d.publicExponent === RSA_E;
  return want.type === 'ec' ? d.namedCurve === CURVES[want.curve].ossl : true;
}

/** Modulus size in bytes of an RSA key given as SPKI or PKCS#8 DER; 0 if it is not RSA. */
export function rsaModulusBytes(der: Buffer, kind: 'spki' | 'pkcs8'): number {
  const key = kind === 'spki' ? publicKeyOf(der) : privateKeyOf(der);
  return key.asymmetricKeyType === 'rsa' ? Math.ceil(rsaBits(key) / 8) : 0;
}

// ---- signatures ----
const nodeOptions = (scheme: SignatureScheme) =>
  scheme.type === 'rsa-pss'
    ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : scheme.type === 'rsa-pkcs1'
      ? { padding: constants.RSA_PKCS1_PADDING }
      : scheme.type === 'ecdsa'
        ? { dsaEncoding: 'der' as const }
        : {};
const hashOf = (scheme: SignatureScheme): HashName | null => (scheme.type === 'ed25519' ? null : scheme.hash);

/**
 * Signs `data`: the message itself, or (prehashed) its digest, whose length the caller MUST have
 * checked against the scheme's hash. Ed25519 is pure Ed25519 (RFC 8032 §5.1.6): messages only.
 */
export function createSignature(scheme: SignatureScheme, privatePkcs8: Buffer, data: Buffer, prehashed: boolean): Buffer {
  const key = keyFor(scheme, privateKeyOf(privatePkcs8));
  if (!prehashed) return nodeSign(hashOf(scheme), data, { key, ...nodeOptions(scheme) });
  if (scheme.type === 'ed25519') throw new Error('Ed25519 does not sign digests');
  if (scheme.type !== 'ecdsa') return rsaSignDigest({ type: scheme.type, hash: scheme.hash }, key, data);
  const curve = curveOfKey(key);
  if (!curve || CURVE_INFO[curve].size !== data.length) throw new Error('ECDSA digest length must equal the curve size');
  return ecdsaSignDigest(curve, scheme.hash, key, data);
}

/**
 * A signer over raw messages that parses the private key once (OpenSSL's PKCS#8 decoder costs
 * far more than an Ed25519 signature: ~300 µs against ~40 µs), for keys that sign repeatedly
 * (audit checkpoints). The parsed key lives in OpenSSL memory until the signer is dropped.
 */
export function rawSigner(scheme: SignatureScheme, privatePkcs8: Buffer): (data: Buffer) => Buffer {
  const key = keyFor(scheme, privateKeyOf(privatePkcs8));
  const opts = { key, ...nodeOptions(scheme) };
  const hash = hashOf(scheme);
  return (data) => nodeSign(hash, data, opts);
}

/** Verifies; false (never an exception) for any malformed, truncated or wrong-sized signature. */
export function checkSignature(scheme: SignatureScheme, publicSpki: Buffer, data: Buffer, prehashed: boolean, signature: Buffer): boolean {
  const key = keyFor(scheme, publicKeyOf(publicSpki));
  try {
    if (!prehashed) return nodeVerify(hashOf(scheme), data, { key, ...nodeOptions(scheme) }, signature);
    if (scheme.type === 'ed25519') return false;
    if (scheme.type !== 'ecdsa') return rsaVerifyDigest({ type: scheme.type, hash: scheme.hash }, key, data, signature);
    const curve = curveOfKey(key);
    return curve !== undefined && CURVE_INFO[curve].size === data.length && ecdsaVerifyDigest(curve, key, data, signature);
  } catch {
    return false;
  }
}

/** The SHA-2 digest of `data` (for signatures whose private key signs digests elsewhere: an HSM). */
export function digest(hash: HashName, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

// ---- MAC, encryption, key wrap ----
/** HMAC (RFC 2104) with SHA-2 (FIPS 180-4). */
export function hmac(hash: HashName, key: Buffer, data: Buffer): Buffer {
  return createHmac(hash, key).update(data).digest();
}

const OAEP_SHA256 = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;
/** RSAES-OAEP (RFC 8017 §7.1) with SHA-256 and MGF1-SHA-256 (OpenSSL defaults MGF1 to the OAEP hash), empty label. */
export function rsaOaepSha256Encrypt(publicSpki: Buffer, plaintext: Buffer): Buffer {
  return publicEncrypt({ key: publicKeyOf(publicSpki), ...OAEP_SHA256 }, plaintext);
}
/** Undefined on ANY failure (wrong key, wrong length, bad padding) — ARCHITECTURE rule 5. */
export function rsaOaepSha256Decrypt(privatePkcs8: Buffer, ciphertext: Buffer): Buffer | undefined {
  try {
    const key = privateKeyOf(privatePkcs8);
    if (key.asymmetricKeyType !== 'rsa' || ciphertext.length !== Math.ceil(rsaBits(key) / 8)) return undefined;
    return privateDecrypt({ key, ...OAEP_SHA256 }, ciphertext);
  } catch {
    return undefined;
  }
}

/** AES key wrap with padding (RFC 5649, AIV 0xA65959A6) under a 256-bit KEK. */
const KWP = 'id-aes256-wrap-pad';
const KWP_AIV = Buffer.from('a65959a6', 'hex');
export function aesKeyWrapPad(kek: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv(KWP, kek, KWP_AIV);
  return Buffer.concat([c.update(plaintext), c.final()]);
}
/** Undefined on any failure (wrong KEK, modified bytes, bad length or padding). */
export function aesKeyUnwrapPad(kek: Buffer, wrapped: Buffer): Buffer | undefined {
  try {
    const d = createDecipheriv(KWP, kek, KWP_AIV);
    const head = d.update(wrapped), tail = d.final(); // OpenSSL unwraps in update(); final() is empty
    if (tail.length === 0) return head;
    const out = Buffer.concat([head, tail]);
    zeroize(head, tail);
    return out;
  } catch {
    return undefined;
  }
}
