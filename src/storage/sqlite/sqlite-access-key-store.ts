/** AccessKeyStore over SQLite (table aws_access_keys, migration 13). */
import type Database from 'better-sqlite3';
import type { AccessKeyRecord, AccessKeyStatus, AccessKeyStore } from '../../auth/access-key.model.js';
import { accessKeyFromRow } from '../record-rows.js';

type Row = Record<string, unknown>;

export class SqliteAccessKeyStore implements AccessKeyStore {
  readonly #q;

  constructor(db: Database.Database) {
    this.#q = {
      insert: db.prepare(
        `INSERT INTO aws_access_keys (access_key_id, principal_id, wrapped_secret, status, created_at, created_by)
         VALUES (@accessKeyId, @principalId, @wrappedSecret, @status, @createdAt, @createdBy)`,
      ),
      get: db.prepare('SELECT * FROM aws_access_keys WHERE access_key_id = ?'),
      list: db.prepare('SELECT * FROM aws_access_keys ORDER BY created_at, access_key_id'),
      listOf: db.prepare('SELECT * FROM aws_access_keys WHERE principal_id = ? ORDER BY created_at, access_key_id'),
      status: db.prepare('UPDATE aws_access_keys SET status = ? WHERE access_key_id = ?'),
      delete: db.prepare('DELETE FROM aws_access_keys WHERE access_key_id = ?'),
      deleteOf: db.prepare('DELETE FROM aws_access_keys WHERE principal_id = ?'),
    };
  }

  async createAccessKey(k: AccessKeyRecord): Promise<void> {
    this.#q.insert.run(k);
  }

  async getAccessKey(id: string): Promise<AccessKeyRecord | undefined> {
    const r = this.#q.get.get(id) as Row | undefined;
    return r && accessKeyFromRow(r);
  }

  async listAccessKeys(principalId?: string): Promise<AccessKeyRecord[]> {
    const rows = (principalId === undefined ? this.#q.list.all() : this.#q.listOf.all(principalId)) as Row[];
    return rows.map(accessKeyFromRow);
  }

  async setAccessKeyStatus(id: string, status: AccessKeyStatus): Promise<boolean> {
    return this.#q.status.run(status, id).changes === 1;
  }

  async deleteAccessKey(id: string): Promise<boolean> {
    return this.#q.delete.run(id).changes === 1;
  }

  async deleteAccessKeysOf(principalId: string): Promise<number> {
    return this.#q.deleteOf.run(principalId).changes;
  }
}
