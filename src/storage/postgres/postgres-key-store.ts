/**
 * KeyStore over PostgreSQL. Every write is one READ COMMITTED transaction that first locks the
 * key row (SELECT ... FOR UPDATE), so changes of one key are serialized across connections and
 * nodes: of two rotations built from the same read, the second waits, then finds the version it
 * wants to add already stored and is refused (InvalidState), leaving exactly one new primary; and
 * changes of the key are applied one after the other. (A change built from an older read still
 * overwrites the key row, as on SQLite: the interface carries no expected version yet; see the ADR.)
 * Destroyed material is overwritten in place; PostgreSQL keeps old row versions until VACUUM and
 * in its WAL (see docs/adr/0011-postgresql-store.md).
 */
import { KeywardenError } from '../../errors/catalog.js';
import type { KeyStore } from '../../keys/key.store.js';
import type { DueKind, ImportTokenRecord, KeyChange, KeyRecord, KeyVersionRecord, UsageDelta } from '../../keys/key.model.js';
import { pgCode, type Db, type Queryable, type Row } from './db.js';
import { aliasInUse, aliasNotFound, importTokenFromRow, keyChangedConcurrently, keyFromRow, versionFromRow } from '../key-rows.js';

const KEY_COLUMNS = `k.*, (SELECT MAX(v.last_used_at) FROM key_versions v WHERE v.key_id = k.id) AS last_used,
  ARRAY(SELECT a.alias FROM aliases a WHERE a.key_id = k.id ORDER BY a.alias) AS alias_list`;

/** A key row; with `withAliases`, its `alias_list` column (KEY_COLUMNS) holds the alias names. */
const keyOf = (row: Row, withAliases = true): KeyRecord => keyFromRow(row, withAliases ? (row.alias_list as string[]) : []);

/** The mutable columns of a key row, in the order of the $2.. parameters below ($1 is the id). */
const keyValues = (k: KeyRecord) => [
  k.id, k.description, k.state, k.exportable, k.updatedAt, k.primaryVersion, k.minDecryptionVersion, k.rotationPeriodMs,
  k.nextRotationAt, k.usageLimit, k.deletionAt, k.destroyedAt, k.compromisedAt, k.revocationReason, k.materialExpiresAt,
  JSON.stringify(k.tags), k.classification, k.environment, k.protection,
];

const INSERT_KEY = `INSERT INTO keys (id, description, state, exportable, updated_at, primary_version, min_decryption_version, rotation_period_ms,
    next_rotation_at, usage_limit, deletion_at, destroyed_at, compromised_at, revocation_reason, material_expires_at, tags,
    classification, environment, protection, spec, usage, origin, created_at, created_by)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`;
const UPDATE_KEY = `UPDATE keys SET description = $2, state = $3, exportable = $4, updated_at = $5, primary_version = $6,
    min_decryption_version = $7, rotation_period_ms = $8, next_rotation_at = $9, usage_limit = $10, deletion_at = $11,
    destroyed_at = $12, compromised_at = $13, revocation_reason = $14, material_expires_at = $15, tags = $16,
    classification = $17, environment = $18, protection = $19
  WHERE id = $1 AND ($20::bigint IS NULL OR updated_at = $20)`;
const INSERT_VERSION = `INSERT INTO key_versions (key_id, version, state, created_at, wrapped_material, public_key, usage_count, last_used_at, destroyed_at, hsm_label)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`;
const versionValues = (v: KeyVersionRecord) => [
  v.keyId, v.version, v.state, v.createdAt, v.wrappedMaterial, v.publicKey ?? null, v.usageCount, v.lastUsedAt, v.destroyedAt, v.hsmLabel ?? null,
];

const DUE_COLUMN: Record<DueKind, string> = {
  rotation: 'next_rotation_at',
  deletion: 'deletion_at',
  'material-expiry': 'material_expires_at',
};

export class PostgresKeyStore implements KeyStore {
  constructor(private readonly db: Db) {}

