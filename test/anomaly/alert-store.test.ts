/** The AlertStore conformance suite against SQLite (file and :memory:) and a real PostgreSQL 15. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js';
import { runAlertStoreConformance } from '../conformance/alert-store.conformance.js';
import { dropSchema, freshSchema } from '../support/postgres.js';

runAlertStoreConformance('SqliteAlertStore (temp file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keywarden-alerts-'));
  const store = new SqliteStore(join(dir, 'keywarden.db'));
  return {
    alerts: store.alerts,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

runAlertStoreConformance('SqliteAlertStore (:memory:)', async () => {
  const store = new SqliteStore(':memory:');
  return { alerts: store.alerts, cleanup: () => store.close() };
});

runAlertStoreConformance('PostgresAlertStore', async () => {
  const url = await freshSchema();
  const store = await PostgresStore.open({ url, pool: { max: 2 } });
  return {
    alerts: store.alerts,
    cleanup: async () => {
      await store.close();
      await dropSchema(url);
    },
  };
});

test('backups carry alerts: SQLite snapshot -> PostgreSQL restore -> SQLite restore keeps every field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keywarden-alerts-'));
  const a = new SqliteStore(join(dir, 'a.db'));
  const b = new SqliteStore(join(dir, 'b.db'));
  const url = await freshSchema();
  const p = await PostgresStore.open({ url, pool: { max: 2 } });
  try {
    const alert = {
      id: 'a1', detector: 'new-zone', severity: 'high', status: 'resolved', subjectKey: 'key=k1 principal=p1 ip=203.0.113.7', keyId: 'k1', principalId: 'p1', principalName: 'alice',
      sourceIp: '203.0.113.7', summary: 'first use from zone partner-us (US)', evidence: { zone: 'partner-us', newCountry: true, learningHours: 24, ratio: 0.5 }, events: [1, 2], count: 2,
      firstSeen: 1, lastSeen: 2, createdAt: 3, updatedAt: 4, acknowledgedAt: 5, acknowledgedBy: 'so', resolvedAt: 6, resolvedBy: 'so', resolutionNote: 'travel',
      responses: [{ kind: 'suspend-token', status: 'done', detail: 'disabled principal alice', at: 7 }], version: 3,
    } as const;
    assert.equal(await a.alerts.createAlert(structuredClone(alert) as never), true);
    await p.restore({ schemaVersion: await a.schemaVersion(), chunks: a.snapshot() });
    await b.restore({ schemaVersion: await p.schemaVersion(), chunks: p.snapshot() });
    assert.deepEqual(await p.alerts.getAlert('a1'), alert);
    assert.deepEqual(await b.alerts.getAlert('a1'), alert);
  } finally {
    await Promise.all([a.close(), b.close(), p.close()]);
    await dropSchema(url);
    await rm(dir, { recursive: true, force: true });
  }
});
