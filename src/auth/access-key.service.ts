/**
 * AWS access keys: issuing them to principals and authenticating SigV4-signed requests with them
 * (issue 8 §1). The secret is shown once and stored only barrier-wrapped (SigV4 recomputes the
 * signature from the secret, so a hash would not do); it is unwrapped only to derive the day's
 * signing key and zeroized at once. The record and that signing key are cached per access key
 * while unsealed, so the SigV4 hot path reads no row and unwraps nothing (see #signingKey).
 *
 * Access keys belong to service accounts and to the bootstrap root identity. Users act through
 * login sessions (the MFA gate refuses a user without one), so they get none.
 */
import { barrierUnwrap, barrierWrap } from '../crypto/aead.js';
import { constantTimeEqual, randomBytes } from '../crypto/primitives/index.js';
import { zeroize } from '../crypto/secret-bytes.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { SealService } from '../seal/seal.service.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import { ROOT_PRINCIPAL_ID, accessKeyPurpose, type AccessKeyRecord, type AccessKeyStatus, type AccessKeyStore } from './access-key.model.js';
import {
  credentialScope,
  decodeSigV4Token,
  parseAmzDate,
  parseAuthorization,
  signature,
  signingKey,
  stringToSign,
} from './access-key-sigv4.js';
import type { PrincipalRecord } from './principal.model.js';
import type { PrincipalStore } from './principal.store.js';
import type { Principal } from './token.model.js';

/** Requests signed more than this far from the server's time are refused (AWS: 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** How long a principal record read for an access key is reused (as TOKEN_CACHE_TTL_MS). */
const PRINCIPAL_CACHE_TTL_MS = 1000;
/**
 * How long an access key record is reused: a disable or delete in this process drops it at once;
 * one made by another node is seen within this time (as TOKEN_CACHE_TTL_MS).
 */
const RECORD_CACHE_TTL_MS = 1000;
export const SIGV4_SERVICE = 'kms';
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const MAX_KEYS_PER_PRINCIPAL = 2;
const ACCESS_KEY_ID_RE = /^[A-Z0-9]{16,128}$/;

/** The AWS error name a SigV4 failure maps to (the catalog code is Unauthenticated for all of them). */
const refuse = (awsType: 'InvalidSignatureException' | 'UnrecognizedClientException' | 'IncompleteSignatureException', message: string) =>
  new KeywardenError('Unauthenticated', message, { awsType });
const UNKNOWN_KEY = 'The security token included in the request is invalid';

export interface AccessKeyView {
  accessKeyId: string;
  principal: string;
  status: AccessKeyStatus;
  createdAt: number;
}

/**
 * A derived SigV4 signing key, per access key, for one (date, region, service) scope. It is a
 * secret (it signs requests for that day): held only while unsealed, zeroized when replaced or
 * dropped, never logged. `wrapped` is the stored secret it came from, so a re-read record with
 * another secret never meets a stale key.
 */
interface SigningKeyEntry {
  scope: string;
  wrapped: Buffer;
  key: Buffer;
}

export class AccessKeyService {
  readonly #principals: TtlCache<string, PrincipalRecord | null>;
  readonly #records: TtlCache<string, AccessKeyRecord | null>;
  readonly #signingKeys = new Map<string, SigningKeyEntry>();

  constructor(
    private readonly d: {
      store: AccessKeyStore;
      principals: PrincipalStore;
      seal: SealService;
      clock: Clock;
      /** Regions accepted in the credential scope. */
      regions: readonly string[];
    },
  ) {
    this.#principals = new TtlCache(d.clock, PRINCIPAL_CACHE_TTL_MS);
    this.#records = new TtlCache(d.clock, RECORD_CACHE_TTL_MS);
    // Sealing drops every derived signing key (and the records): access keys work only while unsealed.
    d.seal.onSeal(() => this.#dropAll());
  }

  #drop(accessKeyId: string): void {
    this.#records.delete(accessKeyId);
    const e = this.#signingKeys.get(accessKeyId);
    if (e !== undefined) {
      zeroize(e.key);
      this.#signingKeys.delete(accessKeyId);
    }
  }

  #dropAll(): void {
    this.#records.clear();
    for (const e of this.#signingKeys.values()) zeroize(e.key);
    this.#signingKeys.clear();
  }

