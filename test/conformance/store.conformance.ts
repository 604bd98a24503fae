/**
 * Backend-independent conformance suite for the Store interfaces (src/storage/store.ts).
 *
 * It talks ONLY to `Store` / `KeyStore` / `SealStore` / `TokenStore`, never to a driver, so every
 * backend (SQLite today, PostgreSQL in issue 9/10) registers it with its own `open()`:
 *
 *   runStoreConformance('SqliteStore', async () => ({ store, cleanup }));
 *
 * Every test gets a fresh, empty store from `open()` and calls `cleanup()` afterwards (which is
 * expected to close the store, so `close()` must be safe to call more than once).
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeywardenError } from '../../src/errors/catalog.js';
import { newKeyRecord, newKeyVersion, type KeyRecord, type KeyVersionRecord } from '../../src/keys/key.model.js';
import type { SealConfig } from '../../src/seal/seal.model.js';
import type { TokenRecord } from '../../src/auth/token.model.js';
import type { Store } from '../../src/storage/store.js';

export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
}

/** Every byte value 0x00..0xff, then `tail`: catches text encodings, NUL truncation, trimming. */
function allBytes(tail: number): Buffer {
  const b = Buffer.alloc(256 + 4);
  for (let i = 0; i < 256; i++) b[i] = i;
  b.writeUInt32BE(tail >>> 0, 256);
  return b;
}

/** Deterministic UUID-shaped key id (the real id format) whose lexical order follows `n`. */
export function keyId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

function makeKey(id: string, overrides: Partial<KeyRecord> = {}): KeyRecord {
  return newKeyRecord({
    id,
    description: `key ${id}`,
    spec: 'SYMMETRIC_DEFAULT',
    usage: 'ENCRYPT_DECRYPT',
    createdAt: 1_700_000_000_000,
    ...overrides,
  });
}

function makeVersion(keyId: string, overrides: Partial<KeyVersionRecord> = {}): KeyVersionRecord {
  return newKeyVersion({
    keyId,
    version: 1,
    createdAt: 1_700_000_000_000,
    wrappedMaterial: allBytes(parseInt(keyId.slice(-8), 16)),
    ...overrides,
  });
}

function makeSealConfig(overrides: Partial<SealConfig> = {}): SealConfig {
  return {
    type: 'shamir',
    shares: 5,
    threshold: 3,
    wrappedRootKey: allBytes(0xdeadbeef),
    shareDigests: ['d1'.repeat(32), 'a0'.repeat(32), 'ff'.repeat(32), '00'.repeat(32), '7e'.repeat(32)],
    shareCheckSalt: Buffer.from('00ff00ff10203040506070809000aabbccddeeff0102030405060708090a0b0c', 'hex'),
    createdAt: 1_700_000_123_456,
    ...overrides,
  };
}

function makeToken(n: number, overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    accessor: `acc-${n}`,
    hash: n.toString(16).padStart(64, '0'),
    kind: 'root',
    displayName: `token ${n}`,
    createdAt: 1_700_000_000_000 + n,
    ...overrides,
  };
}

/** Asserts a Buffer field is a real Buffer with exactly the expected bytes. */
function assertBytes(actual: unknown, expected: Buffer, what: string): void {
  assert.ok(Buffer.isBuffer(actual), `${what} must come back as a Buffer, got ${typeof actual}`);
  assert.equal(actual.length, expected.length, `${what} length`);
  assert.ok(actual.equals(expected), `${what} must be byte-exact`);
}

