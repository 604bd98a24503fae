import type { Migration } from '../migrations.js';

/** Slot for key-compromise incidents (issue 10/10) (placeholder until it lands; replace the SQL, keep the version). */
export const V17_INCIDENTS: Migration = {
  version: 17,
  name: 'incidents',
  sql: `SELECT 1;`,
};
