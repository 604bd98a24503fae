/**
 * HSM-protected keys (issue 6/10 §3) against a real SoftHSM2 token: an in-process Keywarden with
 * the PKCS#11 adapter on a fresh token. The token is also inspected from a separate process through
 * the binding (the probe below), so "the object exists / is gone / its value cannot be read" is
 * what the HSM itself says, not what our adapter reports.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, createHash, createPublicKey, publicEncrypt, verify as nodeVerify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeywarden, type Keywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { openPkcs11Hsm } from '../../src/hsm/pkcs11/index.js';
import type { Hsm } from '../../src/hsm/hsm.js';
import { parseCiphertext } from '../../src/crypto/ciphertext.js';
import { ManualClock } from '../../src/util/clock.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import { startInProcess } from '../support/in-process.js';
import { assertError } from '../support/assert.js';

const DAY = 86_400_000;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64');

interface ProbeObject {
  label: string;
  class: number;
  /** The CKR name C_GetAttributeValue(CKA_VALUE; RSA private keys: CKA_PRIVATE_EXPONENT) failed with, or 'readable'. */
  value: string;
  sensitive: boolean | null;
  extractable: boolean | null;
}

/**
 * Lists every object on the token from a separate process (its own C_Initialize and login), with
 * what a C_GetAttributeValue of its secret value (CKA_VALUE, or an RSA key's private exponent) answers. The PIN travels in the environment.
 */
function probeToken(token: SoftHsmToken): ProbeObject[] {
  const script = `
    const P = require('pkcs11js');
    const lib = new P.PKCS11();
    lib.load(process.env.PROBE_LIBRARY);
    lib.C_Initialize();
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === process.env.PROBE_TOKEN);
      const s = lib.C_OpenSession(slot, P.CKF_SERIAL_SESSION);
      lib.C_Login(s, P.CKU_USER, process.env.PROBE_PIN);
      lib.C_FindObjectsInit(s, []);
      const handles = lib.C_FindObjects(s, 10000);
      lib.C_FindObjectsFinal(s);
      const bool = (h, type) => { try { const v = lib.C_GetAttributeValue(s, h, [{ type }])[0].value; return v[0] === 1; } catch { return null; } };
      const out = handles.map((h) => {
        const [label, cls] = lib.C_GetAttributeValue(s, h, [{ type: P.CKA_LABEL }, { type: P.CKA_CLASS }]);
        const read = (type) => { try { lib.C_GetAttributeValue(s, h, [{ type }]); return 'readable'; } catch (e) { return e.message; } };
        let value = read(P.CKA_VALUE);
        // An RSA private key has no CKA_VALUE: its secret is the private exponent (and the primes).
        if (value === 'CKR_ATTRIBUTE_TYPE_INVALID') value = read(P.CKA_PRIVATE_EXPONENT);
        return { label: label.value.toString('utf8'), class: cls.value.readUInt32LE(0), value, sensitive: bool(h, P.CKA_SENSITIVE), extractable: bool(h, P.CKA_EXTRACTABLE) };
      });
      process.stdout.write(JSON.stringify(out));
    } finally {
      lib.C_Finalize();
    }`;
  const out = execFileSync(process.execPath, ['-e', script], {
    env: { ...process.env, SOFTHSM2_CONF: token.conf, PROBE_LIBRARY: token.library, PROBE_TOKEN: token.label, PROBE_PIN: token.pin },
    encoding: 'utf8',
  });
  return JSON.parse(out) as ProbeObject[];
}

const CKO_PUBLIC_KEY = 2;
const CKO_PRIVATE_KEY = 3;
const CKO_SECRET_KEY = 4;

