/**
 * End-to-end tests of the key lifecycle commands of the CLI (issue 2/10) against a real dev server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants, createDecipheriv, createHash, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { INVALID_CIPHERTEXT_MESSAGE } from '../../src/errors/catalog.js';
import { type DevServer, type RunOptions, fails, json, ok, runCli, startDevServer, text } from './helpers.js';

const run = promisify(execFile);


interface Key {
  id: string;
  aliases: string[];
  spec: string;
  usage: string;
  state: string;
  origin: string;
  exportable: boolean;
  description: string;
  tags: Record<string, string>;
  primaryVersion: number;
  minDecryptionVersion: number;
  rotationPeriodDays: number | null;
  nextRotationAt: string | null;
  usageLimit: number;
  deletionAt: string | null;
  compromisedAt: string | null;
  revocationReason: string | null;
  materialExpiresAt: string | null;
}

interface Version {
  version: number;
  state: string;
  primary: boolean;
  destroyedAt: string | null;
}

interface Encrypted {
  ciphertext: string;
  keyId: string;
  keyVersion: number;
}

const DAY_MS = 86_400_000;

/** canonicalContext of docs/ciphertext-format.md. */
function canonicalContext(context: Record<string, string>): Buffer {
  const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  const pairs = Object.entries(context).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
  pairs.sort(([a], [b]) => Buffer.compare(a, b));
  return Buffer.concat([u32(pairs.length), ...pairs.flatMap(([k, v]) => [u32(k.length), k, u32(v.length), v])]);
}

/** Decrypts a v1 Keywarden ciphertext with raw key material, written from docs/ciphertext-format.md alone. */
function localDecrypt(material: Buffer, ct: Buffer, keyId: string, context: Record<string, string> = {}): Buffer {
  assert.equal(ct[0], 0x01, 'format version');
  assert.equal(ct[1], 0x01, 'AES-256-GCM');
  assert.equal(ct.subarray(2, 18).toString('hex'), keyId.replaceAll('-', ''), 'key id in the header');
  const headerLength = 23 + ct[22]!;
  const decipher = createDecipheriv('aes-256-gcm', material, ct.subarray(23, headerLength));
  decipher.setAAD(Buffer.concat([ct.subarray(0, headerLength), canonicalContext(context)]));
  decipher.setAuthTag(ct.subarray(ct.length - 16));
  return Buffer.concat([decipher.update(ct.subarray(headerLength, ct.length - 16)), decipher.final()]);
}

