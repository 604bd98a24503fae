/**
 * Scheduled online backups (config backup.schedule) driven through the real job runner with a
 * ManualClock, on SQLite and on a real PostgreSQL: files appear while the server serves requests,
 * only `retain` are kept (with their share files), each custodian's share opens only with their
 * private key (X25519 and RSA) and `threshold` of them reconstruct the backup key; runs are audited
 * and a failure is recorded on the job; the canaries of versions that lack one are backfilled; the
 * CLI's decrypt-share and a DR drill with custodian keys work on the files (real processes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createKeywarden, type Keywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { ManualClock } from '../../src/util/clock.js';
import { verifyBackup } from '../../src/backup/backup.js';
import { openShare } from '../../src/backup/custodian-share.js';
import { BACKUP_FILE_RE } from '../../src/backup/scheduled.js';
import { ConfigError, validateConfig } from '../../src/config/config.js';
import type { StorageConfig } from '../../src/storage/store.js';
import { dropSchema, freshSchema } from '../support/postgres.js';
import { json, runCli } from '../e2e/helpers.js';

const HOUR = 3_600_000;
const pem = (k: { export(o: object): string | Buffer }, type: 'spki' | 'pkcs8') => k.export({ type, format: 'pem' }).toString();
const custodianKeys = (type: 'x25519' | 'rsa') => {
  const kp = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('x25519');
  return { publicKey: pem(kp.publicKey, 'spki'), privateKey: pem(kp.privateKey, 'pkcs8') };
};

interface Running {
  kw: Keywarden;
  clock: ManualClock;
  dir: string;
  backupDir: string;
  token: string;
  req(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }>;
}

const custodians = { alice: custodianKeys('x25519'), bob: custodianKeys('rsa'), carol: custodianKeys('x25519') };

async function start(storage: (dir: string) => StorageConfig): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'kw-sched-backup-'));
  const backupDir = join(dir, 'backups');
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const kw = await createKeywarden({
    storage: storage(dir),
    seal: 'dev',
    logger: false,
    clock,
    backupSchedule: {
      intervalMinutes: 60,
      dir: backupDir,
      retain: 2,
      threshold: 2,
      custodians: Object.entries(custodians).map(([name, k]) => ({ name, publicKey: k.publicKey })),
    },
  });
  await bootDevSeal(kw.seal, dir);
  const token = await kw.tokens.createRootToken();
  const req = async (method: string, url: string, body?: unknown) => {
    const r = await kw.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) }, ...(body !== undefined && { payload: JSON.stringify(body) }) });
    return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined };
  };
  return { kw, clock, dir, backupDir, token, req };
}

/** Encrypts and rotates while the backup job runs: the snapshot must still be one consistent view. */
async function backupUnderLoad(t: Running): Promise<void> {
  const key = (await t.req('POST', '/v1/keys', { description: 'busy' })).json.key.id as string;
  const traffic = Array.from({ length: 30 }, (_, i) => (i % 10 === 9 ? t.req('POST', `/v1/keys/${key}/rotate`) : t.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: 'AAAA' })));
  const [run] = await Promise.all([t.kw.scheduler.runNow('backup'), ...traffic]);
  assert.equal(run?.status, 'ok', run?.error);
}

