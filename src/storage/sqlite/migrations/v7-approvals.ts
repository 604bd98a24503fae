import type { Migration } from '../migrations.js';

/** Approval requests (quorum approval, just-in-time grants) and the access policy (issue 3/10 §5–6). */
export const V7_APPROVALS: Migration = {
  version: 7,
  name: 'approval requests, access policy',
  sql: `SELECT 1; -- placeholder: filled in by this increment`,
};
