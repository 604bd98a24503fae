import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { format, inspect } from 'node:util';
import { SecretBytes, zeroize } from './secret-bytes.js';

/** 32 recognisable non-zero bytes: 0xa1..0xc0. */
function secret(): Buffer {
  return Buffer.from(Array.from({ length: 32 }, (_, i) => 0xa1 + i));
}
const SECRET_HEX = secret().toString('hex');
const SECRET_B64 = secret().toString('base64');

/** Fails if `text` contains the secret in any of the usual renderings. */
function assertNoBytes(text: string): void {
  assert.ok(!text.includes(SECRET_HEX), `hex leaked: ${text}`);
  assert.ok(!text.includes(SECRET_B64), `base64 leaked: ${text}`);
  assert.ok(!/\ba1\b.*\ba2\b/.test(text), `Buffer-style bytes leaked: ${text}`);
  assert.ok(!/161,\s*162/.test(text), `decimal bytes leaked: ${text}`);
}

describe('SecretBytes lifecycle', () => {
  test('expose() returns the bytes; length matches', () => {
    const s = SecretBytes.copyOf(secret());
    assert.deepEqual(s.expose(), secret());
    assert.equal(s.length, 32);
    assert.equal(s.disposed, false);
  });

  test('dispose() zeroes the exact buffer returned by expose()', () => {
    const s = SecretBytes.copyOf(secret());
    const view = s.expose();
    assert.ok(view.some((b) => b !== 0));
    s.dispose();
    assert.equal(view.length, 32);
    assert.ok(view.every((b) => b === 0), `not zeroed: ${view.toString('hex')}`);
    assert.equal(s.disposed, true);
  });

  test('adopt() takes ownership: dispose() zeroes the adopted buffer itself', () => {
    const raw = secret();
    const s = SecretBytes.adopt(raw);
    assert.equal(s.expose(), raw, 'adopt must not copy');
    s.dispose();
    assert.ok(raw.every((b) => b === 0));
  });

  test('copyOf() copies: later changes to the source do not affect it, and dispose leaves the source alone', () => {
    const raw = secret();
    const s = SecretBytes.copyOf(raw);
    raw.fill(0x55);
    assert.deepEqual(s.expose(), secret());
    s.dispose();
    assert.ok(raw.every((b) => b === 0x55));
  });

  test('expose() and length throw after dispose; dispose is idempotent', () => {
    const s = SecretBytes.copyOf(secret());
    s.dispose();
    assert.throws(() => s.expose(), /after dispose/);
    assert.throws(() => s.length, /after dispose/);
    assert.doesNotThrow(() => s.dispose());
    assert.equal(s.disposed, true);
  });

  test('zeroize() overwrites every given buffer and skips undefined', () => {
    const a = secret();
    const b = new Uint8Array([1, 2, 3]);
    zeroize(a, undefined, b);
    assert.ok(a.every((x) => x === 0));
    assert.ok(b.every((x) => x === 0));
  });
});

describe('SecretBytes never serializes or prints its bytes', () => {
  test('JSON.stringify throws, directly and nested', () => {
    const s = SecretBytes.copyOf(secret());
    assert.throws(() => JSON.stringify(s), /never be serialized/);
    assert.throws(() => JSON.stringify({ key: { material: s } }), /never be serialized/);
    assert.throws(() => JSON.stringify([s]), /never be serialized/);
  });

  test('String(), template literals, concatenation and %s are redacted', () => {
    const s = SecretBytes.copyOf(secret());
    for (const text of [String(s), `${s}`, '' + s, s.toString(), format('%s', s)]) {
      assert.equal(text, '[SecretBytes]');
    }
  });

  test('util.inspect / console formatting shows only the length', () => {
    const s = SecretBytes.copyOf(secret());
    assert.equal(inspect(s), '[SecretBytes 32 bytes]');
    const renderings = [
      inspect(s, { showHidden: true, depth: Infinity }),
      inspect({ nested: { s } }, { depth: Infinity }),
      inspect([s]),
      format('%o', s),
      format('%O', { s }),
      format(s),
    ];
    for (const text of renderings) {
      assert.ok(text.includes('SecretBytes'), text);
      assertNoBytes(text);
    }
  });

  test('a disposed SecretBytes inspects without throwing', () => {
    const s = SecretBytes.copyOf(secret());
    s.dispose();
    assert.equal(inspect(s), '[SecretBytes disposed]');
    assert.equal(String(s), '[SecretBytes]');
  });

  test('no enumerable property exposes the bytes', () => {
    const s = SecretBytes.copyOf(secret());
    assert.deepEqual(Object.keys(s), []);
    assert.deepEqual(Object.getOwnPropertyNames(s), []);
    assert.deepEqual({ ...s }, {});
  });
});
