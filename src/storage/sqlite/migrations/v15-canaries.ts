import type { Migration } from '../migrations.js';

/** Slot for the key version canaries of backups and DR drills (issue 9/10) (placeholder until it lands; replace the SQL, keep the version). */
export const V15_CANARIES: Migration = {
  version: 15,
  name: 'key version canaries',
  sql: `SELECT 1;`,
};
