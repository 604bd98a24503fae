/**
 * KMS keys: creation, lookup and access to (cached) key material.
 * Key material comes from the OS CSPRNG, is wrapped by the barrier under the root key before it
 * touches the store, and is cached unwrapped in memory only while unsealed (dropped on seal).
 */
import { barrierUnwrap, barrierWrap } from '../crypto/aead.js';
import { randomBytes, randomUUID } from '../crypto/primitives/index.js';
import { SecretBytes } from '../crypto/secret-bytes.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { SealService } from '../seal/seal.service.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import { KEY_ID_RE, aliasProblem, type KeyRecord, type KeySpec, type KeyVersionRecord } from './key.model.js';
import type { KeyStore } from './key.store.js';

export interface CreateKeyInput {
  description?: string;
  aliases?: string[];
  tags?: Record<string, string>;
  spec?: KeySpec;
}

const MATERIAL_BYTES: Record<KeySpec, number> = { SYMMETRIC_DEFAULT: 32 };
export const MAX_DESCRIPTION = 8192;
export const MAX_TAGS = 50;
/** How long a resolved key record (by id or alias) is reused without asking the store. */
export const KEY_CACHE_TTL_MS = 1000;

export function materialPurpose(keyId: string, version: number): string {
  return `key-material:${keyId}:${version}`;
}

export class KeyService {
  /** Unwrapped material by "keyId:version". Contract: emptied and zeroized on seal. */
  readonly #materialCache = new Map<string, SecretBytes>();
  /** Key records by id and by alias. Contract: every write through this service clears it. */
  readonly #records: TtlCache<string, KeyRecord>;

  constructor(
    private readonly store: KeyStore,
    private readonly seal: SealService,
    private readonly clock: Clock,
  ) {
    this.#records = new TtlCache(clock, KEY_CACHE_TTL_MS);
    seal.onSeal(() => this.dropCache());
  }

  async create(input: CreateKeyInput): Promise<KeyRecord> {
    const spec = input.spec ?? 'SYMMETRIC_DEFAULT';
    const aliases = [...new Set(input.aliases ?? [])];
    for (const a of aliases) {
      const problem = aliasProblem(a);
      if (problem) throw errors.validation(problem);
    }
    const tags = input.tags ?? {};
    if (Object.keys(tags).length > MAX_TAGS) throw errors.validation(`a key can have at most ${MAX_TAGS} tags`);
    if ((input.description ?? '').length > MAX_DESCRIPTION) throw errors.validation(`description is longer than ${MAX_DESCRIPTION} characters`);

    const rootKey = this.seal.rootKey();
    const id = randomUUID();
    const now = this.clock.now();
    const material = randomBytes(MATERIAL_BYTES[spec]);
    const version: KeyVersionRecord = {
      keyId: id,
      version: 1,
      state: 'Enabled',
      createdAt: now,
      wrappedMaterial: barrierWrap(rootKey, materialPurpose(id, 1), material),
    };
    material.fill(0);
    const key: KeyRecord = {
      id,
      description: input.description ?? '',
      spec,
      usage: 'ENCRYPT_DECRYPT',
      state: 'Enabled',
      origin: 'KEYWARDEN',
      createdAt: now,
      updatedAt: now,
      primaryVersion: 1,
      tags,
      aliases,
    };
    await this.store.createKey(key, version);
    this.#records.clear();
    return key;
  }

  /** Resolves a key id or `alias/...` name; NotFound when neither exists. */
  async resolve(idOrAlias: string): Promise<KeyRecord> {
    const cached = this.#records.get(idOrAlias);
    if (cached !== undefined) return cached;
    let id: string | undefined = idOrAlias;
    if (idOrAlias.startsWith('alias/')) {
      id = await this.store.resolveAlias(idOrAlias);
    } else if (!KEY_ID_RE.test(idOrAlias)) {
      throw errors.validation(`"${idOrAlias.slice(0, 80)}" is neither a key id (UUID) nor an alias (alias/...)`);
    }
    const key = id === undefined ? undefined : await this.store.getKey(id);
    if (key === undefined) throw new KeywardenError('NotFound', `key "${idOrAlias.slice(0, 300)}" was not found`);
    this.#records.set(idOrAlias, key);
    return key;
  }

  /** Looks a key up by id; undefined when absent (decrypt maps that to InvalidCiphertext). */
  async findById(id: string): Promise<KeyRecord | undefined> {
    const cached = this.#records.get(id);
    if (cached !== undefined) return cached;
    const key = await this.store.getKey(id);
    if (key !== undefined) this.#records.set(id, key);
    return key;
  }

  async list(limit: number, after?: { createdAt: number; id: string }): Promise<KeyRecord[]> {
    return this.store.listKeys({ limit, ...(after ? { after } : {}) });
  }

  /**
   * The unwrapped material of one key version. The caller MUST NOT dispose it (the cache owns it).
   * Returns undefined when the version does not exist.
   */
  async material(keyId: string, version: number): Promise<SecretBytes | undefined> {
    const cacheKey = `${keyId}:${version}`;
    const cached = this.#materialCache.get(cacheKey);
    if (cached !== undefined) return cached;
    const rootKey = this.seal.rootKey();
    const record = await this.store.getVersion(keyId, version);
    if (record === undefined) return undefined;
    const raw = barrierUnwrap(rootKey, materialPurpose(keyId, version), record.wrappedMaterial);
    if (raw === undefined) {
      // The store holds material that does not authenticate under this root key: corruption or
      // tampering. Fail closed.
      throw new KeywardenError('Internal', 'stored key material failed its integrity check');
    }
    // Re-check: a seal may have happened while we awaited the store.
    if (this.seal.sealed) {
      raw.fill(0);
      throw errors.sealed();
    }
    const secret = SecretBytes.adopt(raw);
    this.#materialCache.set(cacheKey, secret);
    return secret;
  }

  dropCache(): void {
    this.#records.clear();
    for (const s of this.#materialCache.values()) s.dispose();
    this.#materialCache.clear();
  }
}
