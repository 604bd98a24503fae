/**
 * Use-cases. Every transport (REST, and later AWS and KMIP) calls these and nothing else; each one
 * runs the same pipeline: seal check -> authenticate -> authorize -> validate -> execute.
 * (Policy, audit and metrics stages join the pipeline with issues 4/10, 5/10 and 10/10.)
 */
import { decryptV1, encryptV1, parseCiphertext } from '../crypto/aead.js';
import { contextProblem, type EncryptionContext } from '../crypto/encryption-context.js';
import { NoncePool, randomBytes } from '../crypto/primitives/index.js';
import { zeroize, type SecretBytes } from '../crypto/secret-bytes.js';
import { KeywardenError, errors, isKeywardenError, type ErrorCode } from '../errors/catalog.js';
import { authorize, type Action } from '../auth/authorize.js';
import type { Principal } from '../auth/token.model.js';
import type { TokenService } from '../auth/token.service.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { CreateKeyInput, KeyService } from '../keys/key.service.js';
import type { SealService } from '../seal/seal.service.js';

/** Who is calling, as the transport saw it. */
export interface Call {
  token: string | undefined;
  requestId: string;
}

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

export interface OpsDeps {
  seal: SealService;
  tokens: TokenService;
  keys: KeyService;
}

export class Ops {
  readonly #nonces = new NoncePool();

  constructor(private readonly d: OpsDeps) {}

  /** The pipeline's front half: sealed check, authentication and authorization. */
  async begin(call: Call, action: Action): Promise<Principal> {
    if (this.d.seal.sealed) this.d.seal.rootKey(); // throws Sealed or NotInitialized
    const principal = await this.d.tokens.authenticate(call.token);
    authorize(principal, action);
    return principal;
  }

  async createKey(call: Call, input: CreateKeyInput): Promise<KeyRecord> {
    await this.begin(call, 'key:create');
    return this.d.keys.create(input);
  }

  async describeKey(call: Call, idOrAlias: string): Promise<KeyRecord> {
    await this.begin(call, 'key:describe');
    return this.d.keys.resolve(idOrAlias);
  }

