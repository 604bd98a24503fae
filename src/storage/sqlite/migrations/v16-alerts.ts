import type { Migration } from '../migrations.js';

/** Slot for anomaly alerts (issue 10/10) (placeholder until it lands; replace the SQL, keep the version). */
export const V16_ALERTS: Migration = {
  version: 16,
  name: 'anomaly alerts',
  sql: `SELECT 1;`,
};
