/**
 * IncidentStore conformance on SQLite (temp file) and PostgreSQL 15 (test/support/postgres.ts), and
 * a drill on a PostgreSQL server: its snapshot restores into the scratch SQLite copy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js';
import { createKeywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { runIncidentStoreConformance } from '../conformance/incident-store.conformance.js';
import { dropSchema, freshSchema } from '../support/postgres.js';

runIncidentStoreConformance('SqliteStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keywarden-incidents-'));
  const path = join(dir, 'keywarden.db');
  const store = new SqliteStore(path);
  return {
    store,
    raw: async (sql) => {
      const db = new Database(path);
      try {
        return db.prepare(sql).run();
      } finally {
        db.close();
      }
    },
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

runIncidentStoreConformance('PostgresStore', async () => {
  const url = await freshSchema();
  const store = await PostgresStore.open({ url, pool: { max: 2 } });
  return {
    store,
    raw: async (sql) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return await c.query(sql);
      } finally {
        await c.end();
      }
    },
    cleanup: async () => {
      await store.close();
      await dropSchema(url);
    },
  };
});

test('a drill on a PostgreSQL server runs on a scratch SQLite copy of its snapshot; production is unchanged', async () => {
  const url = await freshSchema();
  const dir = await mkdtemp(join(tmpdir(), 'keywarden-incidents-pg-'));
  const kw = await createKeywarden({ storage: { type: 'postgres', url, pool: { max: 4 } }, seal: 'dev', logger: false });
  try {
    await bootDevSeal(kw.seal, dir);
    const token = await kw.tokens.createRootToken();
    const req = async (method: string, path: string, body?: unknown) => {
      const res = await kw.app.inject({ method: method as 'GET', url: path, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
      return { status: res.statusCode, json: JSON.parse(res.body) };
    };
    const key = (await req('POST', '/v1/keys', { alias: 'alias/pg-drill', exportable: true })).json.key;
    await req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: 'aGk=' });
    const d = await req('POST', '/v1/incidents/key-compromise', { key: 'alias/pg-drill', reason: 'pg drill', drill: true });
    assert.equal(d.status, 201, JSON.stringify(d.json));
    assert.deepEqual(d.json.incident.result.steps.map((s: { outcome: string }) => s.outcome), ['done', 'done', 'done', 'skipped', 'done', 'done']);
    assert.equal(d.json.incident.result.plan.ciphertexts, 1);
    const after = (await req('GET', `/v1/keys/${key.id}`)).json.key;
    assert.deepEqual([after.state, after.aliases], ['Enabled', ['alias/pg-drill']]);
    assert.equal((await req('GET', '/v1/incidents')).json.incidents[0].drill, true);
  } finally {
    await kw.close();
    await dropSchema(url);
    await rm(dir, { recursive: true, force: true });
  }
});
