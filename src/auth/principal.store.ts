import type { ClientKeyRecord } from './client-assertion.js';
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
  setEnvironment(id: string, environment: PrincipalRecord['environment']): Promise<void>;

  getCredential(clientId: string): Promise<ClientCredential | undefined>;
  /** Replaces every credential of the principal by `credential` (secret rotation). */
  replaceCredential(credential: ClientCredential): Promise<void>;

  createGrant(g: GrantRecord): Promise<void>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /**
   * Grants ordered by (createdAt, id), unrevoked unless includeRevoked. `keyId` keeps the grants
   * on that key, plus every tag-selector grant when `withSelectors` (the caller matches them).
   */
  listGrants(filter: { keyId?: string; withSelectors?: boolean; principalId?: string; includeRevoked?: boolean }): Promise<GrantRecord[]>;
  /** Marks the grant revoked; false when it does not exist or was already revoked. */
  revokeGrant(id: string, at: number): Promise<boolean>;
  /** Raises each grant's lastUsedAt to the given time (never lowers it); unknown ids are ignored. */
  recordGrantUse(uses: ReadonlyArray<{ id: string; lastUsedAt: number }>): Promise<void>;

  /** The principal that created a key (kept with the key itself, written in the same transaction). */
  getKeyCreator(keyId: string): Promise<string | undefined>;

  /** Records a revoked access token id until its expiry. Idempotent. */
  revokeToken(jti: string, expiresAt: number): Promise<void>;
  isTokenRevoked(jti: string): Promise<boolean>;
  /** Deletes revocation records of tokens expired before `now`; returns how many. */
  purgeRevokedTokens(now: number): Promise<number>;

  getSigningKey(): Promise<TokenSigningKeyRecord | undefined>;
  /** Stores the signing key unless one exists; returns the one that is stored (first writer wins). */
  putSigningKeyIfAbsent(k: TokenSigningKeyRecord): Promise<TokenSigningKeyRecord>;

  /** Registers a client-assertion public key unless the principal already has it or holds `max` keys. Atomic. */
  addClientKey(k: ClientKeyRecord, max: number): Promise<'added' | 'duplicate' | 'limit'>;
  listClientKeys(principalId: string): Promise<ClientKeyRecord[]>;
  /** False when the principal has no key with that id. */
  deleteClientKey(principalId: string, id: string): Promise<boolean>;
  /**
   * Records a client assertion's jti until `expiresAt` (RFC 7523 §3 item 7: single use); false
   * when it was already used. Also drops records that expired before `now`.
   */
  useAssertionJti(clientId: string, jti: string, expiresAt: number, now: number): Promise<boolean>;
  /** The client id of a service account (stable across secret rotation). */
  getClientIdOf(principalId: string): Promise<string | undefined>;
}
