/**
 * Cryptographic use-cases. Every transport (REST, and later AWS and KMIP) calls these and nothing
 * else; each one runs the pipeline (seal check -> authenticate -> authorize) and then the key's
 * lifecycle rules:
 * - encrypt, sign, MAC and data keys need an Enabled key of the right usage; the primary version
 *   is used, and a primary that reached its usage limit is rotated first (event-driven rotation);
 * - decrypt needs an Enabled key, an enabled, undestroyed version >= minDecryptionVersion; a
 *   Compromised key's ciphertexts decrypt only inside re-encrypt (to another key).
 */
import type { Clock } from '../util/clock.js';
import { parseCiphertext } from '../crypto/aead.js';
import { uuidToBytes } from '../crypto/ciphertext.js';
import { contextProblem, type EncryptionContext } from '../crypto/encryption-context.js';
import { asymmetricEncrypt, checkAlgorithm, generateMaterial, spkiToPem, verify } from '../crypto/keyspecs.js';
import { NoncePool, randomBytes } from '../crypto/primitives/index.js';
import { zeroize } from '../crypto/secret-bytes.js';
import { KeywardenError, errors, isKeywardenError, type ErrorCode } from '../errors/catalog.js';
import type { KeyRecord, KeyUsage } from '../keys/key.model.js';
import type { KeyService, VersionHandle } from '../keys/key.service.js';
import type { SealService } from '../seal/seal.service.js';
import type { TokenService } from '../auth/token.service.js';
import { Pipeline, type Call } from './pipeline.js';
import { needsGrant, type Action, type GrantLookup } from '../auth/authorize.js';
import { CONTEXT_CHECKED_PER_ITEM, type ContextForGrants } from '../auth/grant-conditions.js';
import type { Principal } from '../auth/token.model.js';

export type { Call } from './pipeline.js';

export const LIMITS = {
  maxPlaintextBytes: 4096,
  maxCiphertextBytes: 6144,
  maxBatchItems: 1000,
  maxRandomBytes: 1024,
  maxDataKeyBytes: 1024,
  maxListLimit: 1000,
  defaultListLimit: 100,
} as const;

export interface EncryptResult {
  ciphertext: Buffer;
  keyId: string;
  keyVersion: number;
}
export interface DecryptResult {
  plaintext: Buffer;
  keyId: string;
  keyVersion: number;
}
export interface ItemError {
  code: ErrorCode;
  message: string;
}
export type BatchResult<T> = Array<{ ref: string } & ({ ok: T } | { error: ItemError })>;

export type DataKeySpec = 'AES_128' | 'AES_256';
const DATA_KEY_BYTES: Record<DataKeySpec, number> = { AES_128: 16, AES_256: 32 };

/** Data key pair specs (AWS names) our primitives generate; ECC_NIST_P521 and ECC_SECG_P256K1 are not offered. */
export const DATA_KEY_PAIR_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384'] as const;
export type DataKeyPairSpec = (typeof DATA_KEY_PAIR_SPECS)[number];

export type MessageType = 'RAW' | 'DIGEST';

export interface OpsDeps {
  seal: SealService;
  tokens: TokenService;
  keys: KeyService;
  /** Grant lookup for principals that act through grants (applications); absent = deny (fail closed). */
  grants?: GrantLookup;
  clock?: Clock;
}

type DecryptMode = 'decrypt' | 're-encrypt';

export class Ops {
  readonly #nonces = new NoncePool();
  /** uuidToBytes(keyId) per cached version handle, for ciphertext headers; goes away with the handle. */
  readonly #keyIdBytes = new WeakMap<VersionHandle, Buffer>();
  readonly pipeline: Pipeline;
  readonly #keys: KeyService;

  constructor(private readonly d: OpsDeps) {
    this.pipeline = new Pipeline(d);
    this.#keys = d.keys;
  }

  begin(call: Call, action: Parameters<Pipeline['begin']>[1]) {
    return this.pipeline.begin(call, action);
  }

  // ---- symmetric encryption ---------------------------------------------------------------------

