/**
 * Store.snapshot / Store.restore: SQLite -> PostgreSQL -> SQLite keeps every row (compared as
 * backend-neutral snapshots), a server on the round-tripped data decrypts what was encrypted before,
 * and restore refuses a non-empty store or another schema version. Real SQLite and a real PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { dropSchema, freshSchema } from '../support/postgres.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js';
import type { Snapshot, SnapshotChunk } from '../../src/storage/snapshot.js';
import type { Store } from '../../src/storage/store.js';
import { ManualClock } from '../../src/util/clock.js';
import { DEV_UNSEAL_FILE } from '../../src/seal/dev-seal.js';

/** table -> {columns, rows}, whatever the chunking. */
async function collect(chunks: AsyncIterable<SnapshotChunk>): Promise<Map<string, { columns: string[]; rows: unknown[][] }>> {
  const out = new Map<string, { columns: string[]; rows: unknown[][] }>();
  for await (const c of chunks) {
    const t = out.get(c.table) ?? { columns: c.columns, rows: [] };
    t.rows.push(...c.rows);
    out.set(c.table, t);
  }
  return out;
}

async function* replay(tables: Map<string, { columns: string[]; rows: unknown[][] }>): AsyncGenerator<SnapshotChunk> {
  for (const [table, t] of tables) yield { table, columns: t.columns, rows: t.rows as SnapshotChunk['rows'] };
}

const snapshotOf = async (store: Store): Promise<Snapshot> => ({ schemaVersion: await store.schemaVersion(), chunks: store.snapshot() });

describe('store snapshot and restore across backends', () => {
  const clock = new ManualClock();
  let src: TestKeywarden;
  let work: string;
  let pgUrl: string;
  const made: Array<{ ciphertext: string; plaintext: string }> = [];
  let original: Map<string, { columns: string[]; rows: unknown[][] }>;

  before(async () => {
    src = await startInProcess({ clock });
    work = await mkdtemp(join(tmpdir(), 'kw-snap-'));
    // Data in many tables: keys, versions, aliases, principals, client credentials, policy, audit.
    const k1 = (await src.req('POST', '/v1/keys', { description: 'one', alias: 'alias/one', tags: { team: 'a' } })).json.key.id as string;
    const k2 = (await src.req('POST', '/v1/keys', { description: 'two' })).json.key.id as string;
    for (const [k, text] of [[k1, 'first'], [k2, 'second']] as const) {
      const enc = await src.req('POST', `/v1/keys/${k}/encrypt`, { plaintext: Buffer.from(text).toString('base64') });
      assert.equal(enc.status, 200);
      made.push({ ciphertext: enc.json.ciphertext, plaintext: text });
    }
    clock.advance(1000);
    assert.equal((await src.req('POST', `/v1/keys/${k1}/rotate`)).status, 200);
    const enc = await src.req('POST', '/v1/keys/alias/one/encrypt', { plaintext: Buffer.from('after rotation').toString('base64') });
    made.push({ ciphertext: enc.json.ciphertext, plaintext: 'after rotation' });
    assert.equal((await src.req('POST', '/v1/principals', { name: 'app1', roles: ['auditor'] })).status, 201);
    await src.kw.close();
    pgUrl = await freshSchema();
  });

  after(async () => {
    await rm(src.dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
    await dropSchema(pgUrl);
  });

  test('SQLite -> PostgreSQL -> SQLite keeps every row, and the restored data serve the old ciphertexts', async () => {
    const a = new SqliteStore(src.dbPath);
    original = await collect(a.snapshot());
    const version = await a.schemaVersion();
    await a.close();
    for (const t of ['keys', 'key_versions', 'aliases', 'principals', 'seal_config', 'audit_events', 'tokens']) {
      assert.ok((original.get(t)?.rows.length ?? 0) > 0, `the source has rows in ${t}`);
    }
    assert.equal(original.get('key_versions')!.rows.length, 3);
    assert.ok(!original.has('audit_search') && !original.has('schema_migrations'), 'derived tables are not in the snapshot');

    const p = await PostgresStore.open({ url: pgUrl });
    await p.restore({ schemaVersion: version, chunks: replay(original) });
    const viaPg = await collect(p.snapshot());
    await p.close();
    assert.deepEqual([...viaPg.keys()], [...original.keys()], 'same tables in the same (restore) order');
    for (const [t, v] of original) assert.deepEqual(viaPg.get(t), v, `table ${t} is identical after SQLite -> PostgreSQL`);

    const dir = join(work, 'back');
    const b = new SqliteStore(join(dir, 'keywarden.db'));
    const p2 = await PostgresStore.open({ url: pgUrl });
    await b.restore(await snapshotOf(p2));
    await p2.close();
    const back = await collect(b.snapshot());
    await b.close();
    for (const [t, v] of original) assert.deepEqual(back.get(t), v, `table ${t} is identical after PostgreSQL -> SQLite`);

    // A server on the round-tripped file (same dev unseal key: the root key is unchanged) decrypts.
    await copyFile(join(src.dir, DEV_UNSEAL_FILE), join(dir, DEV_UNSEAL_FILE));
    const restored = await startInProcess({ clock, dir });
    try {
      for (const m of made) {
        const dec = await restored.req('POST', '/v1/decrypt', { ciphertext: m.ciphertext });
        assert.equal(dec.status, 200, JSON.stringify(dec.json));
        assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), m.plaintext);
      }
      const key = await restored.req('GET', '/v1/keys/alias/one');
      assert.equal(key.status, 200);
      assert.equal(key.json.key.primaryVersion, 2);
      // The audit search (derived, not in the snapshot) rebuilds from the restored ledger.
      const events = await restored.req('GET', '/v1/audit/events?limit=1000');
      assert.equal(events.status, 200, JSON.stringify(events.json));
      assert.ok(events.json.events.length >= original.get('audit_events')!.rows.length, 'every restored ledger event is searchable');
    } finally {
      await restored.close();
    }
  });

  test('restore refuses a non-empty store and another schema version, and writes nothing then', async () => {
    const p = await PostgresStore.open({ url: pgUrl }); // holds the restored data from the first test
    await assert.rejects(p.restore({ schemaVersion: await p.schemaVersion(), chunks: replay(original) }), /target store is not empty \(table \w+ has rows\)/);
    await p.close();

    const s = new SqliteStore(join(work, 'empty', 'keywarden.db'));
    try {
      await assert.rejects(s.restore({ schemaVersion: 999, chunks: replay(original) }), /schema version 999 but the target store has \d+/);
      // A bad row late in the snapshot rolls the whole restore back: the store stays empty.
      const bad = new Map(original);
      bad.set('zz_unknown', { columns: ['x'], rows: [[1]] });
      await assert.rejects(s.restore({ schemaVersion: await s.schemaVersion(), chunks: replay(bad) }), /table zz_unknown, which the target store does not have/);
      assert.deepEqual([...(await collect(s.snapshot())).values()].filter((t) => t.rows.length > 0), [], 'nothing was written');
      await s.restore({ schemaVersion: await s.schemaVersion(), chunks: replay(original) });
      await assert.rejects(s.restore({ schemaVersion: await s.schemaVersion(), chunks: replay(original) }), /not empty/);
    } finally {
      await s.close();
    }
  });
});
