/**
 * SqliteKeyStore: what only SQLite has. The KeyStore contract says a destroyed version's old
 * wrappedMaterial must not be left in the database files; for SQLite that means neither the main
 * database file nor the write-ahead log. These tests read both files as raw bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { newKeyRecord, newKeyVersion, type KeyRecord, type KeyVersionRecord } from '../../src/keys/key.model.js';
import { keyId } from '../conformance/store.conformance.js';

/** Bytes of the database file and of its WAL (empty when there is none). */
function filesOf(path: string): { db: Buffer; wal: Buffer } {
  const read = (p: string) => (existsSync(p) ? readFileSync(p) : Buffer.alloc(0));
  return { db: read(path), wal: read(`${path}-wal`) };
}

/**
 * The 32-byte chunks of `material` found in `haystack`. Material larger than a page is split over
 * overflow pages, so the whole buffer is not contiguous on disk; its chunks mostly are.
 */
function chunksFound(haystack: Buffer, material: Buffer, size = 32): number {
  let found = 0;
  for (let i = 0; i + size <= material.length; i += size) {
    if (haystack.includes(material.subarray(i, i + size))) found++;
  }
  return found;
}

function chunkCount(material: Buffer, size = 32): number {
  return Math.floor(material.length / size);
}

const T0 = 1_700_000_000_000;

