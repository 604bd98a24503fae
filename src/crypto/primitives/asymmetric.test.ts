import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, constants, type KeyObject } from 'node:crypto';
import {
  aesKeyUnwrapPad,
  aesKeyWrapPad,
  checkSignature,
  createSignature,
  generateKeyPair,
  privateKeyMatches,
  publicSpkiOf,
  rsaModulusBytes,
  rsaOaepSha256Decrypt,
  rsaOaepSha256Encrypt,
  type HashName,
  type SignatureScheme,
} from './asymmetric.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const MESSAGE = Buffer.from('the quick brown fox jumps over the lazy dog', 'utf8');
const digestOf = (hash: HashName, m: Buffer): Buffer => createHash(hash).update(m).digest();
const der = (k: KeyObject): Buffer => k.export({ format: 'der', type: 'pkcs8' });

/** ECDSA (r, s) as big integers from a DER signature (test-side parser, independent of the module). */
function rsOf(sig: Buffer): [bigint, bigint] {
  const rLen = sig[3] as number;
  const r = sig.subarray(4, 4 + rLen);
  const s = sig.subarray(6 + rLen);
  return [BigInt(`0x${r.toString('hex')}`), BigInt(`0x${s.toString('hex')}`)];
}
function derSig(r: bigint, s: bigint): Buffer {
  const int = (x: bigint) => {
    let h = x.toString(16);
    if (h.length % 2) h = `0${h}`;
    if (parseInt(h.slice(0, 2), 16) & 0x80) h = `00${h}`;
    return Buffer.concat([Buffer.from([2, h.length / 2]), hex(h)]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}
const ORDER = {
  'P-256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'P-384': 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
} as const;

describe('ECDSA over a precomputed digest (key blinding + BigInt verification)', () => {
  for (const [curve, hash] of [['P-256', 'sha256'], ['P-384', 'sha384']] as const) {
    const { privatePkcs8, publicSpki } = generateKeyPair({ type: 'ec', curve });
    const scheme: SignatureScheme = { type: 'ecdsa', hash };
    const n = ORDER[curve];

    test(`${curve}: 25 digest-mode signatures verify with OpenSSL over the message, and ours agree`, () => {
      for (let i = 0; i < 25; i++) {
        const m = Buffer.from(`message ${i}`);
        const sig = createSignature(scheme, privatePkcs8, digestOf(hash, m), true);
        assert.ok(nodeVerify(hash, m, createPublicKey({ key: publicSpki, format: 'der', type: 'spki' }), sig), `OpenSSL rejects #${i}`);
        assert.ok(checkSignature(scheme, publicSpki, digestOf(hash, m), true, sig));
        assert.equal(checkSignature(scheme, publicSpki, digestOf(hash, Buffer.from(`other ${i}`)), true, sig), false);
      }
    });

    test(`${curve}: OpenSSL message signatures verify in digest mode; the verifier matches OpenSSL on edge values`, () => {
      const key = createPrivateKey({ key: privatePkcs8, format: 'der', type: 'pkcs8' });
      const d = digestOf(hash, MESSAGE);
      const agree = (sig: Buffer, expected: boolean, what: string) => {
        assert.equal(checkSignature(scheme, publicSpki, d, true, sig), expected, `digest mode: ${what}`);
        assert.equal(checkSignature(scheme, publicSpki, MESSAGE, false, sig), expected, `message mode (OpenSSL): ${what}`);
      };
      for (let i = 0; i < 10; i++) agree(nodeSign(hash, MESSAGE, key), true, `OpenSSL signature #${i}`);
      const [r, s] = rsOf(nodeSign(hash, MESSAGE, key));
      agree(derSig(r, n - s), true, 'malleated s -> n - s (ECDSA has no low-s rule)');
      agree(derSig(r, s + 1n), false, 's + 1');
      agree(derSig(r + 1n, s), false, 'r + 1');
      agree(derSig(0n, s), false, 'r = 0');
      agree(derSig(r, 0n), false, 's = 0');
      agree(derSig(r, s + n), false, 's + n (out of range)');
      agree(derSig(r + n, s), false, 'r + n (out of range)');
      agree(derSig(n, s), false, 'r = n');
      const good = derSig(r, s);
      agree(Buffer.concat([good, Buffer.from([0])]), false, 'trailing byte');
      agree(good.subarray(0, good.length - 1), false, 'truncated');
      agree(Buffer.alloc(0), false, 'empty');
      agree(Buffer.concat([Buffer.from([0x30, 0x81, good.length - 2]), good.subarray(2)]), false, 'non-minimal length');
    });

    test(`${curve}: a digest that is zero modulo n is refused (its signatures are forgeable)`, () => {
      const size = curve === 'P-256' ? 32 : 48;
      assert.throws(() => createSignature(scheme, privatePkcs8, Buffer.alloc(size), true), { code: 'ValidationError' });
      assert.throws(() => createSignature(scheme, privatePkcs8, Buffer.from(n.toString(16), 'hex'), true), { code: 'ValidationError' });
    });
  }
});

describe('RSA over a precomputed digest (EMSA encodings + raw RSA)', () => {
  // 2049 bits: modBits ≡ 1 (mod 8), so emLen = k - 1 and the encoded message gets a leading zero byte.
  for (const bits of [2048, 2049]) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    const pkcs8 = der(privateKey);
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    for (const type of ['rsa-pss', 'rsa-pkcs1'] as const) {
      for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
        test(`${bits}-bit ${type} ${hash}: digest mode and OpenSSL message mode interoperate both ways`, () => {
          const scheme: SignatureScheme = { type, hash };
          const opts = type === 'rsa-pss'
            ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
            : { padding: constants.RSA_PKCS1_PADDING };
          const d = digestOf(hash, MESSAGE);
          const ours = createSignature(scheme, pkcs8, d, true);
          assert.ok(nodeVerify(hash, MESSAGE, { key: publicKey, ...opts }, ours));
          const theirs = nodeSign(hash, MESSAGE, { key: privateKey, ...opts });
          assert.ok(checkSignature(scheme, spki, d, true, theirs));
          assert.equal(checkSignature(scheme, spki, digestOf(hash, Buffer.from('other')), true, theirs), false);
          const flipped = Buffer.from(theirs);
          flipped[10] = (flipped[10] as number) ^ 4;
          assert.equal(checkSignature(scheme, spki, d, true, flipped), false);
          assert.equal(checkSignature(scheme, spki, d, true, theirs.subarray(1)), false);
          assert.equal(checkSignature(scheme, spki, d, true, Buffer.alloc(theirs.length, 0xff)), false, 'signature >= n');
        });
      }
    }
    test(`${bits}-bit PSS verification insists on salt length = digest length`, () => {
      const d = digestOf('sha256', MESSAGE);
      const salt20 = nodeSign('sha256', MESSAGE, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 });
      assert.equal(checkSignature({ type: 'rsa-pss', hash: 'sha256' }, spki, d, true, salt20), false);
      assert.equal(checkSignature({ type: 'rsa-pss', hash: 'sha256' }, spki, MESSAGE, false, salt20), false);
    });
  }
});