// Every test uses keys, aliases and files of its own, so they run concurrently (each CLI run is a process).
describe('keywarden key lifecycle CLI against a dev server', { concurrency: true }, () => {
  let server: DevServer;
  let tmp: string;

  const kw = (args: string[], opts: RunOptions = {}) =>
    runCli(args, { ...opts, env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: server.rootToken, ...opts.env } });
  const keyJson = async (args: string[], opts: RunOptions = {}) => json<{ key: Key }>(await kw([...args, '--format', 'json'], opts)).key;
  const create = (...args: string[]) => keyJson(['key', 'create', ...args]);
  const encrypt = async (key: string, input: string | Buffer = 'hello') =>
    json<Encrypted>(await kw(['encrypt', '--key', key, '--format', 'json'], { input }));
  const decrypt = (ciphertext: string) => kw(['decrypt', '--format', 'json'], { input: ciphertext });
  const versions = async (key: string) => json<{ versions: Version[] }>(await kw(['key', 'versions', key, '--format', 'json'])).versions;
  const file = (name: string) => join(tmp, name);

  before(async () => {
    server = await startDevServer();
    tmp = await mkdtemp(join(tmpdir(), 'keywarden-lifecycle-'));
  });

  after(async () => {
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('create keys of several specs and usages, with lifecycle settings', async () => {
    for (const [spec, usage] of [
      ['SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'],
      ['HMAC_256', 'GENERATE_VERIFY_MAC'],
      ['HMAC_512', 'GENERATE_VERIFY_MAC'],
      ['RSA_2048', 'ENCRYPT_DECRYPT'],
      ['RSA_2048', 'SIGN_VERIFY'],
      ['ECC_NIST_P256', 'SIGN_VERIFY'],
      ['ECC_ED25519', 'SIGN_VERIFY'],
    ]) {
      const key = await create('--spec', spec!, '--usage', usage!);
      assert.deepEqual([key.spec, key.usage, key.state, key.origin, key.primaryVersion], [spec, usage, 'Enabled', 'KEYWARDEN', 1]);
    }

    const key = await create('--rotation-period', '90d', '--usage-limit', '1000', '--exportable');
    assert.equal(key.rotationPeriodDays, 90);
    assert.ok(Math.abs(Date.parse(key.nextRotationAt!) - Date.now() - 90 * DAY_MS) < 60_000, key.nextRotationAt!);
    assert.equal(key.usageLimit, 1000);
    assert.equal(key.exportable, true);
    const table = text(await kw(['key', 'describe', key.id]));
    assert.match(table, /^Rotation period\s+90d$/m);
    assert.match(table, /^Usage limit\s+1000$/m);
    assert.match(table, /^Exportable\s+true$/m);

    // --usage-limit: the encryption after the limit rotates first.
    const limited = await create('--usage-limit', '2');
    const used = [];
    for (let i = 0; i < 3; i++) used.push((await encrypt(limited.id)).keyVersion);
    assert.deepEqual(used, [1, 1, 2]);

    fails(await kw(['key', 'create', '--spec', 'ECC_NIST_P256', '--usage', 'ENCRYPT_DECRYPT']), 1,
      /^error: ValidationError: Key spec ECC_NIST_P256 does not support key usage "ENCRYPT_DECRYPT"; valid: SIGN_VERIFY/);
    fails(await kw(['key', 'create', '--rotation-period', '36h']), 2,
      /^error: option '--rotation-period <duration>' argument '36h' is invalid. expected a positive whole number of days/);
    fails(await kw(['key', 'create', '--origin', 'AWS']), 2, /^error: option '--origin <origin>' argument 'AWS' is invalid/);
  });

  test('rotate: new encryptions use v2, old ciphertexts still decrypt, re-wrap moves them to v2', async () => {
    const key = await create();
    const v1 = await encrypt(key.id, 'before rotation');
    assert.equal(v1.keyVersion, 1);

    assert.equal((await keyJson(['key', 'rotate', key.id])).primaryVersion, 2);
    assert.deepEqual((await versions(key.id)).map((v) => [v.version, v.state, v.primary]), [
      [1, 'Enabled', false],
      [2, 'Enabled', true],
    ]);
    const table = text(await kw(['key', 'versions', key.id]));
    assert.match(table, /^VERSION\s+STATE\s+PRIMARY/);
    assert.match(table, /^2\s+Enabled\s+yes/m);

    assert.equal((await encrypt(key.id)).keyVersion, 2);
    const old = json<{ plaintext: string; keyVersion: number }>(await decrypt(v1.ciphertext));
    assert.equal(Buffer.from(old.plaintext, 'base64').toString(), 'before rotation');
    assert.equal(old.keyVersion, 1);

    const wrapped = json<Encrypted & { previousKeyVersion: number }>(
      await kw(['re-wrap', '--key', key.id, '--format', 'json'], { input: v1.ciphertext }),
    );
    assert.deepEqual([wrapped.keyId, wrapped.keyVersion, wrapped.previousKeyVersion], [key.id, 2, 1]);
    assert.equal(ok(await kw(['decrypt'], { input: wrapped.ciphertext })).toString(), 'before rotation');
    // Table form prints the base64 ciphertext only, raw with --out.
    const again = text(await kw(['re-wrap', '--key', key.id], { input: v1.ciphertext }));
    assert.match(again, /^AQ[A-Za-z0-9+/]+=*\n$/);
  });

  test('version disable, enable and destroy', async () => {
    const key = await create();
    const v1 = await encrypt(key.id, 'v1 secret');
    await kw(['key', 'rotate', key.id]);

    const disabled = json<{ version: Version }>(await kw(['key', 'version', 'disable', key.id, '1', '--format', 'json']));
    assert.equal(disabled.version.state, 'Disabled');
    fails(await decrypt(v1.ciphertext), 1, new RegExp(`^error: Disabled: version 1 of key ${key.id} is disabled`));
    assert.match(text(await kw(['key', 'version', 'enable', key.id, '1'])), /^State\s+Enabled$/m);
    ok(await decrypt(v1.ciphertext));

    fails(await kw(['key', 'version', 'destroy', key.id, '2']), 1,
      new RegExp(`^error: InvalidState: version 2 is the primary version of key ${key.id}: rotate first`));
    const destroyed = json<{ version: Version }>(await kw(['key', 'version', 'destroy', key.id, '1', '--format', 'json']));
    assert.equal(destroyed.version.state, 'Destroyed');
    assert.ok(destroyed.version.destroyedAt);
    fails(await decrypt(v1.ciphertext), 1, new RegExp(`^error: InvalidState: version 1 of key ${key.id} was destroyed`));
    fails(await kw(['key', 'version', 'enable', key.id, '1']), 1, /^error: InvalidState: version 1 of key .* is Destroyed/);
    fails(await kw(['key', 'version', 'disable', key.id, '9']), 1, /^error: NotFound: version 9 of key .* was not found/);
  });

  test('disable makes encrypt fail with Disabled; enable restores it', async () => {
    const key = await create();
    assert.equal((await keyJson(['key', 'disable', key.id])).state, 'Disabled');
    fails(await kw(['encrypt', '--key', key.id], { input: 'x' }), 1, new RegExp(`^error: Disabled: key ${key.id} is disabled`));
    assert.match(text(await kw(['key', 'enable', key.id])), /^State\s+Enabled$/m);
    assert.equal((await encrypt(key.id)).keyId, key.id);
  });

  test('schedule-deletion and cancel-deletion', async () => {
    const key = await create();
    const scheduled = await keyJson(['key', 'schedule-deletion', key.id, '--days', '7']);
    assert.equal(scheduled.state, 'PendingDeletion');
    assert.ok(Math.abs(Date.parse(scheduled.deletionAt!) - Date.now() - 7 * DAY_MS) < 60_000, scheduled.deletionAt!);
    fails(await kw(['encrypt', '--key', key.id], { input: 'x' }), 1,
      new RegExp(`^error: InvalidState: key ${key.id} is PendingDeletion: cancel the deletion to use it`));

    const cancelled = await keyJson(['key', 'cancel-deletion', key.id]);
    assert.deepEqual([cancelled.state, cancelled.deletionAt], ['Disabled', null]);
    fails(await kw(['key', 'cancel-deletion', key.id]), 1, new RegExp(`^error: InvalidState: key ${key.id} is Disabled: it cannot have its deletion cancelled`));

    const byDefault = await keyJson(['key', 'schedule-deletion', key.id]);
    assert.ok(Math.abs(Date.parse(byDefault.deletionAt!) - Date.now() - 30 * DAY_MS) < 60_000, byDefault.deletionAt!);
    fails(await kw(['key', 'schedule-deletion', key.id, '--days', '3']), 2,
      /^error: option '--days <n>' argument '3' is invalid. expected an integer from 7 to 30/);
  });

  test('revoke compromised: encrypt and decrypt fail with InvalidState, re-encrypt to another key works', async () => {
    const [key, other] = [await create(), await create()];
    const ct = await encrypt(key.id, 'leaked?');
    const compromisedAt = new Date(Date.now() - DAY_MS).toISOString();
    const revoked = await keyJson(['key', 'revoke', key.id, '--reason', 'compromised', '--compromised-at', compromisedAt]);
    assert.deepEqual([revoked.state, revoked.revocationReason, revoked.compromisedAt], ['Compromised', 'compromised', compromisedAt]);

    fails(await kw(['encrypt', '--key', key.id], { input: 'x' }), 1,
      new RegExp(`^error: InvalidState: key ${key.id} is Compromised: it cannot encrypt`));
    fails(await decrypt(ct.ciphertext), 1, new RegExp(`^error: InvalidState: key ${key.id} is Compromised`));
    const moved = json<Encrypted & { sourceKeyId: string }>(
      await kw(['re-encrypt', '--destination-key', other.id, '--format', 'json'], { input: ct.ciphertext }),
    );
    assert.deepEqual([moved.keyId, moved.sourceKeyId], [other.id, key.id]);
    assert.equal(ok(await kw(['decrypt'], { input: moved.ciphertext })).toString(), 'leaked?');

    const superseded = await create();
    assert.equal((await keyJson(['key', 'revoke', superseded.id, '--reason', 'superseded'])).state, 'Disabled');

    fails(await kw(['key', 'revoke', other.id, '--reason', 'compromised', '--compromised-at', new Date(Date.now() + DAY_MS).toISOString()]), 1,
      /^error: ValidationError: compromisedAt must not be in the future/);
    fails(await kw(['key', 'revoke', other.id, '--reason', 'stolen']), 2, /^error: option '--reason <reason>' argument 'stolen' is invalid/);
    fails(await kw(['key', 'revoke', other.id]), 2, /^error: required option '--reason <reason>' not specified/);
    fails(await kw(['key', 'revoke', other.id, '--reason', 'compromised', '--compromised-at', 'yesterday']), 2,
      /^error: option '--compromised-at <time>' argument 'yesterday' is invalid/);
  });

  test('update changes the description and lifecycle settings', async () => {
    const key = await create('--description', 'before');
    const v1 = await encrypt(key.id);
    await kw(['key', 'rotate', key.id]);
    const updated = await keyJson(['key', 'update', key.id, '--description', 'after', '--rotation-period', '30d',
      '--min-decryption-version', '2', '--usage-limit', '500']);
    assert.deepEqual([updated.description, updated.rotationPeriodDays, updated.minDecryptionVersion, updated.usageLimit],
      ['after', 30, 2, 500]);
    fails(await decrypt(v1.ciphertext), 1, /^error: InvalidState: version 1 of key .* is below its minimum decryption version 2/);

    const off = await keyJson(['key', 'update', key.id, '--rotation-period', 'off']);
    assert.deepEqual([off.rotationPeriodDays, off.nextRotationAt], [null, null]);

    fails(await kw(['key', 'update', key.id, '--min-decryption-version', '3']), 1,
      /^error: ValidationError: minDecryptionVersion must be between 1 and the primary version \(2\)/);
    fails(await kw(['key', 'update', key.id]), 2, /^error: nothing to update/);
    fails(await kw(['key', 'update', key.id, '--rotation-period', '12h']), 2,
      /^error: option '--rotation-period <duration>' argument '12h' is invalid/);
  });

  for (const [spec, algorithm, sigopts] of [
    ['ECC_NIST_P256', 'ECDSA_SHA_256', []],
    ['RSA_2048', 'RSASSA_PSS_SHA_256', ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest']],
  ] as const) {
    test(`sign and verify with ${spec} ${algorithm}; openssl verifies the signature`, async () => {
      const key = await create('--spec', spec, '--usage', 'SIGN_VERIFY', '--alias', `alias/sign-${spec.toLowerCase()}`);
      const message = Buffer.from(`message signed by ${spec}`);
      const [msgFile, sigFile, pemFile] = [file(`${spec}.msg`), file(`${spec}.sig`), file(`${spec}.pem`)];
      await writeFile(msgFile, message);
      const sign = ['sign', '--key', key.id, '--algorithm', algorithm];

      assert.equal(text(await kw([...sign, '--in', msgFile, '--out', sigFile])), '');
      const verify = ['verify', '--key', `alias/sign-${spec.toLowerCase()}`, '--algorithm', algorithm, '--signature', sigFile];
      assert.match(text(await kw(verify, { input: message })), /^signature is valid/);
      fails(await kw(verify, { input: Buffer.concat([message, Buffer.from('!')]) }), 1, /^error: signature is NOT valid\n$/);

      // Raw signature on stdout; --format json prints the response.
      const raw = ok(await kw(sign, { input: message }));
      const res = json<{ signature: string; keyId: string; algorithm: string }>(await kw([...sign, '--format', 'json'], { input: message }));
      assert.deepEqual([res.keyId, res.algorithm], [key.id, algorithm]);
      const verdict = json<{ valid: boolean }>(await kw([...verify, '--format', 'json'], { input: message }));
      assert.equal(verdict.valid, true);

      // --digest: sign the SHA-256 digest; the signature is one of the message.
      const digestSig = ok(await kw([...sign, '--digest'], { input: createHash('sha256').update(message).digest() }));
      await writeFile(file(`${spec}.digest.sig`), digestSig);
      ok(await kw([...verify, '--signature', file(`${spec}.digest.sig`)], { input: message }));

      // The public key, PEM by default, DER with --output der; openssl verifies with it.
      const pem = text(await kw(['public-key', key.id]));
      assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
      ok(await kw(['public-key', key.id, '--out', pemFile]));
      assert.equal(await readFile(pemFile, 'utf8'), pem);
      const der = ok(await kw(['public-key', key.id, '--output', 'der']));
      assert.equal(der.toString('base64'), json<{ publicKey: string }>(await kw(['public-key', key.id, '--format', 'json'])).publicKey);
      for (const sig of [sigFile, file(`${spec}.digest.sig`)]) {
        const { stdout } = await run('openssl', ['dgst', '-sha256', '-verify', pemFile, ...sigopts, '-signature', sig, msgFile]);
        assert.match(stdout, /Verified OK/);
      }
      await writeFile(file(`${spec}.raw.sig`), raw);
      await run('openssl', ['dgst', '-sha256', '-verify', pemFile, ...sigopts, '-signature', file(`${spec}.raw.sig`), msgFile]);
    });
  }

  test('sign, verify and public-key errors', async () => {
    const symmetric = await create();
    fails(await kw(['sign', '--key', symmetric.id, '--algorithm', 'ECDSA_SHA_256'], { input: 'm' }), 1,
      new RegExp(`^error: InvalidKeyUsage: key ${symmetric.id} has usage ENCRYPT_DECRYPT; this operation needs a SIGN_VERIFY key`));
    fails(await kw(['public-key', symmetric.id]), 1, /^error: InvalidKeyUsage: key .* is a SYMMETRIC_DEFAULT key: it has no public key/);
    const ecc = await create('--spec', 'ECC_NIST_P256', '--usage', 'SIGN_VERIFY');
    fails(await kw(['sign', '--key', ecc.id, '--algorithm', 'RSASSA_PSS_SHA_256'], { input: 'm' }), 1, /^error: InvalidKeyUsage: /);
    fails(await kw(['verify', '--key', ecc.id, '--algorithm', 'ECDSA_SHA_256', '--signature', file('missing.sig')], { input: 'm' }), 1,
      /^error: cannot read .*missing\.sig: ENOENT/);
    fails(await kw(['sign', '--key', ecc.id]), 2, /^error: required option '--algorithm <alg>' not specified/);
  });

  test('mac and verify-mac', async () => {
    const key = await create('--spec', 'HMAC_256', '--usage', 'GENERATE_VERIFY_MAC');
    const mac = ok(await kw(['mac', '--key', key.id, '--algorithm', 'HMAC_SHA_256'], { input: 'authentic' }));
    assert.equal(mac.length, 32);
    await writeFile(file('m.mac'), mac);
    const verify = ['verify-mac', '--key', key.id, '--algorithm', 'HMAC_SHA_256', '--mac', file('m.mac')];
    assert.match(text(await kw(verify, { input: 'authentic' })), /^MAC is valid/);
    fails(await kw(verify, { input: 'forged' }), 1, /^error: MAC is NOT valid\n$/);
    const res = json<{ mac: string; algorithm: string }>(await kw(['mac', '--key', key.id, '--algorithm', 'HMAC_SHA_256', '--format', 'json'], { input: 'authentic' }));
    assert.deepEqual(Buffer.from(res.mac, 'base64'), mac);
    fails(await kw(['mac', '--key', key.id, '--algorithm', 'HMAC_SHA_512'], { input: 'x' }), 1, /^error: InvalidKeyUsage: /);
  });

  test('alias create, update, list and delete', async () => {
    const [a, b] = [await create(), await create()];
    const created = json<{ alias: string; keyId: string }>(await kw(['key', 'alias', 'create', 'alias/lc-moving', '--key', a.id, '--format', 'json']));
    assert.deepEqual(created, { alias: 'alias/lc-moving', keyId: a.id });
    assert.equal((await encrypt('alias/lc-moving')).keyId, a.id);
    fails(await kw(['key', 'alias', 'create', 'alias/lc-moving', '--key', b.id]), 1, /^error: AlreadyExists: alias "alias\/lc-moving" is already in use/);

    assert.match(text(await kw(['key', 'alias', 'update', 'alias/lc-moving', '--key', b.id])), new RegExp(`^Key ID\\s+${b.id}$`, 'm'));
    assert.equal((await encrypt('alias/lc-moving')).keyId, b.id);
    const hmac = await create('--spec', 'HMAC_256');
    fails(await kw(['key', 'alias', 'update', 'alias/lc-moving', '--key', hmac.id]), 1,
      /^error: ValidationError: alias "alias\/lc-moving" points at a SYMMETRIC_DEFAULT\/ENCRYPT_DECRYPT key; it can only move to a key of the same spec and usage/);
    const list = json<{ aliases: { alias: string; keyId: string }[] }>(await kw(['key', 'alias', 'list', '--format', 'json']));
    assert.deepEqual(list.aliases.find((x) => x.alias === 'alias/lc-moving'), { alias: 'alias/lc-moving', keyId: b.id });
    assert.match(text(await kw(['key', 'alias', 'list'])), new RegExp(`^alias/lc-moving\\s+${b.id}$`, 'm'));

    assert.match(text(await kw(['key', 'alias', 'delete', 'alias/lc-moving'])), /^Deleted\s+alias\/lc-moving$/m);
    fails(await kw(['key', 'describe', 'alias/lc-moving']), 1, /^error: NotFound: key "alias\/lc-moving" was not found/);
    fails(await kw(['key', 'alias', 'delete', 'alias/lc-moving']), 1, /^error: NotFound: alias "alias\/lc-moving" was not found/);
    fails(await kw(['key', 'alias', 'create', 'alias/aws/x', '--key', a.id]), 1, /^error: ValidationError: alias "alias\/aws\/x" uses a reserved prefix/);
    fails(await kw(['key', 'alias', 'create', 'alias/lc-x']), 2, /^error: required option '--key <key>' not specified/);
  });

  test('tag and untag', async () => {
    const key = await create('--tag', 'keep=1');
    assert.deepEqual((await keyJson(['key', 'tag', key.id, 'team=crypto', 'env=prod'])).tags, { keep: '1', team: 'crypto', env: 'prod' });
    assert.deepEqual((await keyJson(['key', 'untag', key.id, 'team', 'env'])).tags, { keep: '1' });
    fails(await kw(['key', 'tag', key.id, 'novalue']), 2, /^error: command-argument value 'novalue' is invalid for argument 'k=v'/);
    fails(await kw(['key', 'tag', key.id]), 2, /^error: missing required argument 'k=v'/);
  });

  test('import: BYOK of a 32-byte key into an EXTERNAL key, then encrypt and decrypt', async () => {
    const key = await create('--origin', 'EXTERNAL', '--alias', 'alias/lc-byok');
    assert.deepEqual([key.origin, key.state, key.primaryVersion], ['EXTERNAL', 'PendingImport', 0]);
    fails(await kw(['encrypt', '--key', key.id], { input: 'x' }), 1,
      new RegExp(`^error: InvalidState: key ${key.id} is PendingImport: import its key material first`));

    const material = randomBytes(32);
    await writeFile(file('byok.bin'), material);
    const validTo = new Date(Date.now() + 365 * DAY_MS).toISOString();
    const imported = await keyJson(['key', 'import', 'alias/lc-byok', '--material', file('byok.bin'), '--valid-to', validTo]);
    assert.deepEqual([imported.state, imported.primaryVersion, imported.materialExpiresAt], ['Enabled', 1, validTo]);

    const ct = await encrypt('alias/lc-byok', 'bring your own key');
    assert.equal(ok(await kw(['decrypt'], { input: ct.ciphertext })).toString(), 'bring your own key');
    // The server really encrypts with the imported bytes.
    assert.equal(localDecrypt(material, Buffer.from(ct.ciphertext, 'base64'), key.id).toString(), 'bring your own key');

    fails(await kw(['key', 'rotate', key.id]), 1,
      new RegExp(`^error: InvalidState: key ${key.id} has imported material: rotate it by importing new material`));
    const other = await create('--origin', 'EXTERNAL');
    await writeFile(file('short.bin'), randomBytes(16));
    fails(await kw(['key', 'import', other.id, '--material', file('short.bin')]), 1,
      /^error: ValidationError: Key material for SYMMETRIC_DEFAULT must be 32 bytes; got 16/);
    const native = await create();
    fails(await kw(['key', 'import', native.id, '--material', file('byok.bin')]), 1,
      new RegExp(`^error: InvalidState: key ${native.id} was not created for imported material`));
    fails(await kw(['key', 'import', key.id, '--material', file('nope.bin')]), 1, /^error: cannot read .*nope\.bin: ENOENT/);
  });

  test('export: the wrapped material unwraps locally and decrypts a ciphertext', async () => {
    const key = await create('--exportable');
    const context = { purpose: 'export-test', tenant: 'acme' };
    const ct = json<Encrypted>(await kw(['encrypt', '--key', key.id, '--format', 'json', '--context', 'tenant=acme',
      '--context', 'purpose=export-test'], { input: 'exported' }));

    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const unwrap = (wrapped: Buffer) => privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
    await writeFile(file('export.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const res = json<{ keyId: string; keyVersion: number; wrappingAlgorithm: string }>(
      await kw(['key', 'export', key.id, '--public-key', file('export.pub.pem'), '--out', file('wrapped.bin'), '--format', 'json']),
    );
    assert.deepEqual([res.keyId, res.keyVersion, res.wrappingAlgorithm], [key.id, 1, 'RSAES_OAEP_SHA_256']);
    const material = unwrap(await readFile(file('wrapped.bin')));
    assert.equal(material.length, 32);
    assert.equal(localDecrypt(material, Buffer.from(ct.ciphertext, 'base64'), key.id, context).toString(), 'exported');
    assert.match(text(await kw(['key', 'export', key.id, '--public-key', file('export.pub.pem')])), /^[A-Za-z0-9+/]+=*\n$/);
    // A DER (SPKI) public key file works too; without --out, JSON carries the wrapped material.
    await writeFile(file('export.pub.der'), publicKey.export({ type: 'spki', format: 'der' }));
    const viaDer = json<{ wrappedMaterial: string }>(await kw(['key', 'export', key.id, '--public-key', file('export.pub.der'), '--format', 'json']));
    assert.deepEqual(unwrap(Buffer.from(viaDer.wrappedMaterial, 'base64')), material);

    const locked = await create();
    fails(await kw(['key', 'export', locked.id, '--public-key', file('export.pub.pem')]), 1,
      new RegExp(`^error: InvalidKeyUsage: key ${locked.id} was not created exportable`));
    await writeFile(file('not-a-key.pem'), 'hello');
    fails(await kw(['key', 'export', key.id, '--public-key', file('not-a-key.pem')]), 1, /^error: \S*not-a-key\.pem does not hold a public key \(expected PEM "BEGIN PUBLIC KEY" or DER SPKI\)/);
  });

  test('errors on unknown keys name the key', async () => {
    for (const args of [['key', 'rotate', 'alias/lc-none'], ['key', 'versions', 'alias/lc-none'], ['key', 'tag', 'alias/lc-none', 'a=b']]) {
      fails(await kw(args), 1, /^error: NotFound: key "alias\/lc-none" was not found \(request id /);
    }
  });

  describe('--help', () => {
    const cases: [string[], string[]][] = [
      [['key', 'create'], ['--spec', '--usage', '--origin', '--exportable', '--rotation-period', '--usage-limit']],
      [['key', 'rotate'], ['<key>']],
      [['key', 'enable'], ['<key>']],
      [['key', 'disable'], ['<key>']],
      [['key', 'schedule-deletion'], ['<key>', '--days']],
      [['key', 'cancel-deletion'], ['<key>']],
      [['key', 'revoke'], ['--reason', '--compromised-at']],
      [['key', 'versions'], ['<key>']],
      [['key', 'version', 'enable'], ['<key>', '<n>']],
      [['key', 'version', 'disable'], ['<key>', '<n>']],
      [['key', 'version', 'destroy'], ['<key>', '<n>']],
      [['key', 'update'], ['--description', '--rotation-period', '--min-decryption-version', '--usage-limit']],
      [['key', 'alias', 'create'], ['<alias>', '--key']],
      [['key', 'alias', 'update'], ['<alias>', '--key']],
      [['key', 'alias', 'delete'], ['<alias>']],
      [['key', 'alias', 'list'], ['--format']],
      [['key', 'tag'], ['<key>', '<k=v...>']],
      [['key', 'untag'], ['<key>', '<k...>']],
      [['key', 'import'], ['--material', '--valid-to']],
      [['key', 'export'], ['--public-key', '--out']],
      [['key', 'report'], ['--unused-for']],
      [['key', 'purge'], ['--unused-for', '--window-days']],
      [['sign'], ['--key', '--algorithm', '--digest', '--in', '--out']],
      [['verify'], ['--key', '--algorithm', '--signature', '--digest', '--in']],
      [['public-key'], ['<key>', '--output', '--out']],
      [['mac'], ['--key', '--algorithm', '--in', '--out']],
      [['verify-mac'], ['--key', '--algorithm', '--mac', '--in']],
      [['re-wrap'], ['--key', '--in', '--out', '--context']],
    ];
    for (const [command, options] of cases) {
      const name = ['keywarden', ...command].join(' ');
      test(`${name} --help`, async () => {
        const help = text(await runCli([...command, '--help']));
        assert.ok(help.startsWith(`Usage: ${name} `), help);
        for (const option of options) assert.ok(help.includes(option), `help should mention ${option}:\n${help}`);
      });
    }
  });
});

describe('key report and purge on a fresh server', () => {
  let server: DevServer;
  const kw = (args: string[], opts: RunOptions = {}) =>
    runCli(args, { ...opts, env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: server.rootToken, ...opts.env } });
  const create = async (...args: string[]) => json<{ key: Key }>(await kw(['key', 'create', '--format', 'json', ...args])).key;
  const report = async (days: string) =>
    json<{ keys: Key[]; unusedForDays: number }>(await kw(['key', 'report', '--unused-for', days, '--format', 'json']));

  before(async () => {
    server = await startDevServer();
  });
  after(async () => {
    await server?.stop();
    if (server) await rm(server.dataDir, { recursive: true, force: true }); // restarted on a data dir of its own
  });

  test('keys without aliases and without usage are reported, then purged', async () => {
    const [bare, aliased, used] = [await create(), await create('--alias', 'alias/lc-report'), await create()];
    // A key counts as unused from its creation: none of these is 1 day old yet.
    assert.deepEqual(await report('1d'), { keys: [], unusedForDays: 1 });

    // The dev server takes its time from the system clock, so age the keys in its database instead:
    // stop it, move their creation 100 days back, and start it again on the same data.
    await server.stop({ keepData: true });
    const db = new Database(join(server.dataDir, 'keywarden.db'));
    db.prepare('UPDATE keys SET created_at = created_at - ?').run(100 * DAY_MS);
    db.close();
    server = await startDevServer({ dataDir: server.dataDir, rootToken: server.rootToken });
    ok(await kw(['encrypt', '--key', used.id], { input: 'in use' }));

    const unused = await report('90d');
    assert.equal(unused.unusedForDays, 90);
    assert.deepEqual(unused.keys.map((k) => k.id), [bare.id]);
    const table = text(await kw(['key', 'report', '--unused-for', '2160h']));
    assert.match(table, /^ID\s+ALIASES\s+STATE/);
    assert.ok(table.includes(bare.id) && !table.includes(aliased.id) && !table.includes(used.id), table);
    assert.deepEqual((await report('101d')).keys, []);

    const purged = json<{ scheduled: Key[] }>(await kw(['key', 'purge', '--unused-for', '90d', '--window-days', '7', '--format', 'json']));
    assert.deepEqual(purged.scheduled.map((k) => [k.id, k.state]), [[bare.id, 'PendingDeletion']]);
    assert.ok(Math.abs(Date.parse(purged.scheduled[0]!.deletionAt!) - Date.now() - 7 * DAY_MS) < 60_000);
    for (const key of [aliased, used]) {
      assert.equal(json<{ key: Key }>(await kw(['key', 'describe', key.id, '--format', 'json'])).key.state, 'Enabled');
    }
    assert.deepEqual((await report('90d')).keys, [], 'keys pending deletion are no longer reported');

    fails(await kw(['key', 'report', '--unused-for', '36h']), 2,
      /^error: option '--unused-for <duration>' argument '36h' is invalid. expected a positive whole number of days/);
    fails(await kw(['key', 'report', '--unused-for', '90']), 2,
      /^error: option '--unused-for <duration>' argument '90' is invalid. expected a duration such as 90d/);
    fails(await kw(['key', 'report']), 2, /^error: required option '--unused-for <duration>' not specified/);
    fails(await kw(['key', 'purge', '--unused-for', '90d', '--window-days', '31']), 2,
      /^error: option '--window-days <n>' argument '31' is invalid/);
  });
});
