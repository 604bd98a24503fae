import type { TokenKind, TokenRecord } from './token.model.js';

export interface TokenStore {
  /** Durable insert; a duplicate hash is ignored (idempotent). */
  putToken(token: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  /** The token with this accessor (its public id), if it still exists (approved requests of a root token re-check it). */
  findTokenByAccessor(accessor: string): Promise<TokenRecord | undefined>;
  /** Deletes every token of `kind` at once (revoke-root); returns how many there were. Durable. */
  deleteTokensOfKind(kind: TokenKind): Promise<number>;
}