/** Counts the calls each Hsm method gets (the real adapter underneath does the work). */
function counting(hsm: Hsm): { hsm: Hsm; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrapped = new Proxy(hsm, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { hsm: wrapped, calls };
}

describe('HSM-protected keys (protection: hsm) on a SoftHSM2 token', () => {
  const clock = new ManualClock(Date.UTC(2026, 3, 1));
  let token: SoftHsmToken;
  let raw: Hsm;
  let calls: Map<string, number>;
  let kw: Keywarden;
  let dir: string;
  let rootToken = '';

  const req = async (method: string, url: string, body?: unknown) => {
    const res = await kw.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${rootToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, json: res.body.length ? JSON.parse(res.body) : undefined };
  };
  const create = async (body: Record<string, unknown>) => {
    const res = await req('POST', '/v1/keys', body);
    assert.equal(res.status, 201, JSON.stringify(res.json));
    return res.json.key;
  };
  const callsOf = (name: string) => calls.get(name) ?? 0;
  const labelOf = async (keyId: string, version: number) => {
    const v = await kw.store.keys.getVersion(keyId, version);
    assert.ok(v?.hsmLabel, `version ${version} of ${keyId} has an HSM label`);
    return v.hsmLabel;
  };
  const onToken = (prefix: string) => probeToken(token).filter((o) => o.label.startsWith(prefix));

  before(async () => {
    token = createSoftHsmToken();
    raw = await openPkcs11Hsm({ library: token.library, tokenLabel: token.label, pin: token.pin });
    const c = counting(raw);
    calls = c.calls;
    dir = await mkdtemp(join(tmpdir(), 'kw-hsm-keys-'));
    kw = await createKeywarden({ storage: { type: 'sqlite', path: join(dir, 'keywarden.db') }, seal: 'dev', logger: false, clock, hsm: c.hsm });
    await bootDevSeal(kw.seal, dir);
    rootToken = await kw.tokens.createRootToken();
  });
  after(async () => {
    await kw.close();
    await raw.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('without an HSM on the server, protection hsm is refused', async () => {
    const t = await startInProcess();
    try {
      assertError(await t.req('POST', '/v1/keys', { protection: 'hsm' }), 400, 'ValidationError', /no HSM is configured/);
    } finally {
      await t.close();
    }
  });

  test('specs and origins not offered on HSM keys are ValidationErrors (Ed25519, import, export)', async () => {
    assertError(await req('POST', '/v1/keys', { protection: 'hsm', spec: 'ECC_ED25519' }), 400, 'ValidationError', /ECC_ED25519 is not offered with protection hsm/);
    assertError(await req('POST', '/v1/keys', { protection: 'hsm', origin: 'EXTERNAL' }), 400, 'ValidationError', /imported material \(origin EXTERNAL\) is not supported/);
    assertError(await req('POST', '/v1/keys', { protection: 'hsm', exportable: true }), 400, 'ValidationError', /cannot be exportable/);
  });

  test('the material is a sensitive, non-extractable token object; the store keeps only its label', async () => {
    const key = await create({ protection: 'hsm', description: 'in the HSM' });
    assert.equal(key.protection, 'hsm');
    const v = await kw.store.keys.getVersion(key.id, 1);
    assert.ok(v);
    assert.equal(v.wrappedMaterial.length, 0, 'no wrapped material in the store');
    assert.match(v.hsmLabel ?? '', new RegExp(`^kw:${key.id}:v1:[0-9a-f]{8}$`));
    assert.equal(v.publicKey, null);
    assert.equal(await kw.keys.material(key.id, 1), undefined, 'no material in this process either');
    assert.equal(await raw.exists({ label: v.hsmLabel! }), true);
    const objects = onToken(v.hsmLabel!);
    assert.equal(objects.length, 1);
    assert.deepEqual(objects[0], { label: v.hsmLabel, class: CKO_SECRET_KEY, value: 'CKR_ATTRIBUTE_SENSITIVE', sensitive: true, extractable: false });
  });

  test('encrypt/decrypt in the HSM: the same ciphertext format v1 as a software key, bound to the context', async () => {
    const hsmKey = await create({ protection: 'hsm' });
    const swKey = await create({});
    const plaintext = Buffer.from('thirty-two bytes of plaintext!!!');
    const context = { tenant: 'acme', purpose: 'test' };
    const before = callsOf('aesGcmEncrypt');
    const enc = await req('POST', `/v1/keys/${hsmKey.id}/encrypt`, { plaintext: b64(plaintext), context });
    assert.equal(enc.status, 200, JSON.stringify(enc.json));
    assert.equal(callsOf('aesGcmEncrypt'), before + 1, 'encrypted inside the HSM');
    const sw = await req('POST', `/v1/keys/${swKey.id}/encrypt`, { plaintext: b64(plaintext), context });
    const h = unb64(enc.json.ciphertext);
    const s = unb64(sw.json.ciphertext);
    assert.equal(h.length, s.length, 'same length as a software ciphertext');
    assert.deepEqual([h[0], h[1], h[22]], [s[0], s[1], s[22]], 'same format version, algorithm and nonce length');
    const parsed = parseCiphertext(h);
    assert.ok(parsed);
    assert.deepEqual([parsed.header.keyId, parsed.header.keyVersion, parsed.header.nonce.length, parsed.body.length], [hsmKey.id, 1, 12, plaintext.length + 16]);
    assert.deepEqual([enc.json.keyId, enc.json.keyVersion], [hsmKey.id, 1]);

    const dec = await req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext, context });
    assert.equal(dec.status, 200, JSON.stringify(dec.json));
    assert.deepEqual(unb64(dec.json.plaintext), plaintext);
    assertError(await req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext, context: { tenant: 'other', purpose: 'test' } }), 400, 'InvalidCiphertext', /invalid/);
    assertError(await req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext }), 400, 'InvalidCiphertext', /invalid/);
    const tampered = Buffer.from(h);
    tampered[tampered.length - 1]! ^= 1;
    assertError(await req('POST', '/v1/decrypt', { ciphertext: b64(tampered), context }), 400, 'InvalidCiphertext', /invalid/);

    // Batches, and re-encryption between a software and an HSM key in both directions.
    const batch = await req('POST', `/v1/keys/${hsmKey.id}/encrypt`, { items: [{ ref: 'a', plaintext: b64('one') }, { ref: 'b', plaintext: b64('two'), context }] });
    assert.equal(batch.status, 200, JSON.stringify(batch.json));
    const back = await req('POST', '/v1/decrypt', { items: batch.json.items.map((i: any, n: number) => ({ ref: i.ref, ciphertext: i.ciphertext, ...(n === 1 ? { context } : {}) })) });
    assert.deepEqual(back.json.items.map((i: any) => unb64(i.plaintext).toString()), ['one', 'two']);
    const toSw = await req('POST', '/v1/re-encrypt', { ciphertext: enc.json.ciphertext, context, destinationKey: swKey.id });
    assert.equal(toSw.status, 200, JSON.stringify(toSw.json));
    assert.deepEqual([toSw.json.keyId, toSw.json.sourceKeyId], [swKey.id, hsmKey.id]);
    const toHsm = await req('POST', '/v1/re-encrypt', { ciphertext: toSw.json.ciphertext, destinationKey: hsmKey.id, destinationContext: { x: 'y' } });
    assert.equal(toHsm.status, 200, JSON.stringify(toHsm.json));
    assert.deepEqual(unb64((await req('POST', '/v1/decrypt', { ciphertext: toHsm.json.ciphertext, context: { x: 'y' } })).json.plaintext), plaintext);
  });

  test('data keys come from the HSM RNG and come back wrapped under the HSM key (with and without plaintext)', async () => {
    const key = await create({ protection: 'hsm' });
    const before = callsOf('random');
    const dk = await req('POST', `/v1/keys/${key.id}/data-key`, { spec: 'AES_256', context: { app: 'x' } });
    assert.equal(dk.status, 200, JSON.stringify(dk.json));
    assert.equal(callsOf('random'), before + 1, 'data key bytes from C_GenerateRandom');
    const plaintext = unb64(dk.json.plaintext);
    assert.equal(plaintext.length, 32);
    const unwrapped = await req('POST', '/v1/decrypt', { ciphertext: dk.json.ciphertext, context: { app: 'x' } });
    assert.deepEqual(unb64(unwrapped.json.plaintext), plaintext, 'the wrapped data key decrypts back to the plaintext one');

    const without = await req('POST', `/v1/keys/${key.id}/data-key`, { bytes: 48, includePlaintext: false });
    assert.equal(without.status, 200, JSON.stringify(without.json));
    assert.equal(without.json.plaintext, undefined);
    assert.equal(callsOf('random'), before + 2);
    const later = await req('POST', '/v1/decrypt', { ciphertext: without.json.ciphertext });
    assert.equal(unb64(later.json.plaintext).length, 48);
  });

  const signCases: Array<[string, string, { padding?: number; saltLength?: number; hash: string }, number]> = [
    ['ECC_NIST_P256', 'ECDSA_SHA_256', { hash: 'sha256' }, CKO_PRIVATE_KEY],
    ['ECC_NIST_P384', 'ECDSA_SHA_384', { hash: 'sha384' }, CKO_PRIVATE_KEY],
    ['RSA_2048', 'RSASSA_PSS_SHA_256', { hash: 'sha256', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, CKO_PRIVATE_KEY],
    ['RSA_3072', 'RSASSA_PKCS1_V1_5_SHA_384', { hash: 'sha384', padding: constants.RSA_PKCS1_PADDING }, CKO_PRIVATE_KEY],
  ];
  for (const [spec, algorithm, check] of signCases) {
    test(`${spec} ${algorithm}: signed in the HSM, verified by node:crypto and by Keywarden`, async () => {
      const key = await create({ protection: 'hsm', spec, usage: 'SIGN_VERIFY' });
      const label = await labelOf(key.id, 1);
      const objects = onToken(label);
      assert.deepEqual(objects.map((o) => o.class).sort(), [CKO_PUBLIC_KEY, CKO_PRIVATE_KEY], 'a key pair on the token');
      const priv = objects.find((o) => o.class === CKO_PRIVATE_KEY)!;
      assert.deepEqual([priv.value, priv.sensitive, priv.extractable], ['CKR_ATTRIBUTE_SENSITIVE', true, false]);

      const message = Buffer.from(`signed by an HSM ${spec}`);
      const before = callsOf('signDigest');
      const signed = await req('POST', `/v1/keys/${key.id}/sign`, { message: b64(message), algorithm });
      assert.equal(signed.status, 200, JSON.stringify(signed.json));
      assert.equal(callsOf('signDigest'), before + 1, 'signed inside the HSM');
      const pub = await req('GET', `/v1/keys/${key.id}/public-key`);
      assert.equal(pub.status, 200, JSON.stringify(pub.json));
      const publicKey = createPublicKey({ key: unb64(pub.json.publicKey), format: 'der', type: 'spki' });
      const opts = { key: publicKey, ...(check.padding !== undefined ? { padding: check.padding } : {}), ...(check.saltLength !== undefined ? { saltLength: check.saltLength } : {}) };
      assert.equal(nodeVerify(check.hash, message, opts, unb64(signed.json.signature)), true, 'node:crypto verifies the signature');
      const ok = await req('POST', `/v1/keys/${key.id}/verify`, { message: b64(message), algorithm, signature: signed.json.signature });
      assert.deepEqual(ok.json, { valid: true, keyId: key.id, keyVersion: 1 });
      const bad = await req('POST', `/v1/keys/${key.id}/verify`, { message: b64('tampered'), algorithm, signature: signed.json.signature });
      assert.equal(bad.json.valid, false);

      const digest = createHash(check.hash).update(message).digest();
      const d = await req('POST', `/v1/keys/${key.id}/sign`, { message: b64(digest), messageType: 'DIGEST', algorithm });
      assert.equal(nodeVerify(check.hash, message, opts, unb64(d.json.signature)), true, 'a DIGEST-mode signature verifies as one of the message');
      assertError(await req('POST', `/v1/keys/${key.id}/sign`, { message: b64(digest.subarray(1)), messageType: 'DIGEST', algorithm }), 400, 'ValidationError', /digest/i);
    });
  }

  test('HMAC keys: MACs computed in the HSM (RFC 2104 lengths), verify-mac in constant time', async () => {
    for (const [spec, algorithm, bytes] of [['HMAC_256', 'HMAC_SHA_256', 32], ['HMAC_512', 'HMAC_SHA_512', 64]] as const) {
      const key = await create({ protection: 'hsm', spec });
      assert.equal(key.usage, 'GENERATE_VERIFY_MAC');
      const before = callsOf('hmac');
      const m = await req('POST', `/v1/keys/${key.id}/mac`, { message: b64('hello'), algorithm });
      assert.equal(m.status, 200, JSON.stringify(m.json));
      assert.equal(callsOf('hmac'), before + 1, 'MAC computed inside the HSM');
      assert.equal(unb64(m.json.mac).length, bytes);
      const again = await req('POST', `/v1/keys/${key.id}/mac`, { message: b64('hello'), algorithm });
      assert.equal(again.json.mac, m.json.mac, 'deterministic');
      assert.equal((await req('POST', `/v1/keys/${key.id}/verify-mac`, { message: b64('hello'), algorithm, mac: m.json.mac })).json.valid, true);
      assert.equal((await req('POST', `/v1/keys/${key.id}/verify-mac`, { message: b64('hellO'), algorithm, mac: m.json.mac })).json.valid, false);
      assertError(await req('POST', `/v1/keys/${key.id}/mac`, { message: b64('hello'), algorithm: spec === 'HMAC_256' ? 'HMAC_SHA_512' : 'HMAC_SHA_256' }), 400, 'InvalidKeyUsage', new RegExp(algorithm));
      const [obj] = onToken(await labelOf(key.id, 1));
      assert.deepEqual([obj?.value, obj?.sensitive, obj?.extractable], ['CKR_ATTRIBUTE_SENSITIVE', true, false]);
    }
  });

  test('RSA ENCRYPT_DECRYPT: OAEP-SHA-256 with the public key in software, decrypted in the HSM', async () => {
    const key = await create({ protection: 'hsm', spec: 'RSA_2048', usage: 'ENCRYPT_DECRYPT' });
    const enc = await req('POST', `/v1/keys/${key.id}/encrypt`, { plaintext: b64('rsa secret'), algorithm: 'RSAES_OAEP_SHA_256' });
    assert.equal(enc.status, 200, JSON.stringify(enc.json));
    const before = callsOf('rsaOaepDecrypt');
    const dec = await req('POST', '/v1/decrypt', { ciphertext: enc.json.ciphertext, key: key.id, algorithm: 'RSAES_OAEP_SHA_256' });
    assert.equal(dec.status, 200, JSON.stringify(dec.json));
    assert.equal(unb64(dec.json.plaintext).toString(), 'rsa secret');
    assert.equal(callsOf('rsaOaepDecrypt'), before + 1, 'decrypted inside the HSM');
    const pub = await req('GET', `/v1/keys/${key.id}/public-key`);
    const local = publicEncrypt({ key: pub.json.pem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('client side'));
    const dec2 = await req('POST', '/v1/decrypt', { ciphertext: b64(local), key: key.id, algorithm: 'RSAES_OAEP_SHA_256' });
    assert.equal(unb64(dec2.json.plaintext).toString(), 'client side');
    const garbled = Buffer.from(local);
    garbled[5]! ^= 1;
    assertError(await req('POST', '/v1/decrypt', { ciphertext: b64(garbled), key: key.id, algorithm: 'RSAES_OAEP_SHA_256' }), 400, 'InvalidCiphertext', /invalid/);
  });

  test('rotation creates a new HSM object; old ciphertexts still decrypt; disable/enable leave the objects alone', async () => {
    const key = await create({ protection: 'hsm', alias: 'alias/hsm-rotating' });
    const c1 = (await req('POST', '/v1/keys/alias/hsm-rotating/encrypt', { plaintext: b64('before rotation') })).json.ciphertext;
    const rotated = await req('POST', `/v1/keys/${key.id}/rotate`);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
    assert.equal(rotated.json.key.primaryVersion, 2);
    const [l1, l2] = [await labelOf(key.id, 1), await labelOf(key.id, 2)];
    assert.notEqual(l1, l2);
    assert.match(l2, new RegExp(`^kw:${key.id}:v2:`));
    assert.equal(onToken(`kw:${key.id}:`).length, 2, 'one object per version on the token');
    const c2 = await req('POST', '/v1/keys/alias/hsm-rotating/encrypt', { plaintext: b64('after rotation') });
    assert.equal(c2.json.keyVersion, 2);
    assert.equal(unb64((await req('POST', '/v1/decrypt', { ciphertext: c1 })).json.plaintext).toString(), 'before rotation');
    assert.equal(unb64((await req('POST', '/v1/decrypt', { ciphertext: c2.json.ciphertext })).json.plaintext).toString(), 'after rotation');

    assert.equal((await req('POST', `/v1/keys/${key.id}/disable`)).status, 200);
    assertError(await req('POST', '/v1/decrypt', { ciphertext: c1 }), 409, 'Disabled', /disabled/);
    assert.equal((await req('POST', `/v1/keys/${key.id}/enable`)).status, 200);
    assert.equal(onToken(`kw:${key.id}:`).length, 2, 'disable/enable do not touch the HSM objects');
    assert.equal(unb64((await req('POST', '/v1/decrypt', { ciphertext: c1 })).json.plaintext).toString(), 'before rotation');
  });

  test('destruction: a destroyed version and a destroyed key are gone from the token (C_DestroyObject)', async () => {
    const key = await create({ protection: 'hsm', spec: 'ECC_NIST_P256' });
    await req('POST', `/v1/keys/${key.id}/rotate`);
    const [l1, l2] = [await labelOf(key.id, 1), await labelOf(key.id, 2)];
    assert.equal(onToken(`kw:${key.id}:`).length, 4, 'two key pairs');
    const s1 = (await req('POST', `/v1/keys/${key.id}/sign`, { message: b64('m'), algorithm: 'ECDSA_SHA_256' })).json;
    assert.equal(s1.keyVersion, 2);

    const destroyed = await req('POST', `/v1/keys/${key.id}/versions/1/destroy`);
    assert.equal(destroyed.status, 200, JSON.stringify(destroyed.json));
    assert.equal(await raw.exists({ label: l1 }), false, 'the adapter no longer finds version 1');
    assert.deepEqual(onToken(l1), [], 'version 1 is gone from the token');
    assert.equal(onToken(l2).length, 2, 'version 2 is untouched');
    assert.equal((await kw.store.keys.getVersion(key.id, 1))?.hsmLabel, l1, 'the destroyed row keeps the label (never material)');

    assert.equal((await req('POST', `/v1/keys/${key.id}/schedule-deletion`, { days: 7 })).status, 200);
    clock.advance(7 * DAY);
    const run = await kw.scheduler.runNow('deletion-due');
    assert.equal(run?.status, 'ok', run?.error);
    assert.equal((await req('GET', `/v1/keys/${key.id}`)).json.key.state, 'Destroyed');
    assert.equal(await raw.exists({ label: l2 }), false);
    assert.deepEqual(onToken(`kw:${key.id}:`), [], 'every object of the key is gone from the token');
  });

  test('crash safety: when the store write fails, the object just created in the HSM is destroyed again', async () => {
    await create({ protection: 'hsm', alias: 'alias/taken' });
    const labels = () => probeToken(token).map((o) => o.label).sort();
    const before = labels();
    const generated = callsOf('generateKey');
    assertError(await req('POST', '/v1/keys', { protection: 'hsm', spec: 'HMAC_384', alias: 'alias/taken' }), 409, 'AlreadyExists', /alias\/taken/);
    assert.equal(callsOf('generateKey'), generated + 1, 'the object was created before the store write');
    assert.deepEqual(labels(), before, 'and is gone again');
  });

  test('the default policy: a restricted prod key is created with protection hsm', async () => {
    const key = await create({ protection: 'hsm', classification: 'restricted', environment: 'prod' });
    assert.deepEqual([key.protection, key.classification, key.environment], ['hsm', 'restricted', 'prod']);
    assertError(await req('POST', '/v1/keys', { classification: 'restricted', environment: 'prod' }), 403, 'PolicyViolation', /hsm/i);
  });
});
