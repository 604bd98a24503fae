/**
 * Service accounts: principals that authenticate with client credentials (RFC 6749 §2.3.1,
 * §4.4) and receive short-lived access tokens. Also role binding for every principal, with the
 * separation-of-duties checks of src/auth/roles.ts.
 *
 * Client secrets: 256 bits from the CSPRNG, returned once, stored as SHA-256 only. A slow hash
 * (argon2id) protects low-entropy passwords against offline guessing; a uniformly random 256-bit
 * secret cannot be guessed whatever the hash cost, so SHA-256 (preimage resistant) is enough and
 * keeps the token endpoint cheap. The stored and presented digests are compared in constant time,
 * and an unknown client id costs the same hash-and-compare as a wrong secret.
 */
import { parseClientPublicKey } from '../crypto/primitives/client-keys.js';
import { constantTimeEqual, randomBytes, randomUUID, sha256 } from '../crypto/primitives/index.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import type { AccessTokenService } from './access-token.service.js';
import { CLIENT_ASSERTION, type ClientKeyRecord } from './client-assertion.js';
import { PRINCIPAL_NAME_RE, type ClientCredential, type PrincipalRecord, type Role } from './principal.model.js';
import type { PrincipalStore } from './principal.store.js';
import { isRole, roleConflict } from './roles.js';
import type { Principal } from './token.model.js';
import type { Environment } from '../policy/policy.model.js';

const CLIENT_ID_PREFIX = 'kwc_';
const SECRET_PREFIX = 'kws_';
const MAX_SECRET_LENGTH = 256;
/** Compared against when the client id is unknown, so both failures cost the same. */
const DUMMY_HASH = sha256('keywarden/no-such-client');

export const INVALID_CLIENT_MESSAGE = 'The client credentials are not valid';

export class ServiceAccountService {
  constructor(
    private readonly d: {
      store: PrincipalStore;
      clock: Clock;
      accessTokens: AccessTokenService;
      /** Users' sessions: cached principals are dropped at once when roles or status change. */
      sessions?: { invalidate(): void };
    },
  ) {}

