import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import { KeywardenError } from '../errors/catalog.js';
import { ManualClock } from '../util/clock.js';
import { SealService } from './seal.service.js';

function fresh(store = new SqliteStore(':memory:')) {
  return { store, seal: new SealService(store.seal, new ManualClock()) };
}

async function rejects(p: Promise<unknown> | (() => unknown), code: string, message: string | RegExp) {
  await assert.rejects(
    async () => (typeof p === 'function' ? p() : p),
    (e: unknown) => {
      assert.ok(e instanceof KeywardenError);
      assert.equal(e.code, code);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

function combinations<T>(xs: T[], k: number): T[][] {
  if (k === 0) return [[]];
  return xs.flatMap((x, i) => combinations(xs.slice(i + 1), k - 1).map((c) => [x, ...c]));
}

describe('SealService (shamir)', () => {
  test('every threshold-sized subset of shares unseals; the root key is the same each time', async () => {
    const { store, seal } = fresh();
    const shares = await seal.initShamir(5, 3);
    assert.equal(seal.sealed, true, 'init leaves Keywarden sealed');
    let rootHex: string | undefined;
    for (const subset of combinations(shares, 3)) {
      const s = new SealService(store.seal, new ManualClock());
      await s.load();
      for (const [i, share] of subset.entries()) {
        const st = await s.submitShare(share);
        assert.equal(st.sealed, i < 2);
      }
      const hex = s.rootKey().expose().toString('hex');
      rootHex ??= hex;
      assert.equal(hex, rootHex);
    }
  });

  test('a single share with threshold 1 works', async () => {
    const { seal } = fresh();
    const [share] = await seal.initShamir(1, 1);
    const st = await seal.submitShare(share as string);
    assert.equal(st.sealed, false);
  });

  test('share parameters are validated with clear messages', async () => {
    const { seal } = fresh();
    await rejects(seal.initShamir(0, 1), 'ValidationError', 'shares must be between 1 and 255');
    await rejects(seal.initShamir(256, 3), 'ValidationError', 'shares must be between 1 and 255');
    await rejects(seal.initShamir(3, 4), 'ValidationError', 'threshold must be between 1 and shares');
    await rejects(seal.initShamir(3, 1), 'ValidationError', 'threshold 1 is only allowed with a single share (every share would be the whole key)');
    assert.equal(seal.initialized, false, 'a refused init stores nothing');
  });

  test('shares of another Keywarden are refused and do not count', async () => {
    const a = fresh();
    const b = fresh();
    const sharesA = await a.seal.initShamir(3, 2);
    const sharesB = await b.seal.initShamir(3, 2);
    await rejects(a.seal.submitShare(sharesB[0] as string), 'InvalidShare', /not issued for this Keywarden/);
    assert.equal(a.seal.status().progress, 0);
    await a.seal.submitShare(sharesA[0] as string);
    await a.seal.submitShare(sharesA[2] as string);
    assert.equal(a.seal.sealed, false);
  });

  test('status survives a restart: a new service on the same store is initialized and sealed', async () => {
    const { store, seal } = fresh();
    const shares = await seal.initShamir(2, 2);
    const again = new SealService(store.seal, new ManualClock());
    await again.load();
    assert.deepEqual(again.status(), { initialized: true, sealed: true, sealType: 'shamir', threshold: 2, shares: 2, progress: 0 });
    await rejects(again.initShamir(2, 2), 'AlreadyInitialized', 'Keywarden is already initialized');
    await again.submitShare(shares[1] as string);
    await again.submitShare(shares[0] as string);
    assert.equal(again.sealed, false);
  });

  test('seal() zeroizes the root key and calls listeners; rootKey() then throws Sealed', async () => {
    const { seal } = fresh();
    const shares = await seal.initShamir(2, 2);
    for (const s of shares) await seal.submitShare(s);
    const key = seal.rootKey();
    const bytes = key.expose();
    let notified = 0;
    seal.onSeal(() => notified++);
    seal.seal();
    assert.equal(notified, 1);
    assert.ok(bytes.every((b) => b === 0));
    await rejects(() => seal.rootKey(), 'Sealed', /sealed/);
  });

  test('uninitialized: rootKey() throws NotInitialized, submitShare explains', async () => {
    const { seal } = fresh();
    await rejects(() => seal.rootKey(), 'NotInitialized', /not initialized/);
    await rejects(seal.submitShare('AAAA'), 'NotInitialized', /not initialized/);
  });
});

describe('SealService (dev)', () => {
  test('unseals with its key (directly or as a share), refuses another key', async () => {
    const { seal } = fresh();
    const key = Buffer.alloc(32, 7);
    await seal.initDev(key);
    await rejects(() => seal.unsealWithKey(Buffer.alloc(32, 8)), 'InvalidShare', 'the dev unseal key does not match this data directory');
    assert.equal(seal.sealed, true);
    seal.unsealWithKey(key);
    assert.equal(seal.sealed, false);
    seal.seal();
    await rejects(seal.submitShare(Buffer.alloc(32, 9).toString('base64')), 'InvalidShare', 'the dev unseal key does not match this data directory');
    const st = await seal.submitShare(key.toString('base64'));
    assert.equal(st.sealed, false, 'a sealed dev server unseals with its dev unseal key');
  });
});
