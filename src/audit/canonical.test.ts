/** Canonical JSON: the RFC 8785 examples that apply to our value set, rejections, strict decoding. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CanonicalError, canonicalBytes, canonicalJson, parseCanonical, type CanonicalValue } from './canonical.js';

test('members are sorted by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
  const v = {
    '\u20ac': 'Euro Sign',
    '\r': 'Carriage Return',
    '\ufb33': 'Hebrew Letter Dalet With Dagesh',
    '1': 'One',
    '\ud83d\ude00': 'Emoji: Grinning Face',
    '\u0080': 'Control',
    '\u00f6': 'Latin Small Letter O With Diaeresis',
  };
  assert.equal(
    canonicalJson(v),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
});

test('strings are escaped exactly as RFC 8785 §3.2.2.2 shows', () => {
  // Input of the RFC example: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"
  const s = '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/';
  assert.equal(canonicalJson(s), '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"');
  assert.equal(canonicalJson('\b\t\n\f\r\u0000\u001f\u007f\u2028'), '"\\b\\t\\n\\f\\r\\u0000\\u001f\u007f\u2028"');
});

test('nested values, integers and literals; no whitespace', () => {
  const v: CanonicalValue = { b: [1, -2, 0, true, false, null, { z: 'x', a: [] }], a: {}, c: Number.MAX_SAFE_INTEGER };
  assert.equal(canonicalJson(v), '{"a":{},"b":[1,-2,0,true,false,null,{"a":[],"z":"x"}],"c":9007199254740991}');
  assert.equal(canonicalJson(-0), '0');
  assert.deepEqual(canonicalBytes({ é: 'ë' }), Buffer.from('{"é":"ë"}', 'utf8'));
});

test('values outside the set are rejected', () => {
  const bad: unknown[] = [1.5, NaN, Infinity, 2 ** 53, undefined, { a: undefined }, () => 1, Buffer.from('x'), new Date(0), 10n, '\ud800', { '\udc00': 1 }, Symbol('s')];
  for (const v of bad) assert.throws(() => canonicalJson(v as CanonicalValue), CanonicalError, String(v));
  let deep: CanonicalValue = 1;
  for (let i = 0; i < 20; i++) deep = [deep];
  assert.throws(() => canonicalJson(deep), CanonicalError);
});

test('parseCanonical accepts exactly the canonical bytes', () => {
  const v = { b: 'ë\n', a: [1, { c: null }] };
  const bytes = canonicalBytes(v);
  assert.deepEqual(parseCanonical(bytes), v);
  const variants = [
    '{"a":[1,{"c":null}], "b":"ë\\n"}', // whitespace
    '{"b":"ë\\n","a":[1,{"c":null}]}', // member order
    '{"a":[1,{"c":null}],"a":[1,{"c":null}],"b":"ë\\n"}', // duplicate member
    '{"a":[1.0,{"c":null}],"b":"ë\\n"}', // 1.0
    '{"a":[1e0,{"c":null}],"b":"ë\\n"}', // exponent
    '{"a":[1,{"c":null}],"b":"\\u00eb\\n"}', // needless escape
    '{"a":[1,{"c":null}],"b":"ë\\n"}\n', // trailing newline
    '\ufeff{"a":[1,{"c":null}],"b":"ë\\n"}', // byte-order mark
  ];
  for (const t of variants) assert.throws(() => parseCanonical(Buffer.from(t, 'utf8')), CanonicalError, t);
  assert.throws(() => parseCanonical(Buffer.from([0x22, 0xc3, 0x22])), CanonicalError, 'invalid UTF-8');
  assert.throws(() => parseCanonical(Buffer.from('{"a":1.5}')), CanonicalError, 'float');
});
