/**
 * The smaller stores over PostgreSQL: jobs, approvals and the access policy, policy versions, AWS
 * access keys and key policies. Every compare-and-set is ONE conditional statement (row locks make
 * it atomic across connections); the policy append is a conditional INSERT under an advisory lock.
 */
import type { JobRecord, JobRunStatus } from '../../jobs/job.model.js';
import type { JobStore } from '../../jobs/job.store.js';
import type { AccessPolicy } from '../../auth/access-policy.js';
import type { ApprovalRequest } from '../../auth/approval.model.js';
import type { ApprovalStore, StoredAccessPolicy } from '../../auth/approval.store.js';
import type { PolicyVersion } from '../../policy/policy.model.js';
import type { PolicyStore } from '../../policy/policy.store.js';
import type { AccessKeyRecord, AccessKeyStatus, AccessKeyStore } from '../../auth/access-key.model.js';
import type { GrantRetiree, KeyPolicyRecord, KeyPolicyStore } from '../../auth/key-policy.js';
import type { Db } from './db.js';
import { accessKeyFromRow, approvalRequestFromRow, jobFromRow, policyVersionFromRow } from '../record-rows.js';

export class PostgresJobStore implements JobStore {
  constructor(private readonly db: Db) {}

  async upsertJob(job: { name: string; intervalMs: number; firstRunAt: number }, now: number): Promise<JobRecord> {
    const r = await this.db.row(
      `INSERT INTO jobs (name, interval_ms, next_run_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET interval_ms = excluded.interval_ms, next_run_at = LEAST(jobs.next_run_at, $4 + excluded.interval_ms)
       RETURNING *`,
      [job.name, job.intervalMs, job.firstRunAt, now],
    );
    return jobFromRow(r!);
  }

  async getJob(name: string) {
    const r = await this.db.row('SELECT * FROM jobs WHERE name = $1', [name]);
    return r && jobFromRow(r);
  }

  async listJobs() {
    return (await this.db.rows('SELECT * FROM jobs ORDER BY name')).map(jobFromRow);
  }

  async tryAcquire(name: string, owner: string, now: number, leaseMs: number, opts: { force?: boolean } = {}) {
    const n = await this.db.changes(
      `UPDATE jobs SET lease_owner = $2, lease_expires_at = $3::bigint + $4::bigint
       WHERE name = $1 AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= $3) AND ($5 OR next_run_at <= $3)`,
      [name, owner, now, leaseMs, opts.force === true],
    );
    return n === 1;
  }

  async renew(name: string, owner: string, now: number, leaseMs: number) {
    return (await this.db.changes('UPDATE jobs SET lease_expires_at = $3::bigint + $4::bigint WHERE name = $1 AND lease_owner = $2', [name, owner, now, leaseMs])) === 1;
  }

  async complete(name: string, owner: string, r: { now: number; nextRunAt: number; status: JobRunStatus; error: string | null }) {
    const n = await this.db.changes(
      `UPDATE jobs SET last_run_at = $3, next_run_at = $4, last_status = $5, last_error = $6, lease_owner = NULL, lease_expires_at = NULL
       WHERE name = $1 AND lease_owner = $2`,
      [name, owner, r.now, r.nextRunAt, r.status, r.status === 'ok' ? null : r.error],
    );
    return n === 1;
  }

  async release(name: string, owner: string) {
    return (await this.db.changes('UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE name = $1 AND lease_owner = $2', [name, owner])) === 1;
  }
}

const json = <T>(v: unknown): T => JSON.parse(v as string) as T;

const orNullJson = (v: unknown) => (v === null ? null : JSON.stringify(v));

export class PostgresApprovalStore implements ApprovalStore {
  constructor(private readonly db: Db) {}

