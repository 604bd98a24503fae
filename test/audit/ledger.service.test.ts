/**
 * LedgerService over a real SQLite store, a real (dev) seal and a ManualClock: group commit,
 * fail-closed appends, checkpoint triggers and signatures, keys under the root key, proofs
 * verified with the RFC 9162 verifiers, and resuming after a restart.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { barrierUnwrap } from '../../src/crypto/aead.js';
import { publicSpkiOf } from '../../src/crypto/primitives/asymmetric.js';
import { KeywardenError } from '../../src/errors/catalog.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ManualClock } from '../../src/util/clock.js';
import type { AuditStore } from '../../src/audit/audit.store.js';
import { checkpointKeyId, verifyCheckpoint, type Checkpoint } from '../../src/audit/checkpoint.js';
import { decodeLeaf, type AuditEventInput } from '../../src/audit/event.js';
import { LedgerService, type LedgerOptions } from '../../src/audit/ledger.service.js';
import { EMPTY_ROOT, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { openUnsealedStore } from '../support/unsealed-store.js';

const ev = (i: number, extra: Partial<AuditEventInput> = {}): AuditEventInput => ({
  requestId: `req-${i}`,
  principal: { id: 'sa-1', name: 'svc', kind: 'service-account' },
  authMethod: 'access-token',
  operation: 'key:encrypt',
  outcome: 'allow',
  ...extra,
});

/** Independent RFC 9162 MTH over leaf data. */
const H = (...b: Buffer[]) => createHash('sha256').update(Buffer.concat(b)).digest();
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return H();
  if (d.length === 1) return H(Buffer.from([0]), d[0]!);
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return H(Buffer.from([1]), mth(d.slice(0, k)), mth(d.slice(k)));
}

