/**
 * What Keywarden needs from a hardware security module (issue 6/10). The PKCS#11 adapter in
 * src/hsm/pkcs11/ is the one implementation (the only module that imports the binding); the seal
 * (root key wrapped by an HSM key) and HSM-protected KMS keys use only this interface.
 *
 * Every object this interface creates is a token object, non-extractable and sensitive
 * (CKA_EXTRACTABLE false, CKA_SENSITIVE true): its value never leaves the HSM. Objects are found
 * again by their CKA_LABEL (`label`), which Keywarden chooses and stores.
 *
 * Errors are KeywardenErrors from src/errors/catalog.ts: `HsmUnavailable` (the module or token
 * cannot be reached: the caller may retry) or `Internal` with the PKCS#11 function and CKR name
 * in the message; an authentication failure of AES-GCM decryption is not an error: undefined.
 */

/** A key object in the HSM, found again by its label. */
export interface HsmKeyRef {
  label: string;
}

export type HsmKeyKind =
  | { type: 'aes'; bits: 256 }
  | { type: 'hmac'; hash: 'sha256' | 'sha384' | 'sha512' }
  | { type: 'rsa'; bits: 2048 | 3072 | 4096 }
  | { type: 'ec'; curve: 'P-256' | 'P-384' };

export interface HsmHealth {
  ok: boolean;
  /** Round trip of a cheap call (C_GetSessionInfo or C_GenerateRandom of a few bytes), ms. */
  latencyMs: number | null;
  /** Why it is not ok (never a PIN or key value). */
  error?: string;
  tokenLabel: string;
}

export interface Hsm {
  readonly tokenLabel: string;

  /** Creates a key inside the HSM; for key pairs also returns the public key (SPKI DER). */
  generateKey(label: string, kind: HsmKeyKind): Promise<{ ref: HsmKeyRef; publicSpki?: Buffer }>;
  /** True when an object with this label exists on the token. */
  exists(ref: HsmKeyRef): Promise<boolean>;
  /** C_DestroyObject on every object with this label (private and public halves). Idempotent. */
  destroy(ref: HsmKeyRef): Promise<void>;

  /** AES-256-GCM (96-bit IV given by the caller, 128-bit tag) inside the HSM: ciphertext || tag. */
  aesGcmEncrypt(ref: HsmKeyRef, iv: Buffer, aad: Buffer, plaintext: Buffer): Promise<Buffer>;
  /** The plaintext, or undefined when the tag does not verify (wrong key, data or AAD). */
  aesGcmDecrypt(ref: HsmKeyRef, iv: Buffer, aad: Buffer, ciphertextAndTag: Buffer): Promise<Buffer | undefined>;
  /** HMAC over `data` with an HMAC key. */
  hmac(ref: HsmKeyRef, data: Buffer): Promise<Buffer>;
  /**
   * Signature with a private key. ECDSA: `digest` is the message hash computed by the caller
   * (SoftHSM2 lacks CKM_ECDSA_SHA256); the result is DER (converted from PKCS#11's r||s).
   * RSA: PKCS#1 v1.5 or PSS over the digest with the given hash.
   */
  signDigest(ref: HsmKeyRef, scheme: { type: 'ecdsa' } | { type: 'rsa-pkcs1' | 'rsa-pss'; hash: 'sha256' | 'sha384' | 'sha512' }, digest: Buffer): Promise<Buffer>;
  /** RSAES-OAEP-SHA-256 decryption with a private key; undefined when the padding does not check. */
  rsaOaepDecrypt(ref: HsmKeyRef, ciphertext: Buffer): Promise<Buffer | undefined>;

  /** Bytes from the HSM's RNG (C_GenerateRandom). */
  random(bytes: number): Promise<Buffer>;
  health(): Promise<HsmHealth>;
  close(): Promise<void>;
}
