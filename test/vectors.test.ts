/**
 * Replays the known-answer vectors for Keywarden ciphertext format v1 and the canonical
 * encryption-context encoding (docs/ciphertext-format.md).
 *
 * Every expected value is checked twice: against the implementation (encryptV1, decryptV1,
 * canonicalContext) and against an independent reference built here by hand from the spec with
 * raw node:crypto, so a regression in either the code or the vector files is caught.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { decryptV1, encryptV1, parseCiphertext } from '../src/crypto/aead.js';
import { canonicalContext, type EncryptionContext } from '../src/crypto/encryption-context.js';
import { SecretBytes } from '../src/crypto/secret-bytes.js';

interface PositiveCase {
  description: string;
  keyHex: string;
  keyId: string;
  keyVersion: number;
  nonceHex: string;
  plaintextHex: string;
  context: EncryptionContext | null;
  ciphertextB64: string;
  expect: 'ok';
}

interface NegativeCase {
  description: string;
  keyHex: string;
  keyId: string;
  keyVersion: number;
  context: EncryptionContext | null;
  ciphertextB64: string;
  expect: 'InvalidCiphertext';
}

interface ContextCase {
  description: string;
  context: EncryptionContext | null;
  canonicalHex: string;
}

const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(`vectors/${name}`, import.meta.url), 'utf8')) as T;
const cases = load<Array<PositiveCase | NegativeCase>>('ciphertext-v1.json');
const contextCases = load<ContextCase[]>('context-v1.json');
const positives = cases.filter((c): c is PositiveCase => c.expect === 'ok');
const negatives = cases.filter((c): c is NegativeCase => c.expect === 'InvalidCiphertext');

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const ctx = (c: EncryptionContext | null): EncryptionContext | undefined => c ?? undefined;

// ---- Independent reference implementation, written from the spec only ---------------------------

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** count || (len(key) || key || len(value) || value)*, pairs sorted by the key's UTF-8 bytes. */
function referenceContext(context: EncryptionContext | null): Buffer {
  const pairs = Object.entries(context ?? {}).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  pairs.sort(([a], [b]) => Buffer.compare(a, b));
  return Buffer.concat([u32(pairs.length), ...pairs.flatMap(([k, v]) => [u32(k.length), k, u32(v.length), v])]);
}

/** version 0x01 || algorithm 0x01 || key id (16) || key version (u32 BE) || nonce length || nonce. */
function referenceHeader(keyId: string, keyVersion: number, nonce: Buffer): Buffer {
  assert.equal(nonce.length, 12);
  return Buffer.concat([Buffer.from([0x01, 0x01]), hex(keyId.replaceAll('-', '')), u32(keyVersion), Buffer.from([12]), nonce]);
}

