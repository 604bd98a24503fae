/**
 * PostgresStore against a real PostgreSQL 15 started by test/support/postgres.ts: the store, audit
 * and job conformance suites (the same ones SQLite runs), plus what only PostgreSQL has: raw SQL
 * through another connection cannot rewrite the ledger, two pools rotating one key at once leave
 * exactly one new primary, migrations are applied once under a lock, and the HTTP API end to end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore, redactUrl } from '../../src/storage/postgres/postgres-store.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { newKeyRecord, newKeyVersion } from '../../src/keys/key.model.js';
import { KeywardenError } from '../../src/errors/catalog.js';
import { buildEvent } from '../../src/audit/event.js';
import { createKeywarden } from '../../src/main.js';
import { ConfigError, validateConfig } from '../../src/config/config.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { verifyLedger } from '../../src/audit/verify.js';
import { runStoreConformance } from '../conformance/store.conformance.js';
import { runAuditStoreConformance } from '../conformance/audit-store.conformance.js';
import { runJobStoreConformance } from '../conformance/job-store.conformance.js';
import { dropSchema, freshDatabase, freshSchema, pgCluster } from '../support/postgres.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A store on a new schema (migrated by the store); cleanup closes it and drops the schema. */
async function openFresh() {
  const url = await freshSchema();
  const store = await PostgresStore.open({ url, pool: { max: 4 } });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropSchema(url);
    },
  };
}

test('the PostgreSQL fixture starts (startup cost reported)', async (t) => {
  const c = await pgCluster();
  t.diagnostic(`PostgreSQL 15 fixture: initdb + start took ${c.startupMs} ms`);
  let t0 = performance.now();
  await freshDatabase();
  t.diagnostic(`CREATE DATABASE took ${Math.round(performance.now() - t0)} ms`);
  t0 = performance.now();
  const { cleanup } = await openFresh();
  t.diagnostic(`a fresh schema with every migration applied (one conformance test's store) took ${Math.round(performance.now() - t0)} ms`);
  await cleanup();
  assert.ok(c.port > 0);
});

runStoreConformance('PostgresStore', openFresh);
runAuditStoreConformance('PostgresAuditStore', async () => {
  const o = await openFresh();
  return { audit: o.store.audit, cleanup: o.cleanup };
});
runJobStoreConformance('PostgresJobStore', async () => {
  const o = await openFresh();
  return { jobs: o.store.jobs, cleanup: o.cleanup };
});