describe('scheduled backups (SQLite)', () => {
  let t: Running;
  const firstFiles: string[] = [];

  before(async () => {
    t = await start((dir) => ({ type: 'sqlite', path: join(dir, 'keywarden.db') }));
    for (const spec of ['SYMMETRIC_DEFAULT', 'ECC_NIST_P256', 'HMAC_256']) assert.equal((await t.req('POST', '/v1/keys', { spec })).status, 201);
  });
  after(async () => {
    await t.kw.close();
    await rm(t.dir, { recursive: true, force: true });
  });

  test('each run writes a backup with one encrypted share per custodian; only the newest `retain` are kept', async () => {
    for (let i = 0; i < 3; i++) {
      if (i > 0) {
        t.clock.advance(HOUR / 2);
        assert.equal((await t.kw.scheduler.tick()).ran.some((r) => r.name === 'backup'), false, 'not due before the interval');
        t.clock.advance(HOUR / 2);
      }
      const run = (await t.kw.scheduler.tick()).ran.find((r) => r.name === 'backup');
      assert.equal(run?.status, 'ok', run?.error);
      const files = (await readdir(t.backupDir)).sort();
      if (i === 0) firstFiles.push(...files);
      assert.equal(files.filter((f) => BACKUP_FILE_RE.test(f)).length, Math.min(i + 1, 2));
      assert.equal(files.filter((f) => f.endsWith('.share')).length, 3 * Math.min(i + 1, 2));
      assert.ok(files.every((f) => BACKUP_FILE_RE.test(f) || /\.(alice|bob|carol)\.share$/.test(f)), files.join(', '));
    }
    const left = (await readdir(t.backupDir)).sort();
    for (const f of firstFiles) assert.equal(left.includes(f), false, `${f} (of the oldest backup) was deleted`);
    assert.equal(left.filter((f) => BACKUP_FILE_RE.test(f)).length, 2);
    assert.equal(left.length, 2 * 4, 'no temp file left behind');

    const jobs = (await t.req('GET', '/v1/sys/jobs')).json.jobs as any[];
    const job = jobs.find((j) => j.name === 'backup');
    assert.equal(job.lastStatus, 'ok');
    assert.equal(job.intervalMs, HOUR);
    const events = (await t.req('GET', '/v1/audit/events?operation=backup:scheduled&limit=100')).json.events as any[];
    assert.equal(events.length, 3);
    assert.ok(events.every((e) => e.outcome === 'allow' && e.authMethod === 'internal' && e.details.custodians === 3 && e.details.threshold === 2));
  });

  test('custodian shares open only with their own private key, and two of them reconstruct the backup key', async () => {
    const files = await readdir(t.backupDir);
    const backup = files.filter((f) => BACKUP_FILE_RE.test(f)).sort().at(-1)!;
    const shares: string[] = [];
    for (const [name, k] of Object.entries(custodians)) {
      const content = await readFile(join(t.backupDir, `${backup}.${name}.share`), 'utf8');
      assert.equal(content.includes(k.privateKey), false);
      const opened = openShare(content, k.privateKey);
      assert.deepEqual([opened.meta.backup, opened.meta.custodian, opened.meta.threshold, opened.meta.shares], [backup, name, 2, 3]);
      shares.push(opened.share);
      const other = name === 'alice' ? custodians.carol : custodians.alice;
      assert.throws(() => openShare(content, other.privateKey), /does not open with this private key/);
      // Relabelled for another custodian: the AAD no longer matches.
      assert.throws(() => openShare(content.replace(`"custodian": "${name}"`, '"custodian": "mallory"'), k.privateKey), /does not open/);
    }
    const bytes = await readFile(join(t.backupDir, backup));
    assert.equal(bytes.includes(shares[0]!), false, 'no share in the backup file');
    for (const pair of [[0, 1], [1, 2], [2, 0]]) {
      const v = await verifyBackup(bytes, { shares: pair.map((i) => shares[i]!) });
      assert.ok(v.tables && v.tables.some((tb) => tb.name === 'key_canaries' && tb.rows.length >= 3));
    }
    await assert.rejects(verifyBackup(bytes, { shares: [shares[0]!] }), /2 distinct backup key shares are needed, 1 given/);

    // The CLI, as a custodian runs it.
    const cli = json<any>(await runCli(['backup', 'decrypt-share', '--key', await keyFile(t.dir, 'bob', custodians.bob.privateKey), join(t.backupDir, `${backup}.bob.share`), '--format', 'json']));
    assert.equal(cli.shareValue, shares[1]);
    const wrong = await runCli(['backup', 'decrypt-share', '--key', await keyFile(t.dir, 'alice', custodians.alice.privateKey), join(t.backupDir, `${backup}.bob.share`)]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /does not open with this private key/);
  });

  test('a backup taken during traffic restores consistently: a DR drill with two custodian keys passes', async () => {
    t.clock.advance(1);
    await backupUnderLoad(t);
    const r = json<any>(await runCli([
      'dr', 'drill', '--backup-dir', t.backupDir,
      '--custodian-key', await keyFile(t.dir, 'carol', custodians.carol.privateKey), '--custodian-key', await keyFile(t.dir, 'bob', custodians.bob.privateKey),
      '--dev-key-file', join(t.dir, 'dev-unseal.key'), '--format', 'json',
    ]));
    assert.equal(r.ok, true, JSON.stringify(r.steps));
    assert.equal(r.sealType, 'dev');
    assert.equal(r.ledger.comparedWithManifest, true);
    assert.equal(r.canaries.failed, 0);
    assert.equal(r.canaries.keys, 4, JSON.stringify(r.canaries));
  });

  test('the job backfills missing canaries; a failed run is recorded on the job and audited', async () => {
    const db = new Database(join(t.dir, 'keywarden.db'));
    assert.ok(db.prepare('DELETE FROM key_canaries').run().changes >= 3);
    db.close();
    t.clock.advance(HOUR);
    assert.equal((await t.kw.scheduler.runNow('backup'))?.status, 'ok');
    assert.deepEqual(await t.kw.store.canaries.findMissing(10), [], 'every version has a canary again');
    const last = (await t.req('GET', '/v1/audit/events?operation=backup:scheduled&limit=100')).json.events[0]; // newest first
    assert.ok(last.details.canariesBackfilled >= 3);

    // The backup directory becomes a file: the run fails; the job and the ledger say so.
    await rm(t.backupDir, { recursive: true });
    await writeFile(t.backupDir, 'not a directory');
    t.clock.advance(HOUR);
    const run = await t.kw.scheduler.runNow('backup');
    assert.equal(run?.status, 'error');
    const job = (await t.req('GET', '/v1/sys/jobs')).json.jobs.find((j: any) => j.name === 'backup');
    assert.equal(job.lastStatus, 'error');
    assert.match(job.lastError, /EEXIST|ENOTDIR/);
    const failed = (await t.req('GET', '/v1/audit/events?operation=backup:scheduled&limit=100')).json.events[0]; // newest first
    assert.equal(failed.outcome, 'error');
    assert.match(failed.details.reason, /EEXIST|ENOTDIR/);
  });
});

