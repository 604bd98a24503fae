/**
 * SQLite implementation of ApprovalStore over the tables of migration 7. Every change of a request
 * is a conditional UPDATE on its version, so concurrent approvers (in this process or another
 * node) cannot both move it: the loser sees 0 changed rows and re-reads.
 */
import type Database from 'better-sqlite3';
import type { AccessPolicy } from '../../auth/access-policy.js';
import type { ApprovalRequest } from '../../auth/approval.model.js';
import type { ApprovalStore, StoredAccessPolicy } from '../../auth/approval.store.js';
import { approvalRequestFromRow } from '../record-rows.js';

type Row = Record<string, unknown>;

const json = <T>(v: unknown): T => JSON.parse(v as string) as T;

const requestToRow = (r: ApprovalRequest) => ({
  ...r,
  params: JSON.stringify(r.params),
  approvals: JSON.stringify(r.approvals),
  denial: r.denial === null ? null : JSON.stringify(r.denial),
  result: r.result === null ? null : JSON.stringify(r.result),
});

export class SqliteApprovalStore implements ApprovalStore {
  readonly #db: Database.Database;
  readonly #q;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#q = {
      insert: db.prepare(
        `INSERT INTO approval_requests (id, action, key_id, key_ref, params, requester_id, requester_name, requester_kind, reason,
           required_approvals, approvals, denial, status, result, created_at, expires_at, decided_at, version)
         VALUES (@id, @action, @keyId, @keyRef, @params, @requesterId, @requesterName, @requesterKind, @reason,
           @requiredApprovals, @approvals, @denial, @status, @result, @createdAt, @expiresAt, @decidedAt, @version)`,
      ),
      get: db.prepare('SELECT * FROM approval_requests WHERE id = ?'),
      update: db.prepare(
        `UPDATE approval_requests SET approvals = @approvals, denial = @denial, status = @status, result = @result,
           decided_at = @decidedAt, version = @version
         WHERE id = @id AND version = @expectedVersion`,
      ),
      expire: db.prepare(
        `UPDATE approval_requests SET status = 'expired', decided_at = ?, version = version + 1 WHERE status = 'pending' AND expires_at <= ?`,
      ),
      failStale: db.prepare(
        `UPDATE approval_requests SET status = 'failed', result = ?, decided_at = ?, version = version + 1 WHERE status = 'approved' AND decided_at < ?`,
      ),
      getPolicy: db.prepare('SELECT * FROM access_policy WHERE id = 1'),
      insertPolicy: db.prepare(
        'INSERT OR IGNORE INTO access_policy (id, policy, version, updated_at, updated_by) VALUES (1, @policy, @version, @updatedAt, @updatedBy)',
      ),
      updatePolicy: db.prepare(
        'UPDATE access_policy SET policy = @policy, version = @version, updated_at = @updatedAt, updated_by = @updatedBy WHERE id = 1 AND version = @expectedVersion',
      ),
    };
  }

  async createRequest(r: ApprovalRequest) {
    this.#q.insert.run(requestToRow(r));
  }

  async getRequest(id: string) {
    const r = this.#q.get.get(id) as Row | undefined;
    return r && approvalRequestFromRow(r);
  }

  async listRequests(filter: { status?: ApprovalRequest['status']; requesterId?: string; limit: number }) {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.status !== undefined) (where.push('status = ?'), args.push(filter.status));
    if (filter.requesterId !== undefined) (where.push('requester_id = ?'), args.push(filter.requesterId));
    const sql = `SELECT * FROM approval_requests${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, filter.limit) as Row[]).map(approvalRequestFromRow);
  }

  async updateRequest(next: ApprovalRequest, expectedVersion: number) {
    return this.#q.update.run({ ...requestToRow(next), expectedVersion }).changes === 1;
  }

  async expirePending(now: number) {
    return this.#q.expire.run(now, now).changes;
  }

  async failStaleApproved(before: number, now: number, result: Record<string, unknown>) {
    return this.#q.failStale.run(JSON.stringify(result), now, before).changes;
  }

  async getAccessPolicy(): Promise<StoredAccessPolicy | undefined> {
    const r = this.#q.getPolicy.get() as Row | undefined;
    if (r === undefined) return undefined;
    return { policy: json<AccessPolicy>(r.policy), version: r.version as number, updatedAt: r.updated_at as number, updatedBy: r.updated_by as string };
  }

  async putAccessPolicy(p: StoredAccessPolicy, expectedVersion: number) {
    const row = { ...p, policy: JSON.stringify(p.policy) };
    if (expectedVersion === 0) return this.#q.insertPolicy.run(row).changes === 1;
    return this.#q.updatePolicy.run({ ...row, expectedVersion }).changes === 1;
  }
}
