/**
 * The audit ledger's writer thread (see audit-writer.ts): its own connection to the database file,
 * with the same pragmas as SqliteStore (migrations are applied by the main thread), running one
 * append transaction (or checkpoint insert) per message, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { auditAppender, checkpointInserter } from './sqlite-audit-store.js';
import type { WriterReply, WriterRequest } from './audit-writer.js';

const db = new Database((workerData as { path: string }).path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const append = auditAppender(db);
const putCheckpoint = checkpointInserter(db);
const port = parentPort!;

port.on('message', (m: WriterRequest) => {
  if ('close' in m) {
    db.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    if ('checkpoint' in m) {
      putCheckpoint(m.checkpoint);
      reply = { id: m.id, done: true };
    } else {
      const { first, leafHashes } = append(m.events);
      reply = { id: m.id, first, hashes: Buffer.concat(leafHashes) };
    }
  } catch (e) {
    reply = { id: m.id, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
