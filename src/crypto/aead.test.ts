import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { barrierUnwrap, barrierWrap, decryptV1, encryptV1, parseCiphertext } from './aead.js';
import { encodeHeader, Algorithm } from './ciphertext.js';
import { SecretBytes } from './secret-bytes.js';
import type { EncryptionContext } from './encryption-context.js';

const KEY_BYTES = Buffer.from('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', 'hex');
const material = (): SecretBytes => SecretBytes.copyOf(KEY_BYTES);
const REF = { keyId: '6f1c3a52-9d0e-4b7a-8c21-5e4f3d2a1b0c', keyVersion: 3 };
const CONTEXT: EncryptionContext = { tenant: 'acme', purpose: 'invoice', 'région': 'Île-de-France' };
const PLAINTEXT = Buffer.from('the plaintext', 'utf8');

/** Decrypts like the service does: parse, then authenticate; undefined for any failure. */
function open(key: SecretBytes, blob: Buffer, context: EncryptionContext | undefined): Buffer | undefined {
  const parsed = parseCiphertext(blob);
  return parsed === undefined ? undefined : decryptV1(key, parsed, context);
}

function flipBit(b: Buffer, index: number, bit: number): Buffer {
  const c = Buffer.from(b);
  c[index] = (c[index] as number) ^ (1 << bit);
  return c;
}

describe('encryptV1 / decryptV1', () => {
  test('round trip with a context', () => {
    const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
    assert.deepEqual(open(material(), ct, CONTEXT), PLAINTEXT);
  });

  test('round trip without a context; undefined and {} are interchangeable', () => {
    const ct = encryptV1(material(), REF, PLAINTEXT, undefined);
    assert.deepEqual(open(material(), ct, undefined), PLAINTEXT);
    assert.deepEqual(open(material(), ct, {}), PLAINTEXT);
    assert.deepEqual(open(material(), encryptV1(material(), REF, PLAINTEXT, {}), undefined), PLAINTEXT);
  });

  test('context key order does not matter', () => {
    const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
    const reordered = Object.fromEntries(Object.entries(CONTEXT).reverse());
    assert.deepEqual(open(material(), ct, reordered), PLAINTEXT);
  });

  test('round trip of empty and large plaintexts', () => {
    for (const pt of [Buffer.alloc(0), Buffer.alloc(1, 7), Buffer.alloc(65_536, 0x5a)]) {
      assert.deepEqual(open(material(), encryptV1(material(), REF, pt, CONTEXT), CONTEXT), pt);
    }
  });

  test('output is header || ciphertext || tag, and the header names the key version', () => {
    const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
    assert.equal(ct.length, 35 + PLAINTEXT.length + 16);
    const parsed = parseCiphertext(ct);
    assert.ok(parsed);
    assert.equal(parsed.header.keyId, REF.keyId);
    assert.equal(parsed.header.keyVersion, REF.keyVersion);
    assert.equal(parsed.header.algorithm, Algorithm.AES_256_GCM);
    assert.deepEqual(
      parsed.headerBytes,
      encodeHeader({ algorithm: Algorithm.AES_256_GCM, ...REF, nonce: parsed.header.nonce }),
    );
    assert.ok(!ct.includes(PLAINTEXT), 'plaintext must not appear in the output');
  });

  test('an explicit nonce is used verbatim and makes the output deterministic', () => {
    const nonce = Buffer.from('0102030405060708090a0b0c', 'hex');
    const a = encryptV1(material(), REF, PLAINTEXT, CONTEXT, nonce);
    assert.deepEqual(parseCiphertext(a)?.header.nonce, nonce);
    assert.deepEqual(encryptV1(material(), REF, PLAINTEXT, CONTEXT, nonce), a);
    assert.throws(() => encryptV1(material(), REF, PLAINTEXT, CONTEXT, Buffer.alloc(8)), /nonce/);
  });

  test('two encryptions of the same plaintext differ (fresh random nonce each time)', () => {
    const seen = new Set<string>();
    const nonces = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
      seen.add(ct.toString('hex'));
      nonces.add(parseCiphertext(ct)?.header.nonce.toString('hex') ?? '');
    }
    assert.equal(seen.size, 200);
    assert.equal(nonces.size, 200);
  });

  test('the wrong context fails: changed, missing, extra, or added to a context-free ciphertext', () => {
    const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
    const wrong: Array<EncryptionContext | undefined> = [
      undefined,
      {},
      { ...CONTEXT, tenant: 'acme2' },
      { ...CONTEXT, extra: '' },
      { tenant: 'acme', purpose: 'invoice' },
      { ...CONTEXT, 'région': 'Ile-de-France' },
    ];
    for (const c of wrong) assert.equal(open(material(), ct, c), undefined, JSON.stringify(c));
    const bare = encryptV1(material(), REF, PLAINTEXT, undefined);
    assert.equal(open(material(), bare, { k: '' }), undefined);
  });

  test('the wrong key fails', () => {
    const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
    const other = Buffer.from(KEY_BYTES);
    other[31] = (other[31] as number) ^ 1;
    assert.equal(open(SecretBytes.copyOf(other), ct, CONTEXT), undefined);
  });

  test('flipping any single bit anywhere in the ciphertext (header, nonce, body, tag) fails', () => {
    const ct = encryptV1(material(), REF, Buffer.from([0x42]), CONTEXT);
    assert.equal(ct.length, 35 + 1 + 16);
    const key = material();
    for (let i = 0; i < ct.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        assert.equal(open(key, flipBit(ct, i, bit), CONTEXT), undefined, `byte ${i} bit ${bit}`);
      }
    }
    assert.deepEqual(open(key, ct, CONTEXT), Buffer.from([0x42]), 'the untouched ciphertext still opens');
  });

  test('a re-labelled header (other key version or key id, same key material) fails', () => {
    const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
    const parsed = parseCiphertext(ct);
    assert.ok(parsed);
    for (const ref of [
      { ...REF, keyVersion: REF.keyVersion + 1 },
      { ...REF, keyId: '00000000-0000-4000-8000-000000000000' },
    ]) {
      const header = encodeHeader({ algorithm: Algorithm.AES_256_GCM, ...ref, nonce: parsed.header.nonce });
      assert.equal(open(material(), Buffer.concat([header, parsed.body]), CONTEXT), undefined);
    }
  });

  test('truncated or extended ciphertexts fail', () => {
    const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
    for (let len = 0; len < ct.length; len++) {
      assert.equal(open(material(), ct.subarray(0, len), CONTEXT), undefined, `length ${len}`);
    }
    assert.equal(open(material(), Buffer.concat([ct, Buffer.from([0])]), CONTEXT), undefined);
  });

  test('key material must be 32 bytes (algorithm id 0x01 means AES-256)', () => {
    const short = SecretBytes.copyOf(KEY_BYTES.subarray(0, 16));
    assert.throws(() => encryptV1(short, REF, PLAINTEXT, CONTEXT), /32 bytes/);
    const ct = encryptV1(material(), REF, PLAINTEXT, CONTEXT);
    assert.equal(open(short, ct, CONTEXT), undefined);
  });

  test('disposed key material cannot be used', () => {
    const m = material();
    m.dispose();
    assert.throws(() => encryptV1(m, REF, PLAINTEXT, CONTEXT), /after dispose/);
  });
});

