/**
 * SqliteAuditStore: the AuditStore conformance suite; the append-only triggers, hit with raw SQL
 * through a second better-sqlite3 connection; and the acceptance at the library level:
 * an attacker with file access tampers with the SQLite ledger directly (dropping the triggers
 * first) and the offline verifier names the first bad index. Also: a ledger made unwritable
 * rejects every waiting append (fail closed).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations } from '../../src/storage/sqlite/sqlite-store.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { SqliteAuditStore, encodeBatch } from '../../src/storage/sqlite/sqlite-audit-store.js';
import { KeywardenError } from '../../src/errors/catalog.js';
import { LedgerService } from '../../src/audit/ledger.service.js';
import { buildEvent, decodeLeaf, encodeLeaf } from '../../src/audit/event.js';
import { AuditWriter } from '../../src/storage/sqlite/audit-writer.js';
import { leafHash } from '../../src/audit/merkle.js';
import { trustedCheckpoint, type TrustedCheckpoint } from '../../src/audit/checkpoint.js';
import { verifyLedger, type VerifyResult } from '../../src/audit/verify.js';
import { runAuditStoreConformance } from '../conformance/audit-store.conformance.js';
import { openUnsealedStore } from '../support/unsealed-store.js';

runAuditStoreConformance('SqliteAuditStore (temp file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keywarden-audit-'));
  const store = new SqliteStore(join(dir, 'keywarden.db'));
  return {
    audit: store.audit,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

runAuditStoreConformance('SqliteAuditStore (:memory:)', async () => {
  const db = new Database(':memory:');
  applyMigrations(db);
  return { audit: new SqliteAuditStore(db), cleanup: async () => void db.close() };
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A real ledger in a temp file with 14 events (checkpoints at 4, 8, 12) and a raw connection to the same file. */
async function ledgerOnDisk() {
  const dir = await mkdtemp(join(tmpdir(), 'keywarden-audit-'));
  const path = join(dir, 'keywarden.db');
  const { store, seal, clock } = await openUnsealedStore(path);
  const ledger = new LedgerService({ store: store.audit, seal, clock });
  const trusted: TrustedCheckpoint[] = [];
  for (let i = 0; i < 14; i++) {
    await ledger.append({
      requestId: `req-${i}`,
      principal: { id: 'sa-1', name: 'svc', kind: 'service-account' },
      authMethod: 'access-token',
      operation: 'key:decrypt',
      keyId: 'k-1',
      outcome: 'deny',
      errorCode: 'PermissionDenied',
    });
    clock.advance(1000);
    if ((i + 1) % 4 === 0 && i < 12) trusted.push(trustedCheckpoint(await ledger.checkpoint(), (await ledger.checkpointPublicKey()).publicKey));
  }
  const raw = new Database(path);
  raw.pragma('busy_timeout = 5000');
  cleanups.push(async () => {
    raw.close();
    await ledger.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const verify = async (opts = {}): Promise<VerifyResult> => verifyLedger(await ledger.export(), opts);
  return { raw, ledger, store, verify, trusted };
}

describe('append-only triggers (raw SQL)', () => {
  test('UPDATE and DELETE abort on every ledger table', async () => {
    const { raw } = await ledgerOnDisk();
    const refused = (sql: string) => assert.throws(() => raw.prepare(sql).run(), /append-only|write-once/, sql);
    refused("UPDATE audit_events SET data = x'00' WHERE idx = 1");
    refused('UPDATE audit_events SET idx = idx + 100 WHERE idx = 13');
    refused('DELETE FROM audit_events WHERE idx = 13');
    refused('DELETE FROM audit_events');
    refused('UPDATE audit_checkpoints SET size = 1');
    refused('DELETE FROM audit_checkpoints');
    refused("UPDATE audit_keys SET key_id = 'x'");
    refused("DELETE FROM audit_keys WHERE purpose = 'checkpoint-signing'");
    assert.equal(raw.prepare('SELECT COUNT(*) FROM audit_events').pluck().get(), 14);
    assert.equal(raw.prepare('SELECT COUNT(*) FROM audit_checkpoints').pluck().get(), 3);
  });

  test('inserts only at the next position; INSERT OR REPLACE cannot overwrite; keys cannot be replaced', async () => {
    const { raw, verify } = await ledgerOnDisk();
    const h = Buffer.alloc(32);
    assert.throws(() => raw.prepare("INSERT INTO audit_events VALUES (20, x'00', ?)").run(h), /next index/);
    assert.throws(() => raw.prepare("INSERT OR REPLACE INTO audit_events VALUES (3, x'00', ?)").run(h), /next index/);
    assert.throws(() => raw.prepare("INSERT INTO audit_events (data, leaf_hash) VALUES (x'00', ?)").run(h), /next index/);
    assert.throws(() => raw.prepare("INSERT INTO audit_checkpoints VALUES (7, 20, ?, 0, 'k', x'00')").run(h), /in order/);
    assert.throws(() => raw.prepare("INSERT INTO audit_checkpoints VALUES (3, 2, ?, 0, 'k', x'00')").run(h), /in order/, 'smaller size');
    const before = raw.prepare("SELECT * FROM audit_keys WHERE purpose = 'checkpoint-signing'").get();
    raw.prepare("INSERT OR REPLACE INTO audit_keys VALUES ('checkpoint-signing', 'evil', x'00', x'00', 0)").run();
    assert.deepEqual(raw.prepare("SELECT * FROM audit_keys WHERE purpose = 'checkpoint-signing'").get(), before);
    assert.equal((await verify()).ok, true);
  });
});

describe('tampering with the SQLite ledger is caught by the verifier, naming the index', () => {
  /** Rewrites row `idx` with outcome 'allow' (canonical, seq kept), optionally with a matching leaf hash. */
  function forgeAllow(raw: Database.Database, idx: number, rehash: boolean) {
    const data = raw.prepare('SELECT data FROM audit_events WHERE idx = ?').pluck().get(idx) as Buffer;
    const { seq, ...event } = decodeLeaf(data);
    const forged = encodeLeaf({ ...event, outcome: 'allow', errorCode: null }, seq);
    raw.exec('DROP TRIGGER audit_events_no_update');
    if (rehash) raw.prepare('UPDATE audit_events SET data = ?, leaf_hash = ? WHERE idx = ?').run(forged, leafHash(forged), idx);
    else raw.prepare('UPDATE audit_events SET data = ? WHERE idx = ?').run(forged, idx);
  }

  const expect = (r: VerifyResult, reason: string, index: number | undefined) => {
    assert.equal(r.ok, false, r.message);
    assert.deepEqual([r.reason, r.firstBadIndex], [reason, index], r.message);
  };

  test('baseline: the untouched ledger verifies', async () => {
    const { verify, trusted } = await ledgerOnDisk();
    const r = await verify({ trustedCheckpoint: trusted[1] });
    assert.deepEqual([r.ok, r.size, r.checkpoints, r.coveredSize], [true, 14, 3, 12], r.message);
  });

  test('modify a field (deny -> allow)', async () => {
    const { raw, verify } = await ledgerOnDisk();
    forgeAllow(raw, 6, false);
    expect(await verify(), 'modified', 6);
  });

  test('modify a field and rewrite its leaf hash: the signed range [4, 8) fails', async () => {
    const { raw, verify } = await ledgerOnDisk();
    forgeAllow(raw, 6, true);
    const r = await verify();
    expect(r, 'modified', 4);
    assert.match(r.message, /\[4, 8\)/);
  });

  test('flip one byte of the stored data', async () => {
    const { raw, verify } = await ledgerOnDisk();
    raw.exec('DROP TRIGGER audit_events_no_update');
    const data = raw.prepare('SELECT data FROM audit_events WHERE idx = 9').pluck().get() as Buffer;
    data[data.indexOf('deny')] = 'D'.charCodeAt(0);
    raw.prepare('UPDATE audit_events SET data = ? WHERE idx = 9').run(data);
    expect(await verify(), 'modified', 9);
  });

  test('delete a row', async () => {
    const { raw, verify } = await ledgerOnDisk();
    raw.exec('DROP TRIGGER audit_events_no_delete');
    raw.prepare('DELETE FROM audit_events WHERE idx = 5').run();
    expect(await verify(), 'missing', 5);
  });

  test('delete a row and renumber the rest to close the gap', async () => {
    const { raw, verify } = await ledgerOnDisk();
    raw.exec('DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_events_no_update');
    raw.transaction(() => {
      raw.prepare('DELETE FROM audit_events WHERE idx = 5').run();
      for (let i = 6; i < 14; i++) raw.prepare('UPDATE audit_events SET idx = ? WHERE idx = ?').run(i - 1, i);
    })();
    expect(await verify(), 'missing', 5);
  });

  test('swap two rows', async () => {
    const { raw, verify } = await ledgerOnDisk();
    raw.exec('DROP TRIGGER audit_events_no_update');
    raw.transaction(() => {
      raw.prepare('UPDATE audit_events SET idx = 1000000 WHERE idx = 2').run();
      raw.prepare('UPDATE audit_events SET idx = 2 WHERE idx = 10').run();
      raw.prepare('UPDATE audit_events SET idx = 10 WHERE idx = 1000000').run();
    })();
    expect(await verify(), 'reordered', 2);
  });

  test('truncate the tail', async () => {
    const { raw, verify } = await ledgerOnDisk();
    raw.exec('DROP TRIGGER audit_events_no_delete');
    raw.prepare('DELETE FROM audit_events WHERE idx >= 10').run();
    expect(await verify(), 'truncated', 10);
  });

  test('truncate the tail and the checkpoints over it: caught against a trusted checkpoint', async () => {
    const { raw, verify, trusted } = await ledgerOnDisk();
    raw.exec('DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_checkpoints_no_delete');
    raw.prepare('DELETE FROM audit_events WHERE idx >= 7').run();
    raw.prepare('DELETE FROM audit_checkpoints WHERE size > 7').run();
    assert.equal((await verify()).ok, true, 'without an outside anchor this is a consistent shorter ledger');
    expect(await verify({ trustedCheckpoint: trusted[1] }), 'truncated', 7);
  });

  test('forge a checkpoint (altered root, or a new one with a made-up signature)', async () => {
    const { raw, verify } = await ledgerOnDisk();
    raw.exec('DROP TRIGGER audit_checkpoints_no_update');
    raw.prepare('UPDATE audit_checkpoints SET root_hash = ? WHERE n = 1').run(Buffer.alloc(32, 1));
    expect(await verify(), 'bad-signature', undefined);
    const other = await ledgerOnDisk();
    const key = other.raw.prepare("SELECT key_id FROM audit_keys WHERE purpose = 'checkpoint-signing'").pluck().get();
    other.raw.prepare('INSERT INTO audit_checkpoints VALUES (3, 14, ?, 0, ?, ?)').run(Buffer.alloc(32, 2), key, Buffer.alloc(64, 3));
    const r = await other.verify();
    expect(r, 'bad-signature', undefined);
    assert.match(r.message, /checkpoint #3 \(size 14\)/);
  });
});

describe('fail closed', () => {
  test('a writer thread that cannot open its database rejects every append, and keeps refusing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keywarden-audit-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const writer = new AuditWriter(dir); // a directory: the thread's connection cannot open it
    const e = buildEvent({ requestId: 'r', principal: null, authMethod: 'none', operation: 'key:encrypt', outcome: 'allow' }, 0, undefined);
    const first = await Promise.allSettled([writer.append(encodeBatch([e], 0)), writer.append(encodeBatch([e, e], 1))]);
    assert.deepEqual(first.map((o) => o.status), ['rejected', 'rejected']);
    await assert.rejects(writer.append(encodeBatch([e], 0)), 'a new thread is started, and fails too');
    await writer.close();
  });


  test('a ledger made unwritable rejects every waiting append, and recovers when writable again', async () => {
    const { raw, ledger, store } = await ledgerOnDisk();
    raw.exec("CREATE TRIGGER test_unwritable BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    const ev = (i: number) => ({ requestId: `x-${i}`, principal: null, authMethod: 'none' as const, operation: 'key:encrypt', outcome: 'allow' as const });
    const outcomes = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => ledger.append(ev(i))));
    assert.ok(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof KeywardenError && o.reason.code === 'Internal'));
    assert.equal(await store.audit.size(), 14);
    raw.exec('DROP TRIGGER test_unwritable');
    assert.deepEqual(await ledger.append(ev(0)), { index: 14 });
  });
});

describe('durability modes (StorageConfig.auditFsync)', () => {
  for (const mode of ['interval', 'commit'] as const) {
    test(`${mode}: appended events and checkpoints are in the file after close, and verify`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'keywarden-audit-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const path = join(dir, 'keywarden.db');
      const store = new SqliteStore(path, { auditFsync: mode });
      const e = (i: number) => buildEvent({ requestId: `r${i}`, principal: null, authMethod: 'none', operation: 'key:encrypt', outcome: 'allow' }, i, undefined);
      const appended = await Promise.all(Array.from({ length: 20 }, (_, i) => store.audit.append([e(i)])));
      assert.deepEqual(appended.map((a) => a.first).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
      await store.close();
      const raw = new Database(path, { readonly: true });
      try {
        const rows = raw.prepare('SELECT idx, data, leaf_hash FROM audit_events ORDER BY idx').all() as Array<{ idx: number; data: Buffer; leaf_hash: Buffer }>;
        assert.equal(rows.length, 20);
        for (const r of rows) {
          assert.equal(decodeLeaf(r.data).seq, r.idx);
          assert.deepEqual(r.leaf_hash, leafHash(r.data));
        }
      } finally {
        raw.close();
      }
    });
  }
});
