/**
 * PolicyStore over SQLite (table policy_versions, migration 11). Append-only: there is no UPDATE
 * or DELETE statement here. The conditional append runs in one write transaction.
 */
import type Database from 'better-sqlite3';
import type { PolicyVersion } from '../../policy/policy.model.js';
import type { PolicyStore } from '../../policy/policy.store.js';
import { writeTx } from './tx.js';
import { policyVersionFromRow } from '../record-rows.js';

type Row = Record<string, unknown>;

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
    return r && policyVersionFromRow(r);
  }

  async getPolicyVersion(version: number) {
    const r = this.#q.get.get(version) as Row | undefined;
    return r && policyVersionFromRow(r);
  }

  async listPolicyVersions() {
    return (this.#q.list.all() as Row[]).map(policyVersionFromRow);
  }

  async appendPolicyVersion(v: PolicyVersion) {
    return this.#append(v);
  }
}
