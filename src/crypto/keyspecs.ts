/**
 * Key specs, key usages and algorithms (AWS KMS names: CreateKey KeySpec/KeyUsage, Sign/Verify
 * SigningAlgorithm and MessageType, GenerateMac MacAlgorithm, Encrypt EncryptionAlgorithm,
 * GetParametersForImport WrappingAlgorithm), and the cryptography of each spec as pure functions.
 *
 * Contracts:
 * - Algorithms come from the allow-lists below (ARCHITECTURE rule 5). There is no RSA below 2048
 *   bits, no SHA-1 and no OAEP-SHA-1: such names are unknown algorithms (ValidationError).
 * - A known algorithm the spec+usage does not allow is `InvalidKeyUsage`, naming the spec, the usage
 *   and what is allowed. Messages never contain key material or caller bytes.
 * - verify / verifyMac return false and asymmetricDecrypt / unwrapping return undefined for ANY
 *   malformed, tampered or wrong-key input; they throw only for invalid requests (algorithm,
 *   message type, digest length, sizes).
 * - Secret material is PKCS#8 DER (asymmetric) or raw bytes (symmetric, HMAC); public keys SPKI DER.
 */
import { KeywardenError, errors } from '../errors/catalog.js';
import { SecretBytes, zeroize } from './secret-bytes.js';
import { constantTimeEqual, randomBytes } from './primitives/index.js';
import * as asym from './primitives/asymmetric.js';
import { keyMaterialRandom } from './primitives/entropy.js';
import type { HashName, KeyPairParams, SignatureScheme } from './primitives/asymmetric.js';

export const KEY_SPECS = [
  'SYMMETRIC_DEFAULT', 'HMAC_256', 'HMAC_384', 'HMAC_512', 'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_ED25519',
] as const;
export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC'] as const;
export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ED25519',
] as const;
export const MAC_ALGORITHMS = ['HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256'] as const;
export const WRAPPING_ALGORITHMS = ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'] as const;
export const MESSAGE_TYPES = ['RAW', 'DIGEST'] as const;

export type KeySpec = (typeof KEY_SPECS)[number];
export type KeyUsage = (typeof KEY_USAGES)[number];
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];
export type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];
export type MessageType = (typeof MESSAGE_TYPES)[number];
export type Algorithm = SigningAlgorithm | MacAlgorithm | EncryptionAlgorithm;
export type AlgorithmFor<U extends KeyUsage> = {
  ENCRYPT_DECRYPT: EncryptionAlgorithm;
  SIGN_VERIFY: SigningAlgorithm;
  GENERATE_VERIFY_MAC: MacAlgorithm;
}[U];

/** AWS KMS limit for Sign/Verify (RAW), GenerateMac/VerifyMac messages: 1 to 4096 bytes. */
export const MAX_MESSAGE_BYTES = 4096;