function key(n: number, overrides: Partial<KeyRecord> = {}): KeyRecord {
  return newKeyRecord({ id: keyId(n), spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', createdAt: T0 + n, ...overrides });
}

function version(n: number, v: number, wrappedMaterial: Buffer, overrides: Partial<KeyVersionRecord> = {}): KeyVersionRecord {
  return newKeyVersion({ keyId: keyId(n), version: v, createdAt: T0 + v, wrappedMaterial, ...overrides });
}

function destroyed(v: KeyVersionRecord, at: number): KeyVersionRecord {
  return { ...v, state: 'Destroyed', wrappedMaterial: Buffer.alloc(0), destroyedAt: at };
}

describe('SqliteKeyStore (SQLite-specific)', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keywarden-sqlite-key-store-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the chunk scan sees material that is on disk (so the absence checks below can fail)', async () => {
    const path = join(dir, 'sanity.db');
    const store = new SqliteStore(path);
    try {
      const small = randomBytes(96);
      const large = randomBytes(6000); // several overflow pages
      await store.keys.createKey(key(1, { primaryVersion: 2 }), version(1, 1, small));
      await store.keys.applyChange({ newVersion: version(1, 2, large) });
      const { db, wal } = filesOf(path);
      const all = Buffer.concat([db, wal]);
      assert.ok(all.includes(small), 'a small wrappedMaterial is stored contiguously');
      assert.equal(chunksFound(all, small), chunkCount(small));
      assert.ok(chunksFound(all, large) >= chunkCount(large) - 4, 'most chunks of an overflowing wrappedMaterial are found');
      assert.equal(chunksFound(all, randomBytes(96)), 0, 'random bytes are not found');
    } finally {
      await store.close();
    }
  });

  test('after applyChange destroys versions, their old bytes are in neither the .db nor the -wal file; others remain', async () => {
    const path = join(dir, 'destroy.db');
    // Key 1: v1 (small) and v2 (overflow pages) are destroyed, v3 survives. Key 2 survives whole.
    const m1 = randomBytes(260);
    const m2 = randomBytes(5000);
    const m3 = randomBytes(260);
    const other = randomBytes(260);
    const store = new SqliteStore(path);
    try {
      const v1 = version(1, 1, m1);
      const v2 = version(1, 2, m2, { publicKey: randomBytes(91) });
      const v3 = version(1, 3, m3);
      const k1 = key(1, { primaryVersion: 3 });
      await store.keys.createKey({ ...k1, primaryVersion: 1 }, v1);
      // Neighbours on the same and on later pages, so the versions' pages are split and rebalanced.
      const fillers: Buffer[] = [];
      for (let n = 0x100; n < 0x140; n++) {
        const m = randomBytes(260);
        fillers.push(m);
        await store.keys.createKey(key(n), version(n, 1, m));
      }
      await store.keys.applyChange({ newVersion: v2 });
      await store.keys.applyChange({ key: k1, newVersion: v3 });
      await store.keys.createKey(key(2), version(2, 1, other));
      // Usage flushes rewrite the versions' pages (more copies in the WAL).
      for (let i = 1; i <= 5; i++) {
        await store.keys.addUsage([
          { keyId: keyId(1), version: 1, count: i, lastUsedAt: T0 + 1000 * i },
          { keyId: keyId(1), version: 2, count: i, lastUsedAt: T0 + 1000 * i },
        ]);
      }

      const beforeDestroy = Buffer.concat(Object.values(filesOf(path)));
      assert.equal(chunksFound(beforeDestroy, m1), chunkCount(m1), 'v1 is on disk before destruction');
      assert.ok(chunksFound(beforeDestroy, m2) > 0, 'v2 is on disk before destruction');

      const at = T0 + 10_000;
      const used = { usageCount: 15, lastUsedAt: T0 + 5000 };
      const d1 = destroyed({ ...v1, ...used }, at);
      const d2 = destroyed({ ...v2, ...used }, at);
      await store.keys.applyChange({ key: { ...k1, minDecryptionVersion: 3, updatedAt: at }, versions: [d1, d2] });
      assert.deepEqual(await store.keys.getVersion(keyId(1), 1), d1);
      assert.deepEqual(await store.keys.getVersion(keyId(1), 2), d2);

      const check = (when: string) => {
        const { db, wal } = filesOf(path);
        for (const [file, bytes] of [['.db', db], ['-wal', wal]] as const) {
          assert.equal(chunksFound(bytes, m1), 0, `${when}: no byte run of destroyed v1 in the ${file} file`);
          assert.equal(chunksFound(bytes, m2), 0, `${when}: no byte run of destroyed v2 (overflow pages) in the ${file} file`);
        }
        const all = Buffer.concat([db, wal]);
        assert.ok(all.includes(m3), `${when}: the surviving v3 is still on disk`);
        assert.ok(all.includes(other), `${when}: another key's version is still on disk`);
        for (const m of fillers) assert.ok(all.includes(m), `${when}: every filler version is still on disk`);
      };
      check('right after destruction (store open)');

      // Later writes (which append to the WAL again) do not bring the old bytes back.
      for (let n = 0x140; n < 0x150; n++) await store.keys.createKey(key(n), version(n, 1, randomBytes(260)));
      await store.keys.addUsage([{ keyId: keyId(1), version: 3, count: 1, lastUsedAt: at + 1 }]);
      check('after later writes');
    } finally {
      await store.close();
    }

    // Closed (the WAL is checkpointed into the database file) and reopened.
    const reopened = new SqliteStore(path);
    try {
      const { db, wal } = filesOf(path);
      const all = Buffer.concat([db, wal]);
      assert.equal(chunksFound(all, m1), 0, 'after reopening: destroyed v1 is not on disk');
      assert.equal(chunksFound(all, m2), 0, 'after reopening: destroyed v2 is not on disk');
      assert.ok(all.includes(m3) && all.includes(other), 'after reopening: surviving versions are on disk');
      assert.equal((await reopened.keys.getVersion(keyId(1), 1))?.state, 'Destroyed');
      assert.equal((await reopened.keys.getVersion(keyId(1), 1))?.wrappedMaterial.length, 0);
      assert.equal((await reopened.keys.getVersion(keyId(1), 3))?.state, 'Enabled');
    } finally {
      await reopened.close();
    }
  });

  test('destroying every version of a key together with the key row leaves none of its bytes', async () => {
    const path = join(dir, 'destroy-key.db');
    const store = new SqliteStore(path);
    try {
      const materials = [randomBytes(200), randomBytes(3000), randomBytes(64)];
      const k = key(3, { primaryVersion: materials.length, state: 'PendingDeletion', deletionAt: T0 + 1 });
      const versions = materials.map((m, i) => version(3, i + 1, m));
      await store.keys.createKey({ ...k, primaryVersion: 1 }, versions[0]);
      for (const v of versions.slice(1)) await store.keys.applyChange({ newVersion: v });
      await store.keys.applyChange({ key: k });
      const kept = randomBytes(200);
      await store.keys.createKey(key(4), version(4, 1, kept));

      const at = T0 + 2;
      await store.keys.applyChange({ key: { ...k, state: 'Destroyed', destroyedAt: at, updatedAt: at }, versions: versions.map((v) => destroyed(v, at)) });

      const { db, wal } = filesOf(path);
      for (const [i, m] of materials.entries()) {
        assert.equal(chunksFound(db, m), 0, `v${i + 1} is not in the .db file`);
        assert.equal(chunksFound(wal, m), 0, `v${i + 1} is not in the -wal file`);
      }
      assert.ok(Buffer.concat([db, wal]).includes(kept), 'the other key is still on disk');
    } finally {
      await store.close();
    }
  });
});
