/**
 * Key version canaries (issue 9/10 §3): when a key version is created, a small proof of what its
 * material could do is recorded, so that a backup (or a restored copy) can later PROVE that every
 * version still works with the material it had at creation:
 *   - AES (ENCRYPT_DECRYPT): the SHA-256 of a random 32-byte plaintext and its v1 ciphertext under
 *     the version, with the fixed encryption context CANARY_CONTEXT;
 *   - RSA ENCRYPT_DECRYPT: the same with RSAES-OAEP-SHA-256 under the version's public key;
 *   - SIGN_VERIFY: a random message and the version's signature over it (the spec's first algorithm);
 *   - GENERATE_VERIFY_MAC: a random message and its MAC.
 * The plaintext is never stored (only its hash); messages, signatures and MACs of random data say
 * nothing about the key. A canary is written right after its version (not in the same transaction:
 * a canary that failed to be written is backfilled, see CanaryService.backfill).
 */
import { barrierUnwrap } from '../crypto/aead.js';
import { parseCiphertext, uuidToBytes } from '../crypto/ciphertext.js';
import { asymmetricEncrypt, KEY_SPEC_USAGES, verify, type KeySpec, type KeyUsage } from '../crypto/keyspecs.js';
import { AES_GCM_NONCE_BYTES, constantTimeEqual, randomBytes, sha256 } from '../crypto/primitives/index.js';
import { SecretBytes, zeroize } from '../crypto/secret-bytes.js';
import type { Hsm } from '../hsm/hsm.js';
import type { Clock } from '../util/clock.js';
import { materialPurpose } from './key.service.js';
import type { KeyRecord, KeyVersionRecord } from './key.model.js';
import type { KeyStore } from './key.store.js';
import { HsmVersionCrypto, SoftwareVersionCrypto, type VersionCrypto } from './version-crypto.js';

export const CANARY_KINDS = ['encrypt', 'rsa-oaep', 'sign', 'mac'] as const;
export type CanaryKind = (typeof CANARY_KINDS)[number];

/** The encryption context of every AES canary (a caller's ciphertext can never pass for one). */
export const CANARY_CONTEXT: Readonly<Record<string, string>> = Object.freeze({ 'keywarden:canary': 'v1' });
const CANARY_BYTES = 32;

export interface KeyCanary {
  keyId: string;
  version: number;
  kind: CanaryKind;
  /** The algorithm used (SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_256, ECDSA_SHA_256, HMAC_SHA_256, ...). */
  algorithm: string;
  /** encrypt / rsa-oaep: SHA-256 of the plaintext; sign / mac: the message itself. */
  challenge: Buffer;
  /** The ciphertext, signature or MAC. */
  proof: Buffer;
  createdAt: number;
}

/**
 * Persistence of canaries (src/storage/*; test/conformance/canary-store.conformance.ts).
 * Contracts: one canary per version, written once (put never replaces one); a canary references an
 * existing key version (a put for a missing version rejects).
 */
export interface KeyCanaryStore {
  /** Stores `c` unless its version already has a canary; true when stored. */
  put(c: KeyCanary): Promise<boolean>;
  get(keyId: string, version: number): Promise<KeyCanary | undefined>;
  /** A key's canaries, by version. */
  listForKey(keyId: string): Promise<KeyCanary[]>;
  /** Versions not Destroyed without a canary, by (key id, version) in code-point order, strictly after `after`. */
  findMissing(limit: number, after?: { keyId: string; version: number }): Promise<Array<{ keyId: string; version: number }>>;
}

type KeyFacts = Pick<KeyRecord, 'id' | 'spec' | 'usage'>;

/** The canary kind and algorithm of a key's versions. */
export function canaryKindOf(spec: KeySpec, usage: KeyUsage): { kind: CanaryKind; algorithm: string } {
  const algorithms = KEY_SPEC_USAGES[spec] as Partial<Record<KeyUsage, readonly string[]>>;
  const algorithm = algorithms[usage]?.[0];
  if (algorithm === undefined) throw new Error(`key spec ${spec} has no usage ${usage}`);
  if (usage === 'SIGN_VERIFY') return { kind: 'sign', algorithm };
  if (usage === 'GENERATE_VERIFY_MAC') return { kind: 'mac', algorithm };
  return { kind: spec === 'SYMMETRIC_DEFAULT' ? 'encrypt' : 'rsa-oaep', algorithm };
}

/**
 * The cryptography of a stored version: software material unwrapped under `rootKey` (the caller
 * disposes the result), or the HSM object (needs `hsm`). A string says why it cannot be had.
 */
export function openVersion(rootKey: SecretBytes, v: KeyVersionRecord, hsm?: Hsm): VersionCrypto | string {
  if (v.state === 'Destroyed') return 'the version was destroyed';
  if (v.hsmLabel !== null) return hsm === undefined ? 'held by an HSM (not available here)' : new HsmVersionCrypto(hsm, v.hsmLabel);
  const raw = barrierUnwrap(rootKey, materialPurpose(v.keyId, v.version), v.wrappedMaterial);
  if (raw === undefined) return 'its key material does not unwrap under the root key (corrupted or replaced)';
  return new SoftwareVersionCrypto(SecretBytes.adopt(raw));
}

