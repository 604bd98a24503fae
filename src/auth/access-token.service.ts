/**
 * Short-lived access tokens for service accounts: EdDSA (Ed25519, RFC 8037) JWTs signed with
 * `jose`. The signing key is generated once, stored wrapped by the barrier under the root key
 * (purpose `token-signing-key:<kid>`), unwrapped on first use and dropped on seal.
 *
 * Verification hot path: a verified token is cached by its SHA-256 until it expires; revocation
 * is checked against an in-memory set (immediate on this node) and re-read from the store at most
 * once a second per token (other nodes); the principal (disabled flag, current roles) is re-read
 * at most once a second. Authorization uses the principal's current roles, not a copy in the token.
 */
import { SignJWT, jwtVerify } from 'jose';
import { barrierUnwrap, barrierWrap } from '../crypto/aead.js';
import { randomUUID, sha256Hex } from '../crypto/primitives/index.js';
import { generateJwtSigningKeyPair, jwtPrivateKey, jwtPublicKey, type JwtKey } from '../crypto/primitives/jwt-keys.js';
import { zeroize } from '../crypto/secret-bytes.js';
import { errors } from '../errors/catalog.js';
import type { SealService } from '../seal/seal.service.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import type { PrincipalRecord } from './principal.model.js';
import type { PrincipalStore } from './principal.store.js';
import type { Principal } from './token.model.js';

export const ACCESS_TOKEN = {
  issuer: 'keywarden',
  audience: 'keywarden',
  defaultTtlSeconds: 15 * 60,
  maxTtlSeconds: 60 * 60,
  minTtlSeconds: 60,
  /** How long another node's revocation or principal change can go unseen by a cached token. */
  recheckMs: 1000,
  maxCached: 10_000,
} as const;

interface Verified {
  sub: string;
  jti: string;
  /** Expiry, epoch ms. */
  exp: number;
  checkedAt: number;
}

/** Shape test only (three base64url parts, JOSE header `{"`); verification decides. */
export function looksLikeJwt(token: string): boolean {
  return token.startsWith('eyJ') && token.split('.').length === 3;
}

export class AccessTokenService {
  #signing: Promise<{ kid: string; privateKey: JwtKey; publicKey: JwtKey }> | undefined;
  readonly #verified = new Map<string, Verified>();
  /** jti -> expiry (ms): revoked on this node. */
  readonly #revoked = new Map<string, number>();
  readonly #principals: TtlCache<string, PrincipalRecord | null>;

  constructor(
    private readonly d: { store: PrincipalStore; seal: SealService; clock: Clock },
  ) {
    this.#principals = new TtlCache(d.clock, ACCESS_TOKEN.recheckMs);
    d.seal.onSeal(() => {
      this.#signing = undefined;
      this.#verified.clear();
    });
  }

