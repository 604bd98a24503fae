import type { Migration } from '../migrations.js';

/** The audit ledger: append-only events, Merkle checkpoints, the checkpoint signing key (issue 4/10). */
export const V9_AUDIT: Migration = {
  version: 9,
  name: 'audit ledger',
  sql: `SELECT 1; -- placeholder: filled in by this increment`,
};