/** Rejects with KeywardenError carrying `code`. */
async function assertRejectsWithCode(p: Promise<unknown>, code: KeywardenError['code']): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof KeywardenError, `expected a KeywardenError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** Walks listKeys page by page with `after` cursors; returns the pages. */
async function allPages(
  store: Store,
  limit: number,
  start?: { createdAt: number; id: string },
  maxPages = 1000,
): Promise<KeyRecord[][]> {
  const pages: KeyRecord[][] = [];
  let after = start;
  for (let i = 0; i < maxPages; i++) {
    const page = await store.keys.listKeys({ limit, ...(after ? { after } : {}) });
    assert.ok(page.length <= limit, `a page must hold at most ${limit} keys, got ${page.length}`);
    if (page.length === 0) return pages;
    pages.push(page);
    const last = page[page.length - 1]!;
    after = { createdAt: last.createdAt, id: last.id };
  }
  assert.fail(`pagination did not terminate after ${maxPages} pages`);
}

function byCreatedAtThenId(a: KeyRecord, b: KeyRecord): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function runStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(name, () => {
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

    describe('store', () => {
      test('schemaVersion() is an integer >= 1', async () => {
        const v = await store.schemaVersion();
        assert.equal(typeof v, 'number');
        assert.ok(Number.isInteger(v), `schemaVersion must be an integer, got ${v}`);
        assert.ok(v >= 1, `schemaVersion must be >= 1, got ${v}`);
      });

      test('close() can be called more than once', async () => {
        await store.close();
        await store.close();
        // cleanup() closes once more.
      });
    });

    describe('seal config', () => {
      test('a fresh store has no seal config', async () => {
        assert.equal(await store.seal.getSealConfig(), undefined);
      });

      test('round-trips every field, Buffers byte-exact', async () => {
        const config = makeSealConfig();
        assert.equal(await store.seal.createSealConfig(config), true);
        const got = await store.seal.getSealConfig();
        assert.ok(got !== undefined);
        assert.deepEqual(got, config);
        assertBytes(got.wrappedRootKey, config.wrappedRootKey, 'wrappedRootKey');
        assertBytes(got.shareCheckSalt, config.shareCheckSalt, 'shareCheckSalt');
        assert.deepEqual(got.shareDigests, config.shareDigests, 'shareDigests keep their order');
      });

      test('round-trips a dev config with no share digests', async () => {
        const config = makeSealConfig({ type: 'dev', shares: 1, threshold: 1, shareDigests: [] });
        assert.equal(await store.seal.createSealConfig(config), true);
        assert.deepEqual(await store.seal.getSealConfig(), config);
      });

      test('is create-once: a second createSealConfig returns false and the first stays', async () => {
        const first = makeSealConfig();
        const second = makeSealConfig({
          type: 'dev',
          shares: 1,
          threshold: 1,
          wrappedRootKey: Buffer.from('another root key'),
          shareDigests: [],
          shareCheckSalt: Buffer.from('another salt'),
          createdAt: first.createdAt + 1,
        });
        assert.equal(await store.seal.createSealConfig(first), true);
        assert.equal(await store.seal.createSealConfig(second), false);
        // Even an identical config is not "created" twice.
        assert.equal(await store.seal.createSealConfig(first), false);
        const got = await store.seal.getSealConfig();
        assert.deepEqual(got, first);
      });

      test('concurrent createSealConfig calls: exactly one wins', async () => {
        const configs = [1, 2, 3, 4].map((n) => makeSealConfig({ createdAt: n, wrappedRootKey: Buffer.from([n]) }));
        const results = await Promise.all(configs.map((c) => store.seal.createSealConfig(c)));
        assert.equal(results.filter((r) => r).length, 1, `exactly one create must win, got ${JSON.stringify(results)}`);
        const winner = configs[results.indexOf(true)];
        assert.deepEqual(await store.seal.getSealConfig(), winner);
      });
    });

    describe('tokens', () => {
      test('an unknown hash gives undefined', async () => {
        assert.equal(await store.tokens.findTokenByHash('0'.repeat(64)), undefined);
        await store.tokens.putToken(makeToken(1));
        assert.equal(await store.tokens.findTokenByHash(makeToken(2).hash), undefined);
      });

      test('put then find by hash round-trips every field', async () => {
        const a = makeToken(1, { displayName: 'root — initial (ünïcödé)' });
        const b = makeToken(2);
        await store.tokens.putToken(a);
        await store.tokens.putToken(b);
        assert.deepEqual(await store.tokens.findTokenByHash(a.hash), a);
        assert.deepEqual(await store.tokens.findTokenByHash(b.hash), b);
      });

      test('the lookup is by the exact hash', async () => {
        const t = makeToken(0xabc);
        await store.tokens.putToken(t);
        assert.equal(await store.tokens.findTokenByHash(t.hash.toUpperCase()), undefined);
        assert.equal(await store.tokens.findTokenByHash(t.hash.slice(1)), undefined);
        assert.equal(await store.tokens.findTokenByHash(t.accessor), undefined, 'the accessor is not the hash');
      });

      test('putToken is idempotent: a duplicate hash is ignored and the first record stays', async () => {
        const t = makeToken(7);
        await store.tokens.putToken(t);
        await store.tokens.putToken(t);
        await store.tokens.putToken({ ...t, displayName: 'changed', createdAt: t.createdAt + 99 });
        assert.deepEqual(await store.tokens.findTokenByHash(t.hash), t);
      });
    });

    describe('keys', () => {
      test('createKey + getKey round-trip every field; aliases come back sorted', async () => {
        const id = keyId(0x1);
        const key = makeKey(id, {
          description: 'payments — EU (ünïcödé) "quoted" \'single\' \\ backslash',
          state: 'Enabled',
          createdAt: 1_700_000_000_001,
          updatedAt: 1_700_000_000_999,
          primaryVersion: 1,
          tags: { team: 'payments', env: 'prod', 'cost-center': '42', empty: '', 'ünï': 'cödé' },
          aliases: ['alias/zeta', 'alias/alpha', 'alias/Mid/dle_1-2'],
        });
        await store.keys.createKey(key, makeVersion(id));
        const got = await store.keys.getKey(id);
        assert.ok(got !== undefined);
        assert.deepEqual(got, { ...key, aliases: ['alias/Mid/dle_1-2', 'alias/alpha', 'alias/zeta'] });
      });

      test('a key with no tags and no aliases round-trips as {} and []', async () => {
        const id = keyId(0x2);
        const key = makeKey(id, { description: '' });
        await store.keys.createKey(key, makeVersion(id));
        assert.deepEqual(await store.keys.getKey(id), key);
      });

      test('the stored key does not follow later mutation of the caller\'s objects', async () => {
        const id = keyId(0x3);
        const key = makeKey(id, { tags: { a: '1' }, aliases: ['alias/a'] });
        const version = makeVersion(id);
        const expectedKey = structuredClone(key);
        const expectedMaterial = Buffer.from(version.wrappedMaterial);
        await store.keys.createKey(key, version);
        key.tags.a = 'changed';
        key.aliases.push('alias/b');
        key.description = 'changed';
        version.wrappedMaterial.fill(0);
        assert.deepEqual(await store.keys.getKey(id), expectedKey);
        assertBytes((await store.keys.getVersion(id, 1))?.wrappedMaterial, expectedMaterial, 'wrappedMaterial');
      });

      test('getVersion round-trips every field, wrappedMaterial byte-exact', async () => {
        const id = keyId(0x4);
        const version = makeVersion(id, { createdAt: 1_700_000_000_321, state: 'Enabled', wrappedMaterial: allBytes(0x01020304) });
        await store.keys.createKey(makeKey(id), version);
        const got = await store.keys.getVersion(id, 1);
        assert.ok(got !== undefined);
        assert.deepEqual(got, version);
        assertBytes(got.wrappedMaterial, version.wrappedMaterial, 'wrappedMaterial');
      });

      test('versions are kept per key', async () => {
        const a = keyId(0x5);
        const b = keyId(0x6);
        const va = makeVersion(a, { wrappedMaterial: Buffer.from('material of a') });
        const vb = makeVersion(b, { wrappedMaterial: Buffer.from('material of b') });
        await store.keys.createKey(makeKey(a), va);
        await store.keys.createKey(makeKey(b), vb);
        assert.deepEqual(await store.keys.getVersion(a, 1), va);
        assert.deepEqual(await store.keys.getVersion(b, 1), vb);
      });

      test('unknown key id / version gives undefined', async () => {
        const id = keyId(0x7);
        assert.equal(await store.keys.getKey(id), undefined);
        assert.equal(await store.keys.getVersion(id, 1), undefined);
        await store.keys.createKey(makeKey(id), makeVersion(id));
        assert.equal(await store.keys.getKey(keyId(0x8)), undefined);
        assert.equal(await store.keys.getVersion(keyId(0x8), 1), undefined);
        assert.equal(await store.keys.getVersion(id, 2), undefined);
        assert.equal(await store.keys.getVersion(id, 0), undefined);
      });

      test('resolveAlias maps every alias to its key; unknown aliases give undefined', async () => {
        const a = keyId(0x10);
        const b = keyId(0x11);
        await store.keys.createKey(makeKey(a, { aliases: ['alias/a1', 'alias/a2'] }), makeVersion(a));
        await store.keys.createKey(makeKey(b, { aliases: ['alias/b1'] }), makeVersion(b));
        assert.equal(await store.keys.resolveAlias('alias/a1'), a);
        assert.equal(await store.keys.resolveAlias('alias/a2'), a);
        assert.equal(await store.keys.resolveAlias('alias/b1'), b);
        assert.equal(await store.keys.resolveAlias('alias/unknown'), undefined);
        assert.equal(await store.keys.resolveAlias('alias/A1'), undefined, 'aliases are case-sensitive');
        assert.equal(await store.keys.resolveAlias(a), undefined, 'a key id is not an alias');
      });

      for (const [label, secondAliases] of [
        ['the conflicting alias listed last', ['alias/fresh-1', 'alias/fresh-2', 'alias/shared']],
        ['the conflicting alias listed first', ['alias/shared', 'alias/fresh-1', 'alias/fresh-2']],
      ] as const) {
        test(`alias conflict (${label}) rejects with AlreadyExists and leaves nothing of the second key`, async () => {
          const first = keyId(0x20);
          const second = keyId(0x21);
          const firstKey = makeKey(first, { aliases: ['alias/shared', 'alias/first-only'], createdAt: 10 });
          await store.keys.createKey(firstKey, makeVersion(first));

          await assertRejectsWithCode(
            store.keys.createKey(makeKey(second, { aliases: [...secondAliases], createdAt: 20 }), makeVersion(second)),
            'AlreadyExists',
          );

          // Nothing of the second key: no key, no version, none of its (fresh) aliases.
          assert.equal(await store.keys.getKey(second), undefined);
          assert.equal(await store.keys.getVersion(second, 1), undefined);
          assert.equal(await store.keys.resolveAlias('alias/fresh-1'), undefined);
          assert.equal(await store.keys.resolveAlias('alias/fresh-2'), undefined);
          // The first key is untouched.
          assert.equal(await store.keys.resolveAlias('alias/shared'), first);
          assert.deepEqual(await store.keys.getKey(first), { ...firstKey, aliases: ['alias/first-only', 'alias/shared'] });
          assert.deepEqual(
            (await store.keys.listKeys({ limit: 10 })).map((k) => k.id),
            [first],
          );
          // No leftovers block a retry of the same id and fresh aliases without the conflict.
          const retry = makeKey(second, { aliases: ['alias/fresh-1', 'alias/fresh-2'], createdAt: 20 });
          await store.keys.createKey(retry, makeVersion(second));
          assert.deepEqual(await store.keys.getKey(second), retry);
          assert.equal(await store.keys.resolveAlias('alias/fresh-1'), second);
        });
      }

      test('createKey with a version of another key rejects and stores nothing', async () => {
        const id = keyId(0x30);
        const other = keyId(0x31);
        // The other key does not exist.
        await assert.rejects(store.keys.createKey(makeKey(id, { aliases: ['alias/x'] }), makeVersion(other)));
        assert.equal(await store.keys.getKey(id), undefined);
        assert.equal(await store.keys.getKey(other), undefined);
        assert.equal(await store.keys.getVersion(id, 1), undefined);
        assert.equal(await store.keys.getVersion(other, 1), undefined);
        assert.equal(await store.keys.resolveAlias('alias/x'), undefined);
        assert.deepEqual(await store.keys.listKeys({ limit: 10 }), []);

        // The other key exists: the version must not be attached to it either.
        const existing = makeKey(other);
        await store.keys.createKey(existing, makeVersion(other));
        await assert.rejects(
          store.keys.createKey(makeKey(id, { aliases: ['alias/x'] }), makeVersion(other, { version: 2 })),
        );
        assert.equal(await store.keys.getKey(id), undefined);
        assert.equal(await store.keys.getVersion(id, 2), undefined);
        assert.equal(await store.keys.getVersion(other, 2), undefined, 'no version smuggled into another key');
        assert.equal(await store.keys.resolveAlias('alias/x'), undefined);
        assert.deepEqual(await store.keys.listKeys({ limit: 10 }), [existing]);
      });

      test('createKey with an id that already exists rejects and keeps the original', async () => {
        const id = keyId(0x40);
        const original = makeKey(id, { description: 'original', aliases: ['alias/original'] });
        const originalVersion = makeVersion(id, { wrappedMaterial: Buffer.from('original material') });
        await store.keys.createKey(original, originalVersion);
        await assert.rejects(
          store.keys.createKey(
            makeKey(id, { description: 'impostor', aliases: ['alias/impostor'] }),
            makeVersion(id, { wrappedMaterial: Buffer.from('impostor material') }),
          ),
        );
        assert.deepEqual(await store.keys.getKey(id), original);
        assert.deepEqual(await store.keys.getVersion(id, 1), originalVersion);
        assert.equal(await store.keys.resolveAlias('alias/impostor'), undefined);
      });

      test('listKeys on an empty store gives []', async () => {
        assert.deepEqual(await store.keys.listKeys({ limit: 10 }), []);
        assert.deepEqual(await store.keys.listKeys({ limit: 10, after: { createdAt: 0, id: '' } }), []);
      });

      describe('listKeys', () => {
        // createdAt values with ties; ids chosen so that id order differs from insertion order
        // and, inside a tie, from numeric-looking order.
        const specs: Array<[n: number, createdAt: number]> = [
          [0x50, 3000],
          [0x0f, 1000],
          [0xa0, 1000],
          [0x01, 2000],
          [0xff, 500],
          [0x10, 1000],
          [0x02, 3000],
          [0xfe, 2000],
          [0x03, 1000],
          [0x70, 4000],
          [0x100, 1000],
          [0x04, 500],
          [0x60, 3000],
        ];
        let expected: KeyRecord[];

        beforeEach(async () => {
          const created: KeyRecord[] = [];
          for (const [n, createdAt] of specs) {
            const id = keyId(n);
            const key = makeKey(id, {
              createdAt,
              updatedAt: createdAt + 1,
              tags: { n: String(n) },
              aliases: n % 2 === 0 ? [`alias/k${n}-b`, `alias/k${n}-a`] : [],
            });
            await store.keys.createKey(key, makeVersion(id, { createdAt }));
            created.push({ ...key, aliases: [...key.aliases].sort() });
          }
          expected = [...created].sort(byCreatedAtThenId);
        });

        test('orders by (createdAt, id) and returns full records', async () => {
          const got = await store.keys.listKeys({ limit: 1000 });
          assert.deepEqual(
            got.map((k) => [k.createdAt, k.id]),
            expected.map((k) => [k.createdAt, k.id]),
          );
          assert.deepEqual(got, expected);
        });

        test('respects limit', async () => {
          const got = await store.keys.listKeys({ limit: 4 });
          assert.deepEqual(got, expected.slice(0, 4));
          assert.deepEqual(await store.keys.listKeys({ limit: 1 }), expected.slice(0, 1));
        });

        for (const limit of [1, 2, 3, 5, specs.length - 1, specs.length, specs.length + 1]) {
          test(`pagination with after (limit ${limit}) covers every key exactly once, in order`, async () => {
            const pages = await allPages(store, limit);
            for (const page of pages.slice(0, -1)) {
              assert.equal(page.length, limit, 'every page but the last is full');
            }
            const ids = pages.flat().map((k) => k.id);
            assert.equal(new Set(ids).size, ids.length, 'no key may appear twice');
            assert.deepEqual(ids, expected.map((k) => k.id));
            assert.deepEqual(pages.flat(), expected);
            assert.equal(pages.length, Math.ceil(specs.length / limit));
          });
        }

        test('after is strict, including inside a createdAt tie', async () => {
          const tie = expected.filter((k) => k.createdAt === 1000);
          assert.ok(tie.length >= 3, 'fixture must contain a tie of at least 3 keys');
          const pivot = tie[1]!;
          const got = await store.keys.listKeys({ limit: 1000, after: { createdAt: pivot.createdAt, id: pivot.id } });
          const pivotIndex = expected.findIndex((k) => k.id === pivot.id);
          assert.deepEqual(got, expected.slice(pivotIndex + 1));
          assert.ok(!got.some((k) => k.id === pivot.id), 'the cursor key itself is excluded');
        });

        test('after need not be an existing key', async () => {
          // Between two createdAt values.
          const got = await store.keys.listKeys({ limit: 1000, after: { createdAt: 1500, id: keyId(0) } });
          assert.deepEqual(got, expected.filter((k) => k.createdAt >= 2000));
          // Inside a tie, with an id between existing ones (keyId(0x05) sorts between 0x04 and 0x0f).
          const mid = await store.keys.listKeys({ limit: 1000, after: { createdAt: 1000, id: keyId(0x05) } });
          assert.deepEqual(
            mid,
            expected.filter((k) => k.createdAt > 1000 || (k.createdAt === 1000 && k.id > keyId(0x05))),
          );
          // Before everything and after everything.
          assert.deepEqual(await store.keys.listKeys({ limit: 1000, after: { createdAt: 0, id: '' } }), expected);
          const last = expected[expected.length - 1]!;
          assert.deepEqual(await store.keys.listKeys({ limit: 1000, after: { createdAt: last.createdAt, id: last.id } }), []);
        });

        test('a key created during pagination with a later createdAt is still reached', async () => {
          const first = await store.keys.listKeys({ limit: 3 });
          const lastSeen = first[first.length - 1]!;
          const late = makeKey(keyId(0x999), { createdAt: 9000, updatedAt: 9000 });
          await store.keys.createKey(late, makeVersion(late.id));
          const rest = (await allPages(store, 3, { createdAt: lastSeen.createdAt, id: lastSeen.id })).flat();
          assert.deepEqual(
            [...first, ...rest].map((k) => k.id),
            [...expected, late].map((k) => k.id),
          );
        });
      });
    });
  });
}
