import type { Migration } from '../migrations.js';

/**
 * Event search (GET /v1/audit/events): a table of the searchable fields of each event, with
 * indexes, BESIDE the ledger. It is derived data, filled from the ledger rows by the search itself
 * (SqliteAuditStore.search catches up on the rows appended since), never by the append: the hot
 * path writes only the ledger row. The ledger tables are untouched and stay append-only. The
 * event data are a BLOB, which SQLite would take for JSONB: they are read as text. ISO times
 * compare as strings.
 */
export const V10_AUDIT_INDEX: Migration = {
  version: 10,
  name: 'audit event search',
  sql: `
    CREATE TABLE audit_search (
      idx INTEGER PRIMARY KEY,
      time TEXT,
      key_id TEXT,
      principal_id TEXT,
      principal_name TEXT,
      operation TEXT,
      outcome TEXT
    ) STRICT;
    CREATE INDEX audit_search_by_key ON audit_search (key_id, idx);
    CREATE INDEX audit_search_by_principal ON audit_search (principal_id, idx);
    CREATE INDEX audit_search_by_principal_name ON audit_search (principal_name, idx);
    CREATE INDEX audit_search_by_operation ON audit_search (operation, idx);
    CREATE INDEX audit_search_by_time ON audit_search (time);
  `,
};
