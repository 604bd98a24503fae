/**
 * Asymmetric and HMAC keys over the REST API: sign/verify (message and digest), public keys that
 * verify with node:crypto, MACs, RSA-OAEP encryption, key usage enforcement, bring-your-own-key
 * import and wrapped export. node:crypto plays the independent client here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  verify as nodeVerify,
  createDecipheriv,
} from 'node:crypto';
import { ManualClock } from '../../src/util/clock.js';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';

const DAY = 86_400_000;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');


describe('asymmetric and HMAC keys', () => {
  let t: TestKeywarden;
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  const create = async (body: Record<string, unknown>) => {
    const res = await t.req('POST', '/v1/keys', body);
    assert.equal(res.status, 201, JSON.stringify(res.json));
    return res.json.key;
  };

  before(async () => {
    t = await startInProcess({ clock });
  });
  after(() => t.close());

  const signCases: Array<[string, string, { dsaEncoding?: 'der'; padding?: number; saltLength?: number; hash: string | null }]> = [
    ['ECC_NIST_P256', 'ECDSA_SHA_256', { hash: 'sha256' }],
    ['ECC_NIST_P384', 'ECDSA_SHA_384', { hash: 'sha384' }],
    ['ECC_ED25519', 'ED25519', { hash: null }],
    ['RSA_2048', 'RSASSA_PSS_SHA_256', { hash: 'sha256', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_512', { hash: 'sha512', padding: constants.RSA_PKCS1_PADDING }],
  ];
  for (const [spec, algorithm, check] of signCases) {
    test(`${spec} ${algorithm}: signatures verify with the exported public key in node:crypto, and with Keywarden`, async () => {
      const key = await create({ spec, usage: 'SIGN_VERIFY' });
      assert.equal(key.usage, 'SIGN_VERIFY');
      const message = Buffer.from(`signed by ${spec}`);
      const signed = await t.req('POST', `/v1/keys/${key.id}/sign`, { message: b64(message), algorithm });
      assert.equal(signed.status, 200, JSON.stringify(signed.json));
      const signature = Buffer.from(signed.json.signature, 'base64');
      const pub = await t.req('GET', `/v1/keys/${key.id}/public-key`);
      assert.match(pub.json.pem, /^-----BEGIN PUBLIC KEY-----\n/);
      const publicKey = createPublicKey({ key: Buffer.from(pub.json.publicKey, 'base64'), format: 'der', type: 'spki' });
      const opts = { key: publicKey, ...(check.padding !== undefined ? { padding: check.padding } : {}), ...(check.saltLength !== undefined ? { saltLength: check.saltLength } : {}) };
      assert.equal(nodeVerify(check.hash, message, opts, signature), true, 'node:crypto verifies the signature');

      const ok = await t.req('POST', `/v1/keys/${key.id}/verify`, { message: b64(message), algorithm, signature: signed.json.signature });
      assert.deepEqual(ok.json, { valid: true, keyId: key.id, keyVersion: 1 });
      const bad = await t.req('POST', `/v1/keys/${key.id}/verify`, { message: b64('tampered'), algorithm, signature: signed.json.signature });
      assert.equal(bad.json.valid, false);

      if (check.hash !== null) {
        const digest = createHash(check.hash).update(message).digest();
        const d = await t.req('POST', `/v1/keys/${key.id}/sign`, { message: b64(digest), messageType: 'DIGEST', algorithm });
        assert.equal(nodeVerify(check.hash, message, opts, Buffer.from(d.json.signature, 'base64')), true, 'a DIGEST-mode signature verifies as a signature of the message');
        assertError(
          await t.req('POST', `/v1/keys/${key.id}/sign`, { message: b64(digest.subarray(1)), messageType: 'DIGEST', algorithm }),
          400,
          'ValidationError',
          /digest/i,
        );
      }
    });
  }

  test('wrong usage and wrong algorithms are InvalidKeyUsage', async () => {
    const ec = await create({ spec: 'ECC_NIST_P256' });
    const aes = await create({});
    assertError(await t.req('POST', `/v1/keys/${ec.id}/sign`, { message: b64('m'), algorithm: 'ECDSA_SHA_384' }), 400, 'InvalidKeyUsage', /ECDSA_SHA_256/);
    assertError(await t.req('POST', `/v1/keys/${aes.id}/sign`, { message: b64('m'), algorithm: 'ECDSA_SHA_256' }), 400, 'InvalidKeyUsage', `key ${aes.id} has usage ENCRYPT_DECRYPT; this operation needs a SIGN_VERIFY key`);
    assertError(await t.req('POST', `/v1/keys/${ec.id}/encrypt`, { plaintext: b64('m') }), 400, 'InvalidKeyUsage', `key ${ec.id} has usage SIGN_VERIFY; this operation needs a ENCRYPT_DECRYPT key`);
    assertError(await t.req('GET', `/v1/keys/${aes.id}/public-key`), 400, 'InvalidKeyUsage', `key ${aes.id} is a SYMMETRIC_DEFAULT key: it has no public key`);
    assertError(await t.req('POST', '/v1/keys', { spec: 'ECC_NIST_P256', usage: 'ENCRYPT_DECRYPT' }), 400, 'ValidationError', /does not support key usage/);
    assertError(await t.req('POST', `/v1/keys/${ec.id}/sign`, { message: b64('m'), algorithm: 'MD5_WITH_HOPE' }), 400, 'ValidationError', /MD5_WITH_HOPE/);
  });

  test('HMAC keys: generate and verify MACs (RFC 2104 HMAC, checked with node:crypto)', async () => {
    const key = await create({ spec: 'HMAC_384' });
    assert.equal(key.usage, 'GENERATE_VERIFY_MAC');
    const m = await t.req('POST', `/v1/keys/${key.id}/mac`, { message: b64('hello'), algorithm: 'HMAC_SHA_384' });
    assert.equal(Buffer.from(m.json.mac, 'base64').length, 48);
    const v = await t.req('POST', `/v1/keys/${key.id}/verify-mac`, { message: b64('hello'), algorithm: 'HMAC_SHA_384', mac: m.json.mac });
    assert.equal(v.json.valid, true);
    const w = await t.req('POST', `/v1/keys/${key.id}/verify-mac`, { message: b64('hellO'), algorithm: 'HMAC_SHA_384', mac: m.json.mac });
    assert.equal(w.json.valid, false);
    assertError(await t.req('POST', `/v1/keys/${key.id}/mac`, { message: b64('hello'), algorithm: 'HMAC_SHA_256' }), 400, 'InvalidKeyUsage', /HMAC_SHA_384/);
    // After rotation, MACs of the old version still verify (each enabled version is tried).
    await t.req('POST', `/v1/keys/${key.id}/rotate`);
    const again = await t.req('POST', `/v1/keys/${key.id}/verify-mac`, { message: b64('hello'), algorithm: 'HMAC_SHA_384', mac: m.json.mac });
    assert.deepEqual([again.json.valid, again.json.keyVersion], [true, 1]);
  });

  test('RSA ENCRYPT_DECRYPT: OAEP-SHA-256 with the public key (server or client side), decrypt in Keywarden', async () => {
    const key = await create({ spec: 'RSA_2048', usage: 'ENCRYPT_DECRYPT' });
    const enc = await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('rsa secret'), algorithm: 'RSAES_OAEP_SHA_256' });
    assert.equal(enc.status, 200, JSON.stringify(enc.json));
    const dec = await t.req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext, key: key.id, algorithm: 'RSAES_OAEP_SHA_256' });
    assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), 'rsa secret');
    const pub = await t.req('GET', `/v1/keys/${key.id}/public-key`);
    const local = publicEncrypt({ key: pub.json.pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('client side'));
    const dec2 = await t.req('POST', '/v1/decrypt', { ciphertext: b64(local), key: key.id, algorithm: 'RSAES_OAEP_SHA_256' });
    assert.equal(Buffer.from(dec2.json.plaintext, 'base64').toString(), 'client side');
    const garbled = Buffer.from(local);
    garbled[5]! ^= 1;
    assertError(await t.req('POST', '/v1/decrypt', { ciphertext: b64(garbled), key: key.id, algorithm: 'RSAES_OAEP_SHA_256' }), 400, 'InvalidCiphertext', /invalid/);
    assertError(await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('x') }), 400, 'ValidationError', 'a RSA_2048 key needs an encryption algorithm (RSAES_OAEP_SHA_256)');
    assertError(await t.req('POST', `/v1/keys/${key.id}/data-key`, {}), 400, 'InvalidKeyUsage', `key ${key.id} is a RSA_2048 key; this operation needs a SYMMETRIC_DEFAULT key`);
  });

  test('bring your own key: import 32 bytes for an EXTERNAL key, then material expiry returns it to PendingImport', async () => {
    const key = await create({ origin: 'EXTERNAL', description: 'byok' });
    assert.deepEqual([key.state, key.primaryVersion, key.origin], ['PendingImport', 0, 'EXTERNAL']);
    assertError(await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('x') }), 409, 'InvalidState', `key ${key.id} is PendingImport: import its key material first`);
    const params = await t.req('POST', `/v1/keys/${key.id}/import-parameters`, {});
    assert.equal(params.status, 200, JSON.stringify(params.json));
    assert.equal(params.json.wrappingAlgorithm, 'RSAES_OAEP_SHA_256');
    assert.equal(Date.parse(params.json.expiresAt) - clock.now(), DAY, 'import token valid 24 h');
    const wrappingKey = createPublicKey({ key: Buffer.from(params.json.publicKey, 'base64'), format: 'der', type: 'spki' });
    assert.equal(wrappingKey.asymmetricKeyDetails?.modulusLength, 4096);
    const material = randomBytes(32);
    const wrapped = publicEncrypt({ key: wrappingKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
    const imported = await t.req('POST', `/v1/keys/${key.id}/import`, { importToken: params.json.importToken, encryptedMaterial: b64(wrapped), validTo: new Date(clock.now() + 10 * DAY).toISOString() });
    assert.equal(imported.status, 200, JSON.stringify(imported.json));
    assert.deepEqual([imported.json.key.state, imported.json.key.primaryVersion], ['Enabled', 1]);
    assertError(
      await t.req('POST', `/v1/keys/${key.id}/import`, { importToken: params.json.importToken, encryptedMaterial: b64(wrapped) }),
      400,
      'ValidationError',
      'the import token is invalid, expired, already used, or belongs to another key',
    );

    // The imported material is really used: a Keywarden ciphertext decrypts locally with it.
    const enc = await t.req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('byok data') });
    const ct = Buffer.from(enc.json.ciphertext, 'base64');
    const header = ct.subarray(0, 35);
    const d = createDecipheriv('aes-256-gcm', material, ct.subarray(23, 35));
    d.setAAD(Buffer.concat([header, Buffer.alloc(4)]));
    d.setAuthTag(ct.subarray(ct.length - 16));
    assert.equal(Buffer.concat([d.update(ct.subarray(35, ct.length - 16)), d.final()]).toString(), 'byok data');

    clock.advance(10 * DAY);
    for (const job of ['material-expiry']) assert.equal((await t.kw.scheduler.runNow(job))?.status, 'ok');
    const expired = (await t.req('GET', `/v1/keys/${key.id}`)).json.key;
    assert.equal(expired.state, 'PendingImport', 'expired imported material makes the key unusable until re-imported');
    assertError(await t.req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext }), 409, 'InvalidState', `key ${key.id} is PendingImport: import its key material first`);
    assertError(await t.req('POST', `/v1/keys/${(await create({})).id}/import-parameters`, {}), 409, 'InvalidState', /was not created for imported material/);
  });

  test('export: only exportable keys, only wrapped under a caller RSA key', async () => {
    const plain = await create({});
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    assertError(await t.req('POST', `/v1/keys/${plain.id}/export`, { publicKey: b64(spki) }), 400, 'InvalidKeyUsage', `key ${plain.id} was not created exportable: its material never leaves Keywarden`);
    const exportable = await create({ exportable: true });
    const res = await t.req('POST', `/v1/keys/${exportable.id}/export`, { publicKey: b64(spki) });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.wrappingAlgorithm, 'RSAES_OAEP_SHA_256');
    const material = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(res.json.wrappedMaterial, 'base64'));
    assert.equal(material.length, 32);
    // The exported material decrypts a Keywarden ciphertext of that key (format: docs/ciphertext-format.md).
    const enc = await t.req('POST', `/v1/keys/${exportable.id}/encrypt`, { plaintext: b64('exported') });
    const ct = Buffer.from(enc.json.ciphertext, 'base64');
    const d = createDecipheriv('aes-256-gcm', material, ct.subarray(23, 35));
    d.setAAD(Buffer.concat([ct.subarray(0, 35), Buffer.alloc(4)]));
    d.setAuthTag(ct.subarray(ct.length - 16));
    assert.equal(Buffer.concat([d.update(ct.subarray(35, ct.length - 16)), d.final()]).toString(), 'exported');
    assertError(await t.req('POST', `/v1/keys/${exportable.id}/export`, { publicKey: b64('not a key') }), 400, 'ValidationError', /SPKI DER RSA key/);
  });
});
