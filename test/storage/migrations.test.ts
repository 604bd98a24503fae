/** applyMigrations: versioned, forward-only, transactional schema migrations for SQLite. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { applyMigrations } from '../../src/storage/sqlite/sqlite-store.js';
import { SQLITE_MIGRATIONS, type Migration } from '../../src/storage/sqlite/migrations.js';

interface MigrationRow {
  version: number;
  name: string;
  applied_at: number;
}

function migrationRows(db: Database.Database): MigrationRow[] {
  return db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as MigrationRow[];
}

function tableNames(db: Database.Database): string[] {
  return db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[];
}

function schemaSql(db: Database.Database): string[] {
  return db.prepare('SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name').pluck().all() as string[];
}

function withDb(fn: (db: Database.Database) => void): void {
  const db = new Database(':memory:');
  try {
    fn(db);
  } finally {
    db.close();
  }
}

const KNOWN = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));

describe('SQLITE_MIGRATIONS', () => {
  test('versions are 1..N, unique and in order, each with a name and SQL', () => {
    assert.ok(SQLITE_MIGRATIONS.length >= 1);
    assert.deepEqual(
      SQLITE_MIGRATIONS.map((m) => m.version),
      SQLITE_MIGRATIONS.map((_, i) => i + 1),
    );
    for (const m of SQLITE_MIGRATIONS) {
      assert.ok(m.name.trim().length > 0, `migration ${m.version} has a name`);
      assert.ok(m.sql.trim().length > 0, `migration ${m.version} has SQL`);
    }
  });
});

describe('applyMigrations', () => {
  test('on a fresh database applies every migration and records each in schema_migrations', () => {
    withDb((db) => {
      const before = Date.now();
      assert.equal(applyMigrations(db), KNOWN);
      const after = Date.now();

      const rows = migrationRows(db);
      assert.deepEqual(
        rows.map((r) => [r.version, r.name]),
        SQLITE_MIGRATIONS.map((m) => [m.version, m.name]),
      );
      for (const r of rows) {
        assert.ok(Number.isInteger(r.applied_at) && r.applied_at >= before && r.applied_at <= after, 'applied_at is the apply time (ms)');
      }
      // The tables of migration 1 exist and are usable.
      for (const t of ['seal_config', 'tokens', 'keys', 'key_versions', 'aliases', 'schema_migrations']) {
        assert.ok(tableNames(db).includes(t), `table ${t} exists`);
      }
      db.prepare('INSERT INTO tokens (hash, accessor, kind, display_name, created_at) VALUES (?, ?, ?, ?, ?)').run('h', 'a', 'root', 'n', 1);
      assert.equal(db.prepare('SELECT COUNT(*) FROM tokens').pluck().get(), 1);
    });
  });

  test('re-running is a no-op', () => {
    withDb((db) => {
      applyMigrations(db);
      db.prepare('INSERT INTO tokens (hash, accessor, kind, display_name, created_at) VALUES (?, ?, ?, ?, ?)').run('h', 'a', 'root', 'n', 1);
      const rows = migrationRows(db);
      const schema = schemaSql(db);

      assert.equal(applyMigrations(db), KNOWN);
      assert.equal(applyMigrations(db), KNOWN);

      assert.deepEqual(migrationRows(db), rows, 'nothing re-recorded, applied_at unchanged');
      assert.deepEqual(schemaSql(db), schema, 'schema unchanged');
      assert.equal(db.prepare('SELECT COUNT(*) FROM tokens').pluck().get(), 1, 'data untouched');
    });
  });

  test('a schema newer than this Keywarden throws a clear error mentioning upgrading, and changes nothing', () => {
    withDb((db) => {
      applyMigrations(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(KNOWN + 5, 'future', 1);
      const rows = migrationRows(db);
      const schema = schemaSql(db);
      assert.throws(
        () => applyMigrations(db),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.match(err.message, /upgrad/i);
          assert.ok(err.message.includes(String(KNOWN + 5)), `the message names the database version: ${err.message}`);
          assert.ok(err.message.includes(String(KNOWN)), `the message names the known version: ${err.message}`);
          return true;
        },
      );
      assert.deepEqual(migrationRows(db), rows);
      assert.deepEqual(schemaSql(db), schema);
    });
  });

  test('the newer-schema check uses the given migration list', () => {
    withDb((db) => {
      const two: Migration[] = [
        { version: 1, name: 'one', sql: 'CREATE TABLE one (x INTEGER) STRICT;' },
        { version: 2, name: 'two', sql: 'CREATE TABLE two (x INTEGER) STRICT;' },
      ];
      assert.equal(applyMigrations(db, two), 2);
      assert.throws(() => applyMigrations(db, two.slice(0, 1)), /upgrad/i);
    });
  });

  test('applies a custom list in version order and only what is new', () => {
    withDb((db) => {
      const v1: Migration = { version: 1, name: 'one', sql: 'CREATE TABLE one (x INTEGER) STRICT;' };
      // Out of order on purpose: 3 depends on 2.
      const v3: Migration = { version: 3, name: 'three', sql: 'ALTER TABLE two ADD COLUMN y INTEGER;' };
      const v2: Migration = { version: 2, name: 'two', sql: 'CREATE TABLE two (x INTEGER);' };

      assert.equal(applyMigrations(db, [v1]), 1);
      // v1 would fail if re-run (table exists): only 2 and 3 may run.
      assert.equal(applyMigrations(db, [v3, v1, v2]), 3);
      assert.deepEqual(
        migrationRows(db).map((r) => [r.version, r.name]),
        [
          [1, 'one'],
          [2, 'two'],
          [3, 'three'],
        ],
      );
      assert.deepEqual(tableNames(db), ['one', 'schema_migrations', 'two']);
      db.prepare('INSERT INTO two (x, y) VALUES (1, 2)').run();
    });
  });

  test('a migration whose SQL fails is rolled back entirely and schema_migrations is unchanged', () => {
    withDb((db) => {
      const ok: Migration = { version: 1, name: 'ok', sql: 'CREATE TABLE ok (x INTEGER) STRICT;' };
      // The first statement succeeds, the second fails: the whole migration must roll back.
      const broken: Migration = {
        version: 2,
        name: 'broken',
        sql: `CREATE TABLE half_done (x INTEGER) STRICT;
              INSERT INTO ok (x) VALUES (42);
              INSERT INTO no_such_table (x) VALUES (1);`,
      };
      const after: Migration = { version: 3, name: 'after', sql: 'CREATE TABLE later (x INTEGER) STRICT;' };

      assert.throws(() => applyMigrations(db, [ok, broken, after]), /no_such_table/);

      assert.deepEqual(
        migrationRows(db).map((r) => [r.version, r.name]),
        [[1, 'ok']],
        'only the migration before the broken one is recorded',
      );
      assert.deepEqual(tableNames(db), ['ok', 'schema_migrations'], 'no table of the broken (or a later) migration');
      assert.equal(db.prepare('SELECT COUNT(*) FROM ok').pluck().get(), 0, 'the data change of the broken migration is rolled back');
      assert.equal(db.inTransaction, false, 'no transaction is left open');

      // Once fixed, it applies cleanly from where it stopped.
      const fixed: Migration = { ...broken, sql: 'CREATE TABLE half_done (x INTEGER) STRICT; INSERT INTO ok (x) VALUES (42);' };
      assert.equal(applyMigrations(db, [ok, fixed, after]), 3);
      assert.deepEqual(
        migrationRows(db).map((r) => r.version),
        [1, 2, 3],
      );
      assert.deepEqual(tableNames(db), ['half_done', 'later', 'ok', 'schema_migrations']);
      assert.equal(db.prepare('SELECT COUNT(*) FROM ok').pluck().get(), 1);
    });
  });

  test('a failing first migration on a fresh database records nothing', () => {
    withDb((db) => {
      const broken: Migration = { version: 1, name: 'broken', sql: 'CREATE TABLE t (x INTEGER); THIS IS NOT SQL;' };
      assert.throws(() => applyMigrations(db, [broken]));
      assert.deepEqual(migrationRows(db), []);
      assert.deepEqual(tableNames(db), ['schema_migrations']);
    });
  });
});
