import type { PgMigration } from '../migrations.js';

/** Slot for anomaly alerts (issue 10/10) (placeholder until it lands; replace the SQL, keep the version; same number as SQLite's). */
export const PG_V16_ALERTS: PgMigration = {
  version: 16,
  name: 'anomaly alerts',
  sql: `SELECT 1;`,
};
