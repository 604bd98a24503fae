import type { Migration } from '../migrations.js';

/** Policy engine (issue 5/10): placeholder slot, filled by the policy work. */
export const V11_POLICY: Migration = {
  version: 11,
  name: 'policy engine',
  sql: `SELECT 1;`,
};
