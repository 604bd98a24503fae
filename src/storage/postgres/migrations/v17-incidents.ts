import type { PgMigration } from '../migrations.js';

/** Slot for key-compromise incidents (issue 10/10) (placeholder until it lands; replace the SQL, keep the version; same number as SQLite's). */
export const PG_V17_INCIDENTS: PgMigration = {
  version: 17,
  name: 'incidents',
  sql: `SELECT 1;`,
};