  async createRequest(r: ApprovalRequest) {
    await this.db.query(
      `INSERT INTO approval_requests (id, action, key_id, key_ref, params, requester_id, requester_name, requester_kind, reason,
         required_approvals, approvals, denial, status, result, created_at, expires_at, decided_at, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
      [
        r.id, r.action, r.keyId, r.keyRef, JSON.stringify(r.params), r.requesterId, r.requesterName, r.requesterKind, r.reason,
        r.requiredApprovals, JSON.stringify(r.approvals), orNullJson(r.denial), r.status, orNullJson(r.result), r.createdAt, r.expiresAt, r.decidedAt, r.version,
      ],
    );
  }

  async getRequest(id: string) {
    const r = await this.db.row('SELECT * FROM approval_requests WHERE id = $1', [id]);
    return r && approvalRequestFromRow(r);
  }

  async listRequests(filter: { status?: ApprovalRequest['status']; requesterId?: string; limit: number }) {
    const where: string[] = [];
    const args: unknown[] = [];
    const p = (v: unknown) => (args.push(v), `$${args.length}`);
    if (filter.status !== undefined) where.push(`status = ${p(filter.status)}`);
    if (filter.requesterId !== undefined) where.push(`requester_id = ${p(filter.requesterId)}`);
    const sql = `SELECT * FROM approval_requests${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT ${p(filter.limit)}`;
    return (await this.db.rows(sql, args)).map(approvalRequestFromRow);
  }

  async updateRequest(next: ApprovalRequest, expectedVersion: number) {
    const n = await this.db.changes(
      `UPDATE approval_requests SET approvals = $2, denial = $3, status = $4, result = $5, decided_at = $6, version = $7 WHERE id = $1 AND version = $8`,
      [next.id, JSON.stringify(next.approvals), orNullJson(next.denial), next.status, orNullJson(next.result), next.decidedAt, next.version, expectedVersion],
    );
    return n === 1;
  }

  async expirePending(now: number) {
    return this.db.changes(`UPDATE approval_requests SET status = 'expired', decided_at = $1, version = version + 1 WHERE status = 'pending' AND expires_at <= $1`, [now]);
  }

  async failStaleApproved(before: number, now: number, result: Record<string, unknown>) {
    return this.db.changes(
      `UPDATE approval_requests SET status = 'failed', result = $1, decided_at = $2, version = version + 1 WHERE status = 'approved' AND decided_at < $3`,
      [JSON.stringify(result), now, before],
    );
  }

  async getAccessPolicy(): Promise<StoredAccessPolicy | undefined> {
    const r = await this.db.row('SELECT * FROM access_policy WHERE id = 1');
    if (r === undefined) return undefined;
    return { policy: json<AccessPolicy>(r.policy), version: r.version as number, updatedAt: r.updated_at as number, updatedBy: r.updated_by as string };
  }

  async putAccessPolicy(p: StoredAccessPolicy, expectedVersion: number) {
    const v = [JSON.stringify(p.policy), p.version, p.updatedAt, p.updatedBy];
    if (expectedVersion === 0) {
      return (await this.db.changes('INSERT INTO access_policy (id, policy, version, updated_at, updated_by) VALUES (1, $1, $2, $3, $4) ON CONFLICT DO NOTHING', v)) === 1;
    }
    const n = await this.db.changes('UPDATE access_policy SET policy = $1, version = $2, updated_at = $3, updated_by = $4 WHERE id = 1 AND version = $5', [...v, expectedVersion]);
    return n === 1;
  }
}

export class PostgresPolicyStore implements PolicyStore {
  constructor(private readonly db: Db) {}

  async latestPolicyVersion() {
    const r = await this.db.row('SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1');
    return r && policyVersionFromRow(r);
  }

  async getPolicyVersion(version: number) {
    const r = await this.db.row('SELECT * FROM policy_versions WHERE version = $1', [version]);
    return r && policyVersionFromRow(r);
  }

  async listPolicyVersions() {
    return (await this.db.rows('SELECT * FROM policy_versions ORDER BY version')).map(policyVersionFromRow);
  }

  /** Only the next version goes in; of concurrent appends of it, the primary key lets exactly one win. */
  async appendPolicyVersion(v: PolicyVersion) {
    const n = await this.db.changes(
      `INSERT INTO policy_versions (version, document, hash, created_at, created_by)
       SELECT $1, $2, $3, $4, $5 WHERE (SELECT COALESCE(MAX(version), 0) FROM policy_versions) = $1::int - 1
       ON CONFLICT (version) DO NOTHING`,
      [v.version, JSON.stringify(v.document), v.hash, v.createdAt, v.createdBy],
    );
    return n === 1;
  }
}

export class PostgresAccessKeyStore implements AccessKeyStore {
  constructor(private readonly db: Db) {}

  async createAccessKey(k: AccessKeyRecord): Promise<void> {
    await this.db.query(
      'INSERT INTO aws_access_keys (access_key_id, principal_id, wrapped_secret, status, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)',
      [k.accessKeyId, k.principalId, k.wrappedSecret, k.status, k.createdAt, k.createdBy],
    );
  }

  async getAccessKey(id: string) {
    const r = await this.db.row('SELECT * FROM aws_access_keys WHERE access_key_id = $1', [id]);
    return r && accessKeyFromRow(r);
  }

  async listAccessKeys(principalId?: string) {
    const rows =
      principalId === undefined
        ? await this.db.rows('SELECT * FROM aws_access_keys ORDER BY created_at, access_key_id')
        : await this.db.rows('SELECT * FROM aws_access_keys WHERE principal_id = $1 ORDER BY created_at, access_key_id', [principalId]);
    return rows.map(accessKeyFromRow);
  }

  async setAccessKeyStatus(id: string, status: AccessKeyStatus) {
    return (await this.db.changes('UPDATE aws_access_keys SET status = $1 WHERE access_key_id = $2', [status, id])) === 1;
  }

  async deleteAccessKey(id: string) {
    return (await this.db.changes('DELETE FROM aws_access_keys WHERE access_key_id = $1', [id])) === 1;
  }

  async deleteAccessKeysOf(principalId: string) {
    return this.db.changes('DELETE FROM aws_access_keys WHERE principal_id = $1', [principalId]);
  }
}

export class PostgresKeyPolicyStore implements KeyPolicyStore {
  constructor(private readonly db: Db) {}

  async getKeyPolicy(keyId: string): Promise<KeyPolicyRecord | undefined> {
    const r = await this.db.row('SELECT * FROM aws_key_policies WHERE key_id = $1', [keyId]);
    return r && { keyId: r.key_id as string, document: r.document as string, updatedAt: r.updated_at as number, updatedBy: r.updated_by as string };
  }

  async putKeyPolicy(p: KeyPolicyRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO aws_key_policies (key_id, document, updated_at, updated_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (key_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [p.keyId, p.document, p.updatedAt, p.updatedBy],
    );
  }

  async setGrantRetiree(r: GrantRetiree): Promise<void> {
    await this.db.query('INSERT INTO aws_grant_retirees (grant_id, principal_id) VALUES ($1, $2)', [r.grantId, r.principalId]);
  }

  async getGrantRetiree(grantId: string): Promise<GrantRetiree | undefined> {
    const r = await this.db.row('SELECT * FROM aws_grant_retirees WHERE grant_id = $1', [grantId]);
    return r && { grantId: r.grant_id as string, principalId: r.principal_id as string };
  }

  async listRetirableGrants(principalId: string): Promise<string[]> {
    const rows = await this.db.rows(
      `SELECT r.grant_id FROM aws_grant_retirees r JOIN grants g ON g.id = r.grant_id
       WHERE r.principal_id = $1 AND g.revoked_at IS NULL ORDER BY g.created_at, g.id`,
      [principalId],
    );
    return rows.map((r) => r.grant_id as string);
  }
}