describe('barrierWrap / barrierUnwrap', () => {
  const wrapping = (): SecretBytes => SecretBytes.copyOf(KEY_BYTES);
  const SECRET = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
  const PURPOSE = `key-material:${REF.keyId}:1`;

  test('round trip; layout is 0x01 || nonce(12) || ciphertext || tag(16)', () => {
    const blob = barrierWrap(wrapping(), PURPOSE, SECRET);
    assert.equal(blob.length, 1 + 12 + SECRET.length + 16);
    assert.equal(blob[0], 0x01);
    assert.ok(!blob.includes(SECRET));
    assert.deepEqual(barrierUnwrap(wrapping(), PURPOSE, blob), SECRET);
  });

  test('two wraps of the same secret differ (random nonce)', () => {
    const a = barrierWrap(wrapping(), PURPOSE, SECRET);
    const b = barrierWrap(wrapping(), PURPOSE, SECRET);
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13));
  });

  test('a different purpose fails (blob moved to another record)', () => {
    const blob = barrierWrap(wrapping(), PURPOSE, SECRET);
    for (const p of [`key-material:${REF.keyId}:2`, 'root-key', '', PURPOSE + ' ', PURPOSE.toUpperCase()]) {
      assert.equal(barrierUnwrap(wrapping(), p, blob), undefined, p);
    }
  });

  test('a different wrapping key fails', () => {
    const blob = barrierWrap(wrapping(), PURPOSE, SECRET);
    assert.equal(barrierUnwrap(SecretBytes.copyOf(Buffer.alloc(32, 1)), PURPOSE, blob), undefined);
    assert.equal(barrierUnwrap(SecretBytes.copyOf(KEY_BYTES.subarray(0, 16)), PURPOSE, blob), undefined);
  });

  test('any flipped bit, a wrong version byte, or truncation fails', () => {
    const blob = barrierWrap(wrapping(), PURPOSE, SECRET);
    for (let i = 0; i < blob.length; i++) {
      assert.equal(barrierUnwrap(wrapping(), PURPOSE, flipBit(blob, i, i % 8)), undefined, `byte ${i}`);
    }
    for (const v of [0x00, 0x02, 0xff]) {
      const b = Buffer.from(blob);
      b[0] = v;
      assert.equal(barrierUnwrap(wrapping(), PURPOSE, b), undefined);
    }
    for (const len of [0, 1, 13, 28, blob.length - 1]) {
      assert.equal(barrierUnwrap(wrapping(), PURPOSE, blob.subarray(0, len)), undefined, `length ${len}`);
    }
  });

  test('the barrier and ciphertext v1 formats do not open each other', () => {
    const ct = encryptV1(material(), REF, SECRET, undefined);
    assert.equal(barrierUnwrap(wrapping(), PURPOSE, ct), undefined);
    const blob = barrierWrap(wrapping(), PURPOSE, SECRET);
    assert.equal(open(material(), blob, undefined), undefined);
  });
});
