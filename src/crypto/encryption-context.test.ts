import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_CONTEXT_BYTES,
  MAX_CONTEXT_PAIRS,
  canonicalContext,
  contextProblem,
  type EncryptionContext,
} from './encryption-context.js';

const enc = (c: EncryptionContext | undefined): string => canonicalContext(c).toString('hex');

describe('canonicalContext', () => {
  test('exact layout: u32 count, then u32 len || key || u32 len || value per pair', () => {
    assert.equal(
      enc({ b: '', a: 'xyz' }),
      '00000002' + '00000001' + '61' + '00000003' + '78797a' + '00000001' + '62' + '00000000',
    );
  });

  test('empty and undefined encode the same: count 0', () => {
    assert.equal(enc(undefined), '00000000');
    assert.equal(enc({}), '00000000');
  });

  test('is independent of insertion order', () => {
    const pairs: Array<[string, string]> = [
      ['tenant', 'acme'],
      ['purpose', 'backup'],
      ['région', 'Île-de-France'],
      ['z', ''],
      ['A', '1'],
      ['ключ', '値'],
    ];
    const forward = enc(Object.fromEntries(pairs));
    assert.equal(enc(Object.fromEntries([...pairs].reverse())), forward);
    for (let shift = 1; shift < pairs.length; shift++) {
      assert.equal(enc(Object.fromEntries([...pairs.slice(shift), ...pairs.slice(0, shift)])), forward);
    }
  });

  test('is injective across key/value boundaries', () => {
    const distinct: EncryptionContext[] = [
      { a: 'bc' },
      { ab: 'c' },
      { abc: '' },
      { a: 'b', c: '' },
      { a: '', bc: '' },
      { a: 'bc', '': '' },
      {},
    ];
    const seen = new Set(distinct.map((c) => enc(c)));
    assert.equal(seen.size, distinct.length);
  });

  test('values matter: any change of one value changes the encoding', () => {
    assert.notEqual(enc({ k: 'v' }), enc({ k: 'V' }));
    assert.notEqual(enc({ k: 'v' }), enc({ k: 'v ' }));
    assert.notEqual(enc({ k: '' }), enc({}));
  });

  test('sorts keys by UTF-8 bytes, not by UTF-16 code units or locale', () => {
    // U+FF61 is EF BD A1 in UTF-8, U+1F600 is F0 9F 98 80: bytes put U+FF61 first, while
    // JavaScript's default sort (UTF-16: 0xFF61 vs 0xD83D) puts the emoji first.
    const c = { '\u{1F600}': '1', '\uFF61': '2' };
    assert.deepEqual(Object.keys(c).sort(), ['\u{1F600}', '\uFF61']);
    assert.equal(
      enc(c),
      '00000002' + '00000003' + 'efbda1' + '00000001' + '32' + '00000004' + 'f09f9880' + '00000001' + '31',
    );
    // Uppercase before lowercase, a prefix before its extensions, "10" before "2" (bytes, not
    // numbers, although JavaScript enumerates integer-like keys numerically).
    const order = (ctx: EncryptionContext): string[] => {
      const b = canonicalContext(ctx);
      const keys: string[] = [];
      let o = 4;
      for (let i = 0; i < b.readUInt32BE(0); i++) {
        const kl = b.readUInt32BE(o);
        keys.push(b.subarray(o + 4, o + 4 + kl).toString('utf8'));
        o += 4 + kl;
        o += 4 + b.readUInt32BE(o);
      }
      return keys;
    };
    assert.deepEqual(order({ b: '', a: '', B: '', ab: '', é: '', z: '' }), ['B', 'a', 'ab', 'b', 'z', 'é']);
    assert.deepEqual(order({ '2': '', '10': '', '1': '' }), ['1', '10', '2']);
  });

  test('lengths count UTF-8 bytes, not characters', () => {
    assert.equal(enc({ é: '🔑' }), '00000001' + '00000002' + 'c3a9' + '00000004' + 'f09f9491');
  });
});

describe('contextProblem', () => {
  test('accepts undefined, empty and ordinary contexts', () => {
    assert.equal(contextProblem(undefined), undefined);
    assert.equal(contextProblem({}), undefined);
    assert.equal(contextProblem({ tenant: 'acme', 'région': 'Île-de-France', k: '' }), undefined);
  });

  test('rejects an empty key', () => {
    assert.match(contextProblem({ '': 'x' }) ?? '', /empty/);
    assert.match(contextProblem({ a: 'b', '': '' }) ?? '', /empty/);
  });

  test(`allows ${MAX_CONTEXT_PAIRS} pairs, rejects ${MAX_CONTEXT_PAIRS + 1}`, () => {
    const ctx = (n: number): EncryptionContext => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    assert.equal(contextProblem(ctx(MAX_CONTEXT_PAIRS)), undefined);
    assert.match(contextProblem(ctx(MAX_CONTEXT_PAIRS + 1)) ?? '', /more than 64 pairs/);
  });

  test(`allows ${MAX_CONTEXT_BYTES} bytes of keys and values, rejects one more (counted in UTF-8)`, () => {
    assert.equal(contextProblem({ k: 'v'.repeat(MAX_CONTEXT_BYTES - 1) }), undefined);
    assert.match(contextProblem({ k: 'v'.repeat(MAX_CONTEXT_BYTES) }) ?? '', /larger than 8192 bytes/);
    // 'é' is 2 UTF-8 bytes but 1 UTF-16 unit: 4096 of them with a 1-byte key is 8193 bytes.
    assert.match(contextProblem({ k: 'é'.repeat(MAX_CONTEXT_BYTES / 2) }) ?? '', /larger than/);
    // The limit is over the whole context, not per pair.
    const half = 'v'.repeat(MAX_CONTEXT_BYTES / 2);
    assert.match(contextProblem({ a: half, b: half }) ?? '', /larger than/);
  });

  test('rejects lone surrogates, which would collide in UTF-8 (all become U+FFFD)', () => {
    // The collision this check prevents:
    assert.equal(enc({ k: '\uD800' }), enc({ k: '\uFFFD' }));
    assert.equal(enc({ k: '\uD800' }), enc({ k: '\uDC00' }));
    const bad: EncryptionContext[] = [{ k: '\uD800' }, { k: 'x\uDC00y' }, { '\uD83D': 'v' }, { ['a\uDE00']: 'v' }];
    for (const c of bad) {
      assert.match(contextProblem(c) ?? '', /well-formed/, JSON.stringify(c));
    }
    // Well-formed astral characters (surrogate pairs) and U+FFFD itself remain fine.
    assert.equal(contextProblem({ '🔑': '\u{1F600}', k: '\uFFFD' }), undefined);
  });
});