describe('Ed25519 (RFC 8032 §7.1)', () => {
  test('TEST 1: the empty message, signed with the fixed secret key, gives the exact signature', () => {
    const pkcs8 = Buffer.concat([hex('302e020100300506032b657004220420'), hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')]);
    const spki = publicSpkiOf(pkcs8);
    assert.deepEqual(spki.subarray(-32), hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'));
    const sig = createSignature({ type: 'ed25519' }, pkcs8, Buffer.alloc(0), false);
    assert.equal(sig.toString('hex'), 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b');
    assert.ok(checkSignature({ type: 'ed25519' }, spki, Buffer.alloc(0), false, sig));
    assert.throws(() => createSignature({ type: 'ed25519' }, pkcs8, Buffer.alloc(64), true));
    assert.equal(checkSignature({ type: 'ed25519' }, spki, Buffer.alloc(0), true, sig), false);
  });
});

describe('keys', () => {
  test('a key of the wrong type for the scheme is a programming error, not a silent other scheme', () => {
    const ec = generateKeyPair({ type: 'ec', curve: 'P-256' });
    assert.throws(() => createSignature({ type: 'rsa-pss', hash: 'sha256' }, ec.privatePkcs8, MESSAGE, false), /does not match/);
    assert.throws(() => checkSignature({ type: 'ed25519' }, ec.publicSpki, MESSAGE, false, Buffer.alloc(64)), /does not match/);
  });

  test('privateKeyMatches: type, size, curve, exponent, RSA-PSS OID, trailing bytes', () => {
    const rsa = generateKeyPair({ type: 'rsa', bits: 2048 }).privatePkcs8;
    const p256 = generateKeyPair({ type: 'ec', curve: 'P-256' }).privatePkcs8;
    assert.ok(privateKeyMatches(rsa, { type: 'rsa', bits: 2048 }));
    assert.equal(privateKeyMatches(rsa, { type: 'rsa', bits: 3072 }), false);
    assert.ok(privateKeyMatches(p256, { type: 'ec', curve: 'P-256' }));
    assert.equal(privateKeyMatches(p256, { type: 'ec', curve: 'P-384' }), false);
    assert.equal(privateKeyMatches(p256, { type: 'ed25519' }), false);
    assert.equal(privateKeyMatches(Buffer.concat([p256, Buffer.from([0])]), { type: 'ec', curve: 'P-256' }), false);
    assert.equal(privateKeyMatches(p256.subarray(0, 40), { type: 'ec', curve: 'P-256' }), false);
    const e3 = der(generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey);
    assert.equal(privateKeyMatches(e3, { type: 'rsa', bits: 2048 }), false);
    const pss = der(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey);
    assert.equal(privateKeyMatches(pss, { type: 'rsa', bits: 2048 }), false);
  });
});

describe('RSAES-OAEP-SHA-256 and AES-KWP', () => {
  const { privatePkcs8, publicSpki } = generateKeyPair({ type: 'rsa', bits: 2048 });
  test('round trip; tampered, truncated, wrong-key or non-RSA-key decryption gives undefined', () => {
    const ct = rsaOaepSha256Encrypt(publicSpki, MESSAGE);
    assert.equal(ct.length, rsaModulusBytes(publicSpki, 'spki'));
    assert.deepEqual(rsaOaepSha256Decrypt(privatePkcs8, ct), MESSAGE);
    const flipped = Buffer.from(ct);
    flipped[100] = (flipped[100] as number) ^ 1;
    assert.equal(rsaOaepSha256Decrypt(privatePkcs8, flipped), undefined);
    assert.equal(rsaOaepSha256Decrypt(privatePkcs8, ct.subarray(1)), undefined);
    assert.equal(rsaOaepSha256Decrypt(generateKeyPair({ type: 'rsa', bits: 2048 }).privatePkcs8, ct), undefined);
    assert.equal(rsaOaepSha256Decrypt(generateKeyPair({ type: 'ec', curve: 'P-256' }).privatePkcs8, ct), undefined);
  });
  test('AES key wrap with padding: round trip, wrong KEK and tampering give undefined', () => {
    const kek = Buffer.alloc(32, 7);
    const wrapped = aesKeyWrapPad(kek, MESSAGE);
    assert.equal(wrapped.length, Math.ceil(MESSAGE.length / 8) * 8 + 8);
    assert.deepEqual(aesKeyUnwrapPad(kek, wrapped), MESSAGE);
    assert.equal(aesKeyUnwrapPad(Buffer.alloc(32, 8), wrapped), undefined);
    assert.equal(aesKeyUnwrapPad(kek, Buffer.concat([wrapped.subarray(0, 8), Buffer.alloc(wrapped.length - 8)])), undefined);
  });
});