  async createKey(key: KeyRecord, v: KeyVersionRecord | undefined): Promise<void> {
    if (v && v.keyId !== key.id) throw new Error('version belongs to another key');
    await this.db.tx(async (c) => {
      // Locks the aliases (and the id) against a concurrent creator: the unique indexes decide.
      for (const alias of key.aliases) {
        if ((await c.query('SELECT 1 FROM aliases WHERE alias = $1', [alias])).rowCount) throw aliasInUse(alias);
      }
      if ((await c.query('SELECT 1 FROM keys WHERE id = $1', [key.id])).rowCount) throw new KeywardenError('AlreadyExists', `key ${key.id} already exists`);
      try {
        await c.query(INSERT_KEY, [...keyValues(key), key.spec, key.usage, key.origin, key.createdAt, key.createdBy]);
        if (v) await c.query(INSERT_VERSION, versionValues(v));
        for (const alias of key.aliases) await c.query('INSERT INTO aliases (alias, key_id, created_at) VALUES ($1, $2, $3)', [alias, key.id, key.createdAt]);
      } catch (e) {
        if (pgCode(e) !== '23505') throw e;
        const detail = String((e as { constraint?: string }).constraint ?? '');
        throw detail.startsWith('aliases') ? new KeywardenError('AlreadyExists', 'an alias is already in use') : new KeywardenError('AlreadyExists', `key ${key.id} already exists`);
      }
    });
  }

  async getKey(id: string) {
    const row = await this.db.row(`SELECT ${KEY_COLUMNS} FROM keys k WHERE k.id = $1`, [id]);
    return row && keyOf(row);
  }

  async listKeys({ limit, after, classification, environment }: Parameters<KeyStore['listKeys']>[0]) {
    const where: string[] = [];
    const args: unknown[] = [];
    const p = (v: unknown) => (args.push(v), `$${args.length}`);
    if (after) where.push(`(k.created_at > ${p(after.createdAt)} OR (k.created_at = ${p(after.createdAt)} AND k.id > ${p(after.id)}))`);
    if (classification !== undefined) where.push(`k.classification = ${p(classification)}`);
    if (environment !== undefined) where.push(`k.environment = ${p(environment)}`);
    const sql = `SELECT ${KEY_COLUMNS} FROM keys k ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY k.created_at, k.id LIMIT ${p(limit)}`;
    return (await this.db.rows(sql, args)).map((r) => keyOf(r));
  }

  async applyChange(change: KeyChange): Promise<void> {
    for (const v of [...(change.newVersion ? [change.newVersion] : []), ...(change.versions ?? [])]) {
      if (change.key && v.keyId !== change.key.id) throw new Error('version belongs to another key');
    }
    const keyId = change.key?.id ?? change.newVersion?.keyId ?? change.versions?.[0]?.keyId;
    if (keyId === undefined) return;
    await this.db.tx(async (c) => {
      if (!(await c.query('SELECT 1 FROM keys WHERE id = $1 FOR UPDATE', [keyId])).rowCount) throw new KeywardenError('NotFound', `key ${keyId} was not found`);
      // The row is locked (FOR UPDATE above), so the expected updatedAt is compared with the latest committed one.
      if (change.key && (await c.query(UPDATE_KEY, [...keyValues(change.key), change.expectedUpdatedAt ?? null])).rowCount !== 1) throw keyChangedConcurrently(change.key.id);
      if (change.newVersion) {
        const nv = change.newVersion;
        if ((await c.query('SELECT 1 FROM key_versions WHERE key_id = $1 AND version = $2', [nv.keyId, nv.version])).rowCount) {
          throw new KeywardenError('InvalidState', `version ${nv.version} of key ${nv.keyId} already exists (a concurrent rotation); retry`);
        }
        await c.query(INSERT_VERSION, versionValues(nv));
      }
      for (const v of change.versions ?? []) {
        const n = await c.query(
          `UPDATE key_versions SET state = $3, wrapped_material = $4, public_key = $5, destroyed_at = $6 WHERE key_id = $1 AND version = $2`,
          [v.keyId, v.version, v.state, v.wrappedMaterial, v.publicKey ?? null, v.destroyedAt],
        );
        if (n.rowCount !== 1) throw new KeywardenError('NotFound', `version ${v.version} of key ${v.keyId} was not found`);
      }
    });
  }

  async getVersion(keyId: string, version: number) {
    const row = await this.db.row('SELECT * FROM key_versions WHERE key_id = $1 AND version = $2', [keyId, version]);
    return row && versionFromRow(row);
  }

  async listVersions(keyId: string) {
    return (await this.db.rows('SELECT * FROM key_versions WHERE key_id = $1 ORDER BY version', [keyId])).map(versionFromRow);
  }

  async resolveAlias(alias: string) {
    return (await this.db.row('SELECT key_id FROM aliases WHERE alias = $1', [alias]))?.key_id as string | undefined;
  }