/** Delegates every AuditStore method; `over` replaces some (a counting or failing store). */
function wrap(s: AuditStore, over: Partial<AuditStore> = {}): AuditStore {
  return {
    append: (e) => s.append(e),
    read: (a, b) => s.read(a, b),
    leafHashes: (a, b) => s.leafHashes(a, b),
    size: () => s.size(),
    putCheckpoint: (c) => s.putCheckpoint(c),
    latestCheckpoint: () => s.latestCheckpoint(),
    listCheckpoints: () => s.listCheckpoints(),
    getSigningKey: () => s.getSigningKey(),
    putSigningKeyIfAbsent: (k) => s.putSigningKeyIfAbsent(k),
    getHmacKey: () => s.getHmacKey(),
    putHmacKeyIfAbsent: (k) => s.putHmacKeyIfAbsent(k),
    ...over,
  };
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(opts: LedgerOptions = {}, wrapStore?: (s: AuditStore) => AuditStore) {
  const dir = mkdtempSync(join(tmpdir(), 'keywarden-ledger-'));
  const path = join(dir, 'keywarden.db');
  const { store, seal, clock, devKey } = await openUnsealedStore(path);
  const audit = wrapStore ? wrapStore(store.audit) : store.audit;
  const ledger = new LedgerService({ store: audit, seal, clock }, opts);
  cleanups.push(async () => {
    await ledger.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, store, clock, seal, ledger, devKey };
}

describe('appending', () => {
  test('indexes are consecutive; a promise resolves only when its row is committed (seen by another connection)', async () => {
    const { path, ledger } = await setup();
    const other = new SqliteStore(path);
    cleanups.push(() => other.close());
    for (let i = 0; i < 3; i++) {
      const { index } = await ledger.append(ev(i));
      assert.equal(index, i);
      const [row] = await other.audit.read(index, index + 1);
      assert.ok(row, `row ${index} is visible to a second connection on resolve`);
      const leaf = decodeLeaf(row.data);
      assert.equal(leaf.seq, i);
      assert.equal(leaf.requestId, `req-${i}`);
      assert.deepEqual(row.leafHash, H(Buffer.from([0]), row.data));
    }
  });

  test('group commit: 200 concurrent appends take far fewer transactions, with distinct consecutive indexes', async () => {
    let transactions = 0;
    const { ledger, store } = await setup({}, (s) => wrap(s, { append: (e) => (transactions++, s.append(e)) }));
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => ledger.append(ev(i))));
    const indexes = results.map((r) => r.index).sort((a, b) => a - b);
    assert.deepEqual(indexes, Array.from({ length: 200 }, (_, i) => i));
    assert.ok(transactions <= 2, `${transactions} transactions for 200 events`);
    assert.equal(ledger.stats().transactions, transactions);
    assert.equal(await store.audit.size(), 200);
    // Each caller got the index of ITS event.
    const rows = await store.audit.read(0, 200);
    for (const [i, r] of results.entries()) assert.equal(decodeLeaf(rows[r.index]!.data).requestId, `req-${i}`);
  });

  test('batches are capped at maxBatch; events arriving during a write join the next batch', async () => {
    let transactions = 0;
    const { ledger } = await setup({ maxBatch: 50 }, (s) => wrap(s, { append: (e) => (transactions++, s.append(e)) }));
    const first = Array.from({ length: 120 }, (_, i) => ledger.append(ev(i)));
    await turns(1);
    const late = Array.from({ length: 30 }, (_, i) => ledger.append(ev(120 + i)));
    const all = await Promise.all([...first, ...late]);
    assert.deepEqual(all.map((r) => r.index).sort((a, b) => a - b), Array.from({ length: 150 }, (_, i) => i));
    assert.ok(transactions >= 3 && transactions <= 5, `${transactions} transactions`);
  });

  test('fail closed: when the store cannot write, EVERY waiting caller is rejected; later appends work again', async () => {
    let broken = true;
    const { ledger, store } = await setup({}, (s) =>
      wrap(s, {
        append: (e) => {
          if (broken) return Promise.reject(new Error('disk I/O error'));
          return s.append(e);
        },
      }),
    );
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => ledger.append(ev(i))));
    assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 50);
    for (const o of outcomes) {
      const e = (o as PromiseRejectedResult).reason as KeywardenError;
      assert.ok(e instanceof KeywardenError && e.code === 'Internal', String(e));
      assert.doesNotMatch(e.message, /disk/);
    }
    assert.equal(ledger.stats().failedBatches, 1);
    assert.equal(await store.audit.size(), 0);
    broken = false;
    assert.deepEqual(await ledger.append(ev(0)), { index: 0 });
  });

  test('an event that cannot be encoded fails alone; the rest of its batch is written without a gap', async () => {
    const { ledger, store } = await setup();
    const outcomes = await Promise.allSettled([ledger.append(ev(0)), ledger.append(ev(1, { requestId: 'bad-\ud800' })), ledger.append(ev(2))]);
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual((outcomes[2] as PromiseFulfilledResult<{ index: number }>).value, { index: 1 });
    assert.equal(await store.audit.size(), 2);
    await assert.rejects(ledger.append(ev(3, { details: { n: 0.5 } })), (e: unknown) => e instanceof KeywardenError && e.code === 'Internal');
  });
});

