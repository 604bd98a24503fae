import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Algorithm, CIPHERTEXT_FORMAT_V1, bytesToUuid, encodeHeader, parseCiphertext, uuidToBytes } from './ciphertext.js';

const KEY_ID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const NONCE = Buffer.from('000102030405060708090a0b', 'hex');
const TAG = Buffer.alloc(16, 0xee);

/** The header exactly as the spec lays it out, built by hand. */
const EXPECTED_HEADER_HEX =
  '01' + // format version
  '01' + // algorithm: AES-256-GCM
  '1b4e28ba2fa141d2883f0016d3cca427' + // key id
  '00000007' + // key version 7
  '0c' + // nonce length 12
  '000102030405060708090a0b'; // nonce

function header(keyVersion = 7): Buffer {
  return encodeHeader({ algorithm: Algorithm.AES_256_GCM, keyId: KEY_ID, keyVersion, nonce: NONCE });
}

/** A structurally valid blob: header || ciphertext (3 bytes) || tag. */
function blob(): Buffer {
  return Buffer.concat([header(), Buffer.from([0xc1, 0xc2, 0xc3]), TAG]);
}

function withByte(b: Buffer, index: number, value: number): Buffer {
  const c = Buffer.from(b);
  c[index] = value;
  return c;
}

describe('encodeHeader', () => {
  test('produces the documented 35-byte layout', () => {
    const h = header();
    assert.equal(h.length, 35);
    assert.equal(h.toString('hex'), EXPECTED_HEADER_HEX);
    assert.equal(CIPHERTEXT_FORMAT_V1, 0x01);
    assert.equal(Algorithm.AES_256_GCM, 0x01);
  });

  test('key version is big-endian and spans the full uint32 range', () => {
    assert.equal(header(1).subarray(18, 22).toString('hex'), '00000001');
    assert.equal(header(0x01020304).subarray(18, 22).toString('hex'), '01020304');
    assert.equal(header(0xffffffff).subarray(18, 22).toString('hex'), 'ffffffff');
  });

  test('rejects invalid input', () => {
    const base = { algorithm: Algorithm.AES_256_GCM, keyId: KEY_ID, keyVersion: 1, nonce: NONCE };
    for (const keyVersion of [0, -1, 1.5, 0x1_0000_0000, Number.NaN]) {
      assert.throws(() => encodeHeader({ ...base, keyVersion }), /key version/, String(keyVersion));
    }
    for (const n of [0, 11, 13, 16]) {
      assert.throws(() => encodeHeader({ ...base, nonce: Buffer.alloc(n) }), /nonce length/, String(n));
    }
    assert.throws(() => encodeHeader({ ...base, algorithm: 0x02 as never }), /unknown algorithm/);
    assert.throws(() => encodeHeader({ ...base, keyId: KEY_ID.toUpperCase() }), /UUID/);
    assert.throws(() => encodeHeader({ ...base, keyId: 'not-a-uuid' }), /UUID/);
  });
});

describe('parseCiphertext', () => {
  test('round trips encodeHeader', () => {
    const b = blob();
    const p = parseCiphertext(b);
    assert.ok(p);
    assert.deepEqual(p.header, {
      formatVersion: CIPHERTEXT_FORMAT_V1,
      algorithm: Algorithm.AES_256_GCM,
      keyId: KEY_ID,
      keyVersion: 7,
      nonce: NONCE,
    });
    assert.deepEqual(p.headerBytes, header());
    assert.deepEqual(p.body, Buffer.concat([Buffer.from([0xc1, 0xc2, 0xc3]), TAG]));
    assert.deepEqual(Buffer.concat([p.headerBytes, p.body]), b);
  });

  test('round trips for many key versions and random-looking ids', () => {
    for (const [keyId, keyVersion] of [
      ['00000000-0000-0000-0000-000000000000', 1],
      ['ffffffff-ffff-ffff-ffff-ffffffffffff', 0xffffffff],
      ['0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9', 256],
    ] as const) {
      const h = encodeHeader({ algorithm: Algorithm.AES_256_GCM, keyId, keyVersion, nonce: NONCE });
      const p = parseCiphertext(Buffer.concat([h, TAG]));
      assert.equal(p?.header.keyId, keyId);
      assert.equal(p?.header.keyVersion, keyVersion);
    }
  });

  test('accepts an empty AES-GCM ciphertext (header || tag only)', () => {
    const p = parseCiphertext(Buffer.concat([header(), TAG]));
    assert.ok(p);
    assert.deepEqual(p.body, TAG);
  });

  test('rejects every truncation (short input, missing or partial tag)', () => {
    const b = Buffer.concat([header(), TAG]);
    for (let len = 0; len < b.length; len++) {
      assert.equal(parseCiphertext(b.subarray(0, len)), undefined, `length ${len}`);
    }
  });

  test('rejects any format version other than 0x01', () => {
    for (let v = 0; v < 256; v++) {
      if (v === CIPHERTEXT_FORMAT_V1) continue;
      assert.equal(parseCiphertext(withByte(blob(), 0, v)), undefined, `format version ${v}`);
    }
  });

  test('rejects unknown algorithm ids', () => {
    for (let a = 0; a < 256; a++) {
      if (a === Algorithm.AES_256_GCM) continue;
      assert.equal(parseCiphertext(withByte(blob(), 1, a)), undefined, `algorithm ${a}`);
    }
  });

  test('rejects a nonce length byte that does not match the algorithm', () => {
    for (let n = 0; n < 256; n++) {
      if (n === 12) continue;
      assert.equal(parseCiphertext(withByte(blob(), 22, n)), undefined, `nonce length ${n}`);
    }
  });

  test('rejects key version 0', () => {
    const b = blob();
    b.writeUInt32BE(0, 18);
    assert.equal(parseCiphertext(b), undefined);
  });

  test('base64 text of a valid ciphertext is not itself parseable (first byte is never 0x01)', () => {
    const b64 = Buffer.from(blob().toString('base64'), 'ascii');
    assert.notEqual(b64[0], 0x01);
    assert.equal(parseCiphertext(b64), undefined);
  });
});

describe('uuid helpers', () => {
  test('uuidToBytes / bytesToUuid round trip', () => {
    const b = uuidToBytes(KEY_ID);
    assert.equal(b.length, 16);
    assert.equal(b.toString('hex'), '1b4e28ba2fa141d2883f0016d3cca427');
    assert.equal(bytesToUuid(b), KEY_ID);
    const all = Buffer.from(Array.from({ length: 16 }, (_, i) => i * 17));
    assert.deepEqual(uuidToBytes(bytesToUuid(all)), all);
    assert.equal(bytesToUuid(all), '00112233-4455-6677-8899-aabbccddeeff');
  });

  test('uuidToBytes accepts only canonical lowercase UUIDs', () => {
    for (const bad of [
      KEY_ID.toUpperCase(),
      KEY_ID.replace(/-/g, ''),
      `{${KEY_ID}}`,
      `${KEY_ID} `,
      KEY_ID.slice(0, -1),
      KEY_ID.slice(0, -1) + 'g',
      '',
    ]) {
      assert.throws(() => uuidToBytes(bad), /UUID/, bad);
    }
  });
});