  async listKeys(call: Call, opts: { limit?: number; cursor?: string }): Promise<{ keys: KeyRecord[]; nextCursor: string | null }> {
    await this.begin(call, 'key:list');
    const limit = opts.limit ?? LIMITS.defaultListLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.maxListLimit) {
      throw errors.validation(`limit must be an integer between 1 and ${LIMITS.maxListLimit}`);
    }
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor);
    const keys = await this.d.keys.list(limit + 1, after);
    const page = keys.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor = keys.length > limit && last ? encodeCursor(last) : null;
    return { keys: page, nextCursor };
  }

  async encrypt(call: Call, keyRef: string, plaintext: Buffer, context?: EncryptionContext): Promise<EncryptResult> {
    await this.begin(call, 'key:encrypt');
    const key = await this.#usableForEncrypt(keyRef);
    return this.#encryptOne(key, plaintext, context);
  }

  async encryptBatch(
    call: Call,
    keyRef: string,
    items: Array<{ ref: string; plaintext: Buffer; context?: EncryptionContext }>,
  ): Promise<BatchResult<EncryptResult>> {
    await this.begin(call, 'key:encrypt');
    checkBatchSize(items.length);
    const key = await this.#usableForEncrypt(keyRef);
    const material = await this.#primaryMaterial(key);
    return items.map((item) => {
      try {
        return { ref: item.ref, ok: this.#encryptWith(key, material, item.plaintext, item.context) };
      } catch (e) {
        return { ref: item.ref, error: itemError(e) };
      }
    });
  }

  async decrypt(call: Call, ciphertext: Buffer, context?: EncryptionContext): Promise<DecryptResult> {
    await this.begin(call, 'key:decrypt');
    return this.#decryptOne(ciphertext, context);
  }

  async decryptBatch(
    call: Call,
    items: Array<{ ref: string; ciphertext: Buffer; context?: EncryptionContext }>,
  ): Promise<BatchResult<DecryptResult>> {
    await this.begin(call, 'key:decrypt');
    checkBatchSize(items.length);
    const out: BatchResult<DecryptResult> = [];
    for (const item of items) {
      try {
        out.push({ ref: item.ref, ok: await this.#decryptOne(item.ciphertext, item.context) });
      } catch (e) {
        out.push({ ref: item.ref, error: itemError(e) });
      }
    }
    return out;
  }

  /**
   * GenerateDataKey: a fresh data key from the CSPRNG, returned wrapped under the KMS key (and in
   * plaintext once, unless includePlaintext is false). Exactly one of spec/bytes; default AES_256.
   */
  async generateDataKey(
    call: Call,
    keyRef: string,
    opts: { spec?: DataKeySpec; bytes?: number; includePlaintext?: boolean; context?: EncryptionContext },
  ): Promise<EncryptResult & { plaintext?: Buffer }> {
    await this.begin(call, 'key:generate-data-key');
    if (opts.spec !== undefined && opts.bytes !== undefined) throw errors.validation('give either spec or bytes, not both');
    let size: number;
    if (opts.bytes !== undefined) {
      if (!Number.isInteger(opts.bytes) || opts.bytes < 1 || opts.bytes > LIMITS.maxDataKeyBytes) {
        throw errors.validation(`bytes must be an integer between 1 and ${LIMITS.maxDataKeyBytes}`);
      }
      size = opts.bytes;
    } else {
      const spec = opts.spec ?? 'AES_256';
      const n = DATA_KEY_BYTES[spec];
      if (n === undefined) throw errors.validation('spec must be AES_128 or AES_256');
      size = n;
    }
    const key = await this.#usableForEncrypt(keyRef);
    const dataKey = randomBytes(size);
    try {
      const wrapped = await this.#encryptOne(key, dataKey, opts.context);
      if (opts.includePlaintext === false) return wrapped;
      return { ...wrapped, plaintext: Buffer.from(dataKey) };
    } finally {
      zeroize(dataKey);
    }
  }

  /** ReEncrypt: decrypts and encrypts under the destination inside the server; the plaintext never leaves. */
  async reEncrypt(
    call: Call,
    input: { ciphertext: Buffer; context?: EncryptionContext; destinationKey: string; destinationContext?: EncryptionContext },
  ): Promise<EncryptResult & { sourceKeyId: string; sourceKeyVersion: number }> {
    await this.begin(call, 'key:re-encrypt');
    const destination = await this.#usableForEncrypt(input.destinationKey);
    const source = await this.#decryptOne(input.ciphertext, input.context);
    try {
      const out = await this.#encryptOne(destination, source.plaintext, input.destinationContext);
      return { ...out, sourceKeyId: source.keyId, sourceKeyVersion: source.keyVersion };
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

  async #usableForEncrypt(keyRef: string): Promise<KeyRecord> {
    const key = await this.d.keys.resolve(keyRef);
    requireEnabled(key);
    return key;
  }

  async #primaryMaterial(key: KeyRecord): Promise<SecretBytes> {
    const material = await this.d.keys.material(key.id, key.primaryVersion);
    if (material === undefined) throw new KeywardenError('Internal', `the primary version of key ${key.id} is missing`);
    return material;
  }

  async #encryptOne(key: KeyRecord, plaintext: Buffer, context?: EncryptionContext): Promise<EncryptResult> {
    return this.#encryptWith(key, await this.#primaryMaterial(key), plaintext, context);
  }

  #encryptWith(key: KeyRecord, material: SecretBytes, plaintext: Buffer, context?: EncryptionContext): EncryptResult {
    if (plaintext.length < 1 || plaintext.length > LIMITS.maxPlaintextBytes) {
      throw errors.validation(`plaintext must be 1 to ${LIMITS.maxPlaintextBytes} bytes; use envelope encryption (data keys) for larger data`);
    }
    checkContext(context);
    const ref = { keyId: key.id, keyVersion: key.primaryVersion };
    return { ciphertext: encryptV1(material, ref, plaintext, context, this.#nonces.next()), ...ref };
  }

  async #decryptOne(ciphertext: Buffer, context?: EncryptionContext): Promise<DecryptResult> {
    checkContext(context);
    const parsed = ciphertext.length <= LIMITS.maxCiphertextBytes ? parseCiphertext(ciphertext) : undefined;
    if (parsed === undefined) throw errors.invalidCiphertext();
    const { keyId, keyVersion } = parsed.header;
    const key = await this.d.keys.findById(keyId);
    if (key === undefined) throw errors.invalidCiphertext();
    requireEnabled(key);
    const material = await this.d.keys.material(keyId, keyVersion);
    if (material === undefined) throw errors.invalidCiphertext();
    const plaintext = decryptV1(material, parsed, context);
    if (plaintext === undefined) throw errors.invalidCiphertext();
    return { plaintext, keyId, keyVersion };
  }
}

function requireEnabled(key: KeyRecord): void {
  if (key.state === 'Enabled') return;
  if (key.state === 'Disabled') throw new KeywardenError('Disabled', `key ${key.id} is disabled`);
  throw new KeywardenError('InvalidState', `key ${key.id} is in state ${key.state}`);
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

function encodeCursor(k: KeyRecord): string {
  return Buffer.from(JSON.stringify([k.createdAt, k.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isInteger(v[0]) && typeof v[1] === 'string') {
      return { createdAt: v[0] as number, id: v[1] };
    }
  } catch {
    // fall through
  }
  throw errors.validation('cursor is not a cursor returned by this API');
}
