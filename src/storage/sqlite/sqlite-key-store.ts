/**
 * KeyStore over SQLite. Every write is one transaction (connection runs synchronous=FULL and
 * secure_delete=ON); destroying material also truncates the WAL so that the overwritten bytes do
 * not linger in the write-ahead log.
 */
import type Database from 'better-sqlite3';
import { KeywardenError } from '../../errors/catalog.js';
import type { KeyStore } from '../../keys/key.store.js';
import type { DueKind, ImportTokenRecord, KeyChange, KeyRecord, KeyVersionRecord, UsageDelta } from '../../keys/key.model.js';
import { writeTx } from './tx.js';
import { aliasInUse, aliasNotFound, importTokenFromRow, keyChangedConcurrently, keyFromRow, versionFromRow } from '../key-rows.js';

type Row = Record<string, unknown>;

const KEY_COLUMNS = `k.*, (SELECT MAX(v.last_used_at) FROM key_versions v WHERE v.key_id = k.id) AS last_used`;


const keyParams = (k: KeyRecord) => ({
  id: k.id,
  description: k.description,
  spec: k.spec,
  usage: k.usage,
  state: k.state,
  origin: k.origin,
  exportable: k.exportable ? 1 : 0,
  createdAt: k.createdAt,
  createdBy: k.createdBy,
  updatedAt: k.updatedAt,
  primaryVersion: k.primaryVersion,
  minDecryptionVersion: k.minDecryptionVersion,
  rotationPeriodMs: k.rotationPeriodMs,
  nextRotationAt: k.nextRotationAt,
  usageLimit: k.usageLimit,
  deletionAt: k.deletionAt,
  destroyedAt: k.destroyedAt,
  compromisedAt: k.compromisedAt,
  revocationReason: k.revocationReason,
  materialExpiresAt: k.materialExpiresAt,
  tags: JSON.stringify(k.tags),
  classification: k.classification,
  environment: k.environment,
  protection: k.protection,
});

const versionParams = (v: KeyVersionRecord) => ({ ...v, publicKey: v.publicKey ?? null, hsmLabel: v.hsmLabel ?? null });

const DUE_COLUMN: Record<DueKind, string> = {
  rotation: 'next_rotation_at',
  deletion: 'deletion_at',
  'material-expiry': 'material_expires_at',
};

export class SqliteKeyStore implements KeyStore {
  readonly #db: Database.Database;
  readonly #q;
  readonly #createTx;
  readonly #changeTx;

