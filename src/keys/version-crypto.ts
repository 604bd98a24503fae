/**
 * The cryptography of one key version, wherever its material lives (issue 6/10): in software (the
 * material unwrapped from the store, cached while unsealed) or in an HSM (a non-extractable token
 * object found by its label; nothing secret ever enters this process). Ops call these methods and
 * never branch on the protection level.
 *
 * Contracts:
 * - Results and failures are the same for both: a Keywarden ciphertext v1 (header, AAD = header ||
 *   canonicalContext(context), the caller's nonce), undefined for any authentication failure,
 *   signatures in the same encodings (ECDSA DER).
 * - Software methods answer synchronously (the encrypt hot path stays free of promises); HSM
 *   methods return promises. Callers `await` or check for a Buffer.
 */
import { encryptV1, decryptV1, type KeyVersionRef } from '../crypto/aead.js';
import { AES_GCM_TAG_BYTES, constantTimeEqual, randomBytes } from '../crypto/primitives/index.js';
import { Algorithm, headerLength, writeHeader, type ParsedCiphertext } from '../crypto/ciphertext.js';
import { canonicalContext, type EncryptionContext } from '../crypto/encryption-context.js';
import {
  asymmetricDecrypt,
  checkMacRequest,
  checkOaepRequest,
  generateMac,
  sign,
  signingDigest,
  verifyMac,
  type KeySpec,
  type MessageType,
} from '../crypto/keyspecs.js';
import { zeroize, type SecretBytes } from '../crypto/secret-bytes.js';
import { errors } from '../errors/catalog.js';
import type { Hsm, HsmKeyKind, HsmKeyRef } from '../hsm/hsm.js';

type MaybePromise<T> = T | Promise<T>;

export interface VersionCrypto {
  /** The unwrapped material of a software version (export, tests); undefined in an HSM. */
  readonly material: SecretBytes | undefined;
  /** AES-256-GCM in Keywarden ciphertext format v1; `keyIdBytes` = uuidToBytes(ref.keyId). */
  encrypt(ref: KeyVersionRef, plaintext: Buffer, context: EncryptionContext | undefined, nonce: Buffer, keyIdBytes: Buffer): MaybePromise<Buffer>;
  /** The plaintext, or undefined when the ciphertext does not authenticate. */
  decrypt(parsed: ParsedCiphertext, context: EncryptionContext | undefined): MaybePromise<Buffer | undefined>;
  /** Random bytes for data keys (an HSM version takes them from the HSM's RNG). */
  random(bytes: number): MaybePromise<Buffer>;
  sign(spec: KeySpec, algorithm: string, input: Buffer, messageType: MessageType): MaybePromise<Buffer>;
  mac(spec: KeySpec, algorithm: string, message: Buffer): MaybePromise<Buffer>;
  verifyMac(spec: KeySpec, algorithm: string, message: Buffer, mac: Buffer): MaybePromise<boolean>;
  /** RSAES-OAEP-SHA-256; undefined on any failure. */
  asymmetricDecrypt(spec: KeySpec, algorithm: string, ciphertext: Buffer): MaybePromise<Buffer | undefined>;
  /** Zeroizes what this process holds (the cache calls it on seal, disable and destroy). */
  dispose(): void;
}

/** A version whose material was unwrapped from the store: today's node:crypto code. */
export class SoftwareVersionCrypto implements VersionCrypto {
  constructor(readonly material: SecretBytes) {}

  encrypt(ref: KeyVersionRef, plaintext: Buffer, context: EncryptionContext | undefined, nonce: Buffer, keyIdBytes: Buffer): Buffer {
    return encryptV1(this.material, ref, plaintext, context, nonce, keyIdBytes);
  }
  decrypt(parsed: ParsedCiphertext, context: EncryptionContext | undefined): Buffer | undefined {
    return decryptV1(this.material, parsed, context);
  }
  random(bytes: number): Buffer {
    return randomBytes(bytes);
  }
  sign(spec: KeySpec, algorithm: string, input: Buffer, messageType: MessageType): Buffer {
    return sign(spec, algorithm, this.material, input, messageType);
  }
  mac(spec: KeySpec, algorithm: string, message: Buffer): Buffer {
    return generateMac(spec, algorithm, this.material, message);
  }
  verifyMac(spec: KeySpec, algorithm: string, message: Buffer, mac: Buffer): boolean {
    return verifyMac(spec, algorithm, this.material, message, mac);
  }
  asymmetricDecrypt(spec: KeySpec, algorithm: string, ciphertext: Buffer): Buffer | undefined {
    return asymmetricDecrypt(spec, algorithm, this.material, ciphertext);
  }
  dispose(): void {
    this.material.dispose();
  }
}