/** A new canary for version `v` of `key`, made with its cryptography. */
export async function makeCanary(key: KeyFacts, v: KeyVersionRecord, crypto: VersionCrypto, now: number): Promise<KeyCanary> {
  const { kind, algorithm } = canaryKindOf(key.spec, key.usage);
  const random = randomBytes(CANARY_BYTES);
  let challenge: Buffer;
  let proof: Buffer;
  try {
    if (kind === 'encrypt') {
      proof = await crypto.encrypt({ keyId: key.id, keyVersion: v.version }, random, CANARY_CONTEXT, randomBytes(AES_GCM_NONCE_BYTES), uuidToBytes(key.id));
      challenge = sha256(random);
    } else if (kind === 'rsa-oaep') {
      if (v.publicKey === null) throw new Error(`version ${v.version} of key ${key.id} has no public key`);
      proof = asymmetricEncrypt(key.spec, algorithm, v.publicKey, random);
      challenge = sha256(random);
    } else {
      proof = kind === 'sign' ? await crypto.sign(key.spec, algorithm, random, 'RAW') : await crypto.mac(key.spec, algorithm, random);
      challenge = Buffer.from(random); // a public random message, kept (only its copy is zeroized below)
    }
  } finally {
    zeroize(random);
  }
  return { keyId: key.id, version: v.version, kind, algorithm, challenge, proof, createdAt: now };
}

/**
 * Checks a canary with the version's cryptography: undefined when it proves the version works,
 * else why not. Signatures are checked twice: the recorded one against the stored public key, and
 * a fresh one by the private key (so a private key that no longer matches its public key fails).
 */
export async function checkCanary(key: KeyFacts, v: KeyVersionRecord, c: KeyCanary, crypto: VersionCrypto): Promise<string | undefined> {
  const want = canaryKindOf(key.spec, key.usage);
  if (c.kind !== want.kind || c.algorithm !== want.algorithm) return `its canary is a ${c.kind}/${c.algorithm} canary, but the key is ${key.spec}/${key.usage}`;
  try {
    if (c.kind === 'encrypt' || c.kind === 'rsa-oaep') {
      let plaintext: Buffer | undefined;
      if (c.kind === 'encrypt') {
        const parsed = parseCiphertext(c.proof);
        if (parsed === undefined || parsed.header.keyId !== key.id || parsed.header.keyVersion !== v.version) return 'its canary ciphertext is malformed or names another version';
        plaintext = await crypto.decrypt(parsed, CANARY_CONTEXT);
      } else {
        plaintext = await crypto.asymmetricDecrypt(key.spec, c.algorithm, c.proof);
      }
      if (plaintext === undefined) return 'it does not decrypt its canary';
      const same = constantTimeEqual(sha256(plaintext), c.challenge);
      zeroize(plaintext);
      return same ? undefined : 'its canary decrypts to another plaintext';
    }
    if (c.kind === 'mac') return (await crypto.verifyMac(key.spec, c.algorithm, c.challenge, c.proof)) ? undefined : 'it does not reproduce its canary MAC';
    if (v.publicKey === null) return 'it has no public key';
    if (!verify(key.spec, c.algorithm, v.publicKey, c.challenge, 'RAW', c.proof)) return 'its canary signature does not verify with its public key';
    const fresh = await crypto.sign(key.spec, c.algorithm, c.challenge, 'RAW');
    return verify(key.spec, c.algorithm, v.publicKey, c.challenge, 'RAW', fresh) ? undefined : 'its private key no longer matches its public key';
  } catch (e) {
    return `checking its canary failed: ${(e as Error).message}`;
  }
}

/**
 * Records canaries on a running server: for each new version (KeyService.onVersionCreated) and,
 * for versions that have none (created before canaries existed, or whose canary write failed),
 * by backfill() — run by the scheduled backup job before each snapshot, while unsealed.
 */
export class CanaryService {
  constructor(
    private readonly d: {
      canaries: KeyCanaryStore;
      keys: KeyStore;
      seal: { rootKey(): SecretBytes };
      clock: Clock;
      hsm?: Hsm;
    },
  ) {}

  /** Records the canary of a new version (idempotent: an existing canary is kept). Throws when sealed. */
  async record(key: KeyFacts, v: KeyVersionRecord): Promise<boolean> {
    const crypto = openVersion(this.d.seal.rootKey(), v, this.d.hsm);
    if (typeof crypto === 'string') throw new Error(`cannot record the canary of version ${v.version} of key ${key.id}: ${crypto}`);
    try {
      return await this.d.canaries.put(await makeCanary(key, v, crypto, this.d.clock.now()));
    } finally {
      crypto.dispose();
    }
  }

  /** Gives every version without a canary one (while unsealed); returns how many were recorded. */
  async backfill(signal?: AbortSignal): Promise<number> {
    let done = 0;
    let after: { keyId: string; version: number } | undefined;
    for (;;) {
      const missing = await this.d.canaries.findMissing(100, after);
      if (missing.length === 0) return done;
      for (const m of missing) {
        if (signal?.aborted) return done;
        after = m;
        const [key, v] = await Promise.all([this.d.keys.getKey(m.keyId), this.d.keys.getVersion(m.keyId, m.version)]);
        if (key === undefined || v === undefined || v.state === 'Destroyed') continue;
        if (await this.record(key, v)) done++;
      }
    }
  }
}
