/**
 * SqliteStore: the backend-independent conformance suite, plus what only SQLite has (journal
 * mode, durability pragmas, files and directories on disk).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { newKeyRecord, newKeyVersion, type KeyRecord, type KeyVersionRecord } from '../../src/keys/key.model.js';
import type { SealConfig } from '../../src/seal/seal.model.js';
import type { TokenRecord } from '../../src/auth/token.model.js';
import { runStoreConformance } from '../conformance/store.conformance.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'keywarden-sqlite-'));
}

runStoreConformance('SqliteStore (temp file)', async () => {
  const dir = await tempDir();
  const store = new SqliteStore(join(dir, 'keywarden.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

runStoreConformance('SqliteStore (:memory:)', async () => {
  const store = new SqliteStore(':memory:');
  return { store, cleanup: () => store.close() };
});

const KEY_ID = '0b3c0f1e-8d1a-4c3b-9e2f-1a2b3c4d5e6f';

const sealConfig: SealConfig = {
  type: 'shamir',
  shares: 3,
  threshold: 2,
  wrappedRootKey: Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x00, 0x80]),
  shareDigests: ['aa'.repeat(32), 'bb'.repeat(32), 'cc'.repeat(32)],
  shareCheckSalt: Buffer.alloc(32, 0x5a),
  createdAt: 1_700_000_000_000,
};
const token: TokenRecord = {
  accessor: 'accessor-1',
  hash: 'ab'.repeat(32),
  kind: 'root',
  displayName: 'root',
  createdAt: 1_700_000_000_001,
};
const key: KeyRecord = newKeyRecord({
  id: KEY_ID,
  description: 'persisted',
  spec: 'SYMMETRIC_DEFAULT',
  usage: 'ENCRYPT_DECRYPT',
  createdAt: 1_700_000_000_002,
  updatedAt: 1_700_000_000_003,
  tags: { env: 'test' },
  aliases: ['alias/persisted'],
});
const version: KeyVersionRecord = newKeyVersion({
  keyId: KEY_ID,
  version: 1,
  createdAt: 1_700_000_000_002,
  wrappedMaterial: Buffer.from('00ff10ef7f80deadbeef', 'hex'),
});

describe('SqliteStore (SQLite-specific)', () => {
  let dir: string;

  before(async () => {
    dir = await tempDir();
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the database file is in WAL journal mode', async () => {
    const path = join(dir, 'wal.db');
    const store = new SqliteStore(path);
    try {
      await store.tokens.putToken(token);
      // The journal mode is a property of the file: a separate read-only connection sees it.
      const ro = new Database(path, { readonly: true, fileMustExist: true });
      try {
        assert.equal(ro.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        ro.close();
      }
      assert.ok(existsSync(`${path}-wal`), 'a WAL file exists next to the database while it is open');
    } finally {
      await store.close();
    }
  });

  test('the store connection uses synchronous=FULL (also on reopening an existing WAL file) and foreign keys', async (t) => {
    // `synchronous` is per connection, not stored in the file, so a second (read-only)
    // connection cannot observe the store's setting: it reports its own default, which for a
    // database already in WAL mode is NORMAL in better-sqlite3's build. We therefore capture
    // the store's own connection via the driver's prototype and ask it directly. Reopening an
    // existing WAL file is the case where an omitted `synchronous = FULL` would show.
    const path = join(dir, 'sync.db');
    await new SqliteStore(path).close();

    const prepare = t.mock.method(Database.prototype, 'prepare');
    const store = new SqliteStore(path);
    try {
      const connections = new Set(prepare.mock.calls.map((c) => c.this as Database.Database));
      assert.equal(connections.size, 1, 'the store opens exactly one connection');
      const [db] = [...connections];
      assert.ok(db !== undefined && db.open);
      assert.equal(db.name, path);
      assert.equal(db.pragma('synchronous', { simple: true }), 2, 'synchronous must be FULL (2)');
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    } finally {
      await store.close();
    }
  });

  test('data persists across close and reopen', async () => {
    const path = join(dir, 'persist.db');
    const first = new SqliteStore(path);
    assert.equal(await first.seal.createSealConfig(sealConfig), true);
    await first.tokens.putToken(token);
    await first.keys.createKey(key, version);
    const schema = await first.schemaVersion();
    await first.close();

    const second = new SqliteStore(path);
    try {
      assert.deepEqual(await second.seal.getSealConfig(), sealConfig);
      assert.equal(await second.seal.createSealConfig({ ...sealConfig, shares: 9 }), false, 'still initialized');
      assert.deepEqual(await second.tokens.findTokenByHash(token.hash), token);
      assert.deepEqual(await second.keys.getKey(KEY_ID), key);
      assert.deepEqual(await second.keys.getVersion(KEY_ID, 1), version);
      assert.equal(await second.keys.resolveAlias('alias/persisted'), KEY_ID);
      assert.deepEqual(await second.keys.listKeys({ limit: 10 }), [key]);
      assert.equal(await second.schemaVersion(), schema);
    } finally {
      await second.close();
    }

    // Reopening did not re-apply (or re-record) any migration.
    const ro = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const rows = ro.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
      assert.deepEqual(rows, SQLITE_MIGRATIONS.map((m) => m.version));
    } finally {
      ro.close();
    }
  });

  test('a store on a directory that does not exist yet creates it (owner-only)', async () => {
    const parent = join(dir, 'missing', 'nested');
    const path = join(parent, 'keywarden.db');
    assert.equal(existsSync(join(dir, 'missing')), false);
    const store = new SqliteStore(path);
    try {
      assert.ok(statSync(parent).isDirectory());
      assert.ok(existsSync(path), 'the database file is created');
      await store.keys.createKey(key, version);
      assert.deepEqual(await store.keys.getKey(KEY_ID), key);
      if (process.platform !== 'win32') {
        assert.equal(statSync(parent).mode & 0o777, 0o700);
        assert.equal(statSync(join(dir, 'missing')).mode & 0o777, 0o700);
      }
    } finally {
      await store.close();
    }
  });

  test('opening a database with a newer schema fails with an upgrade message', async () => {
    const path = join(dir, 'newer.db');
    await new SqliteStore(path).close();
    const known = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));
    const db = new Database(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(known + 1, 'from the future', 0);
    db.close();
    assert.throws(() => new SqliteStore(path), /upgrade/i);
  });

  test('a closed store rejects instead of crashing', async () => {
    const store = new SqliteStore(join(dir, 'closed.db'));
    await store.close();
    await assert.rejects(store.keys.getKey(KEY_ID));
    await assert.rejects(store.tokens.findTokenByHash(token.hash));
    await assert.rejects(store.seal.getSealConfig());
    await store.close();
  });
});
