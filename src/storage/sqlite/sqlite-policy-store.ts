/**
 * PolicyStore over SQLite (table policy_versions, migration 11). Append-only: there is no UPDATE
 * or DELETE statement here. The conditional append runs in one write transaction.
 */
import type Database from 'better-sqlite3';
import type { PolicyDocument, PolicyVersion } from '../../policy/policy.model.js';
import type { PolicyStore } from '../../policy/policy.store.js';
import { writeTx } from './tx.js';

type Row = Record<string, unknown>;

const fromRow = (r: Row): PolicyVersion => ({
  version: r.version as number,
  document: JSON.parse(r.document as string) as PolicyDocument,
  hash: r.hash as string,
  createdAt: r.created_at as number,
  createdBy: (r.created_by as string | null) ?? null,
});

export class SqlitePolicyStore implements PolicyStore {
  readonly #q;
  readonly #append;

  constructor(db: Database.Database) {
    const q = {
      latest: db.prepare('SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1'),
      latestNumber: db.prepare('SELECT COALESCE(MAX(version), 0) FROM policy_versions').pluck(),
      get: db.prepare('SELECT * FROM policy_versions WHERE version = ?'),
      list: db.prepare('SELECT * FROM policy_versions ORDER BY version'),
      insert: db.prepare(
        'INSERT INTO policy_versions (version, document, hash, created_at, created_by) VALUES (@version, @document, @hash, @createdAt, @createdBy)',
      ),
    };
    this.#q = q;
    this.#append = writeTx(db, (v: PolicyVersion): boolean => {
      if ((q.latestNumber.get() as number) !== v.version - 1) return false;
      q.insert.run({ ...v, document: JSON.stringify(v.document) });
      return true;
    });
  }

  async latestPolicyVersion() {
    const r = this.#q.latest.get() as Row | undefined;
    return r && fromRow(r);
  }

  async getPolicyVersion(version: number) {
    const r = this.#q.get.get(version) as Row | undefined;
    return r && fromRow(r);
  }

  async listPolicyVersions() {
    return (this.#q.list.all() as Row[]).map(fromRow);
  }

  async appendPolicyVersion(v: PolicyVersion) {
    return this.#append(v);
  }
}