/** A version held by the HSM: every operation with its material runs there. */
export class HsmVersionCrypto implements VersionCrypto {
  readonly material = undefined;
  readonly #ref: HsmKeyRef;

  constructor(private readonly hsm: Hsm, label: string) {
    this.#ref = { label };
  }

  async encrypt(ref: KeyVersionRef, plaintext: Buffer, context: EncryptionContext | undefined, nonce: Buffer, keyIdBytes: Buffer): Promise<Buffer> {
    const header = { algorithm: Algorithm.AES_256_GCM, keyId: ref.keyId, keyVersion: ref.keyVersion, nonce };
    const headerBytes = Buffer.allocUnsafe(headerLength(header));
    writeHeader(headerBytes, header, keyIdBytes);
    const body = await this.hsm.aesGcmEncrypt(this.#ref, nonce, Buffer.concat([headerBytes, canonicalContext(context)]), plaintext);
    if (body.length !== plaintext.length + AES_GCM_TAG_BYTES) throw errors.internal();
    return Buffer.concat([headerBytes, body]);
  }
  decrypt(parsed: ParsedCiphertext, context: EncryptionContext | undefined): Promise<Buffer | undefined> {
    const aad = Buffer.concat([parsed.headerBytes, canonicalContext(context)]);
    return this.hsm.aesGcmDecrypt(this.#ref, parsed.header.nonce, aad, parsed.body);
  }
  random(bytes: number): Promise<Buffer> {
    return this.hsm.random(bytes);
  }
  async sign(spec: KeySpec, algorithm: string, input: Buffer, messageType: MessageType): Promise<Buffer> {
    const { scheme, digest } = signingDigest(spec, algorithm, input, messageType);
    return this.hsm.signDigest(this.#ref, scheme.type === 'ecdsa' ? { type: 'ecdsa' } : scheme, digest);
  }
  async mac(spec: KeySpec, algorithm: string, message: Buffer): Promise<Buffer> {
    checkMacRequest(spec, algorithm, message);
    return this.hsm.hmac(this.#ref, message);
  }
  async verifyMac(spec: KeySpec, algorithm: string, message: Buffer, mac: Buffer): Promise<boolean> {
    const expected = await this.mac(spec, algorithm, message);
    const ok = constantTimeEqual(expected, mac);
    zeroize(expected);
    return ok;
  }
  async asymmetricDecrypt(spec: KeySpec, algorithm: string, ciphertext: Buffer): Promise<Buffer | undefined> {
    checkOaepRequest(spec, algorithm);
    return this.hsm.rsaOaepDecrypt(this.#ref, ciphertext);
  }
  dispose(): void {
    // Nothing secret is held in this process.
  }
}

/** The key specs offered with protection hsm and the HSM object each version is. */
const HSM_KINDS: Partial<Record<KeySpec, HsmKeyKind>> = {
  SYMMETRIC_DEFAULT: { type: 'aes', bits: 256 },
  HMAC_256: { type: 'hmac', hash: 'sha256' },
  HMAC_384: { type: 'hmac', hash: 'sha384' },
  HMAC_512: { type: 'hmac', hash: 'sha512' },
  RSA_2048: { type: 'rsa', bits: 2048 },
  RSA_3072: { type: 'rsa', bits: 3072 },
  RSA_4096: { type: 'rsa', bits: 4096 },
  ECC_NIST_P256: { type: 'ec', curve: 'P-256' },
  ECC_NIST_P384: { type: 'ec', curve: 'P-384' },
};

export const HSM_KEY_SPECS = Object.keys(HSM_KINDS) as KeySpec[];

/** The HSM object kind of a spec; ValidationError for a spec not offered on HSM keys (ECC_ED25519). */
export function hsmKindOf(spec: KeySpec): HsmKeyKind {
  const kind = HSM_KINDS[spec];
  if (kind === undefined) throw errors.validation(`key spec ${spec} is not offered with protection hsm; HSM keys support ${HSM_KEY_SPECS.join(', ')}`);
  return kind;
}

/**
 * The label of a version's HSM object: the key and version for operators, plus a random suffix so
 * that an object left behind by a crash (created, store write lost) never shares a label with the
 * object the version finally gets, and destroying one can never destroy the other.
 */
export function hsmLabelFor(keyId: string, version: number): string {
  return `kw:${keyId}:v${version}:${randomBytes(4).toString('hex')}`;
}
