import type { Migration } from '../migrations.js';

/** Approval requests (quorum approval, just-in-time grants) and the access policy (issue 3/10 §5–6). */
export const V7_APPROVALS: Migration = {
  version: 7,
  name: 'approval requests, access policy',
  sql: `
    CREATE TABLE approval_requests (
      id TEXT PRIMARY KEY,
      action TEXT NOT NULL,
      key_id TEXT,
      key_ref TEXT,
      params TEXT NOT NULL,
      requester_id TEXT NOT NULL,
      requester_name TEXT NOT NULL,
      requester_kind TEXT NOT NULL,
      reason TEXT NOT NULL,
      required_approvals INTEGER NOT NULL,
      approvals TEXT NOT NULL,
      denial TEXT,
      status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'executed', 'failed', 'denied', 'expired', 'cancelled')),
      result TEXT,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      decided_at INTEGER,
      version INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX approval_requests_by_created ON approval_requests (created_at, id);
    CREATE INDEX approval_requests_by_requester ON approval_requests (requester_id, created_at);
    CREATE INDEX approval_requests_pending ON approval_requests (expires_at) WHERE status = 'pending';
    CREATE INDEX approval_requests_approved ON approval_requests (decided_at) WHERE status = 'approved';
    CREATE TABLE access_policy (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      policy TEXT NOT NULL,
      version INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      updated_by TEXT NOT NULL
    ) STRICT;
  `,
};
