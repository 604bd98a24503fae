/** PrincipalStore over PostgreSQL (principals, credentials, grants, revoked tokens, signing key, client keys). */
import type { ClientCredential, GrantRecord, PrincipalRecord, Role, TokenSigningKeyRecord } from '../../auth/principal.model.js';
import type { PrincipalStore } from '../../auth/principal.store.js';
import type { ClientKeyRecord } from '../../auth/client-assertion.js';
import type { Db, Queryable } from './db.js';
import { clientKeyFromRow, grantFromRow, principalFromRow, signingKeyFromRow } from '../record-rows.js';

export { principalFromRow };

/** Inserts a principal unless its id or name exists; true when inserted. */
export async function insertPrincipal(c: Queryable, p: PrincipalRecord): Promise<boolean> {
  const r = await c.query(
    `INSERT INTO principals (id, name, kind, roles, created_at, disabled, environment) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
    [p.id, p.name, p.kind, JSON.stringify(p.roles), p.createdAt, p.disabled, p.environment ?? null],
  );
  return r.rowCount === 1;
}

const INSERT_CREDENTIAL = 'INSERT INTO client_credentials (client_id, principal_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)';
const credentialValues = (c: ClientCredential) => [c.clientId, c.principalId, c.secretHash, c.createdAt];

export class PostgresPrincipalStore implements PrincipalStore {
  constructor(private readonly db: Db) {}

  async createPrincipal(p: PrincipalRecord, credential?: ClientCredential): Promise<boolean> {
    return this.db.tx(async (c) => {
      const inserted = await insertPrincipal(c, p);
      if (inserted && credential) await c.query(INSERT_CREDENTIAL, credentialValues(credential));
      return inserted;
    });
  }

  async getPrincipalById(id: string) {
    const r = await this.db.row('SELECT * FROM principals WHERE id = $1', [id]);
    return r && principalFromRow(r);
  }

  async getPrincipalByName(name: string) {
    const r = await this.db.row('SELECT * FROM principals WHERE name = $1', [name]);
    return r && principalFromRow(r);
  }

  async listPrincipals() {
    return (await this.db.rows('SELECT * FROM principals ORDER BY name')).map(principalFromRow);
  }

  async setRoles(id: string, roles: Role[]) {
    await this.db.query('UPDATE principals SET roles = $1 WHERE id = $2', [JSON.stringify(roles), id]);
  }

  async setDisabled(id: string, disabled: boolean) {
    await this.db.query('UPDATE principals SET disabled = $1 WHERE id = $2', [disabled, id]);
  }

  async setEnvironment(id: string, environment: PrincipalRecord['environment']) {
    await this.db.query('UPDATE principals SET environment = $1 WHERE id = $2', [environment, id]);
  }

  async getCredential(clientId: string) {
    const r = await this.db.row('SELECT * FROM client_credentials WHERE client_id = $1', [clientId]);
    return (
      r && { clientId: r.client_id as string, principalId: r.principal_id as string, secretHash: r.secret_hash as string, createdAt: r.created_at as number }
    );
  }

  async replaceCredential(cred: ClientCredential) {
    await this.db.tx(async (c) => {
      await c.query('DELETE FROM client_credentials WHERE principal_id = $1', [cred.principalId]);
      await c.query(INSERT_CREDENTIAL, credentialValues(cred));
    });
  }

  async createGrant(g: GrantRecord) {
    await this.db.query(
      `INSERT INTO grants (id, key_id, tag_selector, principal_id, operations, conditions, created_by, created_at, revoked_at, last_used_at, approval_request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        g.id, g.keyId, g.tagSelector === null ? null : JSON.stringify(g.tagSelector), g.principalId, JSON.stringify(g.operations),
        JSON.stringify(g.conditions), g.createdBy, g.createdAt, g.revokedAt, g.lastUsedAt, g.approvalRequestId,
      ],
    );
  }

  async getGrant(id: string) {
    const r = await this.db.row('SELECT * FROM grants WHERE id = $1', [id]);
    return r && grantFromRow(r);
  }

  async listGrants(filter: { keyId?: string; withSelectors?: boolean; principalId?: string; includeRevoked?: boolean }) {
    const where: string[] = [];
    const args: unknown[] = [];
    const p = (v: unknown) => (args.push(v), `$${args.length}`);
    if (filter.keyId !== undefined) where.push(filter.withSelectors ? `(key_id = ${p(filter.keyId)} OR key_id IS NULL)` : `key_id = ${p(filter.keyId)}`);
    if (filter.principalId !== undefined) where.push(`principal_id = ${p(filter.principalId)}`);
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    const sql = `SELECT * FROM grants${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at, id`;
    return (await this.db.rows(sql, args)).map(grantFromRow);
  }

  async revokeGrant(id: string, at: number) {
    return (await this.db.changes('UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id])) === 1;
  }

  async recordGrantUse(uses: ReadonlyArray<{ id: string; lastUsedAt: number }>) {
    if (uses.length === 0) return;
    await this.db.query(
      `UPDATE grants g SET last_used_at = GREATEST(COALESCE(g.last_used_at, 0), u.at)
       FROM (SELECT id, MAX(at) AS at FROM unnest($1::text[], $2::bigint[]) AS x(id, at) GROUP BY id) u WHERE g.id = u.id`,
      [uses.map((u) => u.id), uses.map((u) => u.lastUsedAt)],
    );
  }

  async getKeyCreator(keyId: string) {
    return ((await this.db.row('SELECT created_by FROM keys WHERE id = $1', [keyId]))?.created_by as string | null | undefined) ?? undefined;
  }

  async revokeToken(jti: string, expiresAt: number) {
    await this.db.query('INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [jti, expiresAt]);
  }

  async isTokenRevoked(jti: string) {
    return (await this.db.row('SELECT 1 FROM revoked_tokens WHERE jti = $1', [jti])) !== undefined;
  }

  async purgeRevokedTokens(now: number) {
    return this.db.changes('DELETE FROM revoked_tokens WHERE expires_at < $1', [now]);
  }

  async getSigningKey() {
    const r = await this.db.row('SELECT * FROM token_signing_keys WHERE slot = 1');
    return r && signingKeyFromRow(r);
  }

  async putSigningKeyIfAbsent(k: TokenSigningKeyRecord) {
    await this.db.query(
      'INSERT INTO token_signing_keys (slot, kid, wrapped_private_key, public_key, created_at) VALUES (1, $1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [k.kid, k.wrappedPrivateKey, k.publicKey, k.createdAt],
    );
    return (await this.getSigningKey())!;
  }

  /** The principal row is locked, so two adds for one principal cannot both pass the limit. */
  async addClientKey(k: ClientKeyRecord, max: number) {
    return this.db.tx(async (c): Promise<'added' | 'duplicate' | 'limit'> => {
      await c.query('SELECT 1 FROM principals WHERE id = $1 FOR UPDATE', [k.principalId]);
      if ((await c.query('SELECT 1 FROM client_keys WHERE principal_id = $1 AND fingerprint = $2', [k.principalId, k.fingerprint])).rowCount) return 'duplicate';
      if (((await c.query('SELECT COUNT(*) AS n FROM client_keys WHERE principal_id = $1', [k.principalId])).rows[0]!.n as number) >= max) return 'limit';
      await c.query('INSERT INTO client_keys (id, principal_id, alg, public_key, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        k.id, k.principalId, k.alg, k.publicKey, k.fingerprint, k.createdAt,
      ]);
      return 'added';
    });
  }

  async listClientKeys(principalId: string) {
    return (await this.db.rows('SELECT * FROM client_keys WHERE principal_id = $1 ORDER BY created_at, seq', [principalId])).map(clientKeyFromRow);
  }

  async deleteClientKey(principalId: string, id: string) {
    return (await this.db.changes('DELETE FROM client_keys WHERE principal_id = $1 AND id = $2', [principalId, id])) === 1;
  }

  async useAssertionJti(clientId: string, jti: string, expiresAt: number, now: number) {
    return this.db.tx(async (c) => {
      await c.query('DELETE FROM client_assertion_jtis WHERE expires_at < $1', [now]);
      const r = await c.query('INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [clientId, jti, expiresAt]);
      return r.rowCount === 1;
    });
  }

  async getClientIdOf(principalId: string) {
    const r = await this.db.row('SELECT client_id FROM client_credentials WHERE principal_id = $1 ORDER BY created_at DESC LIMIT 1', [principalId]);
    return (r?.client_id as string | undefined) ?? undefined;
  }
}
