/** Migration 6 on a database that already holds v4 grants and key creators. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../migrations.js';
import { applyMigrations } from '../sqlite-store.js';
import { SqlitePrincipalStore } from '../sqlite-principal-store.js';
import { SqliteKeyStore } from '../sqlite-key-store.js';

test('migration 6 keeps grants, moves key creators into keys.created_by and drops key_creators', async () => {
  const db = new Database(':memory:');
  try {
    applyMigrations(db, SQLITE_MIGRATIONS.slice(0, 5));
    db.prepare("INSERT INTO principals (id, name, kind, roles, created_at) VALUES ('p1', 'app', 'service-account', '[\"application\"]', 1)").run();
    const insertKey = db.prepare(
      "INSERT INTO keys (id, description, spec, usage, state, origin, created_at, updated_at, primary_version, tags) VALUES (?, '', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'Enabled', 'KEYWARDEN', 1, 1, 1, '{}')",
    );
    insertKey.run('k1');
    insertKey.run('k2');
    db.prepare("INSERT INTO key_creators (key_id, principal_id, created_at) VALUES ('k1', 'creator-1', 1)").run();
    db.prepare("INSERT INTO grants (id, key_id, principal_id, operations, created_by, created_at, revoked_at) VALUES ('g1', 'k1', 'p1', '[\"encrypt\"]', 'admin', 5, NULL)").run();
    db.prepare("INSERT INTO grants (id, key_id, principal_id, operations, created_by, created_at, revoked_at) VALUES ('g2', 'k2', 'p1', '[\"decrypt\"]', 'admin', 6, 7)").run();

    assert.equal(applyMigrations(db, SQLITE_MIGRATIONS.slice(0, 6)), 6);
    // The stores prepare statements for the current schema: the later migrations (which leave
    // grants and key creators alone) are applied before reading through them.
    applyMigrations(db);

    const principals = new SqlitePrincipalStore(db);
    assert.deepEqual(await principals.getGrant('g1'), {
      id: 'g1',
      keyId: 'k1',
      tagSelector: null,
      principalId: 'p1',
      operations: ['encrypt'],
      conditions: {},
      createdBy: 'admin',
      createdAt: 5,
      revokedAt: null,
      lastUsedAt: null,
      approvalRequestId: null,
    });
    assert.equal((await principals.getGrant('g2'))?.revokedAt, 7);
    assert.deepEqual((await principals.listGrants({ principalId: 'p1' })).map((g) => g.id), ['g1']);
    assert.equal(await principals.getKeyCreator('k1'), 'creator-1');
    assert.equal(await principals.getKeyCreator('k2'), undefined);
    assert.equal(await principals.getKeyCreator('nope'), undefined);
    const keys = new SqliteKeyStore(db);
    assert.equal((await keys.getKey('k1'))?.createdBy, 'creator-1');
    assert.equal((await keys.getKey('k2'))?.createdBy, null);
    assert.equal(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'key_creators'").pluck().get(), 0);
    // A grant names a key or a selector, never both or neither.
    assert.throws(
      () => db.prepare("INSERT INTO grants (id, key_id, tag_selector, principal_id, operations, created_by, created_at) VALUES ('g3', 'k1', '{}', 'p1', '[]', 'a', 1)").run(),
      /CHECK constraint failed/,
    );
    assert.throws(() => db.prepare("INSERT INTO grants (id, principal_id, operations, created_by, created_at) VALUES ('g4', 'p1', '[]', 'a', 1)").run(), /CHECK constraint failed/);
  } finally {
    db.close();
  }
});
