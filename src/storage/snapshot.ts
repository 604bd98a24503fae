/**
 * Backend-neutral logical snapshot of a store (backups, restore, SQLite <-> PostgreSQL migration).
 *
 * The table list is read from the database catalog, not written down here, so a table a later
 * migration adds is in every backup without anyone remembering to list it; `schemaVersion` pins the
 * logical schema, and a restore refuses a snapshot of another version. What is generic:
 *  - tables: every table but schema_migrations and DERIVED ones, parents before children (foreign
 *    keys), ties by name, so a restore inserts in snapshot order with foreign keys enforced;
 *  - columns: sorted by name (column order differs between backends), generated/identity columns left out;
 *  - values: null, number (PostgreSQL booleans as 0/1, as SQLite stores them), string, and bytes
 *    as base64 strings (the restoring backend decodes them by its own column types);
 *  - rows: primary-key order (code-point order for text), except INSERTION_ORDERED tables, which
 *    keep the insertion order the application reads them in.
 * Keys, secrets and audit keys stay wrapped by the root key: a snapshot holds only what the store holds.
 */
export type SnapshotValue = string | number | null;

export interface SnapshotChunk {
  table: string;
  /** Column names, sorted; every row is an array in this order. */
  columns: string[];
  rows: SnapshotValue[][];
}

export interface Snapshot {
  schemaVersion: number;
  /** Chunks in restore order; one table may span several consecutive chunks. */
  chunks: AsyncIterable<SnapshotChunk>;
}

/** Rebuilt by the store from other tables (audit search catches up from the ledger by itself). */
export const DERIVED_TABLES: ReadonlySet<string> = new Set(['audit_search', 'schema_migrations']);

/** Tables read back in insertion order (SQLite rowid, PostgreSQL identity column `seq`). */
export const INSERTION_ORDERED: ReadonlySet<string> = new Set(['client_keys']);

/** Rows per chunk: bounds memory per step and PostgreSQL bind parameters per INSERT. */
export const SNAPSHOT_CHUNK_ROWS = 500;

/** Tables parents-first (a table after every table it references), ties by name; self-references ignored. */
export function restoreOrder(tables: ReadonlyMap<string, readonly string[]>): string[] {
  const done = new Set<string>();
  const out: string[] = [];
  const visit = (t: string, path: Set<string>) => {
    if (done.has(t)) return;
    if (path.has(t)) throw new Error(`foreign keys form a cycle through ${t}; the snapshot order is undefined`);
    path.add(t);
    for (const p of [...(tables.get(t) ?? [])].sort()) if (p !== t && tables.has(p)) visit(p, path);
    path.delete(t);
    done.add(t);
    out.push(t);
  };
  for (const t of [...tables.keys()].sort()) visit(t, new Set());
  return out;
}

/** Why a restore target is refused: a restore never merges into existing data. */
export function notEmptyError(table: string): Error {
  return new Error(`the target store is not empty (table ${table} has rows); restore only into an empty store`);
}

export function schemaMismatchError(snapshot: number, target: number): Error {
  return new Error(`the snapshot has schema version ${snapshot} but the target store has ${target}; restore with the Keywarden version that made the backup`);
}

/** Checks the snapshot's tables against the target's before anything is written. */
export function checkTables(snapshotTable: string, columns: readonly string[], target: ReadonlyMap<string, readonly string[]>): void {
  const want = target.get(snapshotTable);
  if (want === undefined) throw new Error(`the snapshot has table ${snapshotTable}, which the target store does not have`);
  if (want.join(',') !== columns.join(',')) {
    throw new Error(`table ${snapshotTable}: the snapshot's columns (${columns.join(', ')}) differ from the target's (${want.join(', ')})`);
  }
}