describe('sensitive values and keys', () => {
  test('context values and token ids are HMACed with a key stored wrapped under the root key', async () => {
    const { ledger, store, seal } = await setup();
    await ledger.append(ev(0, { encryptionContext: { tenant: 'acme' }, tokenId: 'jti_abc' }));
    const leaf = decodeLeaf((await store.audit.read(0, 1))[0]!.data);
    assert.equal(leaf.context.tenant, await ledger.hmacOf('context', 'acme'));
    assert.equal(leaf.tokenId, await ledger.hmacOf('token', 'jti_abc'));
    assert.match(leaf.tokenId!, /^[0-9a-f]{64}$/);
    const rec = (await store.audit.getHmacKey())!;
    const key = barrierUnwrap(seal.rootKey(), `audit-hmac-key:${rec.keyId}`, rec.wrappedKey);
    assert.equal(key?.length, 32);
    assert.equal(barrierUnwrap(seal.rootKey(), 'audit-hmac-key:other', rec.wrappedKey), undefined, 'the purpose binds the blob');
  });

  test('while sealed: events are still recorded (values as null), checkpoints and HMACs refuse; unseal restores the same keys', async () => {
    const { ledger, store, seal, devKey } = await setup();
    await ledger.append(ev(0, { encryptionContext: { tenant: 'acme' } }));
    const before = await ledger.checkpoint();
    const digest = await ledger.hmacOf('context', 'acme');
    seal.seal();
    const { index } = await ledger.append(ev(1, { outcome: 'deny', errorCode: 'Sealed', encryptionContext: { tenant: 'acme' }, tokenId: 't' }));
    const leaf = decodeLeaf((await store.audit.read(index, index + 1))[0]!.data);
    assert.deepEqual([leaf.context, leaf.tokenId], [{ tenant: null }, null]);
    const sealed = (e: unknown) => e instanceof KeywardenError && e.code === 'Sealed';
    await assert.rejects(ledger.checkpoint(), sealed);
    await assert.rejects(ledger.hmacOf('context', 'acme'), sealed);
    seal.unsealWithKey(devKey);
    assert.equal(await ledger.hmacOf('context', 'acme'), digest);
    const after = await ledger.checkpoint();
    assert.equal(after.keyId, before.keyId);
    assert.equal(after.size, 2);
  });

  test('the checkpoint signing key: Ed25519, wrapped under the root key, public key and id exposed', async () => {
    const { ledger, store, seal } = await setup();
    const { keyId, publicKey } = await ledger.checkpointPublicKey();
    assert.equal(keyId, checkpointKeyId(publicKey));
    const rec = (await store.audit.getSigningKey())!;
    const pkcs8 = barrierUnwrap(seal.rootKey(), `audit-checkpoint-key:${keyId}`, rec.wrappedKey)!;
    assert.deepEqual(publicSpkiOf(pkcs8), publicKey);
    assert.ok(!rec.wrappedKey.includes(pkcs8.subarray(pkcs8.length - 32)), 'the private key is not stored in the clear');
  });
});

describe('checkpoints', () => {
  async function checkAll(ledger: LedgerService, store: SqliteStore, cps: Checkpoint[]) {
    const { publicKey } = await ledger.checkpointPublicKey();
    const data = (await store.audit.read(0, await store.audit.size())).map((r) => r.data);
    for (const c of cps) {
      assert.ok(verifyCheckpoint(c, publicKey), `checkpoint ${c.size} verifies`);
      assert.deepEqual(c.rootHash, mth(data.slice(0, c.size)), `checkpoint ${c.size} has the RFC 9162 root`);
    }
  }

  test('issued every N events, handed to listeners, stored in order', async () => {
    const { ledger, store } = await setup({ checkpointEvery: 5 });
    const seen: Checkpoint[] = [];
    ledger.onCheckpoint((c) => seen.push(c));
    for (let i = 0; i < 4; i++) await ledger.append(ev(i));
    await turns();
    assert.equal(seen.length, 0, 'no checkpoint before N events');
    for (let i = 4; i < 12; i++) await ledger.append(ev(i));
    await ledger.close();
    assert.ok(seen.length >= 2, `${seen.map((c) => c.size)} checkpoints`);
    assert.ok(seen[0]!.size >= 5 && seen[0]!.size <= 10, `first at ${seen[0]!.size}`);
    assert.ok(seen.every((c, i) => i === 0 || c.size - seen[i - 1]!.size >= 5));
    assert.deepEqual(await store.audit.listCheckpoints(), seen);
    await checkAll(ledger, store, seen);
  });

  test('issued after T ms when there are new events (tick), never for an idle ledger', async () => {
    const { ledger, store, clock } = await setup({ checkpointIntervalMs: 10_000 });
    for (let i = 0; i < 3; i++) await ledger.append(ev(i));
    ledger.tick();
    await turns();
    assert.equal(await store.audit.latestCheckpoint(), undefined);
    clock.advance(10_000);
    ledger.tick();
    await ledger.close();
    const c = await ledger.latestCheckpoint();
    assert.equal(c?.size, 3);
    assert.equal(c?.time, clock.now());
    clock.advance(60_000);
    ledger.tick();
    await ledger.close();
    assert.equal((await store.audit.listCheckpoints()).length, 1, 'no new events, no new checkpoint');
    await checkAll(ledger, store, [c!]);
  });

  test('checkpoint() forces one, also of the empty ledger; failures of listeners do not reach appenders', async () => {
    const errors: unknown[] = [];
    const { ledger, store } = await setup({ onError: (e) => errors.push(e) });
    ledger.onCheckpoint(() => {
      throw new Error('listener bug');
    });
    const empty = await ledger.checkpoint();
    assert.deepEqual([empty.size, empty.rootHash], [0, EMPTY_ROOT]);
    await ledger.append(ev(0));
    const one = await ledger.checkpoint();
    assert.equal(one.size, 1);
    assert.equal(errors.length, 2);
    await checkAll(ledger, store, [empty, one]);
  });

  test('a restarted ledger resumes: next index, latest checkpoint, same key', async () => {
    const { ledger, store, seal, clock } = await setup();
    for (let i = 0; i < 4; i++) await ledger.append(ev(i));
    const c = await ledger.checkpoint();
    await ledger.close();
    const again = new LedgerService({ store: store.audit, seal, clock });
    assert.deepEqual(await again.latestCheckpoint(), c);
    assert.deepEqual(await again.append(ev(4)), { index: 4 });
    const c2 = await again.checkpoint();
    assert.equal(c2.keyId, c.keyId);
    await checkAll(again, store, [c, c2]);
    await again.close();
  });
});

