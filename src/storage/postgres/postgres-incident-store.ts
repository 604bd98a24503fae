/** IncidentStore over PostgreSQL (table incidents, migration 17). Append-only: no UPDATE or DELETE here. */
import type { IncidentRecord } from '../../incident/incident.model.js';
import type { IncidentStore } from '../../incident/incident.store.js';
import { INCIDENT_COLUMNS, incidentExists, incidentFromRow, incidentValues } from '../../incident/incident-rows.js';
import { pgCode, type Db } from './db.js';

export class PostgresIncidentStore implements IncidentStore {
  constructor(private readonly db: Db) {}

  /** The primary key and the partial unique index (one real incident per key) decide between concurrent writers. */
  async createIncident(r: IncidentRecord): Promise<void> {
    try {
      await this.db.query(
        `INSERT INTO incidents (${INCIDENT_COLUMNS.join(', ')}) VALUES (${INCIDENT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
        incidentValues(r, (b) => b),
      );
    } catch (e) {
      throw pgCode(e) === '23505' ? incidentExists(r) : e;
    }
  }

  async getIncident(id: string) {
    const row = await this.db.row('SELECT * FROM incidents WHERE id = $1', [id]);
    return row && incidentFromRow(row);
  }

  async listIncidents(o: { limit: number; keyId?: string; before?: { createdAt: number; id: string } }) {
    const rows = await this.db.rows(
      `SELECT * FROM incidents WHERE ($1::text IS NULL OR key_id = $1)
         AND ($2::bigint IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [o.keyId ?? null, o.before?.createdAt ?? null, o.before?.id ?? null, o.limit],
    );
    return rows.map(incidentFromRow);
  }

  async findRealIncident(keyId: string) {
    const row = await this.db.row('SELECT * FROM incidents WHERE key_id = $1 AND NOT drill', [keyId]);
    return row && incidentFromRow(row);
  }
}
