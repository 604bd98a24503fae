/**
 * The PKCS#11 adapter against a real SoftHSM2 token (test/support/softhsm.ts); node:crypto is the
 * independent reference for every signature and ciphertext.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHash, createHmac, createPublicKey, publicEncrypt, randomBytes, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { KeywardenError } from '../../src/errors/catalog.js';
import type { Hsm } from '../../src/hsm/hsm.js';
import { Pkcs11Hsm, openPkcs11Hsm } from '../../src/hsm/pkcs11/index.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KeywardenError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

describe('PKCS#11 adapter (SoftHSM2)', () => {
  let token: SoftHsmToken;
  let hsm: Hsm;

  before(async () => {
    token = createSoftHsmToken();
    hsm = await openPkcs11Hsm({ library: token.library, tokenLabel: token.label, pin: token.pin });
  });
  after(async () => {
    await hsm.close();
  });

  test('generate, exists, destroy: the object is gone from the token, destroy is idempotent', async () => {
    const ref = { label: 'kw-test-aes-destroy' };
    assert.equal(await hsm.exists(ref), false);
    await hsm.generateKey(ref.label, { type: 'aes', bits: 256 });
    assert.equal(await hsm.exists(ref), true);
    await hsm.destroy(ref);
    assert.equal(await hsm.exists(ref), false);
    await hsm.destroy(ref);
    await rejectsWith(hsm.aesGcmEncrypt(ref, Buffer.alloc(12), Buffer.alloc(0), Buffer.from('x')), 'NotFound', /kw-test-aes-destroy/);
    // A key pair has two objects with the label; destroy removes both.
    const pair = { label: 'kw-test-ec-destroy' };
    await hsm.generateKey(pair.label, { type: 'ec', curve: 'P-256' });
    await hsm.destroy(pair);
    assert.equal(await hsm.exists(pair), false);
  });

  test('AES-256-GCM round trip; a wrong tag, AAD or IV gives undefined; node:crypto cannot open it without the key', async () => {
    const { ref } = await hsm.generateKey('kw-test-aes', { type: 'aes', bits: 256 });
    const iv = randomBytes(12);
    const aad = Buffer.from('context');
    const pt = Buffer.from('attack at dawn');
    const ct = await hsm.aesGcmEncrypt(ref, iv, aad, pt);
    assert.equal(ct.length, pt.length + 16);
    assert.deepEqual(await hsm.aesGcmDecrypt(ref, iv, aad, ct), pt);
    const tampered = Buffer.from(ct);
    tampered[0] = (tampered[0] as number) ^ 1;
    assert.equal(await hsm.aesGcmDecrypt(ref, iv, aad, tampered), undefined);
    assert.equal(await hsm.aesGcmDecrypt(ref, iv, Buffer.from('other'), ct), undefined);
    assert.equal(await hsm.aesGcmDecrypt(ref, randomBytes(12), aad, ct), undefined);
    assert.equal(await hsm.aesGcmDecrypt(ref, iv, aad, Buffer.alloc(5)), undefined);
    // The session is usable after a failed tag (the operation was terminated).
    assert.deepEqual(await hsm.aesGcmDecrypt(ref, iv, aad, ct), pt);
  });

  test('HMAC (sha256/384/512): the length of the hash, deterministic, different for other data', async () => {
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      const { ref } = await hsm.generateKey(`kw-test-hmac-${hash}`, { type: 'hmac', hash });
      const a = await hsm.hmac(ref, Buffer.from('data'));
      assert.equal(a.length, createHmac(hash, 'k').digest().length);
      assert.deepEqual(await hsm.hmac(ref, Buffer.from('data')), a);
      assert.notDeepEqual(await hsm.hmac(ref, Buffer.from('datb')), a);
    }
  });

  test('ECDSA P-256 and P-384 signatures (DER) verify with node:crypto against the returned SPKI', async () => {
    for (const [curve, hash] of [['P-256', 'sha256'], ['P-384', 'sha384']] as const) {
      const { ref, publicSpki } = await hsm.generateKey(`kw-test-ec-${curve}`, { type: 'ec', curve });
      assert.ok(publicSpki);
      const pub = createPublicKey({ key: publicSpki, format: 'der', type: 'spki' });
      assert.equal(pub.asymmetricKeyDetails?.namedCurve, curve === 'P-256' ? 'prime256v1' : 'secp384r1');
      const msg = Buffer.from(`message for ${curve}`);
      for (let i = 0; i < 5; i++) {
        const sig = await hsm.signDigest(ref, { type: 'ecdsa' }, createHash(hash).update(msg).digest());
        assert.equal(verify(hash, msg, pub, sig), true);
        assert.equal(verify(hash, Buffer.from('other'), pub, sig), false);
      }
    }
  });

  test('RSA PKCS#1 v1.5 and PSS signatures verify with node:crypto; RSA-OAEP-SHA256 decrypts', async () => {
    const { ref, publicSpki } = await hsm.generateKey('kw-test-rsa', { type: 'rsa', bits: 2048 });
    assert.ok(publicSpki);
    const pub = createPublicKey({ key: publicSpki, format: 'der', type: 'spki' });
    assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048);
    const msg = Buffer.from('signed by the HSM');
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      const digest = createHash(hash).update(msg).digest();
      const pkcs1 = await hsm.signDigest(ref, { type: 'rsa-pkcs1', hash }, digest);
      assert.equal(verify(hash, msg, { key: pub, padding: constants.RSA_PKCS1_PADDING }, pkcs1), true);
      const pss = await hsm.signDigest(ref, { type: 'rsa-pss', hash }, digest);
      assert.equal(verify(hash, msg, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, pss), true);
    }
    const ct = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('data key'));
    assert.deepEqual(await hsm.rsaOaepDecrypt(ref, ct), Buffer.from('data key'));
    const bad = Buffer.from(ct);
    bad[10] = (bad[10] as number) ^ 0xff;
    assert.equal(await hsm.rsaOaepDecrypt(ref, bad), undefined);
  });

  test('random returns fresh bytes of the size asked', async () => {
    const a = await hsm.random(32);
    const b = await hsm.random(32);
    assert.equal(a.length, 32);
    assert.notDeepEqual(a, b);
  });

  test('CKA_VALUE of a generated key cannot be read: C_GetAttributeValue fails with CKR_ATTRIBUTE_SENSITIVE', async () => {
    await hsm.generateKey('kw-test-sensitive', { type: 'aes', bits: 256 });
    await hsm.generateKey('kw-test-sensitive-ec', { type: 'ec', curve: 'P-256' });
    // Straight through the binding, as any other application on the token would try it.
    const lib = new pkcs11js.PKCS11();
    lib.load(token.library);
    try {
      lib.C_Initialize();
    } catch (e) {
      assert.match((e as Error).message, /CKR_CRYPTOKI_ALREADY_INITIALIZED/);
    }
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === token.label);
    assert.ok(slot);
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
    } catch (e) {
      assert.match((e as Error).message, /CKR_USER_ALREADY_LOGGED_IN/);
    }
    try {
      for (const [label, cls] of [['kw-test-sensitive', pkcs11js.CKO_SECRET_KEY], ['kw-test-sensitive-ec', pkcs11js.CKO_PRIVATE_KEY]] as const) {
        lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }, { type: pkcs11js.CKA_CLASS, value: cls }]);
        const h = lib.C_FindObjects(session);
        lib.C_FindObjectsFinal(session);
        assert.ok(h, label);
        const attrs = lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_TOKEN }]);
        assert.deepEqual(attrs.map((a) => a.value[0]), [1, 0, 1], `${label}: sensitive, not extractable, token object`);
        assert.throws(() => lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
      }
    } finally {
      lib.C_CloseSession(session);
      // The module stays initialised: the adapter under test shares it.
    }
  });

  test('the session pool serves 50 concurrent calls on its few sessions', async () => {
    const pooled = new Pkcs11Hsm({ library: token.library, tokenLabel: token.label, pin: token.pin, pool: 3 });
    try {
      const { ref } = await pooled.generateKey('kw-test-pool', { type: 'aes', bits: 256 });
      const results = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const iv = randomBytes(12);
          const pt = Buffer.from(`message ${i}`);
          const ct = await pooled.aesGcmEncrypt(ref, iv, Buffer.alloc(0), pt);
          const [back, sig] = await Promise.all([pooled.aesGcmDecrypt(ref, iv, Buffer.alloc(0), ct), pooled.random(16)]);
          return back?.equals(pt) === true && sig.length === 16;
        }),
      );
      assert.deepEqual(results, Array(50).fill(true));
      const st = pooled.stats();
      assert.equal(st.calls, 151);
      assert.equal(st.errors, 0);
      assert.ok(st.latencyMsSum > 0);
    } finally {
      await pooled.close();
    }
  });

  test('a wrong PIN is a clear HsmUnavailable error that does not contain the PIN', async () => {
    // A token nobody in this process is logged in to (login is per application and token).
    const other = createSoftHsmToken();
    const wrong = 'wrong-pin-0123';
    await assert.rejects(openPkcs11Hsm({ library: other.library, tokenLabel: other.label, pin: wrong }), (e: unknown) => {
      assert.ok(e instanceof KeywardenError);
      assert.equal(e.code, 'HsmUnavailable');
      assert.match(e.message, /C_Login .*CKR_PIN_INCORRECT \(wrong PIN\)/);
      assert.ok(!JSON.stringify({ m: e.message, d: e.details, s: e.stack }).includes(wrong));
      assert.ok(!e.message.includes(other.pin));
      return true;
    });
    const right = await openPkcs11Hsm({ library: other.library, tokenLabel: other.label, pin: other.pin });
    assert.equal((await right.health()).ok, true);
    await right.close();
  });

  test('the PIN can come from an environment variable; a missing one is named', async () => {
    process.env.KW_TEST_HSM_PIN = token.pin;
    const h = await openPkcs11Hsm({ library: token.library, tokenLabel: token.label, pinEnv: 'KW_TEST_HSM_PIN' });
    assert.equal((await h.health()).ok, true);
    await h.close();
    delete process.env.KW_TEST_HSM_PIN;
    await rejectsWith(openPkcs11Hsm({ library: token.library, tokenLabel: token.label, pinEnv: 'KW_TEST_HSM_PIN' }), 'HsmUnavailable', /KW_TEST_HSM_PIN is not set/);
  });

  test('a missing token label or module is HsmUnavailable; health reports it without throwing', async () => {
    await rejectsWith(openPkcs11Hsm({ library: token.library, tokenLabel: 'no-such-token', pin: '1234' }), 'HsmUnavailable', /token "no-such-token" was not found/);
    await rejectsWith(openPkcs11Hsm({ library: '/nonexistent/libpkcs11.so', tokenLabel: token.label, pin: '1234' }), 'HsmUnavailable', /cannot load the PKCS#11 module/);
    const lazy = new Pkcs11Hsm({ library: token.library, tokenLabel: 'no-such-token', pin: '1234' });
    const h = await lazy.health();
    assert.deepEqual({ ...h, error: undefined }, { ok: false, latencyMs: null, tokenLabel: 'no-such-token', error: undefined });
    assert.match(h.error ?? '', /not found/);
    await lazy.close();
    const ok = await hsm.health();
    assert.equal(ok.ok, true);
    assert.equal(ok.tokenLabel, token.label);
    assert.ok(typeof ok.latencyMs === 'number' && ok.latencyMs >= 0);
  });

  test('reconnect: after the module is re-initialised (every session gone) calls succeed again', async () => {
    const { ref } = await hsm.generateKey('kw-test-reconnect', { type: 'aes', bits: 256 });
    const iv = randomBytes(12);
    const ct = await hsm.aesGcmEncrypt(ref, iv, Buffer.alloc(0), Buffer.from('before'));
    // Another user of the module finalises it: every session and the login are gone.
    const lib = new pkcs11js.PKCS11();
    lib.load(token.library);
    lib.C_Finalize();
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    assert.deepEqual(await hsm.aesGcmDecrypt(ref, iv, Buffer.alloc(0), ct), Buffer.from('before'));
    assert.ok((hsm as Pkcs11Hsm).stats().reconnects >= 1);
  });
});
