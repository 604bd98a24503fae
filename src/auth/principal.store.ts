import type { ClientCredential, GrantRecord, PrincipalRecord, Role, TokenSigningKeyRecord } from './principal.model.js';

/** Persistence of principals, credentials, grants, key creators, revoked tokens and the token signing key. */
export interface PrincipalStore {
  /** Inserts the principal (and its credential) atomically; false when the name is taken. */
  createPrincipal(p: PrincipalRecord, credential?: ClientCredential): Promise<boolean>;
  getPrincipalById(id: string): Promise<PrincipalRecord | undefined>;
  getPrincipalByName(name: string): Promise<PrincipalRecord | undefined>;
  listPrincipals(): Promise<PrincipalRecord[]>;
  setRoles(id: string, roles: Role[]): Promise<void>;
  setDisabled(id: string, disabled: boolean): Promise<void>;

  getCredential(clientId: string): Promise<ClientCredential | undefined>;
  /** Replaces every credential of the principal by `credential` (secret rotation). */
  replaceCredential(credential: ClientCredential): Promise<void>;

  createGrant(g: GrantRecord): Promise<void>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  listGrants(filter: { keyId?: string; principalId?: string; includeRevoked?: boolean }): Promise<GrantRecord[]>;
  /** Marks the grant revoked; false when it does not exist or was already revoked. */
  revokeGrant(id: string, at: number): Promise<boolean>;

  /** Records which principal created a key (separation of duties). Idempotent. */
  setKeyCreator(keyId: string, principalId: string, at: number): Promise<void>;
  getKeyCreator(keyId: string): Promise<string | undefined>;

  /** Records a revoked access token id until its expiry. Idempotent. */
  revokeToken(jti: string, expiresAt: number): Promise<void>;
  isTokenRevoked(jti: string): Promise<boolean>;
  /** Deletes revocation records of tokens expired before `now`; returns how many. */
  purgeRevokedTokens(now: number): Promise<number>;

  getSigningKey(): Promise<TokenSigningKeyRecord | undefined>;
  /** Stores the signing key unless one exists; returns the one that is stored (first writer wins). */
  putSigningKeyIfAbsent(k: TokenSigningKeyRecord): Promise<TokenSigningKeyRecord>;
}
