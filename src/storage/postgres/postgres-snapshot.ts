/** PostgreSQL side of the logical snapshot (see ../snapshot.ts for the backend-neutral rules). */
import type pg from 'pg';
import {
  DERIVED_TABLES, INSERTION_ORDERED, SNAPSHOT_CHUNK_ROWS, checkTables, notEmptyError, restoreOrder, schemaMismatchError,
  type Snapshot, type SnapshotChunk, type SnapshotValue,
} from '../snapshot.js';
import type { Db } from './db.js';

interface TableInfo {
  columns: string[];
  types: Map<string, string>;
  pk: string[];
  identity?: string;
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The store's tables in the connection's current schema (search_path), as the store sees them. */
async function catalog(c: pg.PoolClient): Promise<{ order: string[]; tables: Map<string, TableInfo> }> {
  const cols = (await c.query(
    `SELECT c.table_name AS t, c.column_name AS n, c.data_type AS type, c.is_identity = 'YES' OR c.is_generated = 'ALWAYS' AS generated
     FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`,
  )).rows as Array<{ t: string; n: string; type: string; generated: boolean }>;
  const pks = (await c.query(
    `SELECT k.table_name AS t, k.column_name AS n FROM information_schema.table_constraints tc
     JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name, table_name)
     WHERE tc.table_schema = current_schema() AND tc.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position`,
  )).rows as Array<{ t: string; n: string }>;
  const fks = (await c.query(
    `SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent FROM pg_constraint
     WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`,
  )).rows as Array<{ child: string; parent: string }>;
  const unquote = (s: string) => s.replace(/^"(.*)"$/, '$1').replace(/""/g, '"');
  const tables = new Map<string, TableInfo>();
  for (const col of cols) {
    if (DERIVED_TABLES.has(col.t)) continue;
    const t = tables.get(col.t) ?? { columns: [], types: new Map<string, string>(), pk: [] };
    tables.set(col.t, t);
    if (col.generated) t.identity = col.n;
    else {
      t.columns.push(col.n);
      t.types.set(col.n, col.type);
    }
  }
  for (const t of tables.values()) t.columns.sort();
  for (const k of pks) tables.get(k.t)?.pk.push(k.n);
  const deps = new Map([...tables.keys()].map((n) => [n, [] as string[]]));
  for (const f of fks) deps.get(unquote(f.child))?.push(unquote(f.parent));
  return { order: restoreOrder(deps), tables };
}

function orderBy(table: string, t: TableInfo): string {
  if (INSERTION_ORDERED.has(table) && t.identity !== undefined) return q(t.identity);
  // Code-point order for text keys, as SQLite's binary collation.
  return t.pk.map((c) => (t.types.get(c) === 'text' ? `${q(c)} COLLATE "C"` : q(c))).join(', ');
}

const toValue = (v: unknown): SnapshotValue =>
  v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'boolean' ? (v ? 1 : 0) : (v as SnapshotValue);

/** Every row from one REPEATABLE READ, READ ONLY transaction (one consistent view across tables). */
export async function* postgresSnapshot(db: Db): AsyncGenerator<SnapshotChunk> {
  await db.ready;
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { order, tables } = await catalog(c);
    for (const table of order) {
      const t = tables.get(table)!;
      const rows = (await c.query({ text: `SELECT ${t.columns.map(q).join(', ')} FROM ${q(table)} ORDER BY ${orderBy(table, t)}`, rowMode: 'array' })).rows as unknown[][];
      if (rows.length === 0) yield { table, columns: t.columns, rows: [] };
      for (let i = 0; i < rows.length; i += SNAPSHOT_CHUNK_ROWS) {
        yield { table, columns: t.columns, rows: rows.slice(i, i + SNAPSHOT_CHUNK_ROWS).map((r) => r.map(toValue)) };
      }
    }
    await c.query('COMMIT');
  } finally {
    await c.query('ROLLBACK').catch(() => {}); // a no-op after COMMIT; ends the read if the consumer stopped early
    c.release();
  }
}

/**
 * Restores into an empty schema in one transaction: nothing is written unless every chunk fits.
 * Booleans arrive as 0/1 (PostgreSQL reads '1'/'0' as booleans); base64 becomes bytea by column type.
 */
export async function postgresRestore(db: Db, currentVersion: number, snapshot: Snapshot): Promise<void> {
  if (snapshot.schemaVersion !== currentVersion) throw schemaMismatchError(snapshot.schemaVersion, currentVersion);
  await db.ready;
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    const { tables } = await catalog(c);
    // Refuse any concurrent writer (a node started against the target) for the whole restore.
    for (const table of [...tables.keys()].sort()) await c.query(`LOCK TABLE ${q(table)} IN EXCLUSIVE MODE`);
    for (const table of [...tables.keys()].sort()) {
      if ((await c.query(`SELECT 1 FROM ${q(table)} LIMIT 1`)).rows.length > 0) throw notEmptyError(table);
    }
    const columns = new Map([...tables].map(([n, t]) => [n, t.columns]));
    for await (const chunk of snapshot.chunks) {
      checkTables(chunk.table, chunk.columns, columns);
      if (chunk.rows.length === 0) continue;
      const t = tables.get(chunk.table)!;
      const bytea = chunk.columns.map((col) => t.types.get(col) === 'bytea');
      const params: unknown[] = [];
      const tuples = chunk.rows.map((row) => {
        if (row.length !== chunk.columns.length) throw new Error(`table ${chunk.table}: a row has ${row.length} values for ${chunk.columns.length} columns`);
        return `(${row.map((v, i) => `$${params.push(bytea[i] && typeof v === 'string' ? Buffer.from(v, 'base64') : v)}`).join(', ')})`;
      });
      await c.query(`INSERT INTO ${q(chunk.table)} (${chunk.columns.map(q).join(', ')}) VALUES ${tuples.join(', ')}`, params);
    }
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}