  /** Another node changed access key `accessKeyId` (absent: keys or principals wholesale; src/cluster/invalidation.ts). */
  invalidate(accessKeyId?: string): void {
    if (accessKeyId !== undefined) return this.#drop(accessKeyId);
    this.#dropAll();
    this.#principals.clear();
  }

  /** The record through the short-lived cache (null: no such key). */
  async #record(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    let r = this.#records.get(accessKeyId);
    if (r === undefined) {
      r = (await this.find(accessKeyId)) ?? null;
      this.#records.set(accessKeyId, r);
    }
    return r ?? undefined;
  }

  /**
   * The signing key of `rec` for the scope: derived once per (date, region, service) from the
   * unwrapped secret (zeroized at once), then reused until the date changes, the key is disabled
   * or deleted, or the server seals. The caller must not zeroize it.
   */
  #signingKey(rec: AccessKeyRecord, date: string, region: string, service: string): Buffer {
    const scope = `${date}/${region}/${service}`;
    const cached = this.#signingKeys.get(rec.accessKeyId);
    if (cached !== undefined && cached.scope === scope && cached.wrapped.equals(rec.wrappedSecret)) return cached.key;
    const secret = barrierUnwrap(this.d.seal.rootKey(), accessKeyPurpose(rec.accessKeyId), rec.wrappedSecret);
    if (secret === undefined) throw errors.internal();
    let key: Buffer;
    try {
      key = signingKey(secret, date, region, service);
    } finally {
      zeroize(secret);
    }
    // One scope per access key: a new date (or another region) replaces the old entry.
    if (cached !== undefined) zeroize(cached.key);
    if (this.#signingKeys.size >= 10_000 && cached === undefined) this.#dropAll();
    this.#signingKeys.set(rec.accessKeyId, { scope, wrapped: rec.wrappedSecret, key });
    return key;
  }

  /** The principal an access key is for: a service account by name, or `root`. */
  async target(name: string): Promise<{ id: string; name: string; kind: 'root' | 'service-account' }> {
    if (name === ROOT_PRINCIPAL_ID) return { id: ROOT_PRINCIPAL_ID, name: 'root', kind: 'root' };
    const p = await this.d.principals.getPrincipalByName(name);
    if (p === undefined) throw errors.notFound(`principal "${name.slice(0, 128)}"`);
    if (p.kind !== 'service-account') throw errors.validation(`access keys are for service accounts and root; ${p.name} is a ${p.kind} (users sign in with sessions)`);
    return { id: p.id, name: p.name, kind: 'service-account' };
  }

  /** Issues an access key; the secret is returned once. */
  async create(by: Principal, target: { id: string }): Promise<{ accessKeyId: string; secretAccessKey: string; view: AccessKeyView }> {
    const existing = await this.d.store.listAccessKeys(target.id);
    if (existing.length >= MAX_KEYS_PER_PRINCIPAL) {
      throw new KeywardenError('LimitExceeded', `a principal holds at most ${MAX_KEYS_PER_PRINCIPAL} access keys (as in AWS IAM); delete one first`);
    }
    const id = 'AKKW' + [...randomBytes(16)].map((b) => ID_ALPHABET[b & 31]).join('');
    const secret = randomBytes(30);
    const secretAccessKey = secret.toString('base64');
    const secretBytes = Buffer.from(secretAccessKey, 'utf8');
    try {
      const rec: AccessKeyRecord = {
        accessKeyId: id,
        principalId: target.id,
        wrappedSecret: barrierWrap(this.d.seal.rootKey(), accessKeyPurpose(id), secretBytes),
        status: 'Active',
        createdAt: this.d.clock.now(),
        createdBy: by.id,
      };
      await this.d.store.createAccessKey(rec);
      return { accessKeyId: id, secretAccessKey, view: await this.view(rec) };
    } finally {
      zeroize(secret, secretBytes);
    }
  }

  async find(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    return ACCESS_KEY_ID_RE.test(accessKeyId) ? this.d.store.getAccessKey(accessKeyId) : undefined;
  }

  list(principalId?: string): Promise<AccessKeyRecord[]> {
    return this.d.store.listAccessKeys(principalId);
  }

  async setStatus(k: AccessKeyRecord, status: AccessKeyStatus): Promise<AccessKeyRecord> {
    await this.d.store.setAccessKeyStatus(k.accessKeyId, status);
    this.#drop(k.accessKeyId);
    return { ...k, status };
  }

  async delete(k: AccessKeyRecord): Promise<void> {
    await this.d.store.deleteAccessKey(k.accessKeyId);
    this.#drop(k.accessKeyId);
  }

  /** Revoking the root identity (revoke-root) also removes root's access keys. */
  async revokeRoot(): Promise<number> {
    const n = await this.d.store.deleteAccessKeysOf(ROOT_PRINCIPAL_ID);
    this.#dropAll();
    return n;
  }

  async view(k: AccessKeyRecord): Promise<AccessKeyView> {
    const name = k.principalId === ROOT_PRINCIPAL_ID ? 'root' : ((await this.d.principals.getPrincipalById(k.principalId))?.name ?? k.principalId);
    return { accessKeyId: k.accessKeyId, principal: name, status: k.status, createdAt: k.createdAt };
  }

  /**
   * Authenticates a SigV4 credential (src/auth/access-key-sigv4.ts): scope (service kms, a
   * configured region, the date of X-Amz-Date), an active access key of an enabled principal, the
   * request time within 5 minutes, and the signature (constant-time comparison).
   */
  async authenticate(token: string): Promise<Principal> {
    const c = decodeSigV4Token(token);
    if (c === undefined) throw refuse('IncompleteSignatureException', 'The request signature is malformed');
    if (c.securityToken) throw refuse('UnrecognizedClientException', 'Temporary credentials (X-Amz-Security-Token) are not supported: sign with a Keywarden access key');
    const a = parseAuthorization(c.authorization);
    if (a === undefined) {
      throw refuse('IncompleteSignatureException', 'The Authorization header must be AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/kms/aws4_request, SignedHeaders=..., Signature=...');
    }
    const rec = await this.#record(a.accessKeyId);
    if (rec === undefined || rec.status !== 'Active') throw refuse('UnrecognizedClientException', UNKNOWN_KEY);
    if (a.service !== SIGV4_SERVICE || a.terminator !== 'aws4_request' || !this.d.regions.includes(a.region)) {
      throw refuse('InvalidSignatureException', `Credential should be scoped to service kms in a region this server serves (${this.d.regions.join(', ')})`);
    }
    const t = parseAmzDate(c.amzDate);
    if (t === undefined || !c.dateSigned || c.amzDate.slice(0, 8) !== a.date) {
      throw refuse('InvalidSignatureException', 'X-Amz-Date must be signed, in ISO 8601 basic format, on the date of the credential scope');
    }
    if (Math.abs(this.d.clock.now() - t) > MAX_CLOCK_SKEW_MS) {
      throw refuse('InvalidSignatureException', `Signature expired: the request time ${c.amzDate} is more than 5 minutes from the server's time`);
    }
    if (c.canonicalRequestHash === '') throw refuse('InvalidSignatureException', 'A header listed in SignedHeaders is missing from the request');
    const key = this.#signingKey(rec, a.date, a.region, a.service);
    const expected = Buffer.from(signature(key, stringToSign(c.amzDate, credentialScope(a.date, a.region, a.service), c.canonicalRequestHash)), 'hex');
    const ok = constantTimeEqual(expected, Buffer.from(a.signature, 'hex'));
    if (!ok) throw refuse('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    return this.#principal(rec);
  }

  async #principal(rec: AccessKeyRecord): Promise<Principal> {
    const accessor = `aws_${rec.accessKeyId}`;
    if (rec.principalId === ROOT_PRINCIPAL_ID) {
      return { kind: 'root', id: ROOT_PRINCIPAL_ID, name: 'root', roles: [], accessor, displayName: 'root (access key)', environment: null };
    }
    let p = this.#principals.get(rec.principalId);
    if (p === undefined) {
      p = (await this.d.principals.getPrincipalById(rec.principalId)) ?? null;
      this.#principals.set(rec.principalId, p);
    }
    if (p === null || p.disabled || p.kind !== 'service-account') throw refuse('UnrecognizedClientException', UNKNOWN_KEY);
    return { kind: p.kind, id: p.id, name: p.name, roles: p.roles, accessor, displayName: p.name, environment: p.environment };
  }
}
