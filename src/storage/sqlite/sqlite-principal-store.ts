/**
 * SQLite implementation of PrincipalStore over the tables of migration 4. The caller owns the
 * handle: migrations MUST already be applied; durability comes from synchronous=FULL (SqliteStore).
 */
import type Database from 'better-sqlite3';
import type { ClientCredential, GrantRecord, PrincipalRecord, Role, TokenSigningKeyRecord } from '../../auth/principal.model.js';
import type { PrincipalStore } from '../../auth/principal.store.js';
import type { ClientKeyRecord } from '../../auth/client-assertion.js';
import { writeTx } from './tx.js';
import { clientKeyFromRow, credentialFromRow, grantFromRow, principalFromRow, signingKeyFromRow } from '../record-rows.js';

export { principalFromRow };

type Row = Record<string, unknown>;

export class SqlitePrincipalStore implements PrincipalStore {
  readonly #db: Database.Database;
  readonly #q;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#q = {
      insertPrincipal: db.prepare(
        'INSERT OR IGNORE INTO principals (id, name, kind, roles, created_at, disabled, environment) VALUES (@id, @name, @kind, @roles, @createdAt, @disabled, @environment)',
      ),
      setEnvironment: db.prepare('UPDATE principals SET environment = ? WHERE id = ?'),
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
        `INSERT INTO grants (id, key_id, tag_selector, principal_id, operations, conditions, created_by, created_at, revoked_at, last_used_at, approval_request_id)
         VALUES (@id, @keyId, @tagSelector, @principalId, @operations, @conditions, @createdBy, @createdAt, @revokedAt, @lastUsedAt, @approvalRequestId)`,
      ),
      grant: db.prepare('SELECT * FROM grants WHERE id = ?'),
      revokeGrant: db.prepare('UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      grantUse: db.prepare('UPDATE grants SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?'),
      // The creator is written with the key (keys.created_by, migration 6).
      keyCreator: db.prepare('SELECT created_by FROM keys WHERE id = ?').pluck(),
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
    return writeTx(this.#db, () => {
      const inserted = this.#q.insertPrincipal.run({ ...p, roles: JSON.stringify(p.roles), disabled: p.disabled ? 1 : 0 }).changes === 1;
      if (inserted && credential) this.#q.insertCredential.run(credential);
      return inserted;
    })();
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

  async setEnvironment(id: string, environment: PrincipalRecord['environment']) {
    this.#q.setEnvironment.run(environment, id);
  }

  async getCredential(clientId: string) {
    const r = this.#q.credential.get(clientId) as Row | undefined;
    return r && credentialFromRow(r);
  }

  async replaceCredential(c: ClientCredential) {
    writeTx(this.#db, () => {
      this.#q.deleteCredentials.run(c.principalId);
      this.#q.insertCredential.run(c);
    })();
  }

  async createGrant(g: GrantRecord) {
    this.#q.insertGrant.run({
      ...g,
      tagSelector: g.tagSelector === null ? null : JSON.stringify(g.tagSelector),
      operations: JSON.stringify(g.operations),
      conditions: JSON.stringify(g.conditions),
    });
  }

  async getGrant(id: string) {
    const r = this.#q.grant.get(id) as Row | undefined;
    return r && grantFromRow(r);
  }

  async listGrants(filter: { keyId?: string; withSelectors?: boolean; principalId?: string; includeRevoked?: boolean }) {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.keyId !== undefined) (where.push(filter.withSelectors ? '(key_id = ? OR key_id IS NULL)' : 'key_id = ?'), args.push(filter.keyId));
    if (filter.principalId !== undefined) (where.push('principal_id = ?'), args.push(filter.principalId));
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    const sql = `SELECT * FROM grants${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id`;
    return (this.#db.prepare(sql).all(...args) as Row[]).map(grantFromRow);
  }

  async revokeGrant(id: string, at: number) {
    return this.#q.revokeGrant.run(at, id).changes === 1;
  }

  async recordGrantUse(uses: ReadonlyArray<{ id: string; lastUsedAt: number }>) {
    writeTx(this.#db, () => {
      for (const u of uses) this.#q.grantUse.run(u.lastUsedAt, u.id);
    })();
  }

  async getKeyCreator(keyId: string) {
    return (this.#q.keyCreator.get(keyId) as string | null | undefined) ?? undefined;
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
    return writeTx(this.#db, () => {
      this.#q.insertSigningKey.run(k);
      return signingKeyFromRow(this.#q.signingKey.get() as Row);
    })();
  }

  // Client-assertion keys and jti replay records (migration 8). Statements are prepared on first use.
  #ck?: {
    insert: Database.Statement;
    count: Database.Statement;
    byFingerprint: Database.Statement;
    list: Database.Statement;
    del: Database.Statement;
    purgeJtis: Database.Statement;
    insertJti: Database.Statement;
    clientIdOf: Database.Statement;
  };

  get #clientKeyQueries() {
    this.#ck ??= {
      insert: this.#db.prepare(
        'INSERT INTO client_keys (id, principal_id, alg, public_key, fingerprint, created_at) VALUES (@id, @principalId, @alg, @publicKey, @fingerprint, @createdAt)',
      ),
      count: this.#db.prepare('SELECT COUNT(*) FROM client_keys WHERE principal_id = ?').pluck(),
      byFingerprint: this.#db.prepare('SELECT 1 FROM client_keys WHERE principal_id = ? AND fingerprint = ?').pluck(),
      list: this.#db.prepare('SELECT * FROM client_keys WHERE principal_id = ? ORDER BY created_at, rowid'),
      del: this.#db.prepare('DELETE FROM client_keys WHERE principal_id = ? AND id = ?'),
      purgeJtis: this.#db.prepare('DELETE FROM client_assertion_jtis WHERE expires_at < ?'),
      insertJti: this.#db.prepare('INSERT OR IGNORE INTO client_assertion_jtis (client_id, jti, expires_at) VALUES (?, ?, ?)'),
      clientIdOf: this.#db.prepare('SELECT client_id FROM client_credentials WHERE principal_id = ? ORDER BY created_at DESC LIMIT 1').pluck(),
    };
    return this.#ck;
  }

  async addClientKey(k: ClientKeyRecord, max: number) {
    const q = this.#clientKeyQueries;
    return writeTx(this.#db, (): 'added' | 'duplicate' | 'limit' => {
      if (q.byFingerprint.get(k.principalId, k.fingerprint) !== undefined) return 'duplicate';
      if ((q.count.get(k.principalId) as number) >= max) return 'limit';
      q.insert.run(k);
      return 'added';
    })();
  }

  async listClientKeys(principalId: string) {
    return (this.#clientKeyQueries.list.all(principalId) as Row[]).map(clientKeyFromRow);
  }

  async deleteClientKey(principalId: string, id: string) {
    return this.#clientKeyQueries.del.run(principalId, id).changes === 1;
  }

  async useAssertionJti(clientId: string, jti: string, expiresAt: number, now: number) {
    const q = this.#clientKeyQueries;
    return writeTx(this.#db, () => {
      q.purgeJtis.run(now);
      return q.insertJti.run(clientId, jti, expiresAt).changes === 1;
    })();
  }

  async getClientIdOf(principalId: string) {
    return (this.#clientKeyQueries.clientIdOf.get(principalId) as string | undefined) ?? undefined;
  }
}
