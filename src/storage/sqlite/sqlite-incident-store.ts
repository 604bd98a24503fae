/** IncidentStore over SQLite (table incidents, migration 17). Append-only: no UPDATE or DELETE here. */
import type Database from 'better-sqlite3';
import type { IncidentRecord } from '../../incident/incident.model.js';
import type { IncidentStore } from '../../incident/incident.store.js';
import { INCIDENT_COLUMNS, incidentExists, incidentFromRow, incidentValues } from '../../incident/incident-rows.js';
import { writeTx } from './tx.js';

type Row = Record<string, unknown>;

export class SqliteIncidentStore implements IncidentStore {
  readonly #q;
  readonly #create;

  constructor(db: Database.Database) {
    const q = {
      insert: db.prepare(`INSERT INTO incidents (${INCIDENT_COLUMNS.join(', ')}) VALUES (${INCIDENT_COLUMNS.map(() => '?').join(', ')})`),
      exists: db.prepare('SELECT 1 FROM incidents WHERE id = ?').pluck(),
      real: db.prepare('SELECT * FROM incidents WHERE key_id = ? AND drill = 0'),
      get: db.prepare('SELECT * FROM incidents WHERE id = ?'),
      list: db.prepare(
        `SELECT * FROM incidents WHERE (@keyId IS NULL OR key_id = @keyId)
           AND (@beforeAt IS NULL OR created_at < @beforeAt OR (created_at = @beforeAt AND id < @beforeId))
         ORDER BY created_at DESC, id DESC LIMIT @limit`,
      ),
    };
    this.#q = q;
    // The checks and the insert share one write transaction, so the unique index never has to speak.
    this.#create = writeTx(db, (r: IncidentRecord) => {
      if (q.exists.get(r.id) !== undefined || (!r.drill && q.real.get(r.keyId) !== undefined)) throw incidentExists(r);
      q.insert.run(...incidentValues(r, (b) => (b ? 1 : 0)));
    });
  }

  async createIncident(r: IncidentRecord): Promise<void> {
    this.#create(r);
  }

  async getIncident(id: string) {
    const row = this.#q.get.get(id) as Row | undefined;
    return row && incidentFromRow(row);
  }

  async listIncidents(o: { limit: number; keyId?: string; before?: { createdAt: number; id: string } }) {
    const rows = this.#q.list.all({ keyId: o.keyId ?? null, beforeAt: o.before?.createdAt ?? null, beforeId: o.before?.id ?? null, limit: o.limit }) as Row[];
    return rows.map(incidentFromRow);
  }

  async findRealIncident(keyId: string) {
    const row = this.#q.real.get(keyId) as Row | undefined;
    return row && incidentFromRow(row);
  }
}