  /** Issues an access token for `p` (RFC 6749 §4.4.3 access token). */
  async issue(p: PrincipalRecord, ttlSeconds: number = ACCESS_TOKEN.defaultTtlSeconds): Promise<{ token: string; expiresIn: number; jti: string }> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < ACCESS_TOKEN.minTtlSeconds || ttlSeconds > ACCESS_TOKEN.maxTtlSeconds) {
      throw errors.validation(`expires_in must be a whole number of seconds between ${ACCESS_TOKEN.minTtlSeconds} and ${ACCESS_TOKEN.maxTtlSeconds}`);
    }
    const k = await this.#key();
    const iat = Math.floor(this.d.clock.now() / 1000);
    const jti = randomUUID();
    const token = await new SignJWT({ scope: p.roles.join(' '), kind: p.kind })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: k.kid })
      .setIssuer(ACCESS_TOKEN.issuer)
      .setAudience(ACCESS_TOKEN.audience)
      .setSubject(p.id)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(k.privateKey);
    return { token, expiresIn: ttlSeconds, jti };
  }

  /** Verifies signature, issuer, audience, expiry; undefined when any check fails. Ignores revocation. */
  async #verify(token: string): Promise<Verified | undefined> {
    const k = await this.#key();
    try {
      const { payload } = await jwtVerify(token, k.publicKey, {
        algorithms: ['EdDSA'],
        issuer: ACCESS_TOKEN.issuer,
        audience: ACCESS_TOKEN.audience,
        typ: 'at+jwt',
        currentDate: new Date(this.d.clock.now()),
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') return undefined;
      return { sub: payload.sub, jti: payload.jti, exp: payload.exp * 1000, checkedAt: -Infinity };
    } catch {
      return undefined;
    }
  }

  /** Resolves an access token to its principal, or throws Unauthenticated. */
  async authenticate(token: string): Promise<Principal> {
    const now = this.d.clock.now();
    const hash = sha256Hex(token);
    let v = this.#verified.get(hash);
    if (v === undefined) {
      v = await this.#verify(token);
      if (v === undefined) throw errors.unauthenticated('The access token is not valid or has expired');
      if (this.#verified.size >= ACCESS_TOKEN.maxCached) this.#verified.clear();
      this.#verified.set(hash, v);
    }
    if (v.exp <= now) {
      this.#verified.delete(hash);
      throw errors.unauthenticated('The access token is not valid or has expired');
    }
    if (this.#revoked.has(v.jti)) throw errors.unauthenticated('The access token has been revoked');
    if (v.checkedAt + ACCESS_TOKEN.recheckMs <= now) {
      if (await this.d.store.isTokenRevoked(v.jti)) {
        this.#revoked.set(v.jti, v.exp);
        throw errors.unauthenticated('The access token has been revoked');
      }
      v.checkedAt = now;
    }
    const p = await this.#principal(v.sub);
    if (p === null || p.disabled) throw errors.unauthenticated('The access token is not valid or has expired');
    return { kind: p.kind, id: p.id, name: p.name, roles: p.roles, accessor: `jti_${v.jti}`, displayName: p.name, environment: p.environment };
  }

  /**
   * Revokes a token (RFC 7009 semantics: an invalid or expired token is a no-op). Returns the
   * token's subject and jti when it was a valid token of this server, so the caller can check
   * who may revoke it BEFORE calling `revokeJti`.
   */
  async inspect(token: string): Promise<{ sub: string; jti: string; exp: number } | undefined> {
    if (!looksLikeJwt(token) || token.length > 4096) return undefined;
    const v = await this.#verify(token);
    return v && { sub: v.sub, jti: v.jti, exp: v.exp };
  }

  /** Takes effect at once on this node (in-memory set) and within recheckMs on the others (store). */
  async revokeJti(jti: string, exp: number): Promise<void> {
    const now = this.d.clock.now();
    for (const [j, e] of this.#revoked) if (e <= now) this.#revoked.delete(j);
    this.#revoked.set(jti, exp);
    await this.d.store.revokeToken(jti, exp);
    // Expired tokens fail verification anyway: their revocation records can go.
    await this.d.store.purgeRevokedTokens(now);
  }

  /**
   * Another node revoked token `jti` (absent: changed principals or tokens wholesale; see
   * src/cluster/invalidation.ts): the revocation is re-read from the store on the next use.
   */
  invalidate(jti?: string): void {
    if (jti === undefined) this.#principals.clear();
    for (const v of this.#verified.values()) if (jti === undefined || v.jti === jti) v.checkedAt = -Infinity;
  }

  /** Forget this node's cached copy of a principal after changing it (roles, disabled). */
  invalidatePrincipal(id: string): void {
    this.#principals.delete(id);
  }

  async #principal(id: string): Promise<PrincipalRecord | null> {
    const cached = this.#principals.get(id);
    if (cached !== undefined) return cached;
    const p = (await this.d.store.getPrincipalById(id)) ?? null;
    this.#principals.set(id, p);
    return p;
  }

  #key() {
    this.#signing ??= this.#loadKey().catch((e: unknown) => {
      this.#signing = undefined;
      throw e;
    });
    return this.#signing;
  }

  async #loadKey() {
    const rootKey = this.d.seal.rootKey(); // throws Sealed
    let rec = await this.d.store.getSigningKey();
    if (rec === undefined) {
      const pair = generateJwtSigningKeyPair();
      const kid = randomUUID();
      try {
        rec = await this.d.store.putSigningKeyIfAbsent({
          kid,
          wrappedPrivateKey: barrierWrap(rootKey, `token-signing-key:${kid}`, pair.privatePkcs8),
          publicKey: pair.publicSpki,
          createdAt: this.d.clock.now(),
        });
      } finally {
        zeroize(pair.privatePkcs8);
      }
    }
    const pkcs8 = barrierUnwrap(rootKey, `token-signing-key:${rec.kid}`, rec.wrappedPrivateKey);
    if (pkcs8 === undefined) throw errors.internal();
    try {
      return { kid: rec.kid, privateKey: jwtPrivateKey(pkcs8), publicKey: jwtPublicKey(rec.publicKey) };
    } finally {
      zeroize(pkcs8);
    }
  }
}