describe('proofs', () => {
  test('inclusion and consistency proofs for every size verify with the RFC 9162 algorithms', async () => {
    const { ledger, store } = await setup();
    const N = 13;
    for (let i = 0; i < N; i++) await ledger.append(ev(i));
    const data = (await store.audit.read(0, N)).map((r) => r.data);
    for (let n = 1; n <= N; n++) {
      const root = mth(data.slice(0, n));
      for (let m = 0; m < n; m++) {
        const p = await ledger.inclusionProof(m, n);
        assert.deepEqual([p.index, p.size], [m, n]);
        assert.deepEqual(p.rootHash, root);
        assert.deepEqual(p.leafHash, H(Buffer.from([0]), data[m]!));
        assert.ok(verifyInclusion(m, n, p.leafHash, p.path, root), `inclusion ${m} in ${n}`);
      }
      for (let m = 0; m <= n; m++) {
        const c = await ledger.consistencyProof(m, n);
        assert.deepEqual(c.fromRoot, mth(data.slice(0, m)));
        assert.ok(verifyConsistency(m, n, c.fromRoot, c.toRoot, c.proof), `consistency ${m} -> ${n}`);
      }
    }
  });

  test('default proof size is the latest checkpoint covering the event; bad arguments are refused', async () => {
    const { ledger } = await setup();
    for (let i = 0; i < 8; i++) await ledger.append(ev(i));
    const c = await ledger.checkpoint();
    for (let i = 8; i < 13; i++) await ledger.append(ev(i));
    const covered = await ledger.inclusionProof(3);
    assert.equal(covered.size, 8);
    assert.ok(verifyInclusion(3, 8, covered.leafHash, covered.path, c.rootHash), 'verifies against the signed checkpoint');
    assert.equal((await ledger.inclusionProof(10)).size, 13);
    const code = (c: string) => (e: unknown) => e instanceof KeywardenError && e.code === c;
    await assert.rejects(ledger.inclusionProof(13), code('NotFound'));
    await assert.rejects(ledger.inclusionProof(-1), code('ValidationError'));
    await assert.rejects(ledger.inclusionProof(1.5), code('ValidationError'));
    await assert.rejects(ledger.inclusionProof(3, 3), code('ValidationError'));
    await assert.rejects(ledger.inclusionProof(3, 14), code('ValidationError'));
    await assert.rejects(ledger.consistencyProof(5, 4), code('ValidationError'));
    await assert.rejects(ledger.consistencyProof(1, 14), code('ValidationError'));
  });
});
