/**
 * SqliteJobStore: the JobStore conformance suite, plus what only a file-backed SQLite has
 * (several connections on one file, a row surviving a reopen).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations } from '../../src/storage/sqlite/sqlite-store.js';
import { SqliteJobStore } from '../../src/storage/sqlite/sqlite-job-store.js';
import { runJobStoreConformance } from '../conformance/job-store.conformance.js';

/** Opens `path` the way SqliteStore does (WAL, synchronous=FULL, busy timeout) and migrates it. */
function openDb(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  applyMigrations(db);
  return db;
}

runJobStoreConformance('SqliteJobStore (temp file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keywarden-jobs-'));
  const db = openDb(join(dir, 'keywarden.db'));
  return {
    jobs: new SqliteJobStore(db),
    cleanup: async () => {
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

runJobStoreConformance('SqliteJobStore (:memory:)', async () => {
  const db = openDb(':memory:');
  return { jobs: new SqliteJobStore(db), cleanup: async () => void db.close() };
});

describe('SqliteJobStore on a shared file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keywarden-jobs-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const T0 = 1_700_000_000_000;

  test('two connections: the lease is a compare-and-set across them', async () => {
    const path = join(dir, 'shared.db');
    const [dbA, dbB] = [openDb(path), openDb(path)];
    try {
      const [a, b] = [new SqliteJobStore(dbA), new SqliteJobStore(dbB)];
      await a.upsertJob({ name: 'rotation-due', intervalMs: 1000, firstRunAt: T0 }, T0);
      assert.equal(await b.tryAcquire('rotation-due', 'node-b', T0, 500), true);
      assert.equal(await a.tryAcquire('rotation-due', 'node-a', T0 + 499, 500), false);
      assert.equal(await a.complete('rotation-due', 'node-a', { now: T0, nextRunAt: T0 + 1, status: 'ok', error: null }), false);
      assert.equal(await b.complete('rotation-due', 'node-b', { now: T0, nextRunAt: T0 + 1000, status: 'ok', error: null }), true);
      assert.equal(await a.tryAcquire('rotation-due', 'node-a', T0 + 1, 500), false, 'already ran for this due time');
      assert.deepEqual(await a.getJob('rotation-due'), await b.getJob('rotation-due'));
    } finally {
      dbA.close();
      dbB.close();
    }
  });

  test('a job row survives closing and reopening the file', async () => {
    const path = join(dir, 'reopen.db');
    let db = openDb(path);
    const written = await new SqliteJobStore(db).upsertJob({ name: 'usage-flush', intervalMs: 60_000, firstRunAt: T0 + 7 }, T0);
    db.close();
    db = openDb(path);
    try {
      assert.deepEqual(await new SqliteJobStore(db).listJobs(), [written]);
    } finally {
      db.close();
    }
  });
});
