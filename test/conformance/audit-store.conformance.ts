/**
 * Backend-independent conformance suite for AuditStore (src/audit/audit.store.ts): one-transaction
 * batches numbered from the current size, exact bytes back, ordered checkpoints, write-once keys,
 * and no way to update or delete through the interface. Talks ONLY to AuditStore:
 *
 *   runAuditStoreConformance('SqliteAuditStore', async () => ({ audit, cleanup }));
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AuditKeyRecord, AuditRow, AuditStore, CheckpointRecord } from '../../src/audit/audit.store.js';
import { buildEvent, decodeLeaf, encodeLeaf, type AuditEvent } from '../../src/audit/event.js';

export interface OpenedAuditStore {
  audit: AuditStore;
  cleanup(): Promise<void>;
}

/** Event `tag`: non-ASCII text and every control character, to catch text-encoding slips. */
const ev = (tag: string): AuditEvent =>
  buildEvent(
    { requestId: tag, principal: { id: 'p', name: 'Zoë\u0000\u001f"\\', kind: 'user' }, authMethod: 'session', operation: 'key:encrypt', outcome: 'allow', details: { n: 1 } },
    1_767_225_600_000,
    undefined,
  );
const evs = (tag: string, n: number) => Array.from({ length: n }, (_, i) => ev(`${tag}-${i}`));
const H = (data: Buffer) => createHash('sha256').update(Buffer.from([0])).update(data).digest();
/** The row event `e` must become at `index`. */
function row(e: AuditEvent, index: number): AuditRow {
  const data = encodeLeaf(e, index);
  return { index, data, leafHash: H(data) };
}

function checkpoint(size: number, time = 1_767_225_600_000 + size): CheckpointRecord {
  return { size, rootHash: Buffer.alloc(32, size), time, keyId: 'k1', signature: Buffer.alloc(64, 0xee) };
}

const key = (id: string, publicKey: Buffer | null): AuditKeyRecord => ({ keyId: id, wrappedKey: Buffer.from(`wrapped-${id}`), publicKey, createdAt: 1 });

export function runAuditStoreConformance(name: string, open: () => Promise<OpenedAuditStore>): void {
  describe(`AuditStore conformance: ${name}`, () => {
    let s: AuditStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ audit: s, cleanup } = await open());
    });
    afterEach(() => cleanup());

    test('an empty ledger', async () => {
      assert.equal(await s.size(), 0);
      assert.deepEqual(await s.read(0, 10), []);
      assert.deepEqual(await s.leafHashes(0, 10), []);
      assert.equal(await s.latestCheckpoint(), undefined);
      assert.deepEqual(await s.listCheckpoints(), []);
      assert.equal(await s.getSigningKey(), undefined);
      assert.equal(await s.getHmacKey(), undefined);
    });

    test('append numbers each batch from the current size and stores the canonical leaf and its hash', async () => {
      const sent: AuditEvent[] = [];
      const firsts: number[] = [];
      for (const n of [3, 1, 0, 4]) {
        const batch = evs(`b${firsts.length}`, n);
        const r = await s.append(batch);
        firsts.push(r.first);
        assert.deepEqual(r.leafHashes, batch.map((e, i) => H(encodeLeaf(e, r.first + i))));
        sent.push(...batch);
      }
      assert.deepEqual(firsts, [0, 3, 4, 4]);
      assert.equal(await s.size(), 8);
      const expected = sent.map(row);
      assert.deepEqual(await s.read(0, 8), expected);
      assert.deepEqual(await s.read(2, 5), expected.slice(2, 5));
      assert.deepEqual(await s.read(7, 100), expected.slice(7));
      assert.deepEqual(await s.leafHashes(1, 4), expected.slice(1, 4).map((r) => r.leafHash));
      assert.deepEqual(decodeLeaf(expected[5]!.data), { ...sent[5], seq: 5 });
    });

    test('a batch is one transaction: one event that cannot be stored fails the batch, and nothing of it is written', async () => {
      await s.append(evs('ok', 2));
      const bad = { ...ev('bad'), keyVersion: 1.5 };
      await assert.rejects(s.append([ev('x0'), ev('x1'), bad, ev('x3')]));
      assert.equal(await s.size(), 2);
      assert.deepEqual((await s.read(0, 10)).map((r) => decodeLeaf(r.data).requestId), ['ok-0', 'ok-1']);
      assert.equal((await s.append(evs('after', 1))).first, 2);
    });

    test('concurrent appends never share an index; each batch is contiguous', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, b) => s.append(evs(`c${b}`, 2))));
      assert.deepEqual(results.map((r) => r.first).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => 2 * i));
      const stored = await s.read(0, 100);
      assert.equal(stored.length, 40);
      for (const [b, r] of results.entries()) {
        assert.deepEqual([r.first, r.first + 1].map((i) => decodeLeaf(stored[i]!.data).requestId), [`c${b}-0`, `c${b}-1`]);
      }
    });

    test('checkpoints are kept in order; a smaller size than a stored one is refused', async () => {
      await s.putCheckpoint(checkpoint(0));
      await s.putCheckpoint(checkpoint(5));
      await s.putCheckpoint(checkpoint(5, 99));
      await s.putCheckpoint(checkpoint(9));
      await assert.rejects(s.putCheckpoint(checkpoint(8)));
      assert.deepEqual(await s.latestCheckpoint(), checkpoint(9));
      assert.deepEqual(await s.listCheckpoints(), [checkpoint(0), checkpoint(5), checkpoint(5, 99), checkpoint(9)]);
    });

    test('keys are write-once: the first writer wins, signing and HMAC keys apart', async () => {
      const spki = Buffer.from('spki');
      assert.deepEqual(await s.putSigningKeyIfAbsent(key('a', spki)), key('a', spki));
      assert.deepEqual(await s.putSigningKeyIfAbsent(key('b', Buffer.from('other'))), key('a', spki));
      assert.deepEqual(await s.getSigningKey(), key('a', spki));
      assert.equal(await s.getHmacKey(), undefined);
      const both = await Promise.all([s.putHmacKeyIfAbsent(key('h1', null)), s.putHmacKeyIfAbsent(key('h2', null))]);
      assert.deepEqual(both[0], both[1]);
      assert.deepEqual(await s.getHmacKey(), both[0]);
      assert.equal(both[0].publicKey, null);
    });

    test('the interface has no way to update or delete', () => {
      const names = new Set<string>();
      for (let o: object | null = s; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
        for (const n of Object.getOwnPropertyNames(o)) names.add(n);
      }
      const writers = [...names].filter((n) => /update|delete|remove|truncate|clear|replace|^set|drop|purge|overwrite/i.test(n));
      assert.deepEqual(writers, []);
    });
  });
}
