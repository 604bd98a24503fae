/**
 * Write transactions for SQLite. Two connections write to the same file (the main thread and the
 * audit writer thread), so a DEFERRED transaction that reads and then writes can fail at once with
 * SQLITE_BUSY (the busy handler is not called when a read snapshot must be upgraded after another
 * connection committed). BEGIN IMMEDIATE takes the write lock first, and waits for it under
 * busy_timeout instead.
 */
import type Database from 'better-sqlite3';

export function writeTx<A extends unknown[], R>(db: Database.Database, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args: A) => tx.immediate(...args);
}
