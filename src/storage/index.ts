import { SqliteStore } from './sqlite/sqlite-store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import type { Store, StorageConfig } from './store.js';

/** Opens the configured storage backend. */
export function openStore(config: StorageConfig): Store {
  switch (config.type) {
    case 'sqlite':
      return new SqliteStore(config.path, { auditFsync: config.auditFsync ?? 'interval' });
    case 'postgres':
      return new PostgresStore({ url: config.url, ...(config.pool && { pool: config.pool }) });
  }
}
