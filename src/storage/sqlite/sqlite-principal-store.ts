/**
 * SQLite implementation of PrincipalStore over the tables of migration 4. The caller owns the
 * handle: migrations MUST already be applied; durability comes from synchronous=FULL (SqliteStore).
 */
import type Database from 'better-sqlite3';
import type { ClientCredential, GrantOperation, GrantRecord, PrincipalKind, PrincipalRecord, Role, TokenSigningKeyRecord } from '../../auth/principal.model.js';
import type { PrincipalStore } from '../../auth/principal.store.js';

type Row = Record<string, unknown>;

const principalFromRow = (r: Row): PrincipalRecord => ({
  id: r.id as string,
  name: r.name as string,
  kind: r.kind as PrincipalKind,
  roles: JSON.parse(r.roles as string) as Role[],
  createdAt: r.created_at as number,
  disabled: (r.disabled as number) === 1,
});

const grantFromRow = (r: Row): GrantRecord => ({
  id: r.id as string,
  keyId: r.key_id as string,
  principalId: r.principal_id as string,
  operations: JSON.parse(r.operations as string) as GrantOperation[],
  createdBy: r.created_by as string,
  createdAt: r.created_at as number,
  revokedAt: (r.revoked_at as number | null) ?? null,
});

const credentialFromRow = (r: Row): ClientCredential => ({
  clientId: r.client_id as string,
  principalId: r.principal_id as string,
  secretHash: r.secret_hash as string,
  createdAt: r.created_at as number,
});

const signingKeyFromRow = (r: Row): TokenSigningKeyRecord => ({
  kid: r.kid as string,
  wrappedPrivateKey: r.wrapped_private_key as Buffer,
  publicKey: r.public_key as Buffer,
  createdAt: r.created_at as number,
});

export class SqlitePrincipalStore implements PrincipalStore {
  readonly #db: Database.Database;
  readonly #q;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#q = {
      insertPrincipal: db.prepare(
        'INSERT OR IGNORE INTO principals (id, name, kind, roles, created_at, disabled) VALUES (@id, @name, @kind, @roles, @createdAt, @disabled)',
      ),
      principalById: db.prepare('SELECT * FROM principals WHERE id = ?'),
      principalByName: db.prepare('SELECT * FROM principals WHERE name = ?'),
      listPrincipals: db.prepare('SELECT * FROM principals ORDER BY name'),
      setRoles: db.prepare('UPDATE principals SET roles = ? WHERE id = ?'),
      setDisabled: db.prepare('UPDATE principals SET disabled = ? WHERE id = ?'),
      insertCredential: db.prepare(
        'INSERT INTO client_credentials (client_id, principal_id, secret_hash, created_at) VALUES (@clientId, @principalId, @secretHash, @createdAt)',
      ),
      deleteCredentials: db.prepare('DELETE FROM client_credentials WHERE principal_id = ?'),
      credential: db.prepare('SELECT * FROM client_credentials WHERE client_id = ?'),
      insertGrant: db.prepare(
        `INSERT INTO grants (id, key_id, principal_id, operations, created_by, created_at, revoked_at)
         VALUES (@id, @keyId, @principalId, @operations, @createdBy, @createdAt, @revokedAt)`,
      ),
      grant: db.prepare('SELECT * FROM grants WHERE id = ?'),
      revokeGrant: db.prepare('UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      setKeyCreator: db.prepare('INSERT OR IGNORE INTO key_creators (key_id, principal_id, created_at) VALUES (?, ?, ?)'),
      keyCreator: db.prepare('SELECT principal_id FROM key_creators WHERE key_id = ?').pluck(),
      revokeToken: db.prepare('INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)'),
      tokenRevoked: db.prepare('SELECT 1 FROM revoked_tokens WHERE jti = ?').pluck(),
      purgeRevoked: db.prepare('DELETE FROM revoked_tokens WHERE expires_at < ?'),
      signingKey: db.prepare('SELECT * FROM token_signing_keys WHERE slot = 1'),
      insertSigningKey: db.prepare(
        'INSERT OR IGNORE INTO token_signing_keys (slot, kid, wrapped_private_key, public_key, created_at) VALUES (1, @kid, @wrappedPrivateKey, @publicKey, @createdAt)',
      ),
    };
  }

  async createPrincipal(p: PrincipalRecord, credential?: ClientCredential): Promise<boolean> {
    return this.#db.transaction(() => {
      const inserted = this.#q.insertPrincipal.run({ ...p, roles: JSON.stringify(p.roles), disabled: p.disabled ? 1 : 0 }).changes === 1;
      if (inserted && credential) this.#q.insertCredential.run(credential);
      return inserted;
    }).immediate();
  }

  async getPrincipalById(id: string) {
    const r = this.#q.principalById.get(id) as Row | undefined;
    return r && principalFromRow(r);
  }

  async getPrincipalByName(name: string) {
    const r = this.#q.principalByName.get(name) as Row | undefined;
    return r && principalFromRow(r);
  }

  async listPrincipals() {
    return (this.#q.listPrincipals.all() as Row[]).map(principalFromRow);
  }

  async setRoles(id: string, roles: Role[]) {
    this.#q.setRoles.run(JSON.stringify(roles), id);
  }

  async setDisabled(id: string, disabled: boolean) {
    this.#q.setDisabled.run(disabled ? 1 : 0, id);
  }

  async getCredential(clientId: string) {
    const r = this.#q.credential.get(clientId) as Row | undefined;
    return r && credentialFromRow(r);
  }

  async replaceCredential(c: ClientCredential) {
    this.#db.transaction(() => {
      this.#q.deleteCredentials.run(c.principalId);
      this.#q.insertCredential.run(c);
    }).immediate();
  }

  async createGrant(g: GrantRecord) {
    this.#q.insertGrant.run({ ...g, operations: JSON.stringify(g.operations) });
  }

  async getGrant(id: string) {
    const r = this.#q.grant.get(id) as Row | undefined;
    return r && grantFromRow(r);
  }

  async listGrants(filter: { keyId?: string; principalId?: string; includeRevoked?: boolean }) {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.keyId !== undefined) (where.push('key_id = ?'), args.push(filter.keyId));
    if (filter.principalId !== undefined) (where.push('principal_id = ?'), args.push(filter.principalId));
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    const sql = `SELECT * FROM grants${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id`;
    return (this.#db.prepare(sql).all(...args) as Row[]).map(grantFromRow);
  }

  async revokeGrant(id: string, at: number) {
    return this.#q.revokeGrant.run(at, id).changes === 1;
  }

  async setKeyCreator(keyId: string, principalId: string, at: number) {
    this.#q.setKeyCreator.run(keyId, principalId, at);
  }

  async getKeyCreator(keyId: string) {
    return (this.#q.keyCreator.get(keyId) as string | undefined) ?? undefined;
  }

  async revokeToken(jti: string, expiresAt: number) {
    this.#q.revokeToken.run(jti, expiresAt);
  }

  async isTokenRevoked(jti: string) {
    return this.#q.tokenRevoked.get(jti) !== undefined;
  }

  async purgeRevokedTokens(now: number) {
    return this.#q.purgeRevoked.run(now).changes;
  }

  async getSigningKey() {
    const r = this.#q.signingKey.get() as Row | undefined;
    return r && signingKeyFromRow(r);
  }

  async putSigningKeyIfAbsent(k: TokenSigningKeyRecord) {
    return this.#db.transaction(() => {
      this.#q.insertSigningKey.run(k);
      return signingKeyFromRow(this.#q.signingKey.get() as Row);
    }).immediate();
  }
}