  /** A principal's roles or status changed: this node stops using cached copies at once. */
  #changed(id: string): void {
    this.d.accessTokens.invalidatePrincipal(id);
    this.d.sessions?.invalidate();
  }

  /** Creates a service account; `publicKey` (SPKI PEM) registers a client-assertion key at once. */
  async create(
    by: Principal,
    name: string,
    roles: readonly string[],
    publicKey?: string,
    environment: Environment | null = null,
  ): Promise<{ principal: PrincipalRecord; clientId: string; clientSecret: string; key?: ClientKeyRecord }> {
    if (!PRINCIPAL_NAME_RE.test(name)) {
      throw errors.validation('name must be 1–128 characters: letters, digits, ".", "_" or "-", starting with a letter or digit');
    }
    const checked = checkRoles(roles);
    refuseConflict(name, checked);
    const principal: PrincipalRecord = { id: randomUUID(), name, kind: 'service-account', roles: checked, createdAt: this.d.clock.now(), disabled: false, environment };
    const key = publicKey === undefined ? undefined : this.#newKey(principal.id, publicKey);
    const { credential, clientSecret } = newCredential(principal.id, this.d.clock.now());
    if (!(await this.d.store.createPrincipal(principal, credential))) {
      throw new KeywardenError('AlreadyExists', `a principal named ${name} already exists`);
    }
    if (key !== undefined) await this.d.store.addClientKey(key, CLIENT_ASSERTION.maxKeysPerAccount);
    void by;
    return { principal, clientId: credential.clientId, clientSecret, ...(key ? { key } : {}) };
  }

  list(): Promise<PrincipalRecord[]> {
    return this.d.store.listPrincipals();
  }

  async get(name: string): Promise<PrincipalRecord> {
    const p = PRINCIPAL_NAME_RE.test(name) ? await this.d.store.getPrincipalByName(name) : undefined;
    if (p === undefined) throw new KeywardenError('NotFound', `principal ${name.slice(0, 128)} was not found`);
    return p;
  }

  /** Binds roles (refused if the result breaks separation of duties or the caller targets itself). */
  async bindRoles(by: Principal, name: string, roles: readonly string[]): Promise<PrincipalRecord> {
    const p = await this.#other(by, name);
    const next = [...new Set([...p.roles, ...checkRoles(roles)])];
    refuseConflict(p.name, next);
    return this.#setRoles(p, next);
  }

  async unbindRole(by: Principal, name: string, role: string): Promise<PrincipalRecord> {
    const p = await this.#other(by, name);
    if (!isRole(role)) throw errors.validation(`unknown role "${role.slice(0, 40)}"`);
    if (!p.roles.includes(role)) throw new KeywardenError('NotFound', `principal ${p.name} does not hold the role ${role}`);
    return this.#setRoles(p, p.roles.filter((r) => r !== role));
  }

  async rotateSecret(by: Principal, name: string): Promise<{ principal: PrincipalRecord; clientId: string; clientSecret: string }> {
    const p = await this.get(name);
    if (p.kind !== 'service-account') throw errors.validation(`principal ${p.name} is not a service account`);
    void by;
    // The client id stays (clients configured with it, e.g. as the iss of their assertions, keep working); only the secret changes.
    const { credential, clientSecret } = newCredential(p.id, this.d.clock.now(), await this.d.store.getClientIdOf(p.id));
    await this.d.store.replaceCredential(credential);
    return { principal: p, clientId: credential.clientId, clientSecret };
  }

  /** Sets (or clears) the environment of any principal (policy principalEnvironments rules). */
  async setEnvironment(by: Principal, name: string, environment: Environment | null): Promise<PrincipalRecord> {
    const p = await this.#other(by, name);
    await this.d.store.setEnvironment(p.id, environment);
    this.#changed(p.id);
    return { ...p, environment };
  }

  async setDisabled(by: Principal, name: string, disabled: boolean): Promise<PrincipalRecord> {
    const p = await this.#other(by, name);
    await this.d.store.setDisabled(p.id, disabled);
    this.#changed(p.id);
    return { ...p, disabled };
  }

  /** Registers a public key for signed JWT client assertions (RFC 7523) on another service account. */
  async addKey(by: Principal, name: string, publicKey: string): Promise<{ principal: PrincipalRecord; key: ClientKeyRecord }> {
    const p = await this.#otherServiceAccount(by, name);
    const key = this.#newKey(p.id, publicKey);
    const r = await this.d.store.addClientKey(key, CLIENT_ASSERTION.maxKeysPerAccount);
    if (r === 'duplicate') throw new KeywardenError('AlreadyExists', `service account ${p.name} already has this public key`);
    if (r === 'limit') throw errors.validation(`service account ${p.name} already has ${CLIENT_ASSERTION.maxKeysPerAccount} public keys; delete one first`);
    return { principal: p, key };
  }

  async listKeys(name: string): Promise<{ principal: PrincipalRecord; keys: ClientKeyRecord[] }> {
    const p = await this.get(name);
    return { principal: p, keys: p.kind === 'service-account' ? await this.d.store.listClientKeys(p.id) : [] };
  }

  async deleteKey(by: Principal, name: string, id: string): Promise<void> {
    const p = await this.#otherServiceAccount(by, name);
    if (!(await this.d.store.deleteClientKey(p.id, id))) throw new KeywardenError('NotFound', `service account ${p.name} has no public key ${id.slice(0, 64)}`);
  }

  /** Client authentication (RFC 6749 §2.3.1): one uniform failure for unknown id, wrong secret, disabled. */
  async authenticateClient(clientId: string, clientSecret: string): Promise<PrincipalRecord> {
    const cred = clientId.startsWith(CLIENT_ID_PREFIX) && clientId.length <= 128 ? await this.d.store.getCredential(clientId) : undefined;
    const presented = sha256(clientSecret.length <= MAX_SECRET_LENGTH ? clientSecret : '');
    const expected = cred === undefined ? DUMMY_HASH : Buffer.from(cred.secretHash, 'hex');
    const ok = constantTimeEqual(presented, expected) && cred !== undefined && clientSecret.length <= MAX_SECRET_LENGTH;
    if (!ok) throw errors.unauthenticated(INVALID_CLIENT_MESSAGE);
    const p = await this.d.store.getPrincipalById(cred.principalId);
    if (p === undefined || p.disabled) throw errors.unauthenticated(INVALID_CLIENT_MESSAGE);
    return p;
  }

  async #other(by: Principal, name: string): Promise<PrincipalRecord> {
    const p = await this.get(name);
    if (p.id === by.id) throw new KeywardenError('PermissionDenied', `separation of duties: ${by.name} cannot change its own role bindings or status`);
    return p;
  }

  async #otherServiceAccount(by: Principal, name: string): Promise<PrincipalRecord> {
    const p = await this.#other(by, name);
    if (p.kind !== 'service-account') throw errors.validation(`principal ${p.name} is not a service account`);
    return p;
  }

  #newKey(principalId: string, pem: string): ClientKeyRecord {
    let parsed;
    try {
      parsed = parseClientPublicKey(pem);
    } catch (e) {
      throw errors.validation((e as Error).message);
    }
    return { id: 'ck_' + randomBytes(12).toString('base64url'), principalId, alg: parsed.alg, publicKey: parsed.spki, fingerprint: parsed.fingerprint, createdAt: this.d.clock.now() };
  }

  async #setRoles(p: PrincipalRecord, roles: Role[]): Promise<PrincipalRecord> {
    await this.d.store.setRoles(p.id, roles);
    this.#changed(p.id);
    return { ...p, roles };
  }
}

function checkRoles(roles: readonly string[]): Role[] {
  const bad = roles.find((r) => !isRole(r));
  if (bad !== undefined) throw errors.validation(`unknown role "${bad.slice(0, 40)}"; roles are admin, key-administrator, security-officer, application, auditor`);
  return [...new Set(roles)] as Role[];
}

function refuseConflict(name: string, roles: readonly Role[]): void {
  const c = roleConflict(roles);
  if (c !== undefined) throw new KeywardenError('PermissionDenied', `separation of duties: ${name} cannot hold both ${c}`);
}

function newCredential(principalId: string, now: number, clientId?: string): { credential: ClientCredential; clientSecret: string } {
  const clientSecret = SECRET_PREFIX + randomBytes(32).toString('base64url');
  const credential: ClientCredential = {
    clientId: clientId ?? CLIENT_ID_PREFIX + randomBytes(12).toString('base64url'),
    principalId,
    secretHash: sha256(clientSecret).toString('hex'),
    createdAt: now,
  };
  return { credential, clientSecret };
}
