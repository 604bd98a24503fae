import type { Migration } from '../migrations.js';

/** Grants by tag selector, grant conditions, grant last use; key creator kept with the key (issue 3/10 §3–4). */
export const V6_GRANTS: Migration = {
  version: 6,
  name: 'grant selectors and conditions',
  sql: `SELECT 1; -- placeholder: filled in by this increment`,
};
