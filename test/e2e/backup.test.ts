/**
 * `keywarden backup create|verify|restore` as real processes on a real dev server's data:
 * backup -> wipe -> restore -> every ciphertext made before the backup decrypts; corrupted backups
 * are refused by verify and restore; restore refuses a non-empty store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiOk, ok, runCli, startDevServer, type DevServer } from './helpers.js';

describe('backup CLI', () => {
  let server: DevServer | undefined;
  let dataDir: string;
  let rootToken: string;
  let work: string;
  let db: string;
  let file: string;
  let shares: string[];
  let fingerprint: string;
  const made: Array<{ ciphertext: string; plaintext: string }> = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kw-backup-e2e-'));
    dataDir = join(work, 'data');
    file = join(work, 'kw.backup');
    const s = await startDevServer({ dataDir });
    server = s;
    rootToken = s.rootToken;
    db = join(dataDir, 'keywarden.db');
    for (const name of ['orders', 'payments']) {
      const key = (await apiOk(s.address, rootToken, 'POST', '/v1/keys', { description: name, alias: `alias/${name}` })).key.id as string;
      for (let i = 0; i < 3; i++) {
        const plaintext = `${name} secret ${i}`;
        const enc = await apiOk(s.address, rootToken, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: Buffer.from(plaintext).toString('base64') });
        made.push({ ciphertext: enc.ciphertext, plaintext });
      }
      await apiOk(s.address, rootToken, 'POST', `/v1/keys/${key}/rotate`);
      const enc = await apiOk(s.address, rootToken, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: Buffer.from(`${name} v2`).toString('base64') });
      made.push({ ciphertext: enc.ciphertext, plaintext: `${name} v2` });
    }
    await s.stop({ keepData: true });
    server = undefined;
  });

  after(async () => {
    await server?.stop({ keepData: true });
    await rm(work, { recursive: true, force: true });
  });

  const corrupt = async (name: string, edit: (b: Buffer) => Buffer): Promise<string> => {
    const p = join(work, name);
    await writeFile(p, edit(Buffer.from(await readFile(file))));
    return p;
  };

  test('create writes one signed, encrypted file and prints the shares and the fingerprint once', async () => {
    const r = ok(await runCli(['backup', 'create', '--data', db, '--out', file, '--shares', '3', '--threshold', '2', '--format', 'json']));
    const out = JSON.parse(r.toString());
    shares = out.shares;
    fingerprint = out.fingerprint;
    assert.equal(shares.length, 3);
    assert.match(fingerprint, /^SHA256:[0-9a-f]{64}$/);
    const byName = new Map((out.tables as Array<{ name: string; rows: number }>).map((t) => [t.name, t.rows]));
    assert.equal(byName.get('keys'), 2);
    assert.equal(byName.get('key_versions'), 4);
    const bytes = await readFile(file);
    assert.ok(bytes.subarray(0, 19).equals(Buffer.from('KEYWARDEN-BACKUP 1\n')));
    for (const m of made) assert.equal(bytes.indexOf(m.plaintext), -1, 'no plaintext in the file');
    for (const s of shares) assert.equal(bytes.indexOf(s), -1, 'no share in the file');
    assert.equal((await runCli(['backup', 'create', '--data', db, '--out', file])).code, 1, 'an existing backup file is never overwritten');

    const table = await runCli(['backup', 'create', '--data', db, '--out', join(work, 'second.backup'), '--shares', '1', '--threshold', '1']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout.toString(), /Signing key fingerprint \(record it with the shares\): SHA256:[0-9a-f]{64}/);
    assert.match(table.stdout.toString(), /Backup key share 1: \S+/);
    assert.match(table.stderr, /shown ONLY ONCE/);
  });

  test('verify checks the signature without shares and every table with shares', async () => {
    const plain = ok(await runCli(['backup', 'verify', file, '--format', 'json', '--fingerprint', fingerprint]));
    assert.equal(JSON.parse(plain.toString()).checked, 'signature');
    const full = ok(await runCli(['backup', 'verify', file, '--share', shares[0]!, '--share', shares[2]!, '--format', 'json']));
    assert.equal(JSON.parse(full.toString()).checked, 'contents');
    const viaStdin = ok(await runCli(['backup', 'verify', file, '--shares-stdin'], { input: `${shares[1]}\n${shares[2]}\n` }));
    assert.match(viaStdin.toString(), /decrypted; every table hash and row count match/);

    const one = await runCli(['backup', 'verify', file, '--share', shares[0]!]);
    assert.equal(one.code, 1);
    assert.match(one.stderr, /2 distinct backup key shares are needed, 1 given/);
    const other = await runCli(['backup', 'verify', join(work, 'second.backup'), '--share', shares[0]!, '--share', shares[1]!]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /do not reconstruct this backup's key/);
    const pinned = await runCli(['backup', 'verify', file, '--fingerprint', `SHA256:${'0'.repeat(64)}`]);
    assert.equal(pinned.code, 1);
    assert.match(pinned.stderr, /signed by SHA256:[0-9a-f]{64}, not by the expected/);
  });

  test('a corrupted backup is refused by verify and by restore, naming what is wrong', async () => {
    const flipped = await corrupt('flipped.backup', (b) => {
      b[b.length - 40]! ^= 0x01;
      return b;
    });
    const edited = await corrupt('edited.backup', (b) => Buffer.from(b.toString('latin1').replace('"name":"keys","rows":2', '"name":"keys","rows":3'), 'latin1'));
    assert.notDeepEqual(await readFile(edited), await readFile(file), 'the manifest was edited');
    const truncated = await corrupt('truncated.backup', (b) => b.subarray(0, b.length - 10));
    const header = await corrupt('header.backup', (b) => Buffer.concat([Buffer.from('NOT-A-BACKUP\n'), b.subarray(19)]));
    const cases: Array<[string, RegExp]> = [
      [flipped, /the encrypted snapshot was modified or truncated/],
      [edited, /the signature does not verify: the manifest or the signature was modified/],
      [truncated, /the encrypted snapshot was modified or truncated/],
      [header, /not a Keywarden backup file/],
    ];
    for (const [path, why] of cases) {
      for (const extra of [[], ['--share', shares[0]!, '--share', shares[1]!]]) {
        const v = await runCli(['backup', 'verify', path, ...extra]);
        assert.equal(v.code, 1, `verify ${path} ${extra.length ? 'with' : 'without'} shares must fail`);
        assert.match(v.stderr, why);
      }
      const target = join(work, 'never', `${Math.random()}.db`);
      const r = await runCli(['backup', 'restore', path, '--share', shares[0]!, '--share', shares[1]!, '--data', target]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, why);
      assert.equal(existsSync(target), false, 'nothing was written for a refused backup');
    }
  });

  test('restore refuses a non-empty store; after a wipe it restores and the server decrypts every old ciphertext', async () => {
    const busy = await runCli(['backup', 'restore', file, '--share', shares[0]!, '--share', shares[1]!, '--data', db]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /the target store is not empty \(table \w+ has rows\)/);
    const noShares = await runCli(['backup', 'restore', file, '--data', join(work, 'x.db')]);
    assert.equal(noShares.code, 1);
    assert.match(noShares.stderr, /restore needs the backup key shares/);

    // Wipe: the database and its WAL files go; the dev unseal key (the unseal material) stays.
    for (const f of ['keywarden.db', 'keywarden.db-wal', 'keywarden.db-shm']) await rm(join(dataDir, f), { force: true });
    const r = ok(await runCli(['backup', 'restore', file, '--share', shares[1]!, '--share', shares[2]!, '--data', db]));
    assert.match(r.toString(), /Restored \d+ tables \(\d+ rows\)/);

    const s = await startDevServer({ dataDir, rootToken });
    server = s;
    for (const m of made) {
      const dec = await apiOk(s.address, rootToken, 'POST', '/v1/decrypt', { ciphertext: m.ciphertext });
      assert.equal(Buffer.from(dec.plaintext, 'base64').toString(), m.plaintext);
    }
    const key = await apiOk(s.address, rootToken, 'GET', '/v1/keys/alias/orders');
    assert.equal(key.key.primaryVersion, 2);
    await s.stop({ keepData: true });
    server = undefined;
  });
});
