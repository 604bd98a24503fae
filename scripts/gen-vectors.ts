/**
 * Generates the known-answer vectors test/vectors/ciphertext-v1.json and context-v1.json.
 *
 *   npx tsx scripts/gen-vectors.ts
 *
 * Every input is fixed (keys, ids, nonces), so the output is deterministic: running it again must
 * leave both files unchanged. A diff after running it means the wire format changed, which breaks
 * every ciphertext already issued. test/vectors.test.ts replays the files and independently
 * recomputes each expected value from the documented layout with node:crypto.
 */
import { writeFileSync } from 'node:fs';
import { encryptV1 } from '../src/crypto/aead.js';
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

const KEY_A = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const KEY_B = 'c0ffee00deadbeef0123456789abcdeffedcba98765432100f1e2d3c4b5a6978';
const KEY_C = '8f3a6e1d42b97c05e1d4a8b3f6c20957ad4e3b1c8f7d6a5e4b3c2d1e0f9a8b7c';
const ID_A = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const ID_B = 'b7e3c1a4-5d2f-4e8b-9c6a-1f0e2d3c4b5a';
const ID_C = 'ffffffff-ffff-4fff-bfff-ffffffffffff';

const MULTI_CONTEXT: EncryptionContext = {
  tenant: 'acme',
  'région': 'Île-de-France',
  '用途': 'バックアップ',
  '🔑': 'ключ',
  Zone: 'eu-west-1',
  '10': 'ten',
  '2': 'two',
  empty: '',
};

const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

type Input = Omit<PositiveCase, 'ciphertextB64' | 'expect'>;

const inputs: Input[] = [
  {
    description: '1-byte plaintext, no context (null), key version 1',
    keyHex: KEY_A,
    keyId: ID_A,
    keyVersion: 1,
    nonceHex: '000000000000000000000001',
    plaintextHex: '2a',
    context: null,
  },
  {
    description: 'empty context {}: same inputs as the null-context case and the same ciphertext',
    keyHex: KEY_A,
    keyId: ID_A,
    keyVersion: 1,
    nonceHex: '000000000000000000000001',
    plaintextHex: '2a',
    context: {},
  },
  {
    description: 'ASCII plaintext, single-pair context',
    keyHex: KEY_A,
    keyId: ID_A,
    keyVersion: 1,
    nonceHex: 'cafebabefacedbaddecaf888',
    plaintextHex: Buffer.from('Hello, Keywarden!', 'utf8').toString('hex'),
    context: { purpose: 'test-vector' },
  },
  {
    description: 'multi-pair context with non-ASCII UTF-8 keys and values (sorted by UTF-8 bytes)',
    keyHex: KEY_B,
    keyId: ID_B,
    keyVersion: 1,
    nonceHex: '0f0e0d0c0b0a090807060504',
    plaintextHex: Buffer.from('données chiffrées — 暗号化されたデータ', 'utf8').toString('hex'),
    context: MULTI_CONTEXT,
  },
  {
    description: 'key version 7',
    keyHex: KEY_B,
    keyId: ID_B,
    keyVersion: 7,
    nonceHex: '1112131415161718191a1b1c',
    plaintextHex: Buffer.from('rotated', 'utf8').toString('hex'),
    context: { tenant: 'acme' },
  },
  {
    description: 'key version 4294967295 (the uint32 maximum), all-ones key id',
    keyHex: KEY_C,
    keyId: ID_C,
    keyVersion: 0xffffffff,
    nonceHex: 'ffffffffffffffffffffffff',
    plaintextHex: '00',
    context: null,
  },
  {
    description: '4096-byte plaintext, byte i = i mod 251, with context',
    keyHex: KEY_C,
    keyId: ID_C,
    keyVersion: 2,
    nonceHex: 'a5a5a5a5a5a5a5a5a5a5a5a5',
    plaintextHex: pattern(4096).toString('hex'),
    context: { object: 'blob/4096', tenant: 'acme' },
  },
  {
    description: 'empty plaintext (valid at the format level; the service API requires at least 1 byte)',
    keyHex: KEY_A,
    keyId: ID_A,
    keyVersion: 1,
    nonceHex: '000000000000000000000000',
    plaintextHex: '',
    context: null,
  },
];

function encrypt(i: Input): Buffer {
  const material = SecretBytes.copyOf(Buffer.from(i.keyHex, 'hex'));
  try {
    return encryptV1(
      material,
      { keyId: i.keyId, keyVersion: i.keyVersion },
      Buffer.from(i.plaintextHex, 'hex'),
      i.context ?? undefined,
      Buffer.from(i.nonceHex, 'hex'),
    );
  } finally {
    material.dispose();
  }
}

const positives: PositiveCase[] = inputs.map((i) => ({ ...i, ciphertextB64: encrypt(i).toString('base64'), expect: 'ok' }));

