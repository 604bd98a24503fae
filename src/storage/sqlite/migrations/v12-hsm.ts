import type { Migration } from '../migrations.js';

/** Placeholder slot, filled by the hsm work. */
export const V12_HSM: Migration = {
  version: 12,
  name: 'hsm',
  sql: `SELECT 1;`,
};
