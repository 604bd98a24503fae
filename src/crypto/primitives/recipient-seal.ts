/**
 * Encryption of a small secret to a person's public key (backup key shares for custodians,
 * docs/backup.md). Two hybrid schemes, both ending in AES-256-GCM with the caller's AAD:
 *   - X25519 (ECIES): a fresh ephemeral X25519 key pair; key = HKDF-SHA256(ECDH shared secret,
 *     salt = ephemeral SPKI || recipient SPKI, info = INFO), 32 bytes;
 *   - RSA (>= 2048 bits): a fresh random AES key encrypted with RSAES-OAEP-SHA-256 (MGF1-SHA-256).
 * The recipient opens it with the matching private key (PEM PKCS#8, as `openssl genpkey` writes it).
 */
import { constants, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { AES_GCM_NONCE_BYTES, aesGcmOpen, aesGcmSeal, randomBytes } from './index.js';
import { zeroize } from '../secret-bytes.js';

export const RECIPIENT_ALGORITHMS = ['X25519-HKDF-SHA256-A256GCM', 'RSA-OAEP-256-A256GCM'] as const;
export type RecipientAlgorithm = (typeof RECIPIENT_ALGORITHMS)[number];

const INFO = Buffer.from('keywarden recipient seal v1');
const MIN_RSA_BITS = 2048;

export interface SealedForRecipient {
  algorithm: RecipientAlgorithm;
  /** X25519: the ephemeral public key (SPKI DER); RSA: the OAEP-encrypted AES key. Base64. */
  encapsulated: string;
  nonce: string;
  /** AES-256-GCM ciphertext || tag, base64. */
  ciphertext: string;
}

function publicKeyOf(pem: string): KeyObject {
  try {
    return createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('not a PEM public key');
  }
}

/** The scheme a recipient's PEM public key gets; throws naming why a key is not accepted. */
export function recipientAlgorithm(publicPem: string): RecipientAlgorithm {
  const key = publicKeyOf(publicPem);
  if (key.asymmetricKeyType === 'x25519') return 'X25519-HKDF-SHA256-A256GCM';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new Error(`an RSA key of ${bits} bits is too short (at least ${MIN_RSA_BITS})`);
    return 'RSA-OAEP-256-A256GCM';
  }
  throw new Error(`a ${key.asymmetricKeyType ?? 'unknown'} key is not accepted (X25519 or RSA)`);
}

const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });

function x25519Key(shared: Buffer, ephemeralSpki: Buffer, recipientSpki: Buffer): Buffer {
  const key = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralSpki, recipientSpki]), INFO, 32));
  zeroize(shared);
  return key;
}

/** Encrypts `plaintext` to the holder of `publicPem`'s private key; `aad` must be given again to open it. */
export function sealForRecipient(publicPem: string, plaintext: Buffer, aad: Buffer): SealedForRecipient {
  const algorithm = recipientAlgorithm(publicPem);
  const recipient = publicKeyOf(publicPem);
  let key: Buffer;
  let encapsulated: Buffer;
  if (algorithm === 'X25519-HKDF-SHA256-A256GCM') {
    const eph = generateKeyPairSync('x25519');
    encapsulated = spki(eph.publicKey);
    key = x25519Key(diffieHellman({ privateKey: eph.privateKey, publicKey: recipient }), encapsulated, spki(recipient));
  } else {
    key = randomBytes(32);
    encapsulated = publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, key);
  }
  try {
    const nonce = randomBytes(AES_GCM_NONCE_BYTES);
    return { algorithm, encapsulated: encapsulated.toString('base64'), nonce: nonce.toString('base64'), ciphertext: aesGcmSeal(key, nonce, plaintext, aad).toString('base64') };
  } finally {
    zeroize(key);
  }
}

/**
 * Opens a sealed secret with the recipient's PEM private key. undefined for a wrong key, a wrong
 * AAD or modified bytes (not told apart); throws only for a private key that cannot be read.
 */
export function openAsRecipient(privatePem: string | Buffer, sealed: SealedForRecipient, aad: Buffer): Buffer | undefined {
  let priv: KeyObject;
  try {
    priv = createPrivateKey({ key: privatePem, format: 'pem' });
  } catch {
    throw new Error('not a PEM private key (unencrypted PKCS#8 or PKCS#1)');
  }
  const encapsulated = Buffer.from(sealed.encapsulated, 'base64');
  let key: Buffer | undefined;
  try {
    if (sealed.algorithm === 'X25519-HKDF-SHA256-A256GCM') {
      if (priv.asymmetricKeyType !== 'x25519') return undefined;
      const eph = createPublicKey({ key: encapsulated, format: 'der', type: 'spki' });
      key = x25519Key(diffieHellman({ privateKey: priv, publicKey: eph }), encapsulated, spki(createPublicKey(priv)));
    } else if (sealed.algorithm === 'RSA-OAEP-256-A256GCM') {
      if (priv.asymmetricKeyType !== 'rsa') return undefined;
      key = privateDecrypt({ key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, encapsulated);
    } else {
      return undefined;
    }
    if (key.length !== 32) return undefined;
    return aesGcmOpen(key, Buffer.from(sealed.nonce, 'base64'), Buffer.from(sealed.ciphertext, 'base64'), aad);
  } catch {
    return undefined;
  } finally {
    zeroize(key);
  }
}
