/** SQLite side of the logical snapshot (see ../snapshot.ts for the backend-neutral rules). */
import type Database from 'better-sqlite3';
import {
  DERIVED_TABLES, INSERTION_ORDERED, SNAPSHOT_CHUNK_ROWS, checkTables, notEmptyError, restoreOrder, schemaMismatchError,
  type Snapshot, type SnapshotChunk, type SnapshotValue,
} from '../snapshot.js';

interface TableInfo {
  columns: string[];
  blobs: Set<string>;
  pk: string[];
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

function catalog(db: Database.Database): { order: string[]; tables: Map<string, TableInfo> } {
  const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[])
    .filter((n) => !DERIVED_TABLES.has(n));
  const tables = new Map<string, TableInfo>();
  const deps = new Map<string, string[]>();
  for (const name of names) {
    // table_xinfo: hidden 0 = ordinary column (2/3 = generated, not stored by a restore).
    const cols = (db.prepare(`PRAGMA table_xinfo(${q(name)})`).all() as Array<{ name: string; type: string; pk: number; hidden: number }>)
      .filter((c) => c.hidden === 0);
    tables.set(name, {
      columns: cols.map((c) => c.name).sort(),
      blobs: new Set(cols.filter((c) => c.type.toUpperCase() === 'BLOB').map((c) => c.name)),
      pk: cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
    });
    deps.set(name, (db.prepare(`PRAGMA foreign_key_list(${q(name)})`).all() as Array<{ table: string }>).map((f) => f.table));
  }
  return { order: restoreOrder(deps), tables };
}

/** Every row, read in one read transaction (a consistent view), then handed out in chunks. */
export async function* sqliteSnapshot(db: Database.Database): AsyncGenerator<SnapshotChunk> {
  const chunks = db.transaction(() => {
    const { order, tables } = catalog(db);
    const out: SnapshotChunk[] = [];
    for (const table of order) {
      const t = tables.get(table)!;
      const by = INSERTION_ORDERED.has(table) ? 'rowid' : t.pk.map(q).join(', ');
      const rows = (db.prepare(`SELECT ${t.columns.map(q).join(', ')} FROM ${q(table)} ORDER BY ${by}`).raw().all() as unknown[][])
        .map((r) => r.map((v): SnapshotValue => (Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'bigint' ? Number(v) : (v as SnapshotValue))));
      if (rows.length === 0) out.push({ table, columns: t.columns, rows: [] });
      for (let i = 0; i < rows.length; i += SNAPSHOT_CHUNK_ROWS) out.push({ table, columns: t.columns, rows: rows.slice(i, i + SNAPSHOT_CHUNK_ROWS) });
    }
    return out;
  })();
  yield* chunks;
}

/**
 * Restores into an empty database in one write transaction: nothing is written unless every
 * chunk fits (schema version, tables, columns, foreign keys, the ledger's append-only triggers).
 */
export async function sqliteRestore(db: Database.Database, currentVersion: number, snapshot: Snapshot): Promise<void> {
  if (snapshot.schemaVersion !== currentVersion) throw schemaMismatchError(snapshot.schemaVersion, currentVersion);
  const { tables } = catalog(db);
  const columns = new Map([...tables].map(([n, t]) => [n, t.columns]));
  db.exec('BEGIN IMMEDIATE');
  try {
    for (const table of [...tables.keys()].sort()) {
      if (db.prepare(`SELECT 1 FROM ${q(table)} LIMIT 1`).get() !== undefined) throw notEmptyError(table);
    }
    for await (const chunk of snapshot.chunks) {
      checkTables(chunk.table, chunk.columns, columns);
      const t = tables.get(chunk.table)!;
      const insert = db.prepare(`INSERT INTO ${q(chunk.table)} (${chunk.columns.map(q).join(', ')}) VALUES (${chunk.columns.map(() => '?').join(', ')})`);
      const blob = chunk.columns.map((c) => t.blobs.has(c));
      for (const row of chunk.rows) {
        if (row.length !== chunk.columns.length) throw new Error(`table ${chunk.table}: a row has ${row.length} values for ${chunk.columns.length} columns`);
        insert.run(row.map((v, i) => (blob[i] && typeof v === 'string' ? Buffer.from(v, 'base64') : v)));
      }
    }
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}
