/** KeyCanaryStore over SQLite (table key_canaries, migration 15). */
import type Database from 'better-sqlite3';
import type { CanaryKind, KeyCanary, KeyCanaryStore } from '../../keys/canary.js';

type Row = Record<string, unknown>;

export const canaryFromRow = (r: Row): KeyCanary => ({
  keyId: r.key_id as string,
  version: Number(r.version),
  kind: r.kind as CanaryKind,
  algorithm: r.algorithm as string,
  challenge: Buffer.from(r.challenge as Uint8Array),
  proof: Buffer.from(r.proof as Uint8Array),
  createdAt: Number(r.created_at),
});

export class SqliteCanaryStore implements KeyCanaryStore {
  readonly #q;

  constructor(db: Database.Database) {
    this.#q = {
      put: db.prepare(
        `INSERT INTO key_canaries (key_id, version, kind, algorithm, challenge, proof, created_at)
         VALUES (@keyId, @version, @kind, @algorithm, @challenge, @proof, @createdAt) ON CONFLICT DO NOTHING`,
      ),
      get: db.prepare('SELECT * FROM key_canaries WHERE key_id = ? AND version = ?'),
      list: db.prepare('SELECT * FROM key_canaries WHERE key_id = ? ORDER BY version'),
      missing: db.prepare(
        `SELECT v.key_id, v.version FROM key_versions v
         WHERE v.state <> 'Destroyed' AND (v.key_id > @keyId OR (v.key_id = @keyId AND v.version > @version))
           AND NOT EXISTS (SELECT 1 FROM key_canaries c WHERE c.key_id = v.key_id AND c.version = v.version)
         ORDER BY v.key_id, v.version LIMIT @limit`,
      ),
    };
  }

  async put(c: KeyCanary): Promise<boolean> {
    return this.#q.put.run(c).changes === 1;
  }

  async get(keyId: string, version: number): Promise<KeyCanary | undefined> {
    const r = this.#q.get.get(keyId, version) as Row | undefined;
    return r && canaryFromRow(r);
  }

  async listForKey(keyId: string): Promise<KeyCanary[]> {
    return (this.#q.list.all(keyId) as Row[]).map(canaryFromRow);
  }

  async findMissing(limit: number, after?: { keyId: string; version: number }): Promise<Array<{ keyId: string; version: number }>> {
    const rows = this.#q.missing.all({ keyId: after?.keyId ?? '', version: after?.version ?? -1, limit }) as Row[];
    return rows.map((r) => ({ keyId: r.key_id as string, version: Number(r.version) }));
  }
}
