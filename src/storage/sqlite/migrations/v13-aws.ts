import type { Migration } from '../migrations.js';

/** Placeholder slot, filled by the aws work. */
export const V13_AWS: Migration = {
  version: 13,
  name: 'aws',
  sql: `SELECT 1;`,
};