  async encrypt(call: Call, keyRef: string, plaintext: Buffer, context?: EncryptionContext, algorithm?: string): Promise<EncryptResult> {
    const { key } = await this.#usable(call, 'key:encrypt', keyRef, 'ENCRYPT_DECRYPT', context, algorithm);
    if (key.spec !== 'SYMMETRIC_DEFAULT') return this.#asymmetricEncrypt(key, plaintext, algorithm, context);
    if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
      throw new KeywardenError('InvalidKeyUsage', `a SYMMETRIC_DEFAULT key encrypts with SYMMETRIC_DEFAULT, not ${algorithm}`);
    }
    return this.#encryptOne(key, plaintext, context);
  }

  async encryptBatch(
    call: Call,
    keyRef: string,
    items: Array<{ ref: string; plaintext: Buffer; context?: EncryptionContext }>,
  ): Promise<BatchResult<EncryptResult>> {
    // Each item is authorized with its own context, so the entry leaves context conditions to them
    // (a principal whose grants all name a context gets in; an item that fails gets PermissionDenied).
    const usable = await this.#usable(call, 'key:encrypt', keyRef, 'ENCRYPT_DECRYPT', CONTEXT_CHECKED_PER_ITEM);
    const principal = usable.principal;
    const perItem = needsGrant(principal, 'key:encrypt');
    let key = usable.key;
    checkBatchSize(items.length);
    requireSymmetric(key);
    let primary = await this.#primary(key);
    const out: BatchResult<EncryptResult> = [];
    for (const item of items) {
      try {
        if (perItem) await this.pipeline.authorizeKey(principal, call, 'key:encrypt', key.id, item.context);
        if (this.#keys.limitReached(key, primary)) {
          key = await this.#keys.rotate(key);
          primary = await this.#primary(key);
        }
        const r = this.#encryptWith(key, primary, item.plaintext, item.context);
        out.push({ ref: item.ref, ok: r instanceof Promise ? await r : r });
      } catch (e) {
        out.push({ ref: item.ref, error: itemError(e) });
      }
    }
    return out;
  }

  async decrypt(
    call: Call,
    ciphertext: Buffer,
    context?: EncryptionContext,
    asymmetric?: { key: string; algorithm: string; keyVersion?: number },
  ): Promise<DecryptResult> {
    if (asymmetric !== undefined) return this.#asymmetricDecrypt(call, asymmetric, ciphertext);
    const principal = await this.pipeline.beginDeferred(call, 'key:decrypt');
    return this.#decryptOne(principal, call, 'key:decrypt', ciphertext, context, 'decrypt');
  }

  async decryptBatch(
    call: Call,
    items: Array<{ ref: string; ciphertext: Buffer; context?: EncryptionContext }>,
  ): Promise<BatchResult<DecryptResult>> {
    const principal = await this.pipeline.beginDeferred(call, 'key:decrypt');
    checkBatchSize(items.length);
    const out: BatchResult<DecryptResult> = [];
    for (const item of items) {
      try {
        out.push({ ref: item.ref, ok: await this.#decryptOne(principal, call, 'key:decrypt', item.ciphertext, item.context, 'decrypt') });
      } catch (e) {
        out.push({ ref: item.ref, error: itemError(e) });
      }
    }
    return out;
  }

  /**
   * GenerateDataKey: a fresh data key from the CSPRNG (for an HSM key: the HSM's RNG), returned
   * wrapped under the KMS key (and in plaintext once, unless includePlaintext is false). Exactly one
   * of spec/bytes; default AES_256.
   */
  async generateDataKey(
    call: Call,
    keyRef: string,
    opts: { spec?: DataKeySpec; bytes?: number; includePlaintext?: boolean; context?: EncryptionContext },
  ): Promise<EncryptResult & { plaintext?: Buffer }> {
    const { key } = await this.#usable(call, 'key:generate-data-key', keyRef, 'ENCRYPT_DECRYPT', opts.context);
    if (opts.spec !== undefined && opts.bytes !== undefined) throw errors.validation('give either spec or bytes, not both');
    let size: number;
    if (opts.bytes !== undefined) {
      if (!Number.isInteger(opts.bytes) || opts.bytes < 1 || opts.bytes > LIMITS.maxDataKeyBytes) {
        throw errors.validation(`bytes must be an integer between 1 and ${LIMITS.maxDataKeyBytes}`);
      }
      size = opts.bytes;
    } else {
      const n = DATA_KEY_BYTES[opts.spec ?? 'AES_256'];
      if (n === undefined) throw errors.validation('spec must be AES_128 or AES_256');
      size = n;
    }
    requireSymmetric(key);
    const { key: k, primary } = await this.#encryptingVersion(key);
    const dataKey = await primary.crypto.random(size);
    try {
      const wrapped = await this.#encryptWith(k, primary, dataKey, opts.context);
      if (opts.includePlaintext === false) return wrapped;
      return { ...wrapped, plaintext: Buffer.from(dataKey) };
    } finally {
      zeroize(dataKey);
    }
  }

  /**
   * GenerateDataKeyPair: a fresh asymmetric key pair (PUBLIC SPKI DER; private half PKCS#8 DER)
   * whose private half is returned encrypted under the symmetric KMS key as a normal Keywarden
   * ciphertext (so decrypt gives it back), and in plaintext once unless withPlaintext is false.
   * Same action, key rules and version-crypto path as generateDataKey.
   */
  async generateDataKeyPair(
    call: Call,
    keyRef: string,
    pairSpec: string,
    context?: EncryptionContext,
    withPlaintext = true,
  ): Promise<EncryptResult & { publicKey: Buffer; privateKey?: Buffer; pairSpec: DataKeyPairSpec }> {
    const { key } = await this.#usable(call, 'key:generate-data-key', keyRef, 'ENCRYPT_DECRYPT', context);
    if (!(DATA_KEY_PAIR_SPECS as readonly string[]).includes(pairSpec)) {
      throw errors.validation(`keyPairSpec must be one of ${DATA_KEY_PAIR_SPECS.join(', ')}`);
    }
    requireSymmetric(key);
    const { key: k, primary } = await this.#encryptingVersion(key);
    const pair = generateMaterial(pairSpec as DataKeyPairSpec);
    const privateKey = pair.material;
    try {
      const wrapped = await this.#encryptWith(k, primary, privateKey, context);
      const out = { ...wrapped, publicKey: pair.publicKey as Buffer, pairSpec: pairSpec as DataKeyPairSpec };
      return withPlaintext ? { ...out, privateKey: Buffer.from(privateKey) } : out;
    } finally {
      zeroize(privateKey);
    }
  }

  /** ReEncrypt: decrypts and encrypts under the destination inside the server; the plaintext never leaves. */
  async reEncrypt(
    call: Call,
    input: { ciphertext: Buffer; context?: EncryptionContext; destinationKey: string; destinationContext?: EncryptionContext },
  ): Promise<EncryptResult & { sourceKeyId: string; sourceKeyVersion: number }> {
    // The destination is authorized with the destination context, the source (in #decryptOne) with the source context.
    const { principal, key: destination } = await this.#usable(call, 'key:re-encrypt', input.destinationKey, 'ENCRYPT_DECRYPT', input.destinationContext);
    requireSymmetric(destination);
    const source = await this.#decryptOne(principal, call, 'key:re-encrypt', input.ciphertext, input.context, 're-encrypt');
    try {
      if (source.keyId === destination.id && destination.state !== 'Enabled') throw errors.invalidCiphertext();
      const out = await this.#encryptOne(destination, source.plaintext, input.destinationContext);
      return { ...out, sourceKeyId: source.keyId, sourceKeyVersion: source.keyVersion };
    } finally {
      zeroize(source.plaintext);
    }
  }

  /** Re-wrap: upgrades a ciphertext of `keyRef` to its primary version without returning plaintext. */
  async reWrap(call: Call, keyRef: string, ciphertext: Buffer, context?: EncryptionContext): Promise<EncryptResult & { previousKeyVersion: number }> {
    const { key } = await this.#usable(call, 'key:re-wrap', keyRef, 'ENCRYPT_DECRYPT', context);
    requireSymmetric(key);
    const parsed = parseCiphertext(ciphertext);
    if (parsed === undefined || parsed.header.keyId !== key.id) throw errors.invalidCiphertext();
    const source = await this.#decryptOne(undefined, call, 'key:re-wrap', ciphertext, context, 'decrypt');
    try {
      const out = await this.#encryptOne(key, source.plaintext, context);
      return { ...out, previousKeyVersion: source.keyVersion };
    } finally {
      zeroize(source.plaintext);
    }
  }

  async random(call: Call, bytes: number): Promise<Buffer> {
    await this.begin(call, 'random:generate');
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > LIMITS.maxRandomBytes) {
      throw errors.validation(`bytes must be an integer between 1 and ${LIMITS.maxRandomBytes}`);
    }
    return randomBytes(bytes);
  }

  async sealNow(call: Call): Promise<void> {
    await this.begin(call, 'sys:seal');
    this.d.seal.seal();
  }

  // ---- signatures, MACs, public keys ---------------------------------------------------------------

  async sign(call: Call, keyRef: string, message: Buffer, algorithm: string, messageType: MessageType = 'RAW') {
    const { key } = await this.#usable(call, 'key:sign', keyRef, 'SIGN_VERIFY', undefined, algorithm);
    checkAlgorithm(key.spec, key.usage, algorithm);
    const h = await this.#primary(key);
    const signature = await h.crypto.sign(key.spec, algorithm, message, messageType);
    this.#keys.recordUse(h);
    return { signature, keyId: key.id, keyVersion: h.version, algorithm };
  }

  /** Verifies with the given version, or with every enabled version (newest first) until one matches. */
  async verify(call: Call, keyRef: string, message: Buffer, algorithm: string, signature: Buffer, messageType: MessageType = 'RAW', keyVersion?: number) {
    const { key } = await this.#usable(call, 'key:verify', keyRef, 'SIGN_VERIFY', undefined, algorithm);
    checkAlgorithm(key.spec, key.usage, algorithm);
    const match = await this.#firstMatching(key, keyVersion, (h) => h.publicKey !== null && verify(key.spec, algorithm, h.publicKey, message, messageType, signature));
    return { valid: match !== undefined, keyId: key.id, keyVersion: match ?? keyVersion ?? key.primaryVersion };
  }

  async publicKey(call: Call, keyRef: string, version?: number) {
    const { key } = await this.pipeline.beginKey(call, 'key:public-key', keyRef);
    if (key.usage === 'GENERATE_VERIFY_MAC' || key.spec === 'SYMMETRIC_DEFAULT') {
      throw new KeywardenError('InvalidKeyUsage', `key ${key.id} is a ${key.spec} key: it has no public key`);
    }
    requireState(key, 'decrypt');
    const h = await this.#version(key, version ?? key.primaryVersion);
    if (h.publicKey === null) throw errors.internal();
    return { publicKey: h.publicKey, pem: spkiToPem(h.publicKey), keyId: key.id, keyVersion: h.version, spec: key.spec, usage: key.usage };
  }

  async mac(call: Call, keyRef: string, message: Buffer, algorithm: string) {
    const { key } = await this.#usable(call, 'key:mac', keyRef, 'GENERATE_VERIFY_MAC', undefined, algorithm);
    checkAlgorithm(key.spec, key.usage, algorithm);
    const h = await this.#primary(key);
    const mac = await h.crypto.mac(key.spec, algorithm, message);
    this.#keys.recordUse(h);
    return { mac, keyId: key.id, keyVersion: h.version, algorithm };
  }

  async verifyMac(call: Call, keyRef: string, message: Buffer, algorithm: string, mac: Buffer, keyVersion?: number) {
    const { key } = await this.#usable(call, 'key:verify-mac', keyRef, 'GENERATE_VERIFY_MAC', undefined, algorithm);
    checkAlgorithm(key.spec, key.usage, algorithm);
    const match = await this.#firstMatching(key, keyVersion, (h) => h.crypto.verifyMac(key.spec, algorithm, message, mac));
    return { valid: match !== undefined, keyId: key.id, keyVersion: match ?? keyVersion ?? key.primaryVersion };
  }

  // ---- internals ------------------------------------------------------------------------------------

  /**
   * Pipeline for `action` on `keyRef` (grants checked against the operation's encryption context),
   * then encrypt-side rules: an Enabled key of the given usage. `algorithm`: the one the call names (policy).
   */
  async #usable(call: Call, action: Action, keyRef: string, usage: KeyUsage, context?: ContextForGrants, algorithm?: string): Promise<{ principal: Principal; key: KeyRecord }> {
    const { principal, key } = await this.pipeline.beginKey(call, action, keyRef, context, algorithm);
    requireState(key, 'encrypt');
    if (key.usage !== usage) {
      throw new KeywardenError('InvalidKeyUsage', `key ${key.id} has usage ${key.usage}; this operation needs a ${usage} key`);
    }
    return { principal, key };
  }

  async #primary(key: KeyRecord): Promise<VersionHandle> {
    const h = await this.#keys.handle(key.id, key.primaryVersion);
    if (h === undefined) throw new KeywardenError('Internal', `the primary version of key ${key.id} is missing`);
    return h;
  }

  /** A usable (enabled, not destroyed, >= minDecryptionVersion) version of `key`. */
  async #version(key: KeyRecord, version: number): Promise<VersionHandle> {
    if (version < key.minDecryptionVersion) {
      throw new KeywardenError('InvalidState', `version ${version} of key ${key.id} is below its minimum decryption version ${key.minDecryptionVersion}`);
    }
    const h = await this.#keys.handle(key.id, version);
    if (h === undefined) throw errors.invalidCiphertext();
    return h;
  }

  async #firstMatching(key: KeyRecord, version: number | undefined, test: (h: VersionHandle) => boolean | Promise<boolean>): Promise<number | undefined> {
    const candidates = version !== undefined ? [version] : (await this.#keys.versions(key)).filter((v) => v.state === 'Enabled' && v.version >= key.minDecryptionVersion).map((v) => v.version).sort((a, b) => b - a);
    for (const v of candidates) {
      const h = await this.#keys.handle(key.id, v);
      if (h !== undefined && (await test(h))) return v;
    }
    return undefined;
  }

  async #encryptOne(key: KeyRecord, plaintext: Buffer, context?: EncryptionContext): Promise<EncryptResult> {
    // #encryptingVersion inlined: the single-encrypt hot path keeps one async hop.
    let primary = await this.#primary(key);
    if (this.#keys.limitReached(key, primary)) {
      key = await this.#keys.rotate(key);
      primary = await this.#primary(key);
    }
    return this.#encryptWith(key, primary, plaintext, context);
  }

  /** The primary version to encrypt with (the key rotated first when the primary reached its usage limit). */
  async #encryptingVersion(key: KeyRecord): Promise<{ key: KeyRecord; primary: VersionHandle }> {
    let primary = await this.#primary(key);
    if (this.#keys.limitReached(key, primary)) {
      key = await this.#keys.rotate(key);
      primary = await this.#primary(key);
    }
    return { key, primary };
  }

  /** Synchronous for software versions (the hot path), a promise for HSM versions. */
  #encryptWith(key: KeyRecord, h: VersionHandle, plaintext: Buffer, context?: EncryptionContext): EncryptResult | Promise<EncryptResult> {
    if (plaintext.length < 1 || plaintext.length > LIMITS.maxPlaintextBytes) {
      throw errors.validation(`plaintext must be 1 to ${LIMITS.maxPlaintextBytes} bytes; use envelope encryption (data keys) for larger data`);
    }
    checkContext(context);
    const ref = { keyId: key.id, keyVersion: h.version };
    const ciphertext = h.crypto.encrypt(ref, plaintext, context, this.#nonces.next(), this.#headerKeyId(h));
    this.#keys.recordUse(h);
    return ciphertext instanceof Promise ? ciphertext.then((c) => ({ ciphertext: c, ...ref })) : { ciphertext, ...ref };
  }

  /** The 16 key-id bytes of `h`'s ciphertext headers (h.keyId is the id of the key it belongs to). */
  #headerKeyId(h: VersionHandle): Buffer {
    let bytes = this.#keyIdBytes.get(h);
    if (bytes === undefined) {
      // Own memory (Buffer.alloc, not the shared pool), so the memo pins no unrelated pooled bytes.
      bytes = Buffer.alloc(16);
      uuidToBytes(h.keyId).copy(bytes);
      this.#keyIdBytes.set(h, bytes);
    }
    return bytes;
  }

  /**
   * Decrypts a Keywarden ciphertext. `principal` (when given) is authorized for `action` on the key
   * the header names BEFORE the key is looked up, so a denial never reveals whether it exists.
   */
  async #decryptOne(principal: Principal | undefined, call: Call, action: Action, ciphertext: Buffer, context: EncryptionContext | undefined, mode: DecryptMode): Promise<DecryptResult> {
    checkContext(context);
    const parsed = ciphertext.length <= LIMITS.maxCiphertextBytes ? parseCiphertext(ciphertext) : undefined;
    if (parsed === undefined) throw errors.invalidCiphertext();
    const { keyId, keyVersion } = parsed.header;
    if (principal !== undefined) await this.pipeline.authorizeKey(principal, call, action, keyId, context);
    const key = await this.#keys.findById(keyId);
    if (key === undefined || key.spec !== 'SYMMETRIC_DEFAULT') throw errors.invalidCiphertext();
    requireState(key, mode);
    const h = await this.#version(key, keyVersion);
    const plaintext = await h.crypto.decrypt(parsed, context);
    if (plaintext === undefined) throw errors.invalidCiphertext();
    return { plaintext, keyId, keyVersion };
  }

  async #asymmetricEncrypt(key: KeyRecord, plaintext: Buffer, algorithm: string | undefined, context?: EncryptionContext): Promise<EncryptResult> {
    if (algorithm === undefined) throw errors.validation(`a ${key.spec} key needs an encryption algorithm (RSAES_OAEP_SHA_256)`);
    if (context !== undefined) throw errors.validation('an encryption context is only supported with SYMMETRIC_DEFAULT keys');
    checkAlgorithm(key.spec, key.usage, algorithm);
    const h = await this.#primary(key);
    if (h.publicKey === null) throw errors.internal();
    return { ciphertext: asymmetricEncrypt(key.spec, algorithm, h.publicKey, plaintext), keyId: key.id, keyVersion: h.version };
  }

  async #asymmetricDecrypt(call: Call, a: { key: string; algorithm: string; keyVersion?: number }, ciphertext: Buffer): Promise<DecryptResult> {
    const { key } = await this.pipeline.beginKey(call, 'key:decrypt', a.key, undefined, a.algorithm);
    requireState(key, 'decrypt');
    if (key.usage !== 'ENCRYPT_DECRYPT' || key.spec === 'SYMMETRIC_DEFAULT') {
      throw new KeywardenError('InvalidKeyUsage', `key ${key.id} is not an asymmetric ENCRYPT_DECRYPT key; omit key and algorithm to decrypt a Keywarden ciphertext`);
    }
    checkAlgorithm(key.spec, key.usage, a.algorithm);
    const h = await this.#version(key, a.keyVersion ?? key.primaryVersion);
    const plaintext = await h.crypto.asymmetricDecrypt(key.spec, a.algorithm, ciphertext);
    if (plaintext === undefined) throw errors.invalidCiphertext();
    return { plaintext, keyId: key.id, keyVersion: h.version };
  }
}

