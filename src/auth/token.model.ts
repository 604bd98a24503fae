export type TokenKind = 'root';

export interface TokenRecord {
  /** Public identifier of the token (safe to log), not the secret. */
  accessor: string;
  /** SHA-256 of the secret token, hex. The secret itself is never stored. */
  hash: string;
  kind: TokenKind;
  displayName: string;
  createdAt: number;
}

export interface Principal {
  kind: 'root';
  accessor: string;
  displayName: string;
}
