import type { PgMigration } from '../migrations.js';

/** Slot for the key version canaries of backups and DR drills (issue 9/10) (placeholder until it lands; replace the SQL, keep the version; same number as SQLite's). */
export const PG_V15_CANARIES: PgMigration = {
  version: 15,
  name: 'key version canaries',
  sql: `SELECT 1;`,
};
