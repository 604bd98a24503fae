/**
 * Public keys that service accounts register for signed JWT client assertions (RFC 7523 §2.2).
 * Parsing lives here because this folder is the only importer of node:crypto (rule 9). Only the
 * allow-listed key types are accepted (rule 5): Ed25519 (EdDSA, RFC 8037), P-256 (ES256) and RSA
 * of at least 2048 bits (RS256); every other key is refused with a clear error.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

export const CLIENT_KEY_ALGS = ['EdDSA', 'ES256', 'RS256'] as const;
export type ClientKeyAlg = (typeof CLIENT_KEY_ALGS)[number];

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;

export interface ParsedClientKey {
  alg: ClientKeyAlg;
  /** SPKI DER (what is stored). */
  spki: Buffer;
  /** SHA-256 of the SPKI DER, base64url (RFC 7638-style identifier of the key, safe to show). */
  fingerprint: string;
}

/** Parses an SPKI PEM public key; throws an Error whose message says what is wrong (no key bytes). */
export function parseClientPublicKey(pem: string): ParsedClientKey {
  // Only a PUBLIC KEY block: createPublicKey would also derive a public key from a pasted private key.
  if (!/^-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----$/.test(pem.trim())) {
    throw new Error('publicKey must be a PEM "PUBLIC KEY" (SPKI) block');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('publicKey is not a valid SPKI public key');
  }
  const alg = algFor(key);
  const spki = key.export({ format: 'der', type: 'spki' });
  return { alg, spki, fingerprint: createHash('sha256').update(spki).digest('base64url') };
}

function algFor(key: KeyObject): ClientKeyAlg {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      if (d.namedCurve === 'prime256v1') return 'ES256';
      throw new Error(`EC keys must use the P-256 curve (ES256); this one uses ${String(d.namedCurve)}`);
    case 'rsa': {
      const bits = d.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) throw new Error(`RSA keys must have ${MIN_RSA_BITS}–${MAX_RSA_BITS} bits; this one has ${bits}`);
      return 'RS256';
    }
    default:
      throw new Error(`unsupported key type ${String(key.asymmetricKeyType)}: use Ed25519, P-256 or RSA (≥ ${MIN_RSA_BITS} bits)`);
  }
}

/** A key handle for `jose` verification from stored SPKI DER. */
export function clientPublicKey(spki: Buffer): KeyObject {
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}
