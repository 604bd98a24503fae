/** PostgreSQL implementation of AlertStore over the table of migration 16 (conditional updates on version). */
import type { Alert, AlertFilter } from '../../alerts/alert.model.js';
import { ALERT_COLUMNS, alertFromRow, alertToRow, alertWhere, type AlertStore } from '../../alerts/alert.store.js';
import type { Db } from './db.js';

const SET = ALERT_COLUMNS.filter((c) => c !== 'id').map((c, i) => `${c} = $${i + 2}`).join(', ');

export class PostgresAlertStore implements AlertStore {
  constructor(private readonly db: Db) {}

  async createAlert(a: Alert) {
    const row = alertToRow(a);
    const sql = `INSERT INTO alerts (${ALERT_COLUMNS.join(', ')}) VALUES (${ALERT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING`;
    return (await this.db.changes(sql, ALERT_COLUMNS.map((c) => row[c]))) === 1;
  }

  async getAlert(id: string) {
    const r = await this.db.row('SELECT * FROM alerts WHERE id = $1', [id]);
    return r && alertFromRow(r);
  }

  async findActiveAlert(detector: string, subjectKey: string, since: number) {
    const r = await this.db.row(
      `SELECT * FROM alerts WHERE detector = $1 AND subject_key = $2 AND status <> 'resolved' AND last_seen >= $3 ORDER BY last_seen DESC, id DESC LIMIT 1`,
      [detector, subjectKey, since],
    );
    return r && alertFromRow(r);
  }

  async updateAlert(next: Alert, expectedVersion: number) {
    const row = alertToRow(next);
    const values = ALERT_COLUMNS.filter((c) => c !== 'id').map((c) => row[c]);
    return (await this.db.changes(`UPDATE alerts SET ${SET} WHERE id = $1 AND version = $${values.length + 2}`, [next.id, ...values, expectedVersion])) === 1;
  }

  async listAlerts(f: AlertFilter) {
    const { where, args } = alertWhere(f, (i) => `$${i}`);
    const rows = await this.db.rows(`SELECT * FROM alerts${where} ORDER BY created_at DESC, id DESC LIMIT $${args.length + 1}`, [...args, f.limit]);
    return rows.map(alertFromRow);
  }
}