/** State rules: which key states allow encrypt-side, decrypt and re-encrypt-source use. */
export function requireState(key: KeyRecord, mode: 'encrypt' | DecryptMode): void {
  switch (key.state) {
    case 'Enabled':
      return;
    case 'Disabled':
      throw new KeywardenError('Disabled', `key ${key.id} is disabled`);
    case 'Compromised':
      if (mode === 're-encrypt') return;
      throw new KeywardenError(
        'InvalidState',
        mode === 'encrypt'
          ? `key ${key.id} is Compromised: it cannot encrypt; re-encrypt its ciphertexts under another key`
          : `key ${key.id} is Compromised: its ciphertexts can only be re-encrypted under another key`,
      );
    case 'Destroyed':
      throw new KeywardenError(
        'InvalidState',
        `key ${key.id} is Destroyed: its material was destroyed${key.destroyedAt ? ` on ${new Date(key.destroyedAt).toISOString()}` : ''} and its ciphertexts can no longer be decrypted`,
      );
    case 'PendingDeletion':
      throw new KeywardenError('InvalidState', `key ${key.id} is PendingDeletion: cancel the deletion to use it`);
    case 'PendingImport':
      throw new KeywardenError('InvalidState', `key ${key.id} is PendingImport: import its key material first`);
  }
}

function requireSymmetric(key: KeyRecord): void {
  if (key.spec !== 'SYMMETRIC_DEFAULT') {
    throw new KeywardenError('InvalidKeyUsage', `key ${key.id} is a ${key.spec} key; this operation needs a SYMMETRIC_DEFAULT key`);
  }
}

function checkContext(context: EncryptionContext | undefined): void {
  const problem = contextProblem(context);
  if (problem) throw errors.validation(problem);
}

function checkBatchSize(n: number): void {
  if (n < 1) throw errors.validation('items must contain at least one item');
  if (n > LIMITS.maxBatchItems) {
    throw new KeywardenError('LimitExceeded', `a batch holds at most ${LIMITS.maxBatchItems} items; this one has ${n}`);
  }
}

function itemError(e: unknown): ItemError {
  if (isKeywardenError(e) && e.code !== 'Internal') return { code: e.code, message: e.message };
  return { code: 'Internal', message: errors.internal().message };
}
