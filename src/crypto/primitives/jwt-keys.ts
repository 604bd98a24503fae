/**
 * Ed25519 key pairs for signing access tokens (EdDSA JWS, RFC 8037). Generation and key-object
 * construction live here because this folder is the only importer of node:crypto (rule 9).
 * The private key travels as PKCS#8 DER bytes so that the caller can barrier-wrap it at rest.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/** An opaque key handle accepted by `jose` (a node:crypto KeyObject). */
export type JwtKey = KeyObject;

export interface JwtKeyPair {
  /** PKCS#8 DER of the private key. The caller MUST zeroize it after wrapping. */
  privatePkcs8: Buffer;
  /** SPKI DER of the public key. */
  publicSpki: Buffer;
}

export function generateJwtSigningKeyPair(): JwtKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }),
    publicSpki: publicKey.export({ format: 'der', type: 'spki' }),
  };
}

export function jwtPrivateKey(pkcs8: Buffer): JwtKey {
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

export function jwtPublicKey(spki: Buffer): JwtKey {
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}