/** Negative cases derived from the positive case `base`: same key, modified bytes or context. */
function negative(
  description: string,
  base: PositiveCase,
  change: { bytes?: (b: Buffer) => Buffer; context?: EncryptionContext | null; keyHex?: string },
): NegativeCase {
  const bytes = Buffer.from(base.ciphertextB64, 'base64');
  return {
    description,
    keyHex: change.keyHex ?? base.keyHex,
    keyId: base.keyId,
    keyVersion: base.keyVersion,
    context: change.context === undefined ? base.context : change.context,
    ciphertextB64: (change.bytes ? change.bytes(bytes) : bytes).toString('base64'),
    expect: 'InvalidCiphertext',
  };
}

const xorAt = (index: number, mask: number) => (b: Buffer): Buffer => {
  const c = Buffer.from(b);
  const at = index < 0 ? c.length + index : index;
  c[at] = (c[at] as number) ^ mask;
  return c;
};

const multi = positives[3] as PositiveCase;
const versioned = positives[4] as PositiveCase;
const bare = positives[0] as PositiveCase;

const negatives: NegativeCase[] = [
  negative('header: format version byte 0x01 -> 0x02', multi, { bytes: xorAt(0, 0x03) }),
  negative('header: algorithm id byte 0x01 -> 0x02', multi, { bytes: xorAt(1, 0x03) }),
  negative('header: one bit of the key id flipped', multi, { bytes: xorAt(9, 0x10) }),
  negative('header: key version 7 -> 6 (same key material)', versioned, { bytes: xorAt(21, 0x01) }),
  negative('header: nonce length byte 12 -> 13', multi, { bytes: xorAt(22, 0x01) }),
  negative('header: one bit of the nonce flipped', multi, { bytes: xorAt(34, 0x80) }),
  negative('body: one bit of the AES-GCM ciphertext flipped', multi, { bytes: xorAt(35, 0x01) }),
  negative('tag: last byte flipped', multi, { bytes: xorAt(-1, 0x01) }),
  negative('tag: first byte flipped', versioned, { bytes: xorAt(-16, 0x40) }),
  negative('truncated: tag removed', multi, { bytes: (b) => b.subarray(0, b.length - 16) }),
  negative('truncated: last tag byte removed', bare, { bytes: (b) => b.subarray(0, b.length - 1) }),
  negative('extended: one trailing byte appended', bare, { bytes: (b) => Buffer.concat([b, Buffer.from([0])]) }),
  negative('wrong context: one value changed', multi, { context: { ...MULTI_CONTEXT, tenant: 'acme-evil' } }),
  negative('wrong context: one pair removed', multi, {
    context: Object.fromEntries(Object.entries(MULTI_CONTEXT).filter(([k]) => k !== 'empty')),
  }),
  negative('wrong context: none given for a ciphertext that has one', versioned, { context: null }),
  negative('wrong context: one given for a ciphertext that has none', bare, { context: { purpose: 'test-vector' } }),
  negative('wrong key: last key byte flipped', versioned, {
    keyHex: versioned.keyHex.slice(0, -2) + (parseInt(versioned.keyHex.slice(-2), 16) ^ 1).toString(16).padStart(2, '0'),
  }),
];

interface ContextCase {
  description: string;
  context: EncryptionContext | null;
  canonicalHex: string;
}

const contextInputs: Array<Omit<ContextCase, 'canonicalHex'>> = [
  { description: 'absent context (null): count 0', context: null },
  { description: 'empty context: count 0, same as absent', context: {} },
  { description: 'one pair', context: { purpose: 'test-vector' } },
  { description: 'empty value', context: { k: '' } },
  { description: 'injectivity: {"a":"bc"}', context: { a: 'bc' } },
  { description: 'injectivity: {"ab":"c"} differs from {"a":"bc"}', context: { ab: 'c' } },
  { description: 'order independence: written b, a', context: { b: '2', a: '1' } },
  { description: 'order independence: written a, b (same encoding as b, a)', context: { a: '1', b: '2' } },
  { description: 'uppercase sorts before lowercase; a prefix before its extensions', context: { b: '', ab: '', a: '', B: '' } },
  { description: 'integer-like keys sort by bytes: "1" < "10" < "2"', context: { '2': 'two', '10': 'ten', '1': 'one' } },
  {
    description: 'UTF-8 byte order differs from UTF-16 order: U+FF61 (EF BD A1) before U+1F600 (F0 9F 98 80)',
    context: { '\u{1F600}': 'grin', '\uFF61': 'halfwidth stop' },
  },
  { description: 'lengths are UTF-8 byte counts', context: { 'é': '🔑' } },
  { description: 'the multi-pair context of ciphertext-v1.json', context: MULTI_CONTEXT },
];

const contexts: ContextCase[] = contextInputs.map((c) => ({
  ...c,
  canonicalHex: canonicalContext(c.context ?? undefined).toString('hex'),
}));

const root = new URL('../test/vectors/', import.meta.url);
writeFileSync(new URL('ciphertext-v1.json', root), JSON.stringify([...positives, ...negatives], null, 2) + '\n');
writeFileSync(new URL('context-v1.json', root), JSON.stringify(contexts, null, 2) + '\n');
console.log(`wrote ${positives.length} positive + ${negatives.length} negative ciphertext cases, ${contexts.length} context cases`);