  async createAlias(alias: string, keyId: string, now: number): Promise<void> {
    await this.db.tx(async (c) => {
      if ((await c.query('SELECT 1 FROM aliases WHERE alias = $1', [alias])).rowCount) throw aliasInUse(alias);
      // FOR SHARE: the key cannot go away (nor be locked for a change) until the alias is in.
      if (!(await c.query('SELECT 1 FROM keys WHERE id = $1 FOR SHARE', [keyId])).rowCount) throw new KeywardenError('NotFound', `key ${keyId} was not found`);
      try {
        await c.query('INSERT INTO aliases (alias, key_id, created_at) VALUES ($1, $2, $3)', [alias, keyId, now]);
      } catch (e) {
        throw pgCode(e) === '23505' ? aliasInUse(alias) : e;
      }
    });
  }

  async updateAlias(alias: string, keyId: string): Promise<void> {
    await this.db.tx(async (c) => {
      if (!(await c.query('SELECT 1 FROM keys WHERE id = $1 FOR SHARE', [keyId])).rowCount) throw new KeywardenError('NotFound', `key ${keyId} was not found`);
      if ((await c.query('UPDATE aliases SET key_id = $1 WHERE alias = $2', [keyId, alias])).rowCount !== 1) throw aliasNotFound(alias);
    });
  }

  async deleteAlias(alias: string): Promise<void> {
    if ((await this.db.changes('DELETE FROM aliases WHERE alias = $1', [alias])) !== 1) throw aliasNotFound(alias);
  }

  async listAliases() {
    return (await this.db.rows('SELECT alias, key_id FROM aliases ORDER BY alias')).map((r) => ({ alias: r.alias as string, keyId: r.key_id as string }));
  }

  /** One statement for the whole batch (repeats of a version are summed first). */
  async addUsage(deltas: UsageDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const merged = new Map<string, UsageDelta>();
    for (const d of deltas) {
      const k = `${d.keyId}\u0000${d.version}`;
      const m = merged.get(k);
      merged.set(k, m ? { ...m, count: m.count + d.count, lastUsedAt: Math.max(m.lastUsedAt, d.lastUsedAt) } : { ...d });
    }
    const all = [...merged.values()];
    await this.db.query(
      `UPDATE key_versions v SET usage_count = v.usage_count + d.count, last_used_at = GREATEST(COALESCE(v.last_used_at, 0), d.last_used_at)
       FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS d(key_id, version, count, last_used_at)
       WHERE v.key_id = d.key_id AND v.version = d.version`,
      [all.map((d) => d.keyId), all.map((d) => d.version), all.map((d) => d.count), all.map((d) => d.lastUsedAt)],
    );
  }

  async findDue(kind: DueKind, now: number, limit: number) {
    const col = DUE_COLUMN[kind];
    const rows = await this.db.rows(`SELECT ${KEY_COLUMNS} FROM keys k WHERE k.${col} IS NOT NULL AND k.${col} <= $1 ORDER BY k.${col}, k.id LIMIT $2`, [now, limit]);
    return rows.map((r) => keyOf(r));
  }

  async findUnused(usedBefore: number, limit: number) {
    const rows = await this.db.rows(
      `SELECT * FROM (SELECT k.*, (SELECT MAX(v.last_used_at) FROM key_versions v WHERE v.key_id = k.id) AS last_used FROM keys k
         WHERE k.state NOT IN ('PendingDeletion', 'Destroyed') AND NOT EXISTS (SELECT 1 FROM aliases a WHERE a.key_id = k.id)) u
       WHERE COALESCE(last_used, created_at) < $1 ORDER BY created_at, id LIMIT $2`,
      [usedBefore, limit],
    );
    return rows.map((r) => keyOf(r, false));
  }

  async putImportToken(t: ImportTokenRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO import_tokens (id, key_id, wrapped_private_key, public_key, wrapping_algorithm, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [t.id, t.keyId, t.wrappedPrivateKey, t.publicKey, t.wrappingAlgorithm, t.createdAt, t.expiresAt],
    );
  }

  /** DELETE ... RETURNING: of concurrent takers, exactly one gets the row. */
  async takeImportToken(id: string): Promise<ImportTokenRecord | undefined> {
    const row = await this.db.row('DELETE FROM import_tokens WHERE id = $1 RETURNING *', [id]);
    if (row === undefined) return undefined;
    return importTokenFromRow(row);
  }
}


export type { Queryable };
