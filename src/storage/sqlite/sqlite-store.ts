/**
 * SQLite implementation of the Store interfaces (better-sqlite3, WAL journal).
 * Durability: synchronous=FULL, so every committed transaction — in particular any write that
 * creates or changes key material — is on disk before the promise resolves (ARCHITECTURE rule 7).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { KeywardenError } from '../../errors/catalog.js';
import type { KeyStore } from '../../keys/key.store.js';
import type { KeyRecord, KeyVersionRecord } from '../../keys/key.model.js';
import type { SealStore } from '../../seal/seal.store.js';
import type { SealConfig } from '../../seal/seal.model.js';
import type { TokenStore } from '../../auth/token.store.js';
import type { TokenRecord } from '../../auth/token.model.js';
import type { Store } from '../store.js';
import { SQLITE_MIGRATIONS, type Migration } from './migrations.js';

type Row = Record<string, unknown>;

export function applyMigrations(db: Database.Database, migrations: Migration[] = SQLITE_MIGRATIONS): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
  const known = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  const currentVersion = () => (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  let current = currentVersion();
  if (current > known) {
    throw new Error(`the database schema (version ${current}) is newer than this Keywarden (version ${known}); upgrade Keywarden`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    // IMMEDIATE takes the write lock before re-reading the version, so two processes opening the
    // same fresh file cannot both apply the same migration.
    db.transaction(() => {
      if (currentVersion() >= m.version) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }).immediate();
    current = m.version;
  }
  return Math.max(current, known);
}

function keyFromRow(row: Row, aliases: string[]): KeyRecord {
  return {
    id: row.id as string,
    description: row.description as string,
    spec: row.spec as KeyRecord['spec'],
    usage: row.usage as KeyRecord['usage'],
    state: row.state as KeyRecord['state'],
    origin: row.origin as KeyRecord['origin'],
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
    primaryVersion: row.primary_version as number,
    tags: JSON.parse(row.tags as string) as Record<string, string>,
    aliases,
  };
}

export class SqliteStore implements Store {
  readonly keys: KeyStore;
  readonly seal: SealStore;
  readonly tokens: TokenStore;
  readonly #db: Database.Database;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const db = new Database(path);
    this.#db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    try {
      applyMigrations(db);
    } catch (e) {
      db.close();
      throw e;
    }

    const q = {
      insertKey: db.prepare(
        `INSERT INTO keys (id, description, spec, usage, state, origin, created_at, updated_at, primary_version, tags)
         VALUES (@id, @description, @spec, @usage, @state, @origin, @createdAt, @updatedAt, @primaryVersion, @tags)`,
      ),
      insertVersion: db.prepare(
        `INSERT INTO key_versions (key_id, version, state, created_at, wrapped_material)
         VALUES (@keyId, @version, @state, @createdAt, @wrappedMaterial)`,
      ),
      aliasOwner: db.prepare('SELECT key_id FROM aliases WHERE alias = ?').pluck(),
      insertAlias: db.prepare('INSERT INTO aliases (alias, key_id, created_at) VALUES (?, ?, ?)'),
      getKey: db.prepare('SELECT * FROM keys WHERE id = ?'),
      aliasesOf: db.prepare('SELECT alias FROM aliases WHERE key_id = ? ORDER BY alias').pluck(),
      listFirst: db.prepare('SELECT * FROM keys ORDER BY created_at, id LIMIT ?'),
      listAfter: db.prepare(
        'SELECT * FROM keys WHERE created_at > @createdAt OR (created_at = @createdAt AND id > @id) ORDER BY created_at, id LIMIT @limit',
      ),
      getVersion: db.prepare('SELECT * FROM key_versions WHERE key_id = ? AND version = ?'),
      getSeal: db.prepare('SELECT * FROM seal_config WHERE id = 1'),
      insertSeal: db.prepare(
        `INSERT OR IGNORE INTO seal_config (id, type, shares, threshold, wrapped_root_key, share_digests, share_check_salt, created_at)
         VALUES (1, @type, @shares, @threshold, @wrappedRootKey, @shareDigests, @shareCheckSalt, @createdAt)`,
      ),
      insertToken: db.prepare(
        `INSERT OR IGNORE INTO tokens (hash, accessor, kind, display_name, created_at)
         VALUES (@hash, @accessor, @kind, @displayName, @createdAt)`,
      ),
      getToken: db.prepare('SELECT * FROM tokens WHERE hash = ?'),
      schemaVersion: db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck(),
    };

    const createKeyTx = db.transaction((key: KeyRecord, v: KeyVersionRecord) => {
      for (const alias of key.aliases) {
        if (q.aliasOwner.get(alias) !== undefined) {
          throw new KeywardenError('AlreadyExists', `alias "${alias}" is already in use`);
        }
      }
      if (q.getKey.get(key.id) !== undefined) throw new KeywardenError('AlreadyExists', `key ${key.id} already exists`);
      q.insertKey.run({ ...key, tags: JSON.stringify(key.tags) });
      q.insertVersion.run(v);
      for (const alias of key.aliases) q.insertAlias.run(alias, key.id, key.createdAt);
    });
    const withAliases = (row: Row | undefined) =>
      row === undefined ? undefined : keyFromRow(row, q.aliasesOf.all(row.id) as string[]);

    this.keys = {
      createKey: async (key, v) => {
        if (v.keyId !== key.id) throw new Error('version belongs to another key');
        createKeyTx(key, v);
      },
      getKey: async (id) => withAliases(q.getKey.get(id) as Row | undefined),
      resolveAlias: async (alias) => q.aliasOwner.get(alias) as string | undefined,
      listKeys: async ({ limit, after }) => {
        const rows = (after ? q.listAfter.all({ ...after, limit }) : q.listFirst.all(limit)) as Row[];
        return rows.map((r) => withAliases(r) as KeyRecord);
      },
      getVersion: async (keyId, version) => {
        const row = q.getVersion.get(keyId, version) as Row | undefined;
        if (row === undefined) return undefined;
        return {
          keyId: row.key_id as string,
          version: row.version as number,
          state: row.state as KeyVersionRecord['state'],
          createdAt: row.created_at as number,
          wrappedMaterial: row.wrapped_material as Buffer,
        };
      },
    };

    this.seal = {
      getSealConfig: async () => {
        const row = q.getSeal.get() as Row | undefined;
        if (row === undefined) return undefined;
        return {
          type: row.type as SealConfig['type'],
          shares: row.shares as number,
          threshold: row.threshold as number,
          wrappedRootKey: row.wrapped_root_key as Buffer,
          shareDigests: JSON.parse(row.share_digests as string) as string[],
          shareCheckSalt: row.share_check_salt as Buffer,
          createdAt: row.created_at as number,
        };
      },
      createSealConfig: async (c) =>
        q.insertSeal.run({ ...c, shareDigests: JSON.stringify(c.shareDigests) }).changes === 1,
    };

    this.tokens = {
      putToken: async (t) => {
        q.insertToken.run(t);
      },
      findTokenByHash: async (hash) => {
        const row = q.getToken.get(hash) as Row | undefined;
        if (row === undefined) return undefined;
        return {
          hash: row.hash as string,
          accessor: row.accessor as string,
          kind: row.kind as TokenRecord['kind'],
          displayName: row.display_name as string,
          createdAt: row.created_at as number,
        };
      },
    };
    this.schemaVersion = async () => q.schemaVersion.get() as number;
  }

  schemaVersion: () => Promise<number>;

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