  constructor(db: Database.Database) {
    this.#db = db;
    const q = {
      insertKey: db.prepare(
        `INSERT INTO keys (id, description, spec, usage, state, origin, exportable, created_at, created_by, updated_at, primary_version,
           min_decryption_version, rotation_period_ms, next_rotation_at, usage_limit, deletion_at, destroyed_at, compromised_at,
           revocation_reason, material_expires_at, tags, classification, environment, protection)
         VALUES (@id, @description, @spec, @usage, @state, @origin, @exportable, @createdAt, @createdBy, @updatedAt, @primaryVersion,
           @minDecryptionVersion, @rotationPeriodMs, @nextRotationAt, @usageLimit, @deletionAt, @destroyedAt, @compromisedAt,
           @revocationReason, @materialExpiresAt, @tags, @classification, @environment, @protection)`,
      ),
      updateKey: db.prepare(
        `UPDATE keys SET description = @description, state = @state, exportable = @exportable, updated_at = @updatedAt,
           primary_version = @primaryVersion, min_decryption_version = @minDecryptionVersion, rotation_period_ms = @rotationPeriodMs,
           next_rotation_at = @nextRotationAt, usage_limit = @usageLimit, deletion_at = @deletionAt, destroyed_at = @destroyedAt,
           compromised_at = @compromisedAt, revocation_reason = @revocationReason, material_expires_at = @materialExpiresAt, tags = @tags,
           classification = @classification, environment = @environment, protection = @protection
         WHERE id = @id AND (@expectedUpdatedAt IS NULL OR updated_at = @expectedUpdatedAt)`,
      ),
      insertVersion: db.prepare(
        `INSERT INTO key_versions (key_id, version, state, created_at, wrapped_material, public_key, usage_count, last_used_at, destroyed_at, hsm_label)
         VALUES (@keyId, @version, @state, @createdAt, @wrappedMaterial, @publicKey, @usageCount, @lastUsedAt, @destroyedAt, @hsmLabel)`,
      ),
      updateVersion: db.prepare(
        `UPDATE key_versions SET state = @state, wrapped_material = @wrappedMaterial, public_key = @publicKey, destroyed_at = @destroyedAt
         WHERE key_id = @keyId AND version = @version`,
      ),
      addUsage: db.prepare(
        `UPDATE key_versions SET usage_count = usage_count + @count, last_used_at = MAX(COALESCE(last_used_at, 0), @lastUsedAt)
         WHERE key_id = @keyId AND version = @version`,
      ),
      aliasOwner: db.prepare('SELECT key_id FROM aliases WHERE alias = ?').pluck(),
      insertAlias: db.prepare('INSERT INTO aliases (alias, key_id, created_at) VALUES (?, ?, ?)'),
      retargetAlias: db.prepare('UPDATE aliases SET key_id = ? WHERE alias = ?'),
      deleteAlias: db.prepare('DELETE FROM aliases WHERE alias = ?'),
      listAliases: db.prepare('SELECT alias, key_id AS keyId FROM aliases ORDER BY alias'),
      keyExists: db.prepare('SELECT 1 FROM keys WHERE id = ?').pluck(),
      getKey: db.prepare(`SELECT ${KEY_COLUMNS} FROM keys k WHERE k.id = ?`),
      aliasesOf: db.prepare('SELECT alias FROM aliases WHERE key_id = ? ORDER BY alias').pluck(),
      listFirst: db.prepare(`SELECT ${KEY_COLUMNS} FROM keys k ORDER BY k.created_at, k.id LIMIT ?`),
      listAfter: db.prepare(
        `SELECT ${KEY_COLUMNS} FROM keys k WHERE k.created_at > @createdAt OR (k.created_at = @createdAt AND k.id > @id)
         ORDER BY k.created_at, k.id LIMIT @limit`,
      ),
      getVersion: db.prepare('SELECT * FROM key_versions WHERE key_id = ? AND version = ?'),
      listVersions: db.prepare('SELECT * FROM key_versions WHERE key_id = ? ORDER BY version'),
      due: Object.fromEntries(
        Object.entries(DUE_COLUMN).map(([kind, col]) => [
          kind,
          db.prepare(`SELECT ${KEY_COLUMNS} FROM keys k WHERE k.${col} IS NOT NULL AND k.${col} <= ? ORDER BY k.${col} LIMIT ?`),
        ]),
      ) as Record<DueKind, Database.Statement>,
      unused: db.prepare(
        `SELECT * FROM (SELECT ${KEY_COLUMNS} FROM keys k
           WHERE k.state NOT IN ('PendingDeletion', 'Destroyed') AND NOT EXISTS (SELECT 1 FROM aliases a WHERE a.key_id = k.id))
         WHERE COALESCE(last_used, created_at) < ? ORDER BY created_at, id LIMIT ?`,
      ),
      insertImportToken: db.prepare(
        `INSERT INTO import_tokens (id, key_id, wrapped_private_key, public_key, wrapping_algorithm, created_at, expires_at)
         VALUES (@id, @keyId, @wrappedPrivateKey, @publicKey, @wrappingAlgorithm, @createdAt, @expiresAt)`,
      ),
      getImportToken: db.prepare('SELECT * FROM import_tokens WHERE id = ?'),
      deleteImportToken: db.prepare('DELETE FROM import_tokens WHERE id = ?'),
    };
    this.#q = q;

    this.#createTx = writeTx(db, (key: KeyRecord, v: KeyVersionRecord | undefined) => {
      for (const alias of key.aliases) {
        if (q.aliasOwner.get(alias) !== undefined) throw aliasInUse(alias);
      }
      if (q.keyExists.get(key.id) !== undefined) throw new KeywardenError('AlreadyExists', `key ${key.id} already exists`);
      q.insertKey.run(keyParams(key));
      if (v) q.insertVersion.run(versionParams(v));
      for (const alias of key.aliases) q.insertAlias.run(alias, key.id, key.createdAt);
    });

    this.#changeTx = writeTx(db, (c: KeyChange) => {
      if (c.key && q.updateKey.run({ ...keyParams(c.key), expectedUpdatedAt: c.expectedUpdatedAt ?? null }).changes !== 1) {
        throw q.keyExists.get(c.key.id) !== undefined ? keyChangedConcurrently(c.key.id) : new KeywardenError('NotFound', `key ${c.key.id} was not found`);
      }
      if (c.newVersion) q.insertVersion.run(versionParams(c.newVersion));
      for (const v of c.versions ?? []) {
        if (q.updateVersion.run(versionParams(v)).changes !== 1) throw new KeywardenError('NotFound', `version ${v.version} of key ${v.keyId} was not found`);
      }
    });
  }

  #withAliases(row: Row | undefined): KeyRecord | undefined {
    return row === undefined ? undefined : keyFromRow(row, this.#q.aliasesOf.all(row.id) as string[]);
  }

  async createKey(key: KeyRecord, v: KeyVersionRecord | undefined): Promise<void> {
    if (v && v.keyId !== key.id) throw new Error('version belongs to another key');
    this.#createTx(key, v);
  }

  async getKey(id: string) {
    return this.#withAliases(this.#q.getKey.get(id) as Row | undefined);
  }

  async listKeys({ limit, after, classification, environment }: Parameters<KeyStore['listKeys']>[0]) {
    if (classification === undefined && environment === undefined) {
      const rows = (after ? this.#q.listAfter.all({ ...after, limit }) : this.#q.listFirst.all(limit)) as Row[];
      return rows.map((r) => this.#withAliases(r) as KeyRecord);
    }
    // Filtered listing (policy scope): the same order and cursor, with the scope columns matched.
    const where: string[] = [];
    const args: Record<string, unknown> = { limit };
    if (after) (where.push('(k.created_at > @createdAt OR (k.created_at = @createdAt AND k.id > @id))'), Object.assign(args, after));
    if (classification !== undefined) (where.push('k.classification = @classification'), (args.classification = classification));
    if (environment !== undefined) (where.push('k.environment = @environment'), (args.environment = environment));
    const sql = `SELECT ${KEY_COLUMNS} FROM keys k WHERE ${where.join(' AND ')} ORDER BY k.created_at, k.id LIMIT @limit`;
    return (this.#db.prepare(sql).all(args) as Row[]).map((r) => this.#withAliases(r) as KeyRecord);
  }

  async applyChange(change: KeyChange): Promise<void> {
    for (const v of [...(change.newVersion ? [change.newVersion] : []), ...(change.versions ?? [])]) {
      if (change.key && v.keyId !== change.key.id) throw new Error('version belongs to another key');
    }
    this.#changeTx(change);
    if ((change.versions ?? []).some((v) => v.state === 'Destroyed')) this.#walScrubPending = true;
    this.#scrubWal();
  }

  /**
   * secure_delete zeroes freed cells in the database file; the old page images in the WAL go away
   * only when it is checkpointed and truncated. A reader on another connection (a backup, the
   * sqlite3 CLI) can block that, so a blocked scrub is retried after every later write and at close.
   */
  #walScrubPending = false;
  #scrubWal(): void {
    if (!this.#walScrubPending) return;
    const [r] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    if (r === undefined || r.busy === 0) this.#walScrubPending = false;
  }

  /** True while destroyed material may still be in the WAL (exposed for health checks). */
  get walScrubPending(): boolean {
    return this.#walScrubPending;
  }

  async getVersion(keyId: string, version: number) {
    const row = this.#q.getVersion.get(keyId, version) as Row | undefined;
    return row === undefined ? undefined : versionFromRow(row);
  }

  async listVersions(keyId: string) {
    return (this.#q.listVersions.all(keyId) as Row[]).map(versionFromRow);
  }

  async resolveAlias(alias: string) {
    return this.#q.aliasOwner.get(alias) as string | undefined;
  }

  async createAlias(alias: string, keyId: string, now: number): Promise<void> {
    writeTx(this.#db, () => {
      if (this.#q.aliasOwner.get(alias) !== undefined) throw aliasInUse(alias);
      if (this.#q.keyExists.get(keyId) === undefined) throw new KeywardenError('NotFound', `key ${keyId} was not found`);
      this.#q.insertAlias.run(alias, keyId, now);
    })();
  }

  async updateAlias(alias: string, keyId: string): Promise<void> {
    writeTx(this.#db, () => {
      if (this.#q.keyExists.get(keyId) === undefined) throw new KeywardenError('NotFound', `key ${keyId} was not found`);
      if (this.#q.retargetAlias.run(keyId, alias).changes !== 1) throw aliasNotFound(alias);
    })();
  }

  async deleteAlias(alias: string): Promise<void> {
    if (this.#q.deleteAlias.run(alias).changes !== 1) throw aliasNotFound(alias);
  }

  async listAliases() {
    return this.#q.listAliases.all() as Array<{ alias: string; keyId: string }>;
  }

  async addUsage(deltas: UsageDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    writeTx(this.#db, () => {
      for (const d of deltas) this.#q.addUsage.run(d);
    })();
    this.#scrubWal();
  }

  async findDue(kind: DueKind, now: number, limit: number) {
    return (this.#q.due[kind].all(now, limit) as Row[]).map((r) => this.#withAliases(r) as KeyRecord);
  }

  async findUnused(usedBefore: number, limit: number) {
    return (this.#q.unused.all(usedBefore, limit) as Row[]).map((r) => keyFromRow(r, []));
  }

  async putImportToken(t: ImportTokenRecord): Promise<void> {
    this.#q.insertImportToken.run(t);
  }

  async takeImportToken(id: string): Promise<ImportTokenRecord | undefined> {
    return writeTx(this.#db, () => {
      const row = this.#q.getImportToken.get(id) as Row | undefined;
      if (row === undefined) return undefined;
      this.#q.deleteImportToken.run(id);
      return importTokenFromRow(row);
    })();
  }
}

