/**
 * Backups of a PRODUCTION (shamir-sealed) server, as real processes: keys of several specs with
 * rotations, stop, backup create, wipe, restore, start, unseal with the ORIGINAL unseal shares,
 * and every earlier ciphertext, signature and MAC still works. `backup verify` with the unseal
 * shares proves every key version against its canary, and names the version when a canary or a
 * version row was corrupted in the source before the backup. `dr drill` passes on a good backup
 * with its recovery time, and fails on a corrupted one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { api, apiOk, json, ok, runCli, startKeywarden, type ServerProc } from './helpers.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('backups of a production (shamir) server', () => {
  let dir: string;
  let configFile: string;
  let db: string;
  let server: ServerProc | undefined;
  let unsealShares: string[];
  let rootToken: string;
  let backupShares: string[];
  const backups = () => join(dir, 'backups');
  const good = () => join(backups(), 'good.backup');
  const keys: Record<string, string> = {};
  const ciphertexts: Array<{ ciphertext: string; plaintext: string }> = [];
  let signature: { message: string; signature: string };
  let mac: { message: string; mac: string };

  const start = async () => {
    server = await startKeywarden(['server', '--config', configFile]);
    return server.address;
  };
  const stop = async () => {
    assert.equal(await server!.stop(), 0);
    server = undefined;
  };
  const unseal = async (address: string) => {
    for (const s of unsealShares.slice(1)) ok(await runCli(['operator', 'unseal', s], { env: { KEYWARDEN_ADDR: address } }));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-backup-prod-'));
    await mkdir(backups());
    db = join(dir, 'data', 'keywarden.db');
    configFile = join(dir, 'keywarden.yaml');
    await writeFile(configFile, ['listen: { address: 127.0.0.1:0, tls: { disable: true } }', 'storage: { type: sqlite, path: data/keywarden.db }', 'seal: { type: shamir }', 'log: { level: warn }', ''].join('\n'));
    const address = await start();
    const init = json<{ shares: string[]; rootToken: string }>(await runCli(['operator', 'init', '--shares', '3', '--threshold', '2', '--format', 'json'], { env: { KEYWARDEN_ADDR: address } }));
    unsealShares = init.shares;
    rootToken = init.rootToken;
    await unseal(address);
    const call = (method: string, path: string, body?: unknown) => apiOk(address, rootToken, method, path, body);
    for (const [name, spec, usage] of [
      ['orders', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'],
      ['rsa', 'RSA_2048', 'ENCRYPT_DECRYPT'],
      ['signer', 'ECC_NIST_P256', 'SIGN_VERIFY'],
      ['mac', 'HMAC_256', 'GENERATE_VERIFY_MAC'],
    ] as const) {
      keys[name] = (await call('POST', '/v1/keys', { spec, usage, alias: `alias/${name}` })).key.id;
    }
    for (let round = 1; round <= 2; round++) {
      const plaintext = `order ${round}`;
      ciphertexts.push({ ciphertext: (await call('POST', '/v1/keys/alias/orders/encrypt', { plaintext: b64(plaintext) })).ciphertext, plaintext });
      for (const name of Object.keys(keys)) await call('POST', `/v1/keys/alias/${name}/rotate`);
    }
    signature = { message: b64('signed before the backup'), signature: '' };
    signature.signature = (await call('POST', '/v1/keys/alias/signer/sign', { message: signature.message, algorithm: 'ECDSA_SHA_256' })).signature;
    mac = { message: b64('maced before the backup'), mac: '' };
    mac.mac = (await call('POST', '/v1/keys/alias/mac/mac', { message: mac.message, algorithm: 'HMAC_SHA_256' })).mac;
    await stop();
  });

  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('backup create, then verify with the ORIGINAL unseal shares proves every key version against its canary', async () => {
    const created = json<{ shares: string[] }>(await runCli(['backup', 'create', '--config', configFile, '--out', good(), '--shares', '3', '--threshold', '2', '--format', 'json']));
    backupShares = created.shares;
    const r = json<any>(await runCli(['backup', 'verify', good(), '--share', backupShares[0]!, '--share', backupShares[2]!, '--unseal-share', unsealShares[0]!, '--unseal-share', unsealShares[2]!, '--format', 'json']));
    assert.equal(r.ok, true, JSON.stringify(r.steps));
    assert.equal(r.checked, 'canaries');
    assert.equal(r.sealType, 'shamir');
    assert.equal(r.canaries.keys, 4);
    assert.equal(r.canaries.versions, 12, '4 keys with 3 versions each');
    assert.equal(r.canaries.passed, 12);
    assert.equal(r.canaries.withoutCanary, 0);
    assert.deepEqual(r.steps.map((s: any) => s.name), ['verify', 'restore', 'start', 'unseal', 'canaries']);
    const table = ok(await runCli(['backup', 'verify', good(), '--share', backupShares[1]!, '--share', backupShares[0]!, '--unseal-share', unsealShares[1]!, '--unseal-share', unsealShares[0]!])).toString();
    assert.match(table, /contents, and every key version against its canary/);
    assert.match(table, /12 of 12 checked passed \(4 keys, 12 versions not destroyed\)/);
    assert.match(table, /alias\/signer\s+ECC_NIST_P256\s+3\s+Enabled\s+OK\s+canary/);

    const wrongUnseal = await runCli(['backup', 'verify', good(), '--share', backupShares[0]!, '--share', backupShares[1]!, '--unseal-share', unsealShares[0]!]);
    assert.equal(wrongUnseal.code, 1);
    assert.match(wrongUnseal.stderr, /unseal: still sealed: 1 of 2 unseal shares given/);
    const noShares = await runCli(['backup', 'verify', good(), '--unseal-share', unsealShares[0]!]);
    assert.equal(noShares.code, 2);
    assert.match(noShares.stderr, /needs the backup key shares/);
  });

  test('wipe, restore, start, unseal with the original shares: every earlier ciphertext, signature and MAC works', async () => {
    await rm(join(dir, 'data'), { recursive: true, force: true });
    ok(await runCli(['backup', 'restore', good(), '--share', backupShares[2]!, '--share', backupShares[1]!, '--config', configFile]));
    const address = await start();
    try {
      const st = await api(address, null, 'GET', '/v1/sys/seal-status');
      assert.equal(st.json.sealed, true, 'a restored server starts sealed');
      await unseal(address);
      for (const c of ciphertexts) {
        const dec = await apiOk(address, rootToken, 'POST', '/v1/decrypt', { ciphertext: c.ciphertext });
        assert.equal(Buffer.from(dec.plaintext, 'base64').toString(), c.plaintext);
      }
      const v = await apiOk(address, rootToken, 'POST', '/v1/keys/alias/signer/verify', { ...signature, algorithm: 'ECDSA_SHA_256' });
      assert.equal(v.valid, true);
      const m = await apiOk(address, rootToken, 'POST', '/v1/keys/alias/mac/verify-mac', { ...mac, algorithm: 'HMAC_SHA_256' });
      assert.equal(m.valid, true);
      assert.equal((await apiOk(address, rootToken, 'GET', '/v1/keys/alias/orders')).key.primaryVersion, 3);
    } finally {
      await stop();
    }
  });

  test('verify fails naming the version when a canary or a version row was corrupted before the backup', async () => {
    const corrupted = async (name: string, sql: string, params: unknown[]) => {
      const copy = join(dir, `${name}.db`);
      const src = new Database(db, { readonly: true });
      src.exec(`VACUUM INTO '${copy}'`);
      src.close();
      const c = new Database(copy);
      assert.equal(c.prepare(sql).run(...params).changes, 1);
      c.close();
      const out = join(backups(), `${name}.backup`);
      const created = json<{ shares: string[] }>(await runCli(['backup', 'create', '--data', copy, '--out', out, '--shares', '1', '--threshold', '1', '--format', 'json']));
      return runCli(['backup', 'verify', out, '--share', created.shares[0]!, '--unseal-share', unsealShares[0]!, '--unseal-share', unsealShares[1]!, '--format', 'json']);
    };
    const canary = await corrupted('canary', 'UPDATE key_canaries SET challenge = randomblob(32) WHERE key_id = ? AND version = 1', [keys.orders]);
    assert.equal(canary.code, 1);
    assert.match(canary.stderr, new RegExp(`canaries: 1 key version failed: key ${keys.orders} version 1: its canary decrypts to another plaintext`));
    const report = JSON.parse(canary.stdout.toString());
    assert.equal(report.ok, false);
    assert.deepEqual(report.canaries.results.filter((r: any) => r.result === 'failed').map((r: any) => [r.keyId, r.version]), [[keys.orders, 1]]);
    assert.equal(report.canaries.passed, 11);

    const version = await corrupted('version', 'UPDATE key_versions SET wrapped_material = randomblob(61) WHERE key_id = ? AND version = 2', [keys.signer]);
    assert.equal(version.code, 1);
    assert.match(version.stderr, new RegExp(`key ${keys.signer} version 2: its key material does not unwrap under the root key`));
    const sig = await corrupted('signature', 'UPDATE key_canaries SET proof = randomblob(70) WHERE key_id = ? AND version = 3', [keys.signer]);
    assert.match(sig.stderr, new RegExp(`key ${keys.signer} version 3: its canary signature does not verify`));
  });

  test('dr drill on the latest backup passes with its recovery time; a corrupted backup fails it', async () => {
    const drillDir = join(dir, 'drill');
    await mkdir(drillDir);
    await copyFile(good(), join(drillDir, 'kw-latest.backup'));
    const args = ['dr', 'drill', '--backup-dir', drillDir, '--shares-stdin', '--unseal-share', unsealShares[2]!, '--unseal-share', unsealShares[0]!];
    const r = json<any>(await runCli([...args, '--format', 'json'], { input: `${backupShares[0]}\n${backupShares[1]}\n` }));
    assert.equal(r.ok, true, JSON.stringify(r.steps));
    assert.equal(r.backup, join(drillDir, 'kw-latest.backup'));
    assert.deepEqual(r.steps.map((s: any) => [s.name, s.ok]), [['verify', true], ['restore', true], ['ledger', true], ['start', true], ['unseal', true], ['canaries', true]]);
    assert.ok(r.recoveryMs > 0 && r.totalMs >= r.recoveryMs);
    assert.equal(r.recoveryMs, r.steps.filter((s: any) => ['verify', 'restore', 'start', 'unseal'].includes(s.name)).reduce((n: number, s: any) => n + s.ms, 0));
    assert.equal(r.ledger.comparedWithManifest, true);
    assert.ok(r.ledger.events > 0 && r.ledger.newestCheckpoint.size > 0);
    assert.equal(r.canaries.passed, 12);

    const table = ok(await runCli([...args, '--sample', '1'], { input: `${backupShares[2]}\n${backupShares[1]}\n` })).toString();
    assert.match(table, /DR drill PASSED/);
    assert.match(table, /Recovery time\s+\d+ ms \(verify, restore, start, unseal\)/);
    assert.match(table, /4 of 4 checked passed \(4 keys, 12 versions not destroyed\)/, '--sample 1: one version per key');
    assert.match(table, /ledger\s+ok\s+\d+\s+\d+ events and \d+ signed checkpoints? verified; the newest checkpoint \(size \d+\) is the manifest's/);

    // A newer, corrupted file becomes the latest: the drill fails at verify.
    const bytes = await readFile(good());
    bytes[bytes.length - 30]! ^= 0x01;
    await writeFile(join(drillDir, 'kw-newer.backup'), bytes);
    const bad = await runCli([...args, '--format', 'json'], { input: `${backupShares[0]}\n${backupShares[1]}\n` });
    assert.equal(bad.code, 1);
    const failed = JSON.parse(bad.stdout.toString());
    assert.equal(failed.ok, false);
    assert.equal(failed.backup, join(drillDir, 'kw-newer.backup'));
    assert.deepEqual(failed.steps.map((s: any) => [s.name, s.ok]), [['verify', false]]);
    assert.match(bad.stderr, /the DR drill failed at verify: the encrypted snapshot was modified or truncated/);
  });
});