const RSA_USAGES = {
  ENCRYPT_DECRYPT: ['RSAES_OAEP_SHA_256'],
  SIGN_VERIFY: [
    'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
    'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  ],
} as const;
/** Usages each spec allows and the algorithms of each spec+usage. The FIRST usage listed is the default. */
export const KEY_SPEC_USAGES = {
  SYMMETRIC_DEFAULT: { ENCRYPT_DECRYPT: ['SYMMETRIC_DEFAULT'] },
  HMAC_256: { GENERATE_VERIFY_MAC: ['HMAC_SHA_256'] },
  HMAC_384: { GENERATE_VERIFY_MAC: ['HMAC_SHA_384'] },
  HMAC_512: { GENERATE_VERIFY_MAC: ['HMAC_SHA_512'] },
  RSA_2048: RSA_USAGES,
  RSA_3072: RSA_USAGES,
  RSA_4096: RSA_USAGES,
  ECC_NIST_P256: { SIGN_VERIFY: ['ECDSA_SHA_256'] },
  ECC_NIST_P384: { SIGN_VERIFY: ['ECDSA_SHA_384'] },
  ECC_ED25519: { SIGN_VERIFY: ['ED25519'] },
} as const satisfies { readonly [S in KeySpec]: { readonly [U in KeyUsage]?: readonly AlgorithmFor<U>[] } };
type UsageTable = { readonly [U in KeyUsage]?: readonly AlgorithmFor<U>[] };
const usagesOf = (spec: KeySpec): UsageTable => KEY_SPEC_USAGES[spec];

/**
 * Material per spec: symmetric keys of `bytes` random bytes, importable with a length in `imported`
 * (HMAC: from the digest length to the hash block size, as AWS allows); or a key `pair`.
 */
type MaterialSpec = { bytes: number; imported: readonly [number, number] } | { pair: KeyPairParams; label: string };
const MATERIAL: Record<KeySpec, MaterialSpec> = {
  SYMMETRIC_DEFAULT: { bytes: 32, imported: [32, 32] },
  HMAC_256: { bytes: 32, imported: [32, 64] },
  HMAC_384: { bytes: 48, imported: [48, 128] },
  HMAC_512: { bytes: 64, imported: [64, 128] },
  RSA_2048: { pair: { type: 'rsa', bits: 2048 }, label: 'RSA 2048-bit key with public exponent 65537' },
  RSA_3072: { pair: { type: 'rsa', bits: 3072 }, label: 'RSA 3072-bit key with public exponent 65537' },
  RSA_4096: { pair: { type: 'rsa', bits: 4096 }, label: 'RSA 4096-bit key with public exponent 65537' },
  ECC_NIST_P256: { pair: { type: 'ec', curve: 'P-256' }, label: 'EC key on NIST P-256' },
  ECC_NIST_P384: { pair: { type: 'ec', curve: 'P-384' }, label: 'EC key on NIST P-384' },
  ECC_ED25519: { pair: { type: 'ed25519' }, label: 'Ed25519 key' },
};
const SIGNING: Record<SigningAlgorithm, SignatureScheme> = {
  RSASSA_PSS_SHA_256: { type: 'rsa-pss', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { type: 'rsa-pss', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { type: 'rsa-pss', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { type: 'rsa-pkcs1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { type: 'rsa-pkcs1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { type: 'rsa-pkcs1', hash: 'sha512' },
  ECDSA_SHA_256: { type: 'ecdsa', hash: 'sha256' },
  ECDSA_SHA_384: { type: 'ecdsa', hash: 'sha384' },
  ED25519: { type: 'ed25519' },
};
const MAC_HASH: Record<MacAlgorithm, HashName> = { HMAC_SHA_256: 'sha256', HMAC_SHA_384: 'sha384', HMAC_SHA_512: 'sha512' };
const ALL_ALGORITHMS: readonly string[] = [...SIGNING_ALGORITHMS, ...MAC_ALGORITHMS, ...ENCRYPTION_ALGORITHMS];
const OAEP_OVERHEAD = 2 * 32 + 2; // RFC 8017 §7.1.1: mLen <= k - 2hLen - 2
const PCT_MESSAGE = Buffer.from('keywarden pairwise consistency test', 'utf8');

const quoted = (v: unknown): string => JSON.stringify(String(v).slice(0, 64));
const bytesOf = (m: SecretBytes | Buffer): Buffer => (m instanceof SecretBytes ? m.expose() : m);
const invalidUsage = (message: string) => new KeywardenError('InvalidKeyUsage', message);

export const isKeySpec = (v: unknown): v is KeySpec => (KEY_SPECS as readonly unknown[]).includes(v);
export const isKeyUsage = (v: unknown): v is KeyUsage => (KEY_USAGES as readonly unknown[]).includes(v);
export const isAsymmetric = (spec: KeySpec): boolean => 'pair' in MATERIAL[spec];

/** The usages a spec allows, default first. */
export function usagesFor(spec: KeySpec): KeyUsage[] {
  return Object.keys(usagesOf(spec)) as KeyUsage[];
}

/** The usage a key gets when CreateKey names none (ENCRYPT_DECRYPT where allowed, as AWS). */
export function defaultUsage(spec: KeySpec): KeyUsage {
  return usagesFor(spec)[0] as KeyUsage;
}

/** CreateKey: the usage MUST be one the spec allows (AWS answers ValidationException). */
export function checkKeyUsage(spec: KeySpec, usage: KeyUsage): void {
  if (!isKeySpec(spec)) throw errors.validation(`Unknown key spec ${quoted(spec)}; valid: ${KEY_SPECS.join(', ')}`);
  const allowed = usagesFor(spec);
  if (!allowed.includes(usage)) throw errors.validation(`Key spec ${spec} does not support key usage ${quoted(usage)}; valid: ${allowed.join(', ')}`);
}

/**
 * The algorithm a request names, checked against what the key's spec and usage allow.
 * Throws ValidationError for an unknown name and InvalidKeyUsage for a known one that is not allowed.
 */
export function checkAlgorithm<U extends KeyUsage>(spec: KeySpec, usage: U, algorithm: string): AlgorithmFor<U> {
  if (!ALL_ALGORITHMS.includes(algorithm)) {
    throw errors.validation(`Unknown algorithm ${quoted(algorithm)}; supported: ${ALL_ALGORITHMS.join(', ')}`);
  }
  if (!isKeySpec(spec) || !isKeyUsage(usage)) throw errors.validation(`Unknown key spec or key usage ${quoted(spec)}/${quoted(usage)}`);
  const byUsage = usagesOf(spec);
  const allowed: readonly string[] | undefined = byUsage[usage];
  if (allowed === undefined) {
    throw invalidUsage(`Key spec ${spec} does not support key usage ${usage} (it supports ${usagesFor(spec).join(', ')})`);
  }
  if (!allowed.includes(algorithm)) {
    throw invalidUsage(`Algorithm ${algorithm} is not valid for key spec ${spec} with key usage ${usage}; allowed: ${allowed.join(', ')}`);
  }
  return algorithm as AlgorithmFor<U>;
}

function checkMessage(what: string, message: Buffer, max = MAX_MESSAGE_BYTES): void {
  if (message.length < 1 || message.length > max) {
    throw errors.validation(`${what} must be 1 to ${max} bytes; got ${message.length}`);
  }
}

/** Validates a Sign/Verify request's input and returns the scheme to use. */
function signingInput(spec: KeySpec, algorithm: string, input: Buffer, messageType: MessageType): SignatureScheme {
  const alg = checkAlgorithm(spec, 'SIGN_VERIFY', algorithm);
  const scheme = SIGNING[alg];
  if (messageType === 'RAW') {
    checkMessage('A RAW message', input);
  } else if (messageType !== 'DIGEST') {
    throw errors.validation(`MessageType must be RAW or DIGEST; got ${quoted(messageType)}`);
  } else if (scheme.type === 'ed25519') {
    throw errors.validation('ED25519 signs messages only (pure Ed25519, RFC 8032): MessageType DIGEST is not supported; use RAW');
  } else if (input.length !== asym.HASH_BYTES[scheme.hash]) {
    const n = asym.HASH_BYTES[scheme.hash];
    throw errors.validation(`A DIGEST message for ${alg} must be the ${n}-byte ${scheme.hash.toUpperCase()} digest; got ${input.length} bytes`);
  }
  return scheme;
}

/**
 * Sign with a private key held elsewhere (an HSM, which signs digests): the request checked as
 * `sign` checks it, and the digest to sign (a RAW message hashed here, a DIGEST as given).
 */
export function signingDigest(
  spec: KeySpec, algorithm: SigningAlgorithm | string, input: Buffer, messageType: MessageType,
): { scheme: Exclude<SignatureScheme, { type: 'ed25519' }>; digest: Buffer } {
  const scheme = signingInput(spec, algorithm, input, messageType);
  if (scheme.type === 'ed25519') throw errors.validation('ED25519 keys are not offered with protection hsm');
  return { scheme, digest: messageType === 'DIGEST' ? input : asym.digest(scheme.hash, input) };
}

/** GenerateMac / VerifyMac request checks (algorithm, message size) for a MAC computed elsewhere (an HSM). */
export function checkMacRequest(spec: KeySpec, algorithm: MacAlgorithm | string, message: Buffer): void {
  checkAlgorithm(spec, 'GENERATE_VERIFY_MAC', algorithm);
  checkMessage('A MAC message', message);
}

/** Asymmetric Decrypt request check (RSAES_OAEP_SHA_256 on an RSA key) for a private key held elsewhere (an HSM). */
export function checkOaepRequest(spec: KeySpec, algorithm: EncryptionAlgorithm | string): void {
  oaepKey(spec, algorithm);
}

// ---- material ----

/**
 * New key material from the OS CSPRNG (symmetric material mixed with the HSM's RNG when
 * `hsm.entropy: mix`: see primitives/entropy.ts). `material` is secret: the caller owns (and wraps) it.
 */
export function generateMaterial(spec: KeySpec): { material: Buffer; publicKey?: Buffer } {
  const m = MATERIAL[spec];
  if ('bytes' in m) return { material: keyMaterialRandom(m.bytes) };
  const { privatePkcs8, publicSpki } = asym.generateKeyPair(m.pair);
  return { material: privatePkcs8, publicKey: publicSpki };
}

/** SPKI DER of an asymmetric key's public half. */
export function publicKeyFromMaterial(spec: KeySpec, material: SecretBytes | Buffer): Buffer {
  if (!isAsymmetric(spec)) throw errors.validation(`Key spec ${spec} is symmetric: it has no public key`);
  return asym.publicSpkiOf(bytesOf(material));
}

/** PEM "PUBLIC KEY" (RFC 7468 §13) of an SPKI DER. */
export const spkiToPem = (der: Buffer): string => asym.spkiToPem(der);

/**
 * Imported (BYOK) material MUST be: SYMMETRIC_DEFAULT exactly 32 bytes; HMAC from the digest length
 * to the block size; asymmetric specs exactly one DER PKCS#8 of the spec's type, size or curve whose
 * private and public halves agree (a pairwise consistency sign/verify, the test FIPS 140-3 asks
 * of generated key pairs).
 */
export function validateImportedMaterial(spec: KeySpec, material: SecretBytes | Buffer): void {
  const m = MATERIAL[spec];
  const bytes = bytesOf(material);
  if ('bytes' in m) {
    const [min, max] = m.imported;
    if (bytes.length < min || bytes.length > max) {
      throw errors.validation(`Key material for ${spec} must be ${min === max ? min : `${min} to ${max}`} bytes; got ${bytes.length}`);
    }
    return;
  }
  if (!asym.privateKeyMatches(bytes, m.pair)) {
    throw errors.validation(`Key material for ${spec} must be one DER-encoded PKCS#8 private ${m.label} (openssl pkcs8 -topk8 -nocrypt -outform DER)`);
  }
  const scheme = SIGNING[usagesOf(spec).SIGN_VERIFY?.[0] ?? 'ED25519']; // every asymmetric spec can sign
  const signature = asym.createSignature(scheme, bytes, PCT_MESSAGE, false);
  if (!asym.checkSignature(scheme, asym.publicSpkiOf(bytes), PCT_MESSAGE, false, signature)) {
    throw errors.validation(`Key material for ${spec} failed the pairwise consistency test: its private and public parts do not match`);
  }
}

// ---- Sign / Verify ----

/**
 * Sign (AWS KMS Sign). RAW: the message (1..4096 bytes), hashed here. DIGEST: the precomputed
 * digest of the algorithm's hash, signed without hashing again (RSA, ECDSA only).
 * Signatures: RSA k bytes; ECDSA DER ECDSA-Sig-Value (RFC 3279 §2.2.3); Ed25519 64 bytes.
 */
export function sign(spec: KeySpec, algorithm: SigningAlgorithm | string, material: SecretBytes, input: Buffer, messageType: MessageType): Buffer {
  const scheme = signingInput(spec, algorithm, input, messageType);
  return asym.createSignature(scheme, material.expose(), input, messageType === 'DIGEST');
}

/** Verify (AWS KMS Verify). false — never an exception — for any malformed or wrong signature. */
export function verify(
  spec: KeySpec, algorithm: SigningAlgorithm | string, publicKeySpki: Buffer, input: Buffer, messageType: MessageType, signature: Buffer,
): boolean {
  const scheme = signingInput(spec, algorithm, input, messageType);
  return asym.checkSignature(scheme, publicKeySpki, input, messageType === 'DIGEST', signature);
}

// ---- GenerateMac / VerifyMac (RFC 2104) ----

export function generateMac(spec: KeySpec, algorithm: MacAlgorithm | string, material: SecretBytes, message: Buffer): Buffer {
  const alg = checkAlgorithm(spec, 'GENERATE_VERIFY_MAC', algorithm);
  checkMessage('A MAC message', message);
  return asym.hmac(MAC_HASH[alg], material.expose(), message);
}

/** Constant-time comparison; false for a wrong or malformed MAC. */
export function verifyMac(spec: KeySpec, algorithm: MacAlgorithm | string, material: SecretBytes, message: Buffer, mac: Buffer): boolean {
  const expected = generateMac(spec, algorithm, material, message);
  const ok = constantTimeEqual(expected, mac);
  zeroize(expected);
  return ok;
}

// ---- RSAES-OAEP-SHA-256 Encrypt / Decrypt ----

function oaepKey(spec: KeySpec, algorithm: EncryptionAlgorithm | string): void {
  if (checkAlgorithm(spec, 'ENCRYPT_DECRYPT', algorithm) !== 'RSAES_OAEP_SHA_256') {
    throw invalidUsage(`Algorithm ${algorithm} is symmetric: key spec ${spec} is not an asymmetric encryption key`);
  }
}

/** RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017 §7.1). Plaintext: 1 to k - 66 bytes. */
export function asymmetricEncrypt(spec: KeySpec, algorithm: EncryptionAlgorithm | string, publicKeySpki: Buffer, plaintext: Buffer): Buffer {
  oaepKey(spec, algorithm);
  const max = asym.rsaModulusBytes(publicKeySpki, 'spki') - OAEP_OVERHEAD;
  checkMessage(`Plaintext for ${algorithm} with ${spec}`, plaintext, max);
  return asym.rsaOaepSha256Encrypt(publicKeySpki, plaintext);
}

/** undefined on ANY failure (wrong key, wrong length, modified ciphertext) — uniform (rule 5). */
export function asymmetricDecrypt(spec: KeySpec, algorithm: EncryptionAlgorithm | string, material: SecretBytes, ciphertext: Buffer): Buffer | undefined {
  oaepKey(spec, algorithm);
  return asym.rsaOaepSha256Decrypt(material.expose(), ciphertext);
}

// ---- BYOK: import wrapping (AWS GetParametersForImport / ImportKeyMaterial) and export ----

/** A fresh RSA-4096 import wrapping key pair (AWS's RSA_4096 wrapping key spec). */
export function generateImportWrappingKeyPair(): { privatePkcs8: Buffer; publicSpki: Buffer } {
  return asym.generateKeyPair({ type: 'rsa', bits: 4096 });
}

/** RSAES_OAEP_SHA_256 wrapping: the material directly under OAEP (at most k - 66 bytes). */
export function rsaOaepSha256Unwrap(privatePkcs8: SecretBytes, wrapped: Buffer): Buffer | undefined {
  return asym.rsaOaepSha256Decrypt(privatePkcs8.expose(), wrapped);
}

/**
 * RSA_AES_KEY_WRAP_SHA_256 wrapping (needed for RSA private keys, larger than OAEP can carry):
 * OAEP-SHA-256(ephemeral AES-256 key, k bytes) || AES-KWP(material) (RFC 5649), as AWS KMS.
 */
export function rsaAesKeyWrapSha256Unwrap(privatePkcs8: SecretBytes, wrapped: Buffer): Buffer | undefined {
  const k = asym.rsaModulusBytes(privatePkcs8.expose(), 'pkcs8');
  if (k === 0 || wrapped.length < k + 16) return undefined;
  const kek = asym.rsaOaepSha256Decrypt(privatePkcs8.expose(), wrapped.subarray(0, k));
  const material = kek?.length === 32 ? asym.aesKeyUnwrapPad(kek, wrapped.subarray(k)) : undefined;
  zeroize(kek);
  return material;
}

/** Unwraps with either wrapping algorithm; undefined on any failure. */
export function unwrapImportedMaterial(algorithm: WrappingAlgorithm, privatePkcs8: SecretBytes, wrapped: Buffer): Buffer | undefined {
  return algorithm === 'RSA_AES_KEY_WRAP_SHA_256' ? rsaAesKeyWrapSha256Unwrap(privatePkcs8, wrapped) : rsaOaepSha256Unwrap(privatePkcs8, wrapped);
}

/**
 * Export of an exportable key to a caller's RSA public key (2048, 3072 or 4096 bits): OAEP-SHA-256
 * when the material fits in one OAEP block, else RSA_AES_KEY_WRAP_SHA_256. The inverse of the above.
 */
export function wrapForExport(recipientSpki: Buffer, material: SecretBytes): { wrapped: Buffer; algorithm: WrappingAlgorithm } {
  let k = 0;
  try {
    k = asym.rsaModulusBytes(recipientSpki, 'spki');
  } catch {
    // not an SPKI: reported below
  }
  if (![256, 384, 512].includes(k)) throw errors.validation('The wrapping public key must be an SPKI DER RSA key of 2048, 3072 or 4096 bits');
  const secret = material.expose();
  if (secret.length <= k - OAEP_OVERHEAD) {
    return { wrapped: asym.rsaOaepSha256Encrypt(recipientSpki, secret), algorithm: 'RSAES_OAEP_SHA_256' };
  }
  const kek = randomBytes(32);
  const wrapped = Buffer.concat([asym.rsaOaepSha256Encrypt(recipientSpki, kek), asym.aesKeyWrapPad(kek, secret)]);
  zeroize(kek);
  return { wrapped, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' };
}
