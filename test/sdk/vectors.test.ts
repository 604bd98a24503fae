/**
 * Known-answer vectors of the envelope message format v1 (test/vectors/sdk-envelope-v1.json):
 * fixed data key, message id, context, wrapped keys and plaintext give exactly the expected
 * message bytes, and the expected bytes decrypt back. The key schedule is checked against
 * node:crypto hkdfSync. Regenerate (only on a deliberate format change; version 1 changed once,
 * before its first release): KW_WRITE_VECTORS=1 node --import tsx --test test/sdk/vectors.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hkdf } from '../../src/crypto/primitives/envelope-crypto.js';
import { InvalidMessageError } from '../../src/sdk/index.js';
import { extractKey, openMessage, parseCompleteHeader, sealMessage } from '../../src/sdk/format.js';

const FILE = new URL('../vectors/sdk-envelope-v1.json', import.meta.url);

interface Vector {
  name: string;
  dataKey: string;
  messageId: string;
  context: Record<string, string>;
  wrappedKeys: Array<{ keyId: string; ciphertext: string }>;
  frameLength: number;
  plaintext: string;
  message: string;
}

const hex = (s: string) => Buffer.from(s, 'hex');
const seq = (n: number, start = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (start + i) & 0xff)).toString('hex');

if (process.env.KW_WRITE_VECTORS === '1') {
  const inputs: Array<Omit<Vector, 'message'>> = [
    { name: 'empty plaintext, no context, one wrapping key', dataKey: seq(32), messageId: seq(32, 0x80), context: {}, wrappedKeys: [{ keyId: '00000000-0000-4000-8000-000000000001', ciphertext: seq(8, 0xa0) }], frameLength: 65536, plaintext: '' },
    { name: 'one byte, context with UTF-8', dataKey: seq(32, 1), messageId: seq(32, 0x40), context: { tenant: 'acme', 'région': 'Zürich' }, wrappedKeys: [{ keyId: '00000000-0000-4000-8000-000000000002', ciphertext: seq(16, 0x10) }], frameLength: 4096, plaintext: '2a' },
    { name: 'three frames (two full, one final), two wrapping keys', dataKey: seq(32, 2), messageId: seq(32, 0x20), context: { purpose: 'kat', b: '2', a: '1' }, wrappedKeys: [{ keyId: '00000000-0000-4000-8000-000000000003', ciphertext: seq(12, 0x30) }, { keyId: 'alias-free-key-id-2', ciphertext: seq(20, 0x50) }], frameLength: 16, plaintext: seq(40, 0x61) },
    { name: 'exactly one full frame', dataKey: seq(32, 3), messageId: seq(32, 0x11), context: { k: 'v' }, wrappedKeys: [{ keyId: 'k', ciphertext: '00' }], frameLength: 8, plaintext: seq(8, 0x70) },
  ];
  const vectors: Vector[] = inputs.map((v) => ({
    ...v,
    message: sealMessage({ prk: extractKey(hex(v.dataKey)), messageId: hex(v.messageId), context: v.context, wrappedKeys: v.wrappedKeys.map((w) => ({ keyId: w.keyId, ciphertext: hex(w.ciphertext) })), frameLength: v.frameLength }, hex(v.plaintext)).toString('hex'),
  }));
  writeFileSync(FILE, `${JSON.stringify({ format: 'keywarden-envelope/v1', suite: 1, encoding: 'hex', vectors }, null, 2)}\n`);
}

test('the SDK HKDF-SHA-512 equals node:crypto hkdfSync', () => {
  for (const len of [1, 32, 64, 100]) {
    const [ikm, salt, info] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2), Buffer.from('KWENC v1')];
    assert.deepEqual(hkdf(ikm, salt, info, len), Buffer.from(hkdfSync('sha512', ikm, salt, info, len)));
  }
});

const file = JSON.parse(readFileSync(FILE, 'utf8')) as { vectors: Vector[] };

test('the vectors file covers empty, one-byte, multi-frame and multi-key messages', () => {
  assert.equal(file.vectors.length, 4);
});

for (const v of file.vectors) {
  test(`known answer: ${v.name}`, () => {
    const wrappedKeys = v.wrappedKeys.map((w) => ({ keyId: w.keyId, ciphertext: hex(w.ciphertext) }));
    const got = sealMessage({ prk: extractKey(hex(v.dataKey)), messageId: hex(v.messageId), context: v.context, wrappedKeys, frameLength: v.frameLength }, hex(v.plaintext));
    assert.equal(got.toString('hex'), v.message, 'encrypting the inputs gives exactly the expected bytes');

    const message = hex(v.message);
    const { header, length } = parseCompleteHeader(message);
    assert.deepEqual(header.context, v.context);
    assert.deepEqual(header.wrappedKeys, wrappedKeys);
    assert.equal(header.frameLength, v.frameLength);
    assert.equal(header.messageId.toString('hex'), v.messageId);
    assert.deepEqual(header.authenticated, message.subarray(0, header.authenticated.length), 'the HKDF info is the header from its first byte');
    const info = header.authenticated;
    assert.equal(info.length, 41 + Object.entries(v.context).reduce((n, [k, val]) => n + 4 + Buffer.byteLength(k) + Buffer.byteLength(val), 0), 'version through context');
    const okm = Buffer.from(hkdfSync('sha512', hex(v.dataKey), Buffer.concat([Buffer.from('KWENC v1'), Buffer.from([0, 1])]), info, 64));
    assert.deepEqual(header.commitment, okm.subarray(32), 'commitment = HKDF-SHA-512(data key, "KWENC v1" ‖ suite, header)[32..64)');
    assert.equal(openMessage(message, header, length, extractKey(hex(v.dataKey))).toString('hex'), v.plaintext, 'the expected bytes decrypt');
    const wrongKey = Buffer.from(hex(v.dataKey));
    wrongKey[0] = (wrongKey[0] as number) ^ 1;
    assert.throws(() => openMessage(message, header, length, extractKey(wrongKey)), (e: unknown) => e instanceof InvalidMessageError && e.reason === 'commitment');
  });
}
