/**
 * Backend-independent conformance suite for KeyCanaryStore (src/keys/canary.ts): write-once puts,
 * reads, and the listing of versions still missing a canary (the backfill's work list). It uses the
 * store's KeyStore only to create the key versions a canary references.
 *
 *   runCanaryStoreConformance('SqliteStore', async () => ({ store, cleanup }));
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newKeyRecord, newKeyVersion } from '../../src/keys/key.model.js';
import type { KeyCanary } from '../../src/keys/canary.js';
import type { Store } from '../../src/storage/store.js';
import { keyId, type OpenedStore } from './store.conformance.js';

const T0 = 1_700_000_000_000;

function canary(keyId: string, version: number, overrides: Partial<KeyCanary> = {}): KeyCanary {
  // Every byte value in the blobs: catches text encodings and NUL truncation.
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => (i + version) & 0xff));
  return { keyId, version, kind: 'encrypt', algorithm: 'SYMMETRIC_DEFAULT', challenge: bytes.subarray(0, 32), proof: bytes, createdAt: T0 + version, ...overrides };
}

async function keyWithVersions(store: Store, id: string, versions: number): Promise<void> {
  const key = newKeyRecord({ id, spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', createdAt: T0, primaryVersion: versions });
  await store.keys.createKey(key, newKeyVersion({ keyId: id, version: 1, createdAt: T0, wrappedMaterial: Buffer.from([1]) }));
  for (let v = 2; v <= versions; v++) await store.keys.applyChange({ key, newVersion: newKeyVersion({ keyId: id, version: v, createdAt: T0 + v, wrappedMaterial: Buffer.from([v]) }) });
}

export function runCanaryStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name}: KeyCanaryStore`, () => {
    let opened: OpenedStore | undefined;
    let store: Store;

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(async () => {
      const o = opened;
      opened = undefined;
      if (o) await o.cleanup();
    });

    test('put stores a canary once: a second put for the version keeps the first', async () => {
      const id = keyId(1);
      await keyWithVersions(store, id, 2);
      assert.equal(await store.canaries.get(id, 1), undefined);
      const first = canary(id, 1);
      assert.equal(await store.canaries.put(first), true);
      assert.deepEqual(await store.canaries.get(id, 1), first);
      assert.equal(await store.canaries.put(canary(id, 1, { proof: Buffer.from('other'), kind: 'sign', algorithm: 'ED25519' })), false);
      assert.deepEqual(await store.canaries.get(id, 1), first, 'never replaced');
      assert.equal(await store.canaries.get(id, 2), undefined);
    });

    test('a canary references an existing key version', async () => {
      await keyWithVersions(store, keyId(1), 1);
      await assert.rejects(store.canaries.put(canary(keyId(1), 2)));
      await assert.rejects(store.canaries.put(canary(keyId(9), 1)));
      assert.deepEqual(await store.canaries.listForKey(keyId(1)), []);
    });

    test('listForKey returns a key\'s canaries by version, with every kind', async () => {
      const id = keyId(3);
      await keyWithVersions(store, id, 4);
      const kinds = ['mac', 'encrypt', 'sign', 'rsa-oaep'] as const;
      for (const v of [3, 1, 4, 2]) await store.canaries.put(canary(id, v, { kind: kinds[v - 1]! }));
      const list = await store.canaries.listForKey(id);
      assert.deepEqual(list.map((c) => [c.version, c.kind]), [[1, 'mac'], [2, 'encrypt'], [3, 'sign'], [4, 'rsa-oaep']]);
      assert.deepEqual(list[2], canary(id, 3, { kind: 'sign' }));
      assert.deepEqual(await store.canaries.listForKey(keyId(4)), []);
    });

    test('findMissing lists versions without a canary, not destroyed, in (key, version) order, paged', async () => {
      await keyWithVersions(store, keyId(2), 3);
      await keyWithVersions(store, keyId(1), 2);
      await store.canaries.put(canary(keyId(2), 2));
      const v3 = (await store.keys.getVersion(keyId(2), 3))!;
      await store.keys.applyChange({ versions: [{ ...v3, state: 'Destroyed', wrappedMaterial: Buffer.alloc(0), destroyedAt: T0 + 9 }] });
      assert.deepEqual(await store.canaries.findMissing(10), [
        { keyId: keyId(1), version: 1 },
        { keyId: keyId(1), version: 2 },
        { keyId: keyId(2), version: 1 },
      ]);
      assert.deepEqual(await store.canaries.findMissing(2), [{ keyId: keyId(1), version: 1 }, { keyId: keyId(1), version: 2 }]);
      assert.deepEqual(await store.canaries.findMissing(2, { keyId: keyId(1), version: 2 }), [{ keyId: keyId(2), version: 1 }]);
      assert.deepEqual(await store.canaries.findMissing(2, { keyId: keyId(1), version: 1 }), [{ keyId: keyId(1), version: 2 }, { keyId: keyId(2), version: 1 }]);
      for (const [k, v] of [[1, 1], [1, 2], [2, 1]] as const) await store.canaries.put(canary(keyId(k), v));
      assert.deepEqual(await store.canaries.findMissing(10), []);
    });
  });
}