describe('scheduled backups (PostgreSQL): an online backup restores into SQLite', () => {
  let t: Running;
  let url: string;

  before(async () => {
    url = await freshSchema();
    t = await start(() => ({ type: 'postgres', url, pool: { max: 5 } }));
    for (const spec of ['SYMMETRIC_DEFAULT', 'RSA_2048']) assert.equal((await t.req('POST', '/v1/keys', { spec })).status, 201);
  });
  after(async () => {
    await t.kw.close();
    await rm(t.dir, { recursive: true, force: true });
    await dropSchema(url);
  });

  test('a backup taken during traffic (one REPEATABLE READ snapshot) passes a DR drill', async () => {
    await backupUnderLoad(t);
    const backup = (await readdir(t.backupDir)).find((f) => BACKUP_FILE_RE.test(f))!;
    const shares = await Promise.all(['alice', 'bob'].map(async (n) => openShare(await readFile(join(t.backupDir, `${backup}.${n}.share`), 'utf8'), custodians[n as 'alice' | 'bob'].privateKey).share));
    const r = json<any>(await runCli(['dr', 'drill', '--backup', join(t.backupDir, backup), '--share', shares[0]!, '--share', shares[1]!, '--dev-key-file', join(t.dir, 'dev-unseal.key'), '--format', 'json']));
    assert.equal(r.ok, true, JSON.stringify(r.steps));
    assert.equal(r.source, 'postgres');
    assert.equal(r.canaries.failed, 0);
    assert.ok(r.canaries.keys === 3, JSON.stringify(r.canaries));
  });
});

test('config: backup.schedule is validated (threshold, custodian keys and names); dir is resolved', () => {
  const base = { listen: { tls: { disable: true } }, storage: { type: 'sqlite', path: 'kw.db' }, seal: { type: 'shamir' } };
  const schedule = { intervalMinutes: 60, dir: 'backups', retain: 7, threshold: 2, custodians: [{ name: 'alice', publicKey: custodians.alice.publicKey }, { name: 'bob', publicKey: custodians.bob.publicKey }] };
  const c = validateConfig({ ...base, backup: { schedule } }, '/etc/keywarden');
  assert.equal(c.backup?.schedule.dir, '/etc/keywarden/backups');
  const ed = pem(generateKeyPairSync('ed25519').publicKey, 'spki');
  const weak = pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, 'spki');
  for (const [bad, why] of [
    [{ ...schedule, threshold: 3 }, /threshold: 3 is more than the 2 custodians/],
    [{ ...schedule, threshold: 1 }, /1 is only allowed with a single custodian/],
    [{ ...schedule, custodians: [schedule.custodians[0], { name: 'alice', publicKey: custodians.bob.publicKey }] }, /the name alice is used twice/],
    [{ ...schedule, custodians: [schedule.custodians[0], { name: 'bob', publicKey: ed }] }, /custodians\.1\.publicKey: a ed25519 key is not accepted \(X25519 or RSA\)/],
    [{ ...schedule, custodians: [schedule.custodians[0], { name: 'bob', publicKey: weak }] }, /an RSA key of 1024 bits is too short/],
    [{ ...schedule, custodians: [schedule.custodians[0], { name: 'bob', publicKey: 'nope' }] }, /not a PEM public key/],
    [{ ...schedule, custodians: [{ name: '../x', publicKey: custodians.bob.publicKey }], threshold: 1 }, /backup\.schedule\.custodians\.0\.name/],
    [{ ...schedule, retain: 0 }, /backup\.schedule\.retain/],
  ] as const) {
    assert.throws(() => validateConfig({ ...base, backup: { schedule: bad } }, '/'), (e: Error) => e instanceof ConfigError && why.test(e.message), String(why));
  }
});

async function keyFile(dir: string, name: string, pemText: string): Promise<string> {
  const p = join(dir, `${name}.pem`);
  await writeFile(p, pemText, { mode: 0o600 });
  return p;
}

