/**
 * `new Keywarden({ address, token })` or `new Keywarden({ address, clientId, clientSecret })`: a typed
 * client for the native REST API (docs/api.md) and `kw.envelope` for local envelope encryption.
 * Binary values go in as Uint8Array and come out as Buffer; the base64 of the wire stays in here.
 */
import { DataKeyCache, type CacheLimits, type CacheStats } from './cache.js';
import { Envelope, type KeyOperations } from './envelope.js';
import { HttpClient, type HttpOptions, type HttpStats } from './http.js';
import type * as T from './types.js';

export interface KeywardenOptions extends HttpOptions {
  /** Data-key cache limits for kw.envelope; false turns the cache off (default: on, CacheLimits defaults). */
  cache?: CacheLimits | false;
}

export interface Stats extends HttpStats {
  cache: CacheStats | undefined;
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const bin = (s: string): Buffer => Buffer.from(s, 'base64');
const keyPath = (key: string): string => `/v1/keys/${encodeURIComponent(key)}`;
const query = (q: Record<string, string | number | undefined>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
};
const ctx = (context: T.EncryptionContext | undefined) => (context !== undefined && Object.keys(context).length > 0 ? { context } : {});

export class Keywarden implements KeyOperations {
  readonly envelope: Envelope;
  private readonly http: HttpClient;

  constructor(options: KeywardenOptions) {
    this.http = new HttpClient(options);
    const clock = options.clock ?? { now: () => Date.now() };
    this.envelope = new Envelope(this, options.cache === false ? undefined : new DataKeyCache(options.cache ?? {}, clock), clock);
  }

  /** HTTP requests sent, retries, token refreshes and the data-key cache's counters. */
  stats(): Stats {
    return { ...this.http.stats, cache: this.envelope.cache ? { ...this.envelope.cache.stats } : undefined };
  }

  /** Any route, for what has no typed method yet: JSON in, JSON out, same retries and errors. */
  request<R>(method: string, path: string, body?: unknown): Promise<R> {
    return this.http.call<R>(method, path, body);
  }

  health(): Promise<T.Health> {
    return this.http.call('GET', '/v1/sys/health', undefined, { auth: false });
  }

  // Keys ------------------------------------------------------------------------------------
  async describeKey(key: string): Promise<T.Key> {
    return (await this.http.call<{ key: T.Key }>('GET', keyPath(key))).key;
  }
  listKeys(o: { limit?: number; cursor?: string; classification?: string; environment?: string } = {}): Promise<T.KeyList> {
    return this.http.call('GET', `/v1/keys${query(o)}`);
  }
  /** GET /v1/keys/{key}/policy: the effective policy, incl. limits.dataKeyMaxLifetimeSeconds. */
  keyPolicy(key: string): Promise<T.KeyPolicy> {
    return this.http.call('GET', `${keyPath(key)}/policy`);
  }
  async publicKey(key: string, version?: number): Promise<Omit<T.PublicKeyResult, 'publicKey'> & { publicKey: Buffer }> {
    const r = await this.http.call<T.PublicKeyResult>('GET', `${keyPath(key)}/public-key${query({ version })}`);
    return { ...r, publicKey: bin(r.publicKey) };
  }

