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
import {
  newKeyRecord,
  newKeyVersion,
  type DueKind,
  type ImportTokenRecord,
  type KeyRecord,
  type KeyVersionRecord,
  type UsageDelta,
} from '../../src/keys/key.model.js';
import type { SealConfig } from '../../src/seal/seal.model.js';
import type { TokenRecord } from '../../src/auth/token.model.js';
import type { Store } from '../../src/storage/store.js';
import type { PolicyVersion } from '../../src/policy/policy.model.js';

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

    describe('key lifecycle', () => {
      /** Distinct, binary-unsafe material per (key, version). */
      const material = (id: string, version: number): Buffer => Buffer.concat([allBytes(version), Buffer.from(`${id}/v${version}`)]);
      const versionOf = (id: string, version: number, overrides: Partial<KeyVersionRecord> = {}): KeyVersionRecord =>
        makeVersion(id, { version, createdAt: 1_700_000_000_000 + version, wrappedMaterial: material(id, version), ...overrides });
      /** A key with `n` versions (v1..vn), primary vn. */
      async function keyWithVersions(id: string, n: number, overrides: Partial<KeyRecord> = {}): Promise<{ key: KeyRecord; versions: KeyVersionRecord[] }> {
        const versions = Array.from({ length: n }, (_, i) => versionOf(id, i + 1));
        const key = makeKey(id, { primaryVersion: n, ...overrides });
        await store.keys.createKey({ ...key, primaryVersion: 1 }, versions[0]);
        for (const v of versions.slice(1)) await store.keys.applyChange({ newVersion: v });
        if (n !== 1) await store.keys.applyChange({ key });
        return { key, versions };
      }
      /** The stored key, with lastUsedAt as derived from its versions. */
      async function mustGetKey(id: string): Promise<KeyRecord> {
        const k = await store.keys.getKey(id);
        assert.ok(k !== undefined, `key ${id} must exist`);
        return k;
      }

      describe('createKey and the lifecycle fields', () => {
        test('createKey(key, undefined) stores an EXTERNAL key without versions (primaryVersion 0)', async () => {
          const id = keyId(0x100);
          const key = makeKey(id, {
            origin: 'EXTERNAL',
            state: 'PendingImport',
            primaryVersion: 0,
            minDecryptionVersion: 0,
            aliases: ['alias/external'],
          });
          await store.keys.createKey(key, undefined);
          assert.deepEqual(await store.keys.getKey(id), key);
          assert.deepEqual(await store.keys.listVersions(id), []);
          assert.equal(await store.keys.getVersion(id, 0), undefined);
          assert.equal(await store.keys.getVersion(id, 1), undefined);
          assert.equal(await store.keys.resolveAlias('alias/external'), id);
          assert.deepEqual(await store.keys.listKeys({ limit: 10 }), [key]);

          // Importing the first material later is an ordinary change.
          const v1 = versionOf(id, 1);
          const imported: KeyRecord = { ...key, state: 'Enabled', primaryVersion: 1, minDecryptionVersion: 1, materialExpiresAt: 1_800_000_000_000 };
          await store.keys.applyChange({ key: imported, newVersion: v1 });
          assert.deepEqual(await store.keys.getKey(id), imported);
          assert.deepEqual(await store.keys.listVersions(id), [v1]);
        });

        test('every lifecycle field round-trips with non-default values (getKey and listKeys)', async () => {
          const a = keyId(0x101);
          const b = keyId(0x102);
          const keyA = makeKey(a, {
            state: 'Compromised',
            origin: 'EXTERNAL',
            exportable: true,
            createdAt: 1_700_000_000_001,
            updatedAt: 1_700_000_000_002,
            primaryVersion: 7,
            minDecryptionVersion: 3,
            rotationPeriodMs: 90 * 86_400_000,
            nextRotationAt: 1_707_776_000_001,
            usageLimit: 2 ** 40 + 3, // beyond 32 bits
            deletionAt: 1_710_000_000_003,
            destroyedAt: 1_710_000_000_004,
            compromisedAt: 1_699_999_999_999,
            revocationReason: 'compromised',
            materialExpiresAt: 1_720_000_000_005,
          });
          const keyB = makeKey(b, {
            state: 'Disabled',
            createdAt: 1_700_000_000_003,
            exportable: false,
            revocationReason: 'superseded',
            usageLimit: 1,
            rotationPeriodMs: 86_400_000,
            nextRotationAt: 1_700_086_400_003,
          });
          await store.keys.createKey(keyA, versionOf(a, 1));
          await store.keys.createKey(keyB, versionOf(b, 1));
          assert.deepEqual(await store.keys.getKey(a), keyA);
          assert.deepEqual(await store.keys.getKey(b), keyB);
          assert.equal((await mustGetKey(a)).exportable, true, 'exportable is a boolean, not 1');
          assert.equal((await mustGetKey(b)).exportable, false, 'exportable is a boolean, not 0');
          assert.deepEqual(await store.keys.listKeys({ limit: 10 }), [keyA, keyB]);
        });

        test('lastUsedAt is derived from the versions, not stored from the record', async () => {
          const id = keyId(0x103);
          // A lastUsedAt on the record passed in is not what the store reports.
          const key = makeKey(id, { lastUsedAt: 1_777_777_777_777 });
          await store.keys.createKey(key, versionOf(id, 1));
          assert.equal((await mustGetKey(id)).lastUsedAt, null, 'no version was used');
          await store.keys.applyChange({ newVersion: versionOf(id, 2) });
          await store.keys.applyChange({ key: { ...key, primaryVersion: 2, lastUsedAt: 1_888_888_888_888 } });
          assert.equal((await mustGetKey(id)).lastUsedAt, null, 'still no version was used');

          await store.keys.addUsage([{ keyId: id, version: 2, count: 1, lastUsedAt: 1_700_000_000_300 }]);
          await store.keys.addUsage([{ keyId: id, version: 1, count: 1, lastUsedAt: 1_700_000_000_500 }]);
          assert.equal((await mustGetKey(id)).lastUsedAt, 1_700_000_000_500, 'the max over the versions');
          assert.equal((await store.keys.listKeys({ limit: 10 }))[0]?.lastUsedAt, 1_700_000_000_500, 'listKeys derives it too');
          // A key update carrying a stale lastUsedAt does not overwrite it.
          await store.keys.applyChange({ key: { ...key, primaryVersion: 2, lastUsedAt: null, updatedAt: key.updatedAt + 1 } });
          assert.equal((await mustGetKey(id)).lastUsedAt, 1_700_000_000_500);
        });

        test('a first version created with usage keeps it and drives lastUsedAt', async () => {
          const id = keyId(0x104);
          const v1 = versionOf(id, 1, { usageCount: 12, lastUsedAt: 1_700_000_000_444 });
          await store.keys.createKey(makeKey(id), v1);
          assert.deepEqual(await store.keys.getVersion(id, 1), v1);
          assert.equal((await mustGetKey(id)).lastUsedAt, 1_700_000_000_444);
        });
      });

      describe('applyChange', () => {
        test('a key-only update writes every mutable field and leaves versions alone', async () => {
          const id = keyId(0x110);
          const { key, versions } = await keyWithVersions(id, 2, { tags: { a: '1' }, aliases: [] });
          const updated: KeyRecord = {
            ...key,
            description: 'updated',
            state: 'PendingDeletion',
            exportable: true,
            updatedAt: key.updatedAt + 1000,
            primaryVersion: 1,
            minDecryptionVersion: 2,
            rotationPeriodMs: 3_600_000,
            nextRotationAt: 1_700_003_600_000,
            usageLimit: 1000,
            deletionAt: 1_700_600_000_000,
            destroyedAt: 1_700_700_000_000,
            compromisedAt: 1_700_000_000_050,
            revocationReason: 'superseded',
            materialExpiresAt: 1_700_800_000_000,
            tags: { b: '2', c: '' },
          };
          await store.keys.applyChange({ key: updated });
          assert.deepEqual(await store.keys.getKey(id), updated);
          assert.deepEqual(await store.keys.listVersions(id), versions);

          // And back: every nullable field cleared, booleans and numbers reset.
          const cleared: KeyRecord = { ...key, updatedAt: key.updatedAt + 2000 };
          await store.keys.applyChange({ key: cleared });
          assert.deepEqual(await store.keys.getKey(id), cleared);
          assert.deepEqual(await store.keys.listVersions(id), versions);
        });

        test('expectedUpdatedAt: a change built from a stale read is refused and changes nothing; a fresh one is written', async () => {
          const id = keyId(0x113);
          const { key, versions } = await keyWithVersions(id, 1, { aliases: [] });
          const disabled: KeyRecord = { ...key, state: 'Disabled', updatedAt: key.updatedAt + 1 };
          await store.keys.applyChange({ key: disabled, expectedUpdatedAt: key.updatedAt });
          // Another writer still holding the Enabled record it read before the disable.
          const stale: KeyRecord = { ...key, description: 'stale edit', updatedAt: key.updatedAt + 1 };
          await assert.rejects(
            store.keys.applyChange({ key: stale, expectedUpdatedAt: key.updatedAt, newVersion: versionOf(id, 2) }),
            (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'InvalidState' && e.message.includes('changed by another request or node'),
          );
          assert.deepEqual(await store.keys.getKey(id), disabled, 'the disable stands');
          assert.deepEqual(await store.keys.listVersions(id), versions, 'nothing of the refused change was written');
          const edited: KeyRecord = { ...disabled, description: 'fresh edit', updatedAt: disabled.updatedAt + 1 };
          await store.keys.applyChange({ key: edited, expectedUpdatedAt: disabled.updatedAt });
          assert.deepEqual(await store.keys.getKey(id), edited);
        });

        test('a key update keeps the key\'s aliases', async () => {
          const id = keyId(0x111);
          const key = makeKey(id, { aliases: ['alias/kept-b', 'alias/kept-a'] });
          await store.keys.createKey(key, versionOf(id, 1));
          const updated = { ...key, aliases: ['alias/kept-a', 'alias/kept-b'], description: 'changed', updatedAt: key.updatedAt + 1 };
          await store.keys.applyChange({ key: updated });
          assert.deepEqual(await store.keys.getKey(id), updated);
          assert.equal(await store.keys.resolveAlias('alias/kept-a'), id);
        });

        test('a new version and the switch of the primary are written together', async () => {
          const id = keyId(0x112);
          const v1 = versionOf(id, 1);
          const key = makeKey(id);
          await store.keys.createKey(key, v1);
          const v2 = versionOf(id, 2, { createdAt: 1_700_000_100_000 });
          const rotated: KeyRecord = { ...key, primaryVersion: 2, updatedAt: 1_700_000_100_000, nextRotationAt: 1_700_100_000_000 };
          await store.keys.applyChange({ key: rotated, newVersion: v2 });
          assert.deepEqual(await store.keys.getKey(id), rotated);
          assert.deepEqual(await store.keys.getVersion(id, 2), v2);
          assertBytes((await store.keys.getVersion(id, 2))?.wrappedMaterial, v2.wrappedMaterial, 'v2 wrappedMaterial');
          assert.deepEqual(await store.keys.getVersion(id, 1), v1, 'the old version is untouched');
          assert.deepEqual(await store.keys.listVersions(id), [v1, v2]);
        });

        test('version updates: state, wrappedMaterial, publicKey and destroyedAt; with or without a key', async () => {
          const id = keyId(0x113);
          const { key, versions } = await keyWithVersions(id, 3);
          const [v1, v2, v3] = versions as [KeyVersionRecord, KeyVersionRecord, KeyVersionRecord];
          const v1Disabled: KeyVersionRecord = { ...v1, state: 'Disabled' };
          const v2Rewrapped: KeyVersionRecord = { ...v2, wrappedMaterial: Buffer.from('re-wrapped under a new root key'), publicKey: allBytes(0x5151) };
          const touched: KeyRecord = { ...key, updatedAt: key.updatedAt + 5 };
          await store.keys.applyChange({ key: touched, versions: [v1Disabled, v2Rewrapped] });
          assert.deepEqual(await store.keys.getKey(id), touched);
          assert.deepEqual(await store.keys.listVersions(id), [v1Disabled, v2Rewrapped, v3]);
          assertBytes((await store.keys.getVersion(id, 2))?.wrappedMaterial, v2Rewrapped.wrappedMaterial, 'rewrapped material');

          // Versions only, no key in the change.
          const v1Enabled: KeyVersionRecord = { ...v1, state: 'Enabled' };
          await store.keys.applyChange({ versions: [v1Enabled] });
          assert.deepEqual(await store.keys.listVersions(id), [v1Enabled, v2Rewrapped, v3]);
          assert.deepEqual(await store.keys.getKey(id), touched);
        });

        test('a destroyed version (Destroyed, empty wrappedMaterial, destroyedAt) round-trips; others stay intact', async () => {
          const id = keyId(0x114);
          const { key, versions } = await keyWithVersions(id, 2);
          const [v1, v2] = versions as [KeyVersionRecord, KeyVersionRecord];
          const destroyedV1: KeyVersionRecord = { ...v1, state: 'Destroyed', wrappedMaterial: Buffer.alloc(0), destroyedAt: 1_700_000_200_000 };
          const next: KeyRecord = { ...key, minDecryptionVersion: 2, updatedAt: 1_700_000_200_000 };
          await store.keys.applyChange({ key: next, versions: [destroyedV1] });
          const got = await store.keys.getVersion(id, 1);
          assert.deepEqual(got, destroyedV1);
          assertBytes(got?.wrappedMaterial, Buffer.alloc(0), 'destroyed wrappedMaterial');
          assert.equal(got?.destroyedAt, 1_700_000_200_000);
          assert.deepEqual(await store.keys.getVersion(id, 2), v2);
          assertBytes((await store.keys.getVersion(id, 2))?.wrappedMaterial, v2.wrappedMaterial, 'surviving wrappedMaterial');
          assert.deepEqual(await store.keys.getKey(id), next);
          assert.deepEqual(await store.keys.listVersions(id), [destroyedV1, v2]);

          // Destroying the whole key: every version destroyed with the key row in one change.
          const destroyedV2: KeyVersionRecord = { ...v2, state: 'Destroyed', wrappedMaterial: Buffer.alloc(0), destroyedAt: 1_700_000_300_000 };
          const destroyedKey: KeyRecord = { ...next, state: 'Destroyed', destroyedAt: 1_700_000_300_000, updatedAt: 1_700_000_300_000 };
          await store.keys.applyChange({ key: destroyedKey, versions: [destroyedV2] });
          assert.deepEqual(await store.keys.getKey(id), destroyedKey);
          assert.deepEqual(await store.keys.listVersions(id), [destroyedV1, destroyedV2]);
        });

        for (const missingFirst of [false, true]) {
          test(`atomicity: an update of a missing version (${missingFirst ? 'listed first' : 'listed last'}) rejects NotFound and writes nothing`, async () => {
            const id = keyId(0x115);
            const { key, versions } = await keyWithVersions(id, 1, { aliases: ['alias/atomic'] });
            const v1 = versions[0]!;
            const before = await mustGetKey(id);
            const missing = versionOf(id, 9, { state: 'Disabled' });
            const v1Disabled: KeyVersionRecord = { ...v1, state: 'Disabled' };
            await assertRejectsWithCode(
              store.keys.applyChange({
                key: { ...key, primaryVersion: 2, description: 'must not be written', updatedAt: key.updatedAt + 1, nextRotationAt: 5 },
                newVersion: versionOf(id, 2),
                versions: missingFirst ? [missing, v1Disabled] : [v1Disabled, missing],
              }),
              'NotFound',
            );
            assert.deepEqual(await store.keys.getKey(id), before, 'the key row is unchanged');
            assert.equal(await store.keys.getVersion(id, 2), undefined, 'the new version is not written');
            assert.equal(await store.keys.getVersion(id, 9), undefined, 'the missing version is not created');
            assert.deepEqual(await store.keys.listVersions(id), [v1], 'the other version update is rolled back');
            assert.deepEqual(await store.keys.findDue('rotation', 10, 10), []);

            // Nothing was left half-written: the same change without the bad version goes through.
            const rotated: KeyRecord = { ...key, primaryVersion: 2, updatedAt: key.updatedAt + 1 };
            await store.keys.applyChange({ key: rotated, newVersion: versionOf(id, 2), versions: [v1Disabled] });
            assert.deepEqual(await store.keys.getKey(id), rotated);
            assert.deepEqual(await store.keys.listVersions(id), [v1Disabled, versionOf(id, 2)]);
          });
        }

        test('a versions-only update of a missing version rejects NotFound', async () => {
          const id = keyId(0x116);
          await keyWithVersions(id, 1);
          await assertRejectsWithCode(store.keys.applyChange({ versions: [versionOf(id, 2)] }), 'NotFound');
          await assertRejectsWithCode(store.keys.applyChange({ versions: [versionOf(keyId(0x1ff), 1)] }), 'NotFound');
          assert.deepEqual(await store.keys.listVersions(id), [versionOf(id, 1)]);
          assert.deepEqual(await store.keys.listVersions(keyId(0x1ff)), []);
        });

        test('an update of a missing key rejects NotFound and creates nothing', async () => {
          const existing = keyId(0x117);
          const missing = keyId(0x118);
          await keyWithVersions(existing, 1);
          await assertRejectsWithCode(store.keys.applyChange({ key: makeKey(missing) }), 'NotFound');
          await assertRejectsWithCode(
            store.keys.applyChange({ key: makeKey(missing, { primaryVersion: 1 }), newVersion: versionOf(missing, 1) }),
            'NotFound',
          );
          assert.equal(await store.keys.getKey(missing), undefined);
          assert.equal(await store.keys.getVersion(missing, 1), undefined);
          assert.deepEqual((await store.keys.listKeys({ limit: 10 })).map((k) => k.id), [existing]);
        });
      });

      describe('versions', () => {
        test('listVersions orders by version number, per key; unknown key gives []', async () => {
          const id = keyId(0x120);
          const other = keyId(0x121);
          await store.keys.createKey(makeKey(id), versionOf(id, 1));
          await store.keys.createKey(makeKey(other), versionOf(other, 1));
          // Inserted out of order, with 10 (which sorts before 2 as text).
          for (const n of [10, 3, 2, 11, 9]) await store.keys.applyChange({ newVersion: versionOf(id, n) });
          await store.keys.applyChange({ newVersion: versionOf(other, 2) });
          const got = await store.keys.listVersions(id);
          assert.deepEqual(got.map((v) => v.version), [1, 2, 3, 9, 10, 11]);
          assert.deepEqual(got, [1, 2, 3, 9, 10, 11].map((n) => versionOf(id, n)));
          assert.deepEqual(await store.keys.listVersions(other), [versionOf(other, 1), versionOf(other, 2)]);
          assert.deepEqual(await store.keys.listVersions(keyId(0x122)), []);
        });

        test('getVersion round-trips publicKey, usageCount, lastUsedAt and destroyedAt', async () => {
          const id = keyId(0x123);
          const publicKey = Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), allBytes(0x04)]);
          const v1 = versionOf(id, 1, { publicKey, usageCount: 2 ** 33, lastUsedAt: 1_700_000_000_777 });
          await store.keys.createKey(makeKey(id, { spec: 'ECC_NIST_P256', usage: 'SIGN_VERIFY' }), v1);
          const v2 = versionOf(id, 2, { publicKey: allBytes(0x22), state: 'Destroyed', wrappedMaterial: Buffer.alloc(0), destroyedAt: 1_700_000_000_888, usageCount: 3, lastUsedAt: 1_700_000_000_001 });
          await store.keys.applyChange({ newVersion: v2 });
          const got1 = await store.keys.getVersion(id, 1);
          assert.deepEqual(got1, v1);
          assertBytes(got1?.publicKey, publicKey, 'publicKey');
          const got2 = await store.keys.getVersion(id, 2);
          assert.deepEqual(got2, v2);
          assertBytes(got2?.publicKey, allBytes(0x22), 'publicKey of a destroyed version');
          // A symmetric version has no public key: null, not an empty Buffer.
          const sym = keyId(0x124);
          await store.keys.createKey(makeKey(sym), versionOf(sym, 1));
          assert.equal((await store.keys.getVersion(sym, 1))?.publicKey, null);
          assert.equal((await store.keys.getVersion(sym, 1))?.usageCount, 0);
          assert.equal((await store.keys.getVersion(sym, 1))?.lastUsedAt, null);
          assert.equal((await store.keys.getVersion(sym, 1))?.destroyedAt, null);
        });
      });

      describe('aliases', () => {
        const A = keyId(0x130);
        const B = keyId(0x131);
        let keyA: KeyRecord;
        let keyB: KeyRecord;

        beforeEach(async () => {
          keyA = makeKey(A, { aliases: ['alias/a-original'] });
          keyB = makeKey(B, { spec: 'SYMMETRIC_DEFAULT' });
          await store.keys.createKey(keyA, versionOf(A, 1));
          await store.keys.createKey(keyB, versionOf(B, 1));
        });

        test('createAlias adds an alias that resolves and shows in getKey().aliases and listAliases', async () => {
          await store.keys.createAlias('alias/a-new', A, 1_700_000_000_010);
          await store.keys.createAlias('alias/b-new', B, 1_700_000_000_011);
          assert.equal(await store.keys.resolveAlias('alias/a-new'), A);
          assert.equal(await store.keys.resolveAlias('alias/b-new'), B);
          assert.deepEqual((await mustGetKey(A)).aliases, ['alias/a-new', 'alias/a-original']);
          assert.deepEqual((await mustGetKey(B)).aliases, ['alias/b-new']);
          assert.deepEqual(await store.keys.listAliases(), [
            { alias: 'alias/a-new', keyId: A },
            { alias: 'alias/a-original', keyId: A },
            { alias: 'alias/b-new', keyId: B },
          ]);
        });

        test('createAlias of an alias in use rejects AlreadyExists and keeps the original target', async () => {
          await assertRejectsWithCode(store.keys.createAlias('alias/a-original', B, 1), 'AlreadyExists');
          await assertRejectsWithCode(store.keys.createAlias('alias/a-original', A, 1), 'AlreadyExists');
          assert.equal(await store.keys.resolveAlias('alias/a-original'), A);
          assert.deepEqual((await mustGetKey(B)).aliases, []);
          assert.deepEqual(await store.keys.listAliases(), [{ alias: 'alias/a-original', keyId: A }]);
        });

        test('createAlias for an unknown key rejects NotFound and creates nothing', async () => {
          await assertRejectsWithCode(store.keys.createAlias('alias/orphan', keyId(0x1ff), 1), 'NotFound');
          assert.equal(await store.keys.resolveAlias('alias/orphan'), undefined);
          assert.deepEqual(await store.keys.listAliases(), [{ alias: 'alias/a-original', keyId: A }]);
        });

        test('updateAlias retargets an alias; both keys reflect it', async () => {
          await store.keys.updateAlias('alias/a-original', B);
          assert.equal(await store.keys.resolveAlias('alias/a-original'), B);
          assert.deepEqual((await mustGetKey(A)).aliases, []);
          assert.deepEqual((await mustGetKey(B)).aliases, ['alias/a-original']);
          assert.deepEqual(await store.keys.listAliases(), [{ alias: 'alias/a-original', keyId: B }]);
          // Pointing it at the key it already targets is fine.
          await store.keys.updateAlias('alias/a-original', B);
          assert.equal(await store.keys.resolveAlias('alias/a-original'), B);
        });

        test('updateAlias of an unknown alias rejects NotFound and does not create it', async () => {
          await assertRejectsWithCode(store.keys.updateAlias('alias/unknown', B), 'NotFound');
          assert.equal(await store.keys.resolveAlias('alias/unknown'), undefined);
          assert.deepEqual((await mustGetKey(B)).aliases, []);
          assert.deepEqual(await store.keys.listAliases(), [{ alias: 'alias/a-original', keyId: A }]);
        });

        test('updateAlias to an unknown key rejects NotFound and keeps the target', async () => {
          await assertRejectsWithCode(store.keys.updateAlias('alias/a-original', keyId(0x1ff)), 'NotFound');
          assert.equal(await store.keys.resolveAlias('alias/a-original'), A);
          assert.deepEqual((await mustGetKey(A)).aliases, ['alias/a-original']);
        });

        test('deleteAlias removes the alias; unknown or already deleted aliases reject NotFound', async () => {
          await store.keys.createAlias('alias/a-second', A, 1);
          await store.keys.deleteAlias('alias/a-original');
          assert.equal(await store.keys.resolveAlias('alias/a-original'), undefined);
          assert.deepEqual((await mustGetKey(A)).aliases, ['alias/a-second']);
          assert.deepEqual(await store.keys.listAliases(), [{ alias: 'alias/a-second', keyId: A }]);
          await assertRejectsWithCode(store.keys.deleteAlias('alias/a-original'), 'NotFound');
          await assertRejectsWithCode(store.keys.deleteAlias('alias/never-existed'), 'NotFound');
          assert.deepEqual((await mustGetKey(A)).aliases, ['alias/a-second']);
          // The key itself is untouched, and the name is free again.
          assert.deepEqual(await store.keys.getVersion(A, 1), versionOf(A, 1));
          await store.keys.createAlias('alias/a-original', B, 2);
          assert.equal(await store.keys.resolveAlias('alias/a-original'), B);
        });

        test('listAliases is sorted by alias (code-point order) across keys', async () => {
          // Inserted out of order; includes case and punctuation that collation-aware orders reorder.
          const wanted: Array<[string, string]> = [
            ['alias/b', B],
            ['alias/Z', A],
            ['alias/a_b', B],
            ['alias/a/b', A],
            ['alias/a-b', B],
            ['alias/A', A],
            ['alias/a', B],
            ['alias/a0', A],
          ];
          for (const [alias, id] of wanted) await store.keys.createAlias(alias, id, 1);
          const expected = [...wanted, ['alias/a-original', A] as [string, string]]
            .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
            .map(([alias, keyId]) => ({ alias, keyId }));
          assert.deepEqual(await store.keys.listAliases(), expected);
          assert.deepEqual((await mustGetKey(A)).aliases, expected.filter((e) => e.keyId === A).map((e) => e.alias));
        });

        test('listAliases on a store without aliases gives []', async () => {
          await store.keys.deleteAlias('alias/a-original');
          assert.deepEqual(await store.keys.listAliases(), []);
        });
      });

      describe('addUsage', () => {
        const id = keyId(0x140);
        const other = keyId(0x141);
        let versions: KeyVersionRecord[];

        beforeEach(async () => {
          ({ versions } = await keyWithVersions(id, 2));
          await store.keys.createKey(makeKey(other), versionOf(other, 1));
        });

        const usage = async (keyIdValue: string, version: number) => {
          const v = await store.keys.getVersion(keyIdValue, version);
          assert.ok(v !== undefined);
          return { usageCount: v.usageCount, lastUsedAt: v.lastUsedAt };
        };

        test('counts add up across calls; lastUsedAt keeps the max', async () => {
          await store.keys.addUsage([{ keyId: id, version: 1, count: 3, lastUsedAt: 1_700_000_000_100 }]);
          assert.deepEqual(await usage(id, 1), { usageCount: 3, lastUsedAt: 1_700_000_000_100 });
          await store.keys.addUsage([{ keyId: id, version: 1, count: 4, lastUsedAt: 1_700_000_000_200 }]);
          assert.deepEqual(await usage(id, 1), { usageCount: 7, lastUsedAt: 1_700_000_000_200 });
          // An older delta (flushed late) adds its count but does not move lastUsedAt back.
          await store.keys.addUsage([{ keyId: id, version: 1, count: 1, lastUsedAt: 1_700_000_000_050 }]);
          assert.deepEqual(await usage(id, 1), { usageCount: 8, lastUsedAt: 1_700_000_000_200 });
          // Large counts stay exact.
          await store.keys.addUsage([{ keyId: id, version: 1, count: 2 ** 40, lastUsedAt: 1_700_000_000_150 }]);
          assert.deepEqual(await usage(id, 1), { usageCount: 2 ** 40 + 8, lastUsedAt: 1_700_000_000_200 });
          assert.equal((await mustGetKey(id)).lastUsedAt, 1_700_000_000_200);
          // Nothing else of the version changed.
          assert.deepEqual(await store.keys.getVersion(id, 1), { ...versions[0]!, usageCount: 2 ** 40 + 8, lastUsedAt: 1_700_000_000_200 });
          assert.deepEqual(await store.keys.getVersion(id, 2), versions[1]);
        });

        test('an empty list is a no-op', async () => {
          await store.keys.addUsage([{ keyId: id, version: 2, count: 5, lastUsedAt: 1_700_000_000_100 }]);
          const keyBefore = await mustGetKey(id);
          const versionsBefore = await store.keys.listVersions(id);
          await store.keys.addUsage([]);
          assert.deepEqual(await store.keys.getKey(id), keyBefore);
          assert.deepEqual(await store.keys.listVersions(id), versionsBefore);
          assert.deepEqual(await store.keys.listVersions(other), [versionOf(other, 1)]);
        });

        test('deltas for several versions and keys in one call, including repeats', async () => {
          await store.keys.addUsage([
            { keyId: id, version: 1, count: 2, lastUsedAt: 1_700_000_000_010 },
            { keyId: id, version: 2, count: 5, lastUsedAt: 1_700_000_000_030 },
            { keyId: other, version: 1, count: 7, lastUsedAt: 1_700_000_000_070 },
            { keyId: id, version: 1, count: 1, lastUsedAt: 1_700_000_000_020 },
            { keyId: id, version: 2, count: 1, lastUsedAt: 1_700_000_000_005 },
          ]);
          assert.deepEqual(await usage(id, 1), { usageCount: 3, lastUsedAt: 1_700_000_000_020 });
          assert.deepEqual(await usage(id, 2), { usageCount: 6, lastUsedAt: 1_700_000_000_030 });
          assert.deepEqual(await usage(other, 1), { usageCount: 7, lastUsedAt: 1_700_000_000_070 });
          assert.equal((await mustGetKey(id)).lastUsedAt, 1_700_000_000_030);
          assert.equal((await mustGetKey(other)).lastUsedAt, 1_700_000_000_070);
        });

        test('usage survives a later version update built from an older read', async () => {
          // The service reads a version, usage is flushed meanwhile, then it writes the version back.
          const stale = await store.keys.getVersion(id, 1);
          assert.ok(stale !== undefined);
          await store.keys.addUsage([{ keyId: id, version: 1, count: 9, lastUsedAt: 1_700_000_000_900 }]);
          await store.keys.applyChange({ versions: [{ ...stale, state: 'Disabled' }] });
          assert.deepEqual(await usage(id, 1), { usageCount: 9, lastUsedAt: 1_700_000_000_900 });
          assert.equal((await store.keys.getVersion(id, 1))?.state, 'Disabled');
        });
      });

      const DUE_FIELD = {
        rotation: 'nextRotationAt',
        deletion: 'deletionAt',
        'material-expiry': 'materialExpiresAt',
      } as const satisfies Record<DueKind, keyof KeyRecord>;

      for (const [kind, field] of Object.entries(DUE_FIELD) as Array<[DueKind, (typeof DUE_FIELD)[DueKind]]>) {
        describe(`findDue('${kind}') on ${field}`, () => {
          const NOW = 1_700_000_500_000;
          const otherFields = Object.values(DUE_FIELD).filter((f) => f !== field);
          // [n, time]: ids in an order unrelated to time order.
          const dueSpecs: Array<[number, number | null]> = [
            [0x150, NOW - 10], // due
            [0x151, null], // never
            [0x152, NOW + 1], // future
            [0x153, NOW - 400_000], // due, oldest
            [0x154, NOW], // due exactly now
            [0x155, NOW + 3_600_000], // future
            [0x156, NOW - 20_000], // due
          ];
          let byId: Map<string, KeyRecord>;

          beforeEach(async () => {
            byId = new Map();
            for (const [n, time] of dueSpecs) {
              const id = keyId(n);
              const key = makeKey(id, { [field]: time, createdAt: 1_700_000_000_000 + n, aliases: [`alias/due-${n}`] });
              await store.keys.createKey(key, versionOf(id, 1));
              byId.set(id, key);
            }
            // Due for every OTHER kind, never for this one.
            const decoy = keyId(0x15f);
            const decoyKey = makeKey(decoy, Object.fromEntries(otherFields.map((f) => [f, NOW - 500_000])));
            await store.keys.createKey(decoyKey, versionOf(decoy, 1));
          });

          const expectedDue = () =>
            dueSpecs
              .filter(([, t]) => t !== null && t <= NOW)
              .sort(([, a], [, b]) => a! - b!)
              .map(([n]) => keyId(n));

          test('returns the keys due at or before now, oldest first, as full records', async () => {
            const got = await store.keys.findDue(kind, NOW, 100);
            assert.deepEqual(got.map((k) => k.id), expectedDue());
            assert.deepEqual(got, expectedDue().map((id) => byId.get(id)));
            assert.deepEqual(got.map((k) => k[field]), [NOW - 400_000, NOW - 20_000, NOW - 10, NOW]);
          });

          test('respects limit, keeping the oldest', async () => {
            assert.deepEqual((await store.keys.findDue(kind, NOW, 2)).map((k) => k.id), expectedDue().slice(0, 2));
            assert.deepEqual((await store.keys.findDue(kind, NOW, 1)).map((k) => k.id), expectedDue().slice(0, 1));
          });

          test('excludes null and future times; moves with now', async () => {
            assert.deepEqual(await store.keys.findDue(kind, NOW - 400_001, 100), []);
            assert.deepEqual((await store.keys.findDue(kind, NOW - 400_000, 100)).map((k) => k.id), [keyId(0x153)]);
            assert.deepEqual(
              (await store.keys.findDue(kind, NOW + 1, 100)).map((k) => k.id),
              [...expectedDue(), keyId(0x152)],
            );
            const everything = (await store.keys.findDue(kind, Number.MAX_SAFE_INTEGER, 100)).map((k) => k.id);
            assert.ok(!everything.includes(keyId(0x151)), 'a null time is never due');
            assert.ok(!everything.includes(keyId(0x15f)), 'other kinds\' times do not count');
            assert.equal(everything.length, 6);
          });

          test('a key whose time is cleared or moved by applyChange is no longer due', async () => {
            const oldest = byId.get(keyId(0x153))!;
            const soon = byId.get(keyId(0x154))!;
            await store.keys.applyChange({ key: { ...oldest, [field]: null } });
            await store.keys.applyChange({ key: { ...soon, [field]: NOW + 60_000 } });
            assert.deepEqual(
              (await store.keys.findDue(kind, NOW, 100)).map((k) => k.id),
              expectedDue().filter((id) => id !== oldest.id && id !== soon.id),
            );
          });

          test('derives lastUsedAt on the returned records', async () => {
            await store.keys.addUsage([{ keyId: keyId(0x156), version: 1, count: 1, lastUsedAt: 1_700_000_000_123 }]);
            const got = await store.keys.findDue(kind, NOW, 100);
            assert.equal(got.find((k) => k.id === keyId(0x156))?.lastUsedAt, 1_700_000_000_123);
          });
        });
      }

      describe('findUnused', () => {
        const CUTOFF = 1_700_000_100_000;
        const id = (n: number) => keyId(0x160 + n);
        // [label, n, key overrides, per-version lastUsedAt (null = never used)]
        const specs: Array<[string, number, Partial<KeyRecord>, Array<number | null>, boolean]> = [
          ['never used, created before the cutoff', 0, { createdAt: CUTOFF - 50_000 }, [null], true],
          ['never used, created exactly at the cutoff', 1, { createdAt: CUTOFF }, [null], false],
          ['never used, created after the cutoff', 2, { createdAt: CUTOFF + 1 }, [null], false],
          ['last used just before the cutoff', 3, { createdAt: CUTOFF - 90_000 }, [CUTOFF - 1], true],
          ['used exactly at the cutoff', 4, { createdAt: CUTOFF - 90_000 }, [CUTOFF], false],
          ['used after the cutoff', 5, { createdAt: CUTOFF - 90_000 }, [CUTOFF + 5_000], false],
          ['an old version used before, a newer one after the cutoff', 6, { createdAt: CUTOFF - 90_000 }, [CUTOFF - 80_000, CUTOFF + 1], false],
          ['one version used long ago, another never', 7, { createdAt: CUTOFF - 90_000 }, [null, CUTOFF - 80_000], true],
          ['has an alias', 8, { createdAt: CUTOFF - 90_000, aliases: ['alias/in-use'] }, [null], false],
          ['PendingDeletion', 9, { createdAt: CUTOFF - 90_000, state: 'PendingDeletion', deletionAt: CUTOFF + 1 }, [null], false],
          ['Destroyed', 10, { createdAt: CUTOFF - 90_000, state: 'Destroyed', destroyedAt: CUTOFF - 10 }, [CUTOFF - 80_000], false],
          ['Disabled, unused', 11, { createdAt: CUTOFF - 90_000, state: 'Disabled' }, [CUTOFF - 70_000], true],
          ['Compromised, unused', 12, { createdAt: CUTOFF - 90_000, state: 'Compromised', compromisedAt: CUTOFF - 1 }, [null], true],
        ];

        beforeEach(async () => {
          for (const [, n, overrides, uses] of specs) {
            const kid = id(n);
            await keyWithVersions(kid, uses.length, overrides);
            const deltas: UsageDelta[] = uses.flatMap((t, i) => (t === null ? [] : [{ keyId: kid, version: i + 1, count: 1, lastUsedAt: t }]));
            await store.keys.addUsage(deltas);
          }
          // An EXTERNAL key still waiting for material, never used, created long ago.
          await store.keys.createKey(makeKey(id(13), { createdAt: CUTOFF - 90_000, origin: 'EXTERNAL', state: 'PendingImport', primaryVersion: 0 }), undefined);
        });

        const expected = () => [...specs.filter((s) => s[4]).map((s) => id(s[1])), id(13)].sort();

        test('includes exactly the unused, alias-free, not-deleted keys', async () => {
          const got = await store.keys.findUnused(CUTOFF, 1000);
          const ids = got.map((k) => k.id);
          assert.equal(new Set(ids).size, ids.length, 'no key twice');
          for (const [label, n, , , included] of specs) {
            assert.equal(ids.includes(id(n)), included, `${label}: ${included ? 'included' : 'excluded'}`);
          }
          assert.deepEqual([...ids].sort(), expected());
        });

        test('returns full records, with the derived lastUsedAt', async () => {
          const got = await store.keys.findUnused(CUTOFF, 1000);
          for (const k of got) assert.deepEqual(k, await mustGetKey(k.id));
          assert.equal(got.find((k) => k.id === id(3))?.lastUsedAt, CUTOFF - 1);
          assert.equal(got.find((k) => k.id === id(0))?.lastUsedAt, null);
        });

        test('respects limit', async () => {
          const all = (await store.keys.findUnused(CUTOFF, 1000)).map((k) => k.id);
          const two = (await store.keys.findUnused(CUTOFF, 2)).map((k) => k.id);
          assert.equal(two.length, 2);
          for (const k of two) assert.ok(all.includes(k));
        });

        test('aliases added or removed later count', async () => {
          await store.keys.createAlias('alias/now-used', id(0), 1);
          await store.keys.deleteAlias('alias/in-use');
          const ids = (await store.keys.findUnused(CUTOFF, 1000)).map((k) => k.id);
          assert.ok(!ids.includes(id(0)), 'a key that got an alias is excluded');
          assert.ok(ids.includes(id(8)), 'a key that lost its only alias is included');
        });

        test('a later use moves a key out; an earlier cutoff excludes more', async () => {
          await store.keys.addUsage([{ keyId: id(3), version: 1, count: 1, lastUsedAt: CUTOFF + 10 }]);
          let ids = (await store.keys.findUnused(CUTOFF, 1000)).map((k) => k.id);
          assert.ok(!ids.includes(id(3)));
          ids = (await store.keys.findUnused(CUTOFF - 75_000, 1000)).map((k) => k.id);
          // Only keys created/used before CUTOFF - 75_000: id(0) was created at CUTOFF - 50_000.
          assert.ok(!ids.includes(id(0)));
          assert.ok(ids.includes(id(7)), 'last used at CUTOFF - 80_000');
          assert.ok(!ids.includes(id(11)), 'last used at CUTOFF - 70_000');
        });
      });

      describe('import tokens', () => {
        const kid = keyId(0x170);
        const token = (n: number, overrides: Partial<ImportTokenRecord> = {}): ImportTokenRecord => ({
          id: `00000000-0000-4000-9000-${n.toString(16).padStart(12, '0')}`,
          keyId: kid,
          wrappedPrivateKey: Buffer.concat([allBytes(n), Buffer.alloc(2400, n)]),
          publicKey: Buffer.concat([Buffer.from('30820222300d06092a864886f70d01010105000382020f00', 'hex'), allBytes(n + 1)]),
          wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
          createdAt: 1_700_000_000_000 + n,
          expiresAt: 1_700_086_400_000 + n,
          ...overrides,
        });

        beforeEach(async () => {
          await store.keys.createKey(makeKey(kid, { origin: 'EXTERNAL', state: 'PendingImport', primaryVersion: 0 }), undefined);
        });

        test('take returns every field once, then undefined', async () => {
          const t = token(1, { wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
          await store.keys.putImportToken(t);
          const got = await store.keys.takeImportToken(t.id);
          assert.deepEqual(got, t);
          assertBytes(got?.wrappedPrivateKey, t.wrappedPrivateKey, 'wrappedPrivateKey');
          assertBytes(got?.publicKey, t.publicKey, 'publicKey');
          assert.equal(got?.wrappingAlgorithm, 'RSA_AES_KEY_WRAP_SHA_256');
          assert.equal(await store.keys.takeImportToken(t.id), undefined, 'single use');
        });

        test('tokens are independent; unknown ids give undefined', async () => {
          const a = token(2);
          const b = token(3, { wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
          await store.keys.putImportToken(a);
          await store.keys.putImportToken(b);
          assert.equal(await store.keys.takeImportToken(token(4).id), undefined);
          assert.equal(await store.keys.takeImportToken(a.id.slice(0, -1)), undefined, 'exact id only');
          assert.equal(await store.keys.takeImportToken(kid), undefined, 'a key id is not a token id');
          assert.deepEqual(await store.keys.takeImportToken(b.id), b);
          assert.deepEqual(await store.keys.takeImportToken(a.id), a);
          assert.equal(await store.keys.takeImportToken(a.id), undefined);
          assert.equal(await store.keys.takeImportToken(b.id), undefined);
        });

        test('concurrent takes: exactly one gets the token', async () => {
          const t = token(5);
          await store.keys.putImportToken(t);
          const results = await Promise.all([1, 2, 3, 4].map(() => store.keys.takeImportToken(t.id)));
          assert.equal(results.filter((r) => r !== undefined).length, 1, 'a token is used at most once');
          assert.deepEqual(results.find((r) => r !== undefined), t);
        });
      });
    });

    describe('policy scope of keys and principals', () => {
      test('classification, environment and protection round-trip, change with applyChange and filter listKeys', async () => {
        const a = makeKey(keyId(1), { classification: 'restricted', environment: 'prod', protection: 'hsm' });
        const b = makeKey(keyId(2), { createdAt: a.createdAt + 1 });
        const c = makeKey(keyId(3), { createdAt: a.createdAt + 2, classification: 'restricted', environment: 'dev' });
        for (const k of [a, b, c]) await store.keys.createKey(k, undefined);
        assert.deepEqual(await store.keys.getKey(a.id), a);
        const gotB = await store.keys.getKey(b.id);
        assert.deepEqual([gotB?.classification, gotB?.environment, gotB?.protection], [null, null, 'software']);
        await store.keys.applyChange({ key: { ...b, classification: 'internal', environment: 'staging' } });
        assert.deepEqual(await store.keys.getKey(b.id), { ...b, classification: 'internal', environment: 'staging' });
        const ids = async (o: Parameters<Store['keys']['listKeys']>[0]) => (await store.keys.listKeys(o)).map((k) => k.id);
        assert.deepEqual(await ids({ limit: 10, classification: 'restricted' }), [a.id, c.id]);
        assert.deepEqual(await ids({ limit: 10, classification: 'restricted', environment: 'dev' }), [c.id]);
        assert.deepEqual(await ids({ limit: 10, environment: 'staging' }), [b.id]);
        assert.deepEqual(await ids({ limit: 1, classification: 'restricted', after: { createdAt: a.createdAt, id: a.id } }), [c.id]);
      });

      test('a principal environment round-trips and changes with setEnvironment', async () => {
        const p = { id: 'p-1', name: 'svc', kind: 'service-account' as const, roles: ['application' as const], createdAt: 1, disabled: false, environment: 'dev' as const };
        assert.equal(await store.principals.createPrincipal(p), true);
        assert.deepEqual(await store.principals.getPrincipalById(p.id), p);
        await store.principals.setEnvironment(p.id, null);
        assert.equal((await store.principals.getPrincipalByName('svc'))?.environment, null);
        await store.principals.setEnvironment(p.id, 'prod');
        assert.equal((await store.principals.listPrincipals())[0]?.environment, 'prod');
      });
    });

    describe('policy versions', () => {
      const version = (n: number, over: Partial<PolicyVersion> = {}): PolicyVersion => ({
        version: n,
        document: { apiVersion: 'keywarden.io/v1', kind: 'Policy', metadata: { name: `v${n} — ünïcödé` }, defaults: { maxRotationDays: 30 + n, allowedNetworks: ['10.0.0.0/8'] } },
        hash: `${n}`.repeat(64).slice(0, 64),
        createdAt: 1_700_000_000_000 + n,
        createdBy: `principal-${n}`,
        ...over,
      });

      test('a fresh store has no version', async () => {
        assert.equal(await store.policies.latestPolicyVersion(), undefined);
        assert.deepEqual(await store.policies.listPolicyVersions(), []);
        assert.equal(await store.policies.getPolicyVersion(1), undefined);
      });

      test('versions append in order and round-trip every field', async () => {
        assert.equal(await store.policies.appendPolicyVersion(version(1, { createdBy: null })), true);
        assert.equal(await store.policies.appendPolicyVersion(version(2)), true);
        assert.deepEqual(await store.policies.getPolicyVersion(1), version(1, { createdBy: null }));
        assert.deepEqual(await store.policies.latestPolicyVersion(), version(2));
        assert.deepEqual((await store.policies.listPolicyVersions()).map((v) => v.version), [1, 2]);
      });

      test('append-only: a version that is not the next one is refused and nothing changes', async () => {
        assert.equal(await store.policies.appendPolicyVersion(version(2)), false, 'a gap');
        assert.equal(await store.policies.appendPolicyVersion(version(1)), true);
        assert.equal(await store.policies.appendPolicyVersion(version(1, { hash: 'f'.repeat(64) })), false, 'a rewrite');
        assert.deepEqual(await store.policies.listPolicyVersions(), [version(1)]);
      });

      test('concurrent appends of the same version: exactly one wins', async () => {
        const results = await Promise.all([1, 2, 3, 4].map((i) => store.policies.appendPolicyVersion(version(1, { createdBy: `p${i}` }))));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await store.policies.listPolicyVersions()).length, 1);
      });
    });
  });
}
