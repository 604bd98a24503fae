/**
 * `keywarden audit ...` against real `keywarden dev` processes: export and verify offline; every
 * kind of tampering with an export file (modified field, dropped event, swapped events, truncated
 * tail, forged checkpoint signature) is caught, naming the index and the reason, with a non-zero
 * exit; and an edit of the live SQLite file of a stopped server (triggers dropped first, as an
 * attacker would) — a modified field, a deleted row, two swapped rows, a truncated tail, a forged
 * checkpoint — is caught by `audit verify` against the restarted server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { apiOk, runCli, startDevServer, text, json, type DevServer } from './helpers.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('keywarden audit', () => {
  let server: DevServer;
  let dataDir: string;
  let work: string;
  let rootToken: string;
  let exportFile: string;
  const env = () => ({ KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: rootToken });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kw-audit-e2e-'));
    dataDir = join(work, 'data');
    server = await startDevServer({ dataDir });
    rootToken = server.rootToken;
    const key = (await apiOk(server.address, rootToken, 'POST', '/v1/keys', {})).key;
    for (let i = 0; i < 6; i++) await apiOk(server.address, rootToken, 'POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64(`m${i}`) });
    // A clean shutdown signs a checkpoint over everything recorded; the restarted server goes on.
    await server.stop({ keepData: true });
    server = await startDevServer({ dataDir, rootToken });
    await apiOk(server.address, rootToken, 'POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('after restart') });
    exportFile = join(work, 'export.json');
  });
  after(async () => {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('export, checkpoint, tail and search work against the server', async () => {
    const out = await runCli(['audit', 'export', '--out', exportFile], { env: env() });
    assert.equal(out.code, 0, out.stderr);
    const exp = JSON.parse(await readFile(exportFile, 'utf8'));
    assert.equal(exp.format, 'keywarden-audit-export/v1');
    assert.equal(exp.events.length, 8, "key:create, 7 encrypts");
    assert.ok(exp.checkpoints.length >= 1);
    const cp = json<any>(await runCli(['--format', 'json', 'audit', 'checkpoint'], { env: env() }));
    assert.equal(cp.checkpoint.size, 7, "signed at the shutdown");
    assert.match(text(await runCli(['audit', 'tail', '-n', '3'], { env: env() })), /INDEX\s+TIME\s+PRINCIPAL\s+OPERATION[\s\S]*audit:read/);
    const found = json<any>(await runCli(['--format', 'json', 'audit', 'search', '--operation', 'key:encrypt', '--outcome', 'allow'], { env: env() }));
    assert.equal(found.events.length, 7);
  });

  test('verify: the live ledger and the export file (offline, no server) are ok; checkpoints are saved and trusted', async () => {
    const live = join(work, 'trusted-live.json');
    assert.match(text(await runCli(['audit', 'verify', '--save-checkpoint', live], { env: env() })), /status\s+ok/);
    assert.equal(JSON.parse(await readFile(live, 'utf8')).format, 'keywarden-audit-checkpoint/v1');
    // The export's own newest checkpoint, saved offline, is one the live ledger (which has only
    // grown since the export, and may have signed newer checkpoints meanwhile) must extend.
    const trusted = join(work, 'trusted.json');
    const offline = await runCli(['--format', 'json', 'audit', 'verify', '--file', exportFile, '--save-checkpoint', trusted], { env: { KEYWARDEN_ADDR: 'http://127.0.0.1:9' } });
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal(JSON.parse(offline.stdout.toString()).ok, true);
    const again = await runCli(['--format', 'json', 'audit', 'verify', '--file', exportFile, '--trusted-checkpoint', trusted], { env: { KEYWARDEN_ADDR: 'http://127.0.0.1:9' } });
    assert.equal(again.code, 0, again.stderr);
    assert.match(text(await runCli(['audit', 'verify', '--trusted-checkpoint', trusted], { env: env() })), /status\s+ok/);
  });

  /** Writes a tampered copy of the export and verifies it offline; returns the failure line. */
  async function verifyTampered(name: string, edit: (exp: any) => void): Promise<string> {
    const exp = JSON.parse(await readFile(exportFile, 'utf8'));
    edit(exp);
    const file = join(work, `${name}.json`);
    await writeFile(file, JSON.stringify(exp));
    const r = await runCli(['audit', 'verify', '--file', file]);
    assert.notEqual(r.code, 0, `${name}: verify must fail`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    return r.stderr;
  }

  test('a modified field is named: index and "modified"', async () => {
    const err = await verifyTampered('modified', (exp) => {
      const e = JSON.parse(Buffer.from(exp.events[3].data, 'base64').toString());
      e.outcome = 'deny';
      exp.events[3].data = Buffer.from(JSON.stringify(e)).toString('base64');
    });
    assert.match(err, /FAILED at index 3 \(modified\)/);
  });

  test('a dropped event is named: index and "missing"', async () => {
    assert.match(await verifyTampered('dropped', (exp) => exp.events.splice(4, 1)), /FAILED at index 4 \(missing\)/);
  });

  test('two swapped events are named: index and "reordered"', async () => {
    const err = await verifyTampered('swapped', (exp) => {
      const [a, b] = [exp.events[2], exp.events[5]];
      exp.events[2] = { ...b, index: 2 };
      exp.events[5] = { ...a, index: 5 };
    });
    assert.match(err, /FAILED at index 2 \(reordered\)/);
  });

  test('a truncated tail is named: index and "truncated"', async () => {
    const err = await verifyTampered('truncated', (exp) => exp.events.splice(5));
    assert.match(err, /FAILED at index 5 \(truncated\)/);
  });

  test('a forged checkpoint signature is caught: "bad-signature"', async () => {
    const err = await verifyTampered('forged', (exp) => {
      const s = Buffer.from(exp.checkpoints[0].signature, 'base64');
      s[10]! ^= 1;
      exp.checkpoints[0].signature = s.toString('base64');
    });
    assert.match(err, /verification FAILED at index .* \(bad-signature\).*invalid signature/);
  });

  /** Tampers with the SQLite file of a stopped server (a copy of the data dir), restarts it and runs `audit verify`. */
  async function verifyLiveTampered(dir: string, tamper: (db: Database.Database) => void): Promise<string> {
    const db = new Database(join(dir, 'keywarden.db'));
    try {
      // An attacker with file access drops the append-only triggers first.
      for (const t of ['audit_events_no_update', 'audit_events_no_delete', 'audit_checkpoints_no_update']) db.exec(`DROP TRIGGER ${t}`);
      tamper(db);
    } finally {
      db.close();
    }
    const s = await startDevServer({ dataDir: dir, rootToken });
    try {
      const r = await runCli(['audit', 'verify'], { env: { KEYWARDEN_ADDR: s.address, KEYWARDEN_TOKEN: rootToken } });
      assert.notEqual(r.code, 0, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      return r.stderr;
    } finally {
      await s.stop({ keepData: true });
    }
  }

  test('edits of the stopped server\u2019s SQLite file are caught by verify against the restarted server', async () => {
    await server.stop({ keepData: true });
    const copies: Record<string, string> = {};
    for (const name of ['modified', 'deleted', 'swapped', 'truncated', 'forged']) {
      copies[name] = join(work, `live-${name}`);
      await cp(dataDir, copies[name]!, { recursive: true });
    }
    const rowData = (db: Database.Database, i: number) => (db.prepare('SELECT data FROM audit_events WHERE idx = ?').get(i) as { data: Buffer }).data;

    assert.match(
      await verifyLiveTampered(copies.modified!, (db) => {
        const e = JSON.parse(rowData(db, 1).toString());
        e.principal = { id: 'someone-else', name: 'someone-else', kind: 'user' };
        db.prepare('UPDATE audit_events SET data = ? WHERE idx = 1').run(Buffer.from(JSON.stringify(e)));
      }),
      /FAILED at index 1 \(modified\)/,
    );
    assert.match(await verifyLiveTampered(copies.deleted!, (db) => void db.exec('DELETE FROM audit_events WHERE idx = 4')), /FAILED at index 4 \(missing\)/);
    assert.match(
      await verifyLiveTampered(copies.swapped!, (db) => {
        const [a, b] = [2, 5].map((i) => db.prepare('SELECT data, leaf_hash FROM audit_events WHERE idx = ?').get(i) as { data: Buffer; leaf_hash: Buffer });
        const set = db.prepare('UPDATE audit_events SET data = ?, leaf_hash = ? WHERE idx = ?');
        set.run(b!.data, b!.leaf_hash, 2);
        set.run(a!.data, a!.leaf_hash, 5);
      }),
      /FAILED at index 2 \(reordered\)/,
    );
    assert.match(await verifyLiveTampered(copies.truncated!, (db) => void db.exec('DELETE FROM audit_events WHERE idx >= 5')), /FAILED at index 5 \(truncated\)/);
    assert.match(
      await verifyLiveTampered(copies.forged!, (db) => {
        const c = db.prepare('SELECT n, signature FROM audit_checkpoints ORDER BY n LIMIT 1').get() as { n: number; signature: Buffer };
        c.signature[0]! ^= 1;
        db.prepare('UPDATE audit_checkpoints SET signature = ? WHERE n = ?').run(c.signature, c.n);
      }),
      /\(bad-signature\).*invalid signature/,
    );
    server = await startDevServer({ dataDir, rootToken }); // for after()
  });
});
