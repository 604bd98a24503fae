/**
 * Bearer tokens. The secret is returned once at creation; only its SHA-256 is stored, and lookups
 * go by that hash (equality on a fixed-length digest of a 256-bit random secret, so no timing
 * oracle on the secret itself). Issue 3/10 adds service tokens, TTLs and revocation.
 */
import { randomBytes, sha256 } from '../crypto/primitives/index.js';
import { errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import type { Principal, TokenRecord } from './token.model.js';
import type { TokenStore } from './token.store.js';

const ROOT_PREFIX = 'kwr_';
const MAX_TOKEN_LENGTH = 512;

export function hashToken(token: string): string {
  return sha256(token).toString('hex');
}

export class TokenService {
  constructor(
    private readonly store: TokenStore,
    private readonly clock: Clock,
  ) {}

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

  /** Resolves a bearer token to a principal, or throws Unauthenticated. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (token === undefined || token.length === 0) throw errors.unauthenticated('A bearer token is required (Authorization: Bearer <token>)');
    if (token.length > MAX_TOKEN_LENGTH) throw errors.unauthenticated('The bearer token is not valid');
    const record = await this.store.findTokenByHash(hashToken(token));
    if (record === undefined) throw errors.unauthenticated('The bearer token is not valid');
    return { kind: record.kind, accessor: record.accessor, displayName: record.displayName };
  }
}