function referenceEncrypt(c: PositiveCase): Buffer {
  const header = referenceHeader(c.keyId, c.keyVersion, hex(c.nonceHex));
  const cipher = createCipheriv('aes-256-gcm', hex(c.keyHex), hex(c.nonceHex), { authTagLength: 16 });
  cipher.setAAD(Buffer.concat([header, referenceContext(c.context)]));
  const body = Buffer.concat([cipher.update(hex(c.plaintextHex)), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/** Reference decryption of a v1 ciphertext; undefined if the layout or the tag does not check out. */
function referenceDecrypt(keyHex: string, blob: Buffer, context: EncryptionContext | null): Buffer | undefined {
  if (blob.length < 35 + 16 || blob[0] !== 0x01 || blob[1] !== 0x01 || blob[22] !== 12) return undefined;
  if (blob.readUInt32BE(18) === 0) return undefined;
  const header = blob.subarray(0, 35);
  const d = createDecipheriv('aes-256-gcm', hex(keyHex), blob.subarray(23, 35), { authTagLength: 16 });
  d.setAAD(Buffer.concat([header, referenceContext(context)]));
  d.setAuthTag(blob.subarray(blob.length - 16));
  try {
    return Buffer.concat([d.update(blob.subarray(35, blob.length - 16)), d.final()]);
  } catch {
    return undefined;
  }
}

function withKey<T>(keyHex: string, f: (k: SecretBytes) => T): T {
  const k = SecretBytes.copyOf(hex(keyHex));
  try {
    return f(k);
  } finally {
    k.dispose();
  }
}

// ---- The vector files themselves -------------------------------------------------------------------

describe('vector files', () => {
  test('ciphertext-v1.json is well formed and covers the required cases', () => {
    assert.equal(positives.length + negatives.length, cases.length, 'every case has expect "ok" or "InvalidCiphertext"');
    for (const c of cases) {
      assert.equal(typeof c.description, 'string');
      assert.match(c.keyHex, /^[0-9a-f]{64}$/, c.description);
      assert.match(c.keyId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, c.description);
      assert.ok(Number.isInteger(c.keyVersion) && c.keyVersion >= 1 && c.keyVersion <= 0xffffffff, c.description);
      assert.ok(c.context === null || typeof c.context === 'object', c.description);
      assert.equal(Buffer.from(c.ciphertextB64, 'base64').toString('base64'), c.ciphertextB64, 'canonical base64');
    }
    for (const c of positives) {
      assert.match(c.nonceHex, /^[0-9a-f]{24}$/, c.description);
      assert.match(c.plaintextHex, /^([0-9a-f]{2})*$/, c.description);
    }
    const lengths = positives.map((c) => c.plaintextHex.length / 2);
    assert.ok(lengths.includes(1), 'a 1-byte plaintext');
    assert.ok(lengths.includes(4096), 'a 4096-byte plaintext');
    assert.ok(positives.some((c) => c.context === null), 'an absent context');
    assert.ok(positives.some((c) => c.context !== null && Object.keys(c.context).length === 0), 'an empty context');
    assert.ok(
      positives.some((c) => c.context !== null && Object.keys(c.context).length > 1 && /[^\x00-\x7f]/.test(JSON.stringify(c.context))),
      'a multi-pair context with non-ASCII UTF-8 (JSON.stringify leaves it unescaped)',
    );
    assert.ok(positives.some((c) => c.keyVersion > 1), 'a key version > 1');
    assert.ok(negatives.length >= 3, 'negative cases');
  });

  test('the 4096-byte plaintext is bytes i mod 251', () => {
    const big = positives.find((c) => c.plaintextHex.length === 8192);
    assert.ok(big);
    const pt = hex(big.plaintextHex);
    pt.forEach((b, i) => assert.equal(b, i % 251, `byte ${i}`));
  });
});

// ---- Positive cases ----------------------------------------------------------------------------

describe('ciphertext v1 known answers', () => {
  for (const c of positives) {
    describe(c.description, () => {
      const expected = Buffer.from(c.ciphertextB64, 'base64');

      test('independent reference (hand-built header + node:crypto) reproduces ciphertextB64', () => {
        assert.equal(referenceEncrypt(c).toString('base64'), c.ciphertextB64);
        assert.equal(expected.length, 35 + c.plaintextHex.length / 2 + 16);
      });

      test('encryptV1 with the fixed nonce reproduces ciphertextB64 exactly', () => {
        const out = withKey(c.keyHex, (k) =>
          encryptV1(k, { keyId: c.keyId, keyVersion: c.keyVersion }, hex(c.plaintextHex), ctx(c.context), hex(c.nonceHex)),
        );
        assert.equal(out.toString('base64'), c.ciphertextB64);
      });

      test('parseCiphertext + decryptV1 give back the plaintext and header fields', () => {
        const parsed = parseCiphertext(expected);
        assert.ok(parsed);
        assert.equal(parsed.header.keyId, c.keyId);
        assert.equal(parsed.header.keyVersion, c.keyVersion);
        assert.equal(parsed.header.nonce.toString('hex'), c.nonceHex);
        const pt = withKey(c.keyHex, (k) => decryptV1(k, parsed, ctx(c.context)));
        assert.equal(pt?.toString('hex'), c.plaintextHex);
      });

      test('the independent reference decrypts it too', () => {
        assert.equal(referenceDecrypt(c.keyHex, expected, c.context)?.toString('hex'), c.plaintextHex);
      });
    });
  }
});

// ---- Negative cases ----------------------------------------------------------------------------

describe('ciphertext v1 negative vectors (must be InvalidCiphertext)', () => {
  for (const c of negatives) {
    test(c.description, () => {
      const blob = Buffer.from(c.ciphertextB64, 'base64');
      const parsed = parseCiphertext(blob);
      const pt = parsed === undefined ? undefined : withKey(c.keyHex, (k) => decryptV1(k, parsed, ctx(c.context)));
      assert.equal(pt, undefined, 'Keywarden must reject it');
      assert.equal(referenceDecrypt(c.keyHex, blob, c.context), undefined, 'the reference must reject it');
    });
  }

  test('every negative case is a near miss of some positive case (so it tests what it claims)', () => {
    for (const n of negatives) {
      const blob = Buffer.from(n.ciphertextB64, 'base64');
      const origin = positives.find((p) => {
        const b = Buffer.from(p.ciphertextB64, 'base64');
        const sameBytes = b.equals(blob);
        const sameKey = p.keyHex === n.keyHex;
        const sameContext = referenceContext(p.context).equals(referenceContext(n.context));
        if (sameBytes) return Number(sameKey) + Number(sameContext) === 1; // exactly the key or the context differs
        if (!sameKey || !sameContext) return false;
        if (b.length === blob.length) {
          let diff = 0;
          for (let i = 0; i < b.length; i++) if (b[i] !== blob[i]) diff++;
          return diff === 1;
        }
        const [short, long] = b.length < blob.length ? [b, blob] : [blob, b];
        return long.subarray(0, short.length).equals(short);
      });
      assert.ok(origin, `no positive case is one change away from: ${n.description}`);
    }
  });
});

// ---- Canonical context vectors -------------------------------------------------------------------

describe('canonical context known answers (context-v1.json)', () => {
  test('covers null, {}, and distinct encodings for {"a":"bc"} / {"ab":"c"}', () => {
    const byContext = (c: EncryptionContext | null) => contextCases.find((v) => JSON.stringify(v.context) === JSON.stringify(c));
    assert.equal(byContext(null)?.canonicalHex, '00000000');
    assert.equal(byContext({})?.canonicalHex, '00000000');
    const abc = byContext({ a: 'bc' });
    const ab_c = byContext({ ab: 'c' });
    assert.ok(abc && ab_c);
    assert.notEqual(abc.canonicalHex, ab_c.canonicalHex);
  });

  for (const v of contextCases) {
    test(v.description, () => {
      assert.equal(canonicalContext(ctx(v.context)).toString('hex'), v.canonicalHex, 'canonicalContext');
      assert.equal(referenceContext(v.context).toString('hex'), v.canonicalHex, 'independent reference');
      if (v.context !== null) {
        const reversed = Object.fromEntries(Object.entries(v.context).reverse());
        assert.equal(canonicalContext(reversed).toString('hex'), v.canonicalHex, 'insertion order must not matter');
      }
    });
  }

  test('equal encodings only for equal contexts', () => {
    const byHex = new Map<string, string>();
    for (const v of contextCases) {
      const normalized = JSON.stringify(Object.entries(v.context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      const prior = byHex.get(v.canonicalHex);
      if (prior !== undefined) assert.equal(normalized, prior, v.description);
      else byHex.set(v.canonicalHex, normalized);
    }
  });
});