  // Cryptographic operations -----------------------------------------------------------------
  async encrypt(key: string, plaintext: Uint8Array, context?: T.EncryptionContext): Promise<{ ciphertext: Buffer; keyId: string; keyVersion: number }> {
    const r = await this.http.call<Required<Pick<T.EncryptResult, 'ciphertext' | 'keyId' | 'keyVersion'>>>('POST', `${keyPath(key)}/encrypt`, { plaintext: b64(plaintext), ...ctx(context) });
    return { ciphertext: bin(r.ciphertext), keyId: r.keyId, keyVersion: r.keyVersion };
  }
  async decrypt(ciphertext: Uint8Array, context?: T.EncryptionContext): Promise<{ plaintext: Buffer; keyId: string; keyVersion: number }> {
    const r = await this.http.call<Required<Pick<T.DecryptResult, 'plaintext' | 'keyId' | 'keyVersion'>>>('POST', '/v1/decrypt', { ciphertext: b64(ciphertext), ...ctx(context) });
    return { plaintext: bin(r.plaintext), keyId: r.keyId, keyVersion: r.keyVersion };
  }
  /** A data key: its plaintext (unless includePlaintext is false) and its ciphertext under `key`. */
  async generateDataKey(key: string, o: { context?: T.EncryptionContext; spec?: 'AES_256' | 'AES_128'; bytes?: number; includePlaintext?: boolean } = {}) {
    const body: T.DataKeyRequest = { ...ctx(o.context), ...(o.spec ? { spec: o.spec } : {}), ...(o.bytes ? { bytes: o.bytes } : {}), ...(o.includePlaintext === false ? { includePlaintext: false } : {}) };
    const r = await this.http.call<T.DataKeyResult>('POST', `${keyPath(key)}/data-key`, body);
    return { ...(r.plaintext !== undefined ? { plaintext: bin(r.plaintext) } : {}), ciphertext: bin(r.ciphertext), keyId: r.keyId, keyVersion: r.keyVersion };
  }
  /** Decrypts and encrypts again under another key, on the server (the plaintext never comes back). */
  async reEncrypt(ciphertext: Uint8Array, destinationKey: string, o: { context?: T.EncryptionContext; destinationContext?: T.EncryptionContext } = {}) {
    const body: T.ReEncryptRequest = { ciphertext: b64(ciphertext), destinationKey, ...ctx(o.context), ...(o.destinationContext ? { destinationContext: o.destinationContext } : {}) };
    const r = await this.http.call<T.ReEncryptResult>('POST', '/v1/re-encrypt', body);
    return { ...r, ciphertext: bin(r.ciphertext) };
  }
  /** Re-encrypts a ciphertext of `key` under its current primary version (after a rotation). */
  async reWrap(key: string, ciphertext: Uint8Array, context?: T.EncryptionContext) {
    const r = await this.http.call<T.ReWrapResult>('POST', `${keyPath(key)}/re-wrap`, { ciphertext: b64(ciphertext), ...ctx(context) });
    return { ...r, ciphertext: bin(r.ciphertext) };
  }
  async sign(key: string, message: Uint8Array, algorithm: string, messageType?: 'RAW' | 'DIGEST') {
    const body: T.SignRequest = { message: b64(message), algorithm, ...(messageType ? { messageType } : {}) };
    const r = await this.http.call<T.SignResult>('POST', `${keyPath(key)}/sign`, body);
    return { ...r, signature: bin(r.signature) };
  }
  verify(key: string, message: Uint8Array, signature: Uint8Array, algorithm: string, o: { messageType?: 'RAW' | 'DIGEST'; keyVersion?: number } = {}): Promise<T.ValidResult> {
    const body: T.VerifyRequest = { message: b64(message), signature: b64(signature), algorithm, ...o };
    return this.http.call('POST', `${keyPath(key)}/verify`, body);
  }
  async mac(key: string, message: Uint8Array, algorithm: string) {
    const body: T.MacRequest = { message: b64(message), algorithm };
    const r = await this.http.call<T.MacResult>('POST', `${keyPath(key)}/mac`, body);
    return { ...r, mac: bin(r.mac) };
  }
  verifyMac(key: string, message: Uint8Array, mac: Uint8Array, algorithm: string): Promise<T.ValidResult> {
    const body: T.VerifyMacRequest = { message: b64(message), mac: b64(mac), algorithm };
    return this.http.call('POST', `${keyPath(key)}/verify-mac`, body);
  }
  async random(bytes: number): Promise<Buffer> {
    return bin((await this.http.call<T.RandomResult>('POST', '/v1/random', { bytes })).random);
  }

  // Grants ------------------------------------------------------------------------------------
  async listGrants(o: { key?: string; principal?: string } = {}): Promise<T.Grant[]> {
    return (await this.http.call<T.GrantList>('GET', `/v1/grants${query(o)}`)).grants;
  }
}
