/** KeyCanaryStore over PostgreSQL (table key_canaries, migration 15). */
import type { CanaryKind, KeyCanary, KeyCanaryStore } from '../../keys/canary.js';
import type { Db, Row } from './db.js';

const canaryFromRow = (r: Row): KeyCanary => ({
  keyId: r.key_id as string,
  version: Number(r.version),
  kind: r.kind as CanaryKind,
  algorithm: r.algorithm as string,
  challenge: r.challenge as Buffer,
  proof: r.proof as Buffer,
  createdAt: Number(r.created_at),
});

export class PostgresCanaryStore implements KeyCanaryStore {
  constructor(private readonly db: Db) {}

  async put(c: KeyCanary): Promise<boolean> {
    return (await this.db.changes(
      `INSERT INTO key_canaries (key_id, version, kind, algorithm, challenge, proof, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [c.keyId, c.version, c.kind, c.algorithm, c.challenge, c.proof, c.createdAt],
    )) === 1;
  }

  async get(keyId: string, version: number): Promise<KeyCanary | undefined> {
    const r = await this.db.row('SELECT * FROM key_canaries WHERE key_id = $1 AND version = $2', [keyId, version]);
    return r && canaryFromRow(r);
  }

  async listForKey(keyId: string): Promise<KeyCanary[]> {
    return (await this.db.rows('SELECT * FROM key_canaries WHERE key_id = $1 ORDER BY version', [keyId])).map(canaryFromRow);
  }

  async findMissing(limit: number, after?: { keyId: string; version: number }): Promise<Array<{ keyId: string; version: number }>> {
    const rows = await this.db.rows(
      `SELECT v.key_id, v.version FROM key_versions v
       WHERE v.state <> 'Destroyed' AND (v.key_id, v.version) > ($1::text COLLATE "C", $2::integer)
         AND NOT EXISTS (SELECT 1 FROM key_canaries c WHERE c.key_id = v.key_id AND c.version = v.version)
       ORDER BY v.key_id, v.version LIMIT $3`,
      [after?.keyId ?? '', after?.version ?? -1, limit],
    );
    return rows.map((r) => ({ keyId: r.key_id as string, version: Number(r.version) }));
  }
}
