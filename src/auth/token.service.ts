/**
 * Bearer tokens. The secret is returned once at creation; only its SHA-256 is stored, and lookups
 * go by that hash (equality on a fixed-length digest of a 256-bit random secret, so no timing
 * oracle on the secret itself). Service-account access tokens (EdDSA JWTs) are verified by
 * AccessTokenService; authenticate() accepts both kinds.
 */
import { randomBytes, sha256Hex } from '../crypto/primitives/index.js';
import { errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { TtlCache } from '../util/ttl-cache.js';
import { looksLikeJwt, type AccessTokenService } from './access-token.service.js';
import { looksLikeSessionToken, type SessionService } from './session.service.js';
import type { Principal, TokenRecord } from './token.model.js';
import type { TokenStore } from './token.store.js';
import { SIGV4_TOKEN_PREFIX } from './access-key-sigv4.js';

const ROOT_PREFIX = 'kwr_';
/** How long a successful token lookup is reused without asking the store. */
export const TOKEN_CACHE_TTL_MS = 1000;
const MAX_TOKEN_LENGTH = 512;
/** Access tokens (JWTs) are longer than root tokens. */
const MAX_JWT_LENGTH = 4096;
/** A SigV4 credential: the Authorization header (bounded by the transport's header limits) and two hashes. */
const MAX_SIGV4_LENGTH = 16384;

export function hashToken(token: string): string {
  return sha256Hex(token);
}

export class TokenService {
  /** token hash -> principal; only successful lookups are cached (keyed by hash, never the secret). */
  readonly #cache: TtlCache<string, Principal>;

  constructor(
    private readonly store: TokenStore,
    private readonly clock: Clock,
    private readonly accessTokens?: AccessTokenService,
    /** User login sessions (`kwu_` tokens). */
    private readonly sessions?: SessionService,
    /** AWS SigV4 credentials (the AWS transport's `sigv4:` credentials; src/auth/access-key.service.ts). */
    private readonly sigv4?: { authenticate(token: string): Promise<Principal>; revokeRoot(): Promise<number> },
  ) {
    this.#cache = new TtlCache(clock, TOKEN_CACHE_TTL_MS);
  }

  /** Creates a root token and returns its secret (shown once). */
  async createRootToken(displayName = 'root'): Promise<string> {
    const token = ROOT_PREFIX + randomBytes(32).toString('base64url');
    await this.registerRootToken(token, displayName);
    return token;
  }

  /** Registers a caller-chosen root token (dev mode `--root-token`). Idempotent. */
  async registerRootToken(token: string, displayName = 'root'): Promise<void> {
    if (token.length < 1 || token.length > MAX_TOKEN_LENGTH || /\s/.test(token)) {
      throw errors.validation('a root token must be 1–512 characters without whitespace');
    }
    const hash = hashToken(token);
    const record: TokenRecord = {
      hash,
      accessor: 'acc_' + hash.slice(0, 16),
      kind: 'root',
      displayName,
      createdAt: this.clock.now(),
    };
    await this.store.putToken(record);
  }

  /**
   * Revokes every root token at once (bootstrap is over). Takes effect immediately on this node
   * (the lookup cache is emptied) and within TOKEN_CACHE_TTL_MS on others. Returns how many there were.
   */
  async revokeAllRootTokens(): Promise<number> {
    const n = await this.store.deleteTokensOfKind('root');
    // The root identity's AWS access keys go with its tokens.
    await this.sigv4?.revokeRoot();
    this.#cache.clear();
    return n;
  }

  /** Another node changed tokens (src/cluster/invalidation.ts): forget every cached lookup. */
  invalidate(): void {
    this.#cache.clear();
  }

  /** Resolves a bearer token to a principal, or throws Unauthenticated. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (token === undefined || token.length === 0) throw errors.unauthenticated('A bearer token is required (Authorization: Bearer <token>)');
    if (this.accessTokens !== undefined && looksLikeJwt(token)) {
      if (token.length > MAX_JWT_LENGTH) throw errors.unauthenticated('The bearer token is not valid');
      return this.accessTokens.authenticate(token);
    }
    if (this.sessions !== undefined && looksLikeSessionToken(token)) return this.sessions.authenticate(token);
    if (this.sigv4 !== undefined && token.startsWith(SIGV4_TOKEN_PREFIX)) {
      if (token.length > MAX_SIGV4_LENGTH) throw errors.unauthenticated('The request signature is not valid');
      return this.sigv4.authenticate(token);
    }
    if (token.length > MAX_TOKEN_LENGTH) throw errors.unauthenticated('The bearer token is not valid');
    const hash = hashToken(token);
    const cached = this.#cache.get(hash);
    if (cached !== undefined) return cached;
    const record = await this.store.findTokenByHash(hash);
    if (record === undefined) throw errors.unauthenticated('The bearer token is not valid');
    const principal: Principal = {
      kind: record.kind,
      id: record.accessor,
      name: record.displayName,
      roles: [],
      accessor: record.accessor,
      displayName: record.displayName,
      environment: null,
    };
    this.#cache.set(hash, principal);
    return principal;
  }
}
