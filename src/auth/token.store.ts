import type { TokenRecord } from './token.model.js';

export interface TokenStore {
  /** Durable insert; a duplicate hash is ignored (idempotent). */
  putToken(token: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
}
