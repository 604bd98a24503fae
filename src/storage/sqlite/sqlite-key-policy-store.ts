/** KeyPolicyStore over SQLite (tables aws_key_policies, aws_grant_retirees; migration 14). */
import type Database from 'better-sqlite3';
import type { GrantRetiree, KeyPolicyRecord, KeyPolicyStore } from '../../auth/key-policy.js';

type Row = Record<string, unknown>;

export class SqliteKeyPolicyStore implements KeyPolicyStore {
  readonly #q;

  constructor(db: Database.Database) {
    this.#q = {
      get: db.prepare('SELECT * FROM aws_key_policies WHERE key_id = ?'),
      put: db.prepare(
        `INSERT INTO aws_key_policies (key_id, document, updated_at, updated_by) VALUES (@keyId, @document, @updatedAt, @updatedBy)
         ON CONFLICT (key_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      ),
      setRetiree: db.prepare('INSERT INTO aws_grant_retirees (grant_id, principal_id) VALUES (@grantId, @principalId)'),
      getRetiree: db.prepare('SELECT * FROM aws_grant_retirees WHERE grant_id = ?'),
      retirable: db.prepare(
        `SELECT r.grant_id FROM aws_grant_retirees r JOIN grants g ON g.id = r.grant_id
         WHERE r.principal_id = ? AND g.revoked_at IS NULL ORDER BY g.created_at, g.id`,
      ),
    };
  }

  async getKeyPolicy(keyId: string): Promise<KeyPolicyRecord | undefined> {
    const r = this.#q.get.get(keyId) as Row | undefined;
    return r && { keyId: r.key_id as string, document: r.document as string, updatedAt: r.updated_at as number, updatedBy: r.updated_by as string };
  }

  async putKeyPolicy(p: KeyPolicyRecord): Promise<void> {
    this.#q.put.run(p);
  }

  async setGrantRetiree(r: GrantRetiree): Promise<void> {
    this.#q.setRetiree.run(r);
  }

  async getGrantRetiree(grantId: string): Promise<GrantRetiree | undefined> {
    const r = this.#q.getRetiree.get(grantId) as Row | undefined;
    return r && { grantId: r.grant_id as string, principalId: r.principal_id as string };
  }

  async listRetirableGrants(principalId: string): Promise<string[]> {
    return (this.#q.retirable.all(principalId) as Row[]).map((r) => r.grant_id as string);
  }
}
