/** SQLite implementation of AlertStore over the table of migration 16 (conditional updates on version). */
import type Database from 'better-sqlite3';
import type { Alert, AlertFilter } from '../../alerts/alert.model.js';
import { ALERT_COLUMNS, alertFromRow, alertToRow, alertWhere, type AlertStore } from '../../alerts/alert.store.js';

type Row = Record<string, unknown>;

export class SqliteAlertStore implements AlertStore {
  readonly #db: Database.Database;
  readonly #q;

  constructor(db: Database.Database) {
    this.#db = db;
    const set = ALERT_COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = @${c}`).join(', ');
    this.#q = {
      insert: db.prepare(`INSERT OR IGNORE INTO alerts (${ALERT_COLUMNS.join(', ')}) VALUES (${ALERT_COLUMNS.map((c) => `@${c}`).join(', ')})`),
      get: db.prepare('SELECT * FROM alerts WHERE id = ?'),
      active: db.prepare(
        `SELECT * FROM alerts WHERE detector = ? AND subject_key = ? AND status <> 'resolved' AND last_seen >= ? ORDER BY last_seen DESC, id DESC LIMIT 1`,
      ),
      update: db.prepare(`UPDATE alerts SET ${set} WHERE id = @id AND version = @expected_version`),
    };
  }

  async createAlert(a: Alert) {
    return this.#q.insert.run(alertToRow(a)).changes === 1;
  }

  async getAlert(id: string) {
    const r = this.#q.get.get(id) as Row | undefined;
    return r && alertFromRow(r);
  }

  async findActiveAlert(detector: string, subjectKey: string, since: number) {
    const r = this.#q.active.get(detector, subjectKey, since) as Row | undefined;
    return r && alertFromRow(r);
  }

  async updateAlert(next: Alert, expectedVersion: number) {
    return this.#q.update.run({ ...alertToRow(next), expected_version: expectedVersion }).changes === 1;
  }

  async listAlerts(f: AlertFilter) {
    const { where, args } = alertWhere(f, () => '?');
    const sql = `SELECT * FROM alerts${where} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, f.limit) as Row[]).map(alertFromRow);
  }
}
