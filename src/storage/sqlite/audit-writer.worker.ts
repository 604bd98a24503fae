/**
 * The audit ledger's writer thread (see audit-writer.ts): its own connection to the database file,
 * with the pragmas of SqliteStore (migrations are applied by the main thread), running one insert
 * transaction (or checkpoint insert) per message, in order.
 *
 * Durability (`fsync`, see StorageConfig.auditFsync): with 'commit' every transaction is fsync'd
 * (synchronous=FULL). With 'interval' a commit is written to the write-ahead log (it survives a
 * crash of the process) and the log is fsync'd at most 1 s later; signed checkpoints are always
 * fsync'd. A failed fsync makes every later message fail: the ledger then refuses calls (fail closed).
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { batchInserter, checkpointInserter } from './sqlite-audit-store.js';
import type { WriterReply, WriterRequest } from './audit-writer.js';

const { path, fsync } = workerData as { path: string; fsync: 'interval' | 'commit' };
const SYNC_INTERVAL_MS = 1000;
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${fsync === 'commit' ? 'FULL' : 'NORMAL'}`);
db.pragma('busy_timeout = 5000');
const insert = batchInserter(db);
const putCheckpoint = checkpointInserter(db);
const port = parentPort!;

let dirty = false;
let syncError: string | undefined;
function syncWal(): void {
  if (!dirty || syncError !== undefined) return;
  dirty = false;
  try {
    const fd = openSync(`${path}-wal`, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    syncError = `the audit log could not be synced to disk: ${e instanceof Error ? e.message : String(e)}`;
  }
}
const timer = fsync === 'interval' ? setInterval(syncWal, SYNC_INTERVAL_MS) : undefined;
timer?.unref();

port.on('message', (m: WriterRequest) => {
  if ('close' in m) {
    if (timer !== undefined) clearInterval(timer);
    syncWal();
    db.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    if (syncError !== undefined) throw new Error(syncError);
    if ('checkpoint' in m) {
      if (fsync === 'interval') db.pragma('synchronous = FULL');
      try {
        putCheckpoint(m.checkpoint);
      } finally {
        if (fsync === 'interval') db.pragma('synchronous = NORMAL');
      }
      dirty = false; // a FULL commit syncs the whole log
      reply = { id: m.id, done: true };
    } else {
      // Structured clone turns Buffers into Uint8Arrays: view them as Buffers again.
      const b = m.batch;
      insert({ first: b.first, lengths: b.lengths, data: Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength), hashes: Buffer.from(b.hashes.buffer, b.hashes.byteOffset, b.hashes.byteLength) });
      dirty = fsync === 'interval';
      reply = { id: m.id, done: true };
    }
  } catch (e) {
    reply = { id: m.id, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