const KEY = '0b3c0f1e-8d1a-4c3b-9e2f-1a2b3c4d5e6f';
const key = newKeyRecord({ id: KEY, description: 'k', spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', createdAt: 1_000, updatedAt: 1_000, tags: {}, aliases: [] });
const v = (n: number) => newKeyVersion({ keyId: KEY, version: n, createdAt: 1_000 + n, wrappedMaterial: Buffer.from([n, 0, 255]) });

describe('PostgresStore (PostgreSQL-specific)', () => {
  let url: string;
  let a: PostgresStore;
  let b: PostgresStore;
  let raw: pg.Client;

  before(async () => {
    url = await freshDatabase();
    // Two stores = two pools, as two nodes would have; both migrate the fresh database at once.
    [a, b] = await Promise.all([PostgresStore.open({ url, pool: { max: 3 } }), PostgresStore.open({ url, pool: { max: 3 } })]);
    raw = new pg.Client({ connectionString: url });
    await raw.connect();
  });

  after(async () => {
    await raw.end();
    await a.close();
    await b.close();
  });

  test('concurrent migration applied each version once; the schema version matches SQLite', async () => {
    const rows = (await raw.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    assert.deepEqual(rows, POSTGRES_MIGRATIONS.map((m) => m.version));
    assert.equal(await a.schemaVersion(), Math.max(...SQLITE_MIGRATIONS.map((m) => m.version)));
  });

  test('two pools rotating the same key at once leave exactly one new primary', async () => {
    await a.keys.createKey(key, v(1));
    for (let round = 2; round <= 6; round++) {
      // Both "nodes" read the key, then each writes its rotation (version round) at the same time.
      const [ka, kb] = await Promise.all([a.keys.getKey(KEY), b.keys.getKey(KEY)]);
      const rotate = (s: PostgresStore, k: typeof ka) => s.keys.applyChange({ key: { ...k!, primaryVersion: round, updatedAt: 2_000 + round }, newVersion: v(round) });
      const results = await Promise.allSettled([rotate(a, ka), rotate(b, kb)]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: exactly one rotation wins`);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.ok(lost.reason instanceof KeywardenError && lost.reason.code === 'InvalidState', String(lost.reason));
      assert.equal((await b.keys.getKey(KEY))!.primaryVersion, round);
      assert.deepEqual((await a.keys.listVersions(KEY)).map((x) => x.version), Array.from({ length: round }, (_, i) => i + 1));
    }
  });

  test('appends from two pools form one gap-free ordered ledger', async () => {
    const ev = (i: number) =>
      buildEvent({ requestId: `r${i}`, principal: { id: 'p', name: 'p', kind: 'user' }, authMethod: 'root-token', operation: 'key:encrypt', outcome: 'allow' }, 1_767_225_600_000, undefined);
    const base = await a.audit.size();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).audit.append([ev(i), ev(i + 100)])));
    const firsts = results.map((r) => r.first).sort((x, y) => x - y);
    assert.deepEqual(firsts, Array.from({ length: 40 }, (_, i) => base + 2 * i));
    const rows = await b.audit.read(base, base + 80);
    assert.deepEqual(rows.map((r) => r.index), Array.from({ length: 80 }, (_, i) => base + i));
  });

  test('the ledger tables refuse UPDATE, DELETE and TRUNCATE and out-of-order inserts from any connection', async () => {
    await a.audit.append([buildEvent({ requestId: 'x', principal: { id: 'p', name: 'p', kind: 'user' }, authMethod: 'root-token', operation: 'key:encrypt', outcome: 'allow' }, 1, undefined)]);
    await a.audit.putCheckpoint({ size: 1, rootHash: Buffer.alloc(32, 1), time: 1, keyId: 'k', signature: Buffer.alloc(64) });
    await a.audit.putHmacKeyIfAbsent({ keyId: 'h', wrappedKey: Buffer.from('w'), publicKey: null, createdAt: 1 });
    for (const sql of [
      "UPDATE audit_events SET data = '\\x00'",
      'DELETE FROM audit_events',
      'TRUNCATE audit_events',
      'UPDATE audit_checkpoints SET time = 0',
      'DELETE FROM audit_checkpoints',
      'TRUNCATE audit_checkpoints CASCADE',
      "UPDATE audit_keys SET key_id = 'evil'",
      'DELETE FROM audit_keys',
      "INSERT INTO audit_events (idx, data, leaf_hash) VALUES (100000, '\\x7b7d', decode(repeat('00', 32), 'hex'))",
      "INSERT INTO audit_checkpoints (n, size, root_hash, time, key_id, signature) VALUES (0, 0, decode(repeat('00', 32), 'hex'), 0, 'k', '\\x00')",
    ]) {
      await assert.rejects(raw.query(sql), /append|appended/, sql);
    }
    // A second key of the same purpose is not stored; the first stays.
    assert.equal((await a.audit.putHmacKeyIfAbsent({ keyId: 'h2', wrappedKey: Buffer.from('x'), publicKey: null, createdAt: 2 })).keyId, 'h');
  });

  test('opening a database with a newer schema fails with an upgrade message; the URL password is not in it', async () => {
    const other = await freshDatabase();
    await (await PostgresStore.open({ url: other })).close();
    const c = new pg.Client({ connectionString: other });
    await c.connect();
    await c.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    await c.end();
    const withPassword = other.replace('postgres@', 'postgres:s3cret-pw@');
    await assert.rejects(PostgresStore.open({ url: withPassword }), (e: Error) => /upgrade/.test(e.message) && !e.message.includes('s3cret-pw'));
    assert.equal(redactUrl('postgres://u:pw@h:5432/d'), 'postgres://u:***@h:5432/d');
  });

  test('a closed store rejects instead of crashing; an unreachable server rejects every call', async () => {
    const s = await PostgresStore.open({ url });
    await s.close();
    await assert.rejects(s.keys.getKey(KEY));
    await s.close();
    const down = new PostgresStore({ url: 'postgres://postgres@127.0.0.1:1/nowhere' });
    await assert.rejects(down.seal.getSealConfig());
    await down.close();
  });
});

test('config: storage.type postgres with url and pool.max; a bad one is refused without echoing the URL', () => {
  const base = { listen: { tls: { disable: true } }, seal: { type: 'shamir' } };
  const url = 'postgres://kw:s3cret@db.internal:5432/keywarden';
  const c = validateConfig({ ...base, storage: { type: 'postgres', url, pool: { max: 20 } } }, '/etc/keywarden');
  assert.deepEqual(c.storage, { type: 'postgres', url, pool: { max: 20 } });
  // The roadmap's shape, storage: { postgres: { url, pool } }, means the same (and { sqlite: { path } }).
  assert.deepEqual(validateConfig({ ...base, storage: { postgres: { url, pool: { max: 20 } } } }, '/etc/keywarden').storage, c.storage);
  assert.deepEqual(validateConfig({ ...base, storage: { sqlite: { path: 'kw.db' } } }, '/etc/keywarden').storage, { type: 'sqlite', path: '/etc/keywarden/kw.db' });
  assert.throws(() => validateConfig({ ...base, storage: { postgres: { url, path: 'x' } } }, '/'), (e: Error) => e instanceof ConfigError && /storage/.test(e.message));
  for (const storage of [
    { type: 'postgres', url: 'mysql://kw:s3cret@h/db' },
    { type: 'postgres', url, pool: { max: 0 } },
    { type: 'postgres', url, path: 'x' },
  ]) {
    assert.throws(() => validateConfig({ ...base, storage }, '/'), (e: Error) => e instanceof ConfigError && /storage/.test(e.message) && !e.message.includes('s3cret'));
  }
});

describe('HTTP API on PostgreSQL (createKeywarden with storage.type postgres)', () => {
  test('create key, encrypt, decrypt, rotate, audit search and verify', async () => {
    const url = await freshDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'kw-pg-http-'));
    const kw = await createKeywarden({ storage: { type: 'postgres', url, pool: { max: 5 } }, seal: 'dev', logger: false });
    try {
      await bootDevSeal(kw.seal, dir);
      const token = await kw.tokens.createRootToken();
      const req = async (method: string, path: string, body?: unknown) => {
        const r = await kw.app.inject({
          method: method as 'GET',
          url: path,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
          ...(body !== undefined && { payload: JSON.stringify(body) }),
        });
        return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined };
      };
      const created = await req('POST', '/v1/keys', { description: 'on postgres' });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const id = created.json.key.id as string;
      const plaintext = Buffer.from('hello postgres').toString('base64');
      const enc1 = await req('POST', `/v1/keys/${id}/encrypt`, { plaintext });
      assert.equal(enc1.status, 200, JSON.stringify(enc1.json));
      const rot = await req('POST', `/v1/keys/${id}/rotate`);
      assert.equal(rot.status, 200, JSON.stringify(rot.json));
      assert.equal(rot.json.key.primaryVersion, 2);
      const enc2 = await req('POST', `/v1/keys/${id}/encrypt`, { plaintext });
      assert.equal(enc2.json.keyVersion, 2);
      for (const c of [enc1.json.ciphertext, enc2.json.ciphertext]) {
        const dec = await req('POST', '/v1/decrypt', { ciphertext: c });
        assert.equal(dec.status, 200, JSON.stringify(dec.json));
        assert.equal(dec.json.plaintext, plaintext);
      }
      await kw.ledger.checkpoint();
      const found = await req('GET', `/v1/audit/events?key=${id}&operation=key:encrypt`);
      assert.equal(found.status, 200, JSON.stringify(found.json));
      assert.equal(found.json.events.length, 2);
      const exp = await req('GET', '/v1/audit/export');
      assert.equal(exp.status, 200);
      const result = await verifyLedger(exp.json);
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.ok(result.size >= 5 && result.checkpoints >= 1);
    } finally {
      await kw.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
