/** KeyCanaryStore conformance on SQLite (temp file) and on a real PostgreSQL (test/support/postgres.ts). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js';
import { dropSchema, freshSchema } from '../support/postgres.js';
import { runCanaryStoreConformance } from '../conformance/canary-store.conformance.js';

runCanaryStoreConformance('SqliteStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kw-canaries-'));
  const store = new SqliteStore(join(dir, 'keywarden.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

runCanaryStoreConformance('PostgresStore', async () => {
  const url = await freshSchema();
  const store = await PostgresStore.open({ url, pool: { max: 4 } });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropSchema(url);
    },
  };
});
