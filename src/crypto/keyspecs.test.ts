import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, publicEncrypt, constants } from 'node:crypto';
import {
  ENCRYPTION_ALGORITHMS,
  KEY_SPECS,
  KEY_SPEC_USAGES,
  KEY_USAGES,
  MAC_ALGORITHMS,
  MAX_MESSAGE_BYTES,
  SIGNING_ALGORITHMS,
  asymmetricDecrypt,
  asymmetricEncrypt,
  checkAlgorithm,
  checkKeyUsage,
  defaultUsage,
  generateImportWrappingKeyPair,
  generateMac,
  generateMaterial,
  isAsymmetric,
  publicKeyFromMaterial,
  rsaAesKeyWrapSha256Unwrap,
  rsaOaepSha256Unwrap,
  sign,
  spkiToPem,
  unwrapImportedMaterial,
  usagesFor,
  validateImportedMaterial,
  verify,
  verifyMac,
  wrapForExport,
  type KeySpec,
  type MessageType,
  type SigningAlgorithm,
} from './keyspecs.js';
import { SecretBytes } from './secret-bytes.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const MESSAGE = Buffer.from('transfer 100 EUR to account 42', 'utf8');
const HASH_OF: Record<string, string> = { SHA_256: 'sha256', SHA_384: 'sha384', SHA_512: 'sha512' };
const hashOf = (alg: string): string => HASH_OF[/SHA_\d+/.exec(alg)?.[0] ?? ''] ?? 'none';
const digest = (alg: string, m: Buffer): Buffer => createHash(hashOf(alg)).update(m).digest();
const flip = (b: Buffer, i: number): Buffer => {
  const c = Buffer.from(b);
  c[i] = (c[i] as number) ^ 1;
  return c;
};
/** Asserts a KeywardenError with this code whose message matches. */
const rejects = (fn: () => unknown, code: string, message: RegExp) => assert.throws(fn, (e: { code?: string; message?: string }) => {
  assert.equal(e.code, code);
  assert.match(e.message ?? '', message);
  return true;
});

/** One generated key per spec, shared by the tests (RSA-4096 generation takes a while). */
const keys = new Map<KeySpec, { material: Buffer; publicKey?: Buffer }>();
const keyOf = (spec: KeySpec) => {
  if (!keys.has(spec)) keys.set(spec, generateMaterial(spec));
  return keys.get(spec) as { material: Buffer; publicKey?: Buffer };
};
const secret = (spec: KeySpec): SecretBytes => SecretBytes.copyOf(keyOf(spec).material);
const signingAlgorithms = (spec: KeySpec): readonly SigningAlgorithm[] => usagesFor(spec).includes('SIGN_VERIFY') ? (KEY_SPEC_USAGES[spec] as { SIGN_VERIFY: readonly SigningAlgorithm[] }).SIGN_VERIFY : [];

describe('tables', () => {
  test('every spec allows at least one usage, every listed algorithm is known and of that usage', () => {
    const family = { ENCRYPT_DECRYPT: ENCRYPTION_ALGORITHMS, SIGN_VERIFY: SIGNING_ALGORITHMS, GENERATE_VERIFY_MAC: MAC_ALGORITHMS } as const;
    for (const spec of KEY_SPECS) {
      assert.ok(usagesFor(spec).length > 0, spec);
      for (const usage of usagesFor(spec)) {
        assert.ok(KEY_USAGES.includes(usage));
        const algs: readonly string[] = (KEY_SPEC_USAGES[spec] as Record<string, readonly string[]>)[usage] ?? [];
        assert.ok(algs.length > 0);
        for (const a of algs) assert.ok((family[usage] as readonly string[]).includes(a), `${spec}/${usage}/${a}`);
      }
    }
  });

  test('defaultUsage and checkKeyUsage', () => {
    assert.equal(defaultUsage('SYMMETRIC_DEFAULT'), 'ENCRYPT_DECRYPT');
    assert.equal(defaultUsage('RSA_3072'), 'ENCRYPT_DECRYPT');
    assert.equal(defaultUsage('HMAC_384'), 'GENERATE_VERIFY_MAC');
    assert.equal(defaultUsage('ECC_NIST_P256'), 'SIGN_VERIFY');
    assert.equal(defaultUsage('ECC_ED25519'), 'SIGN_VERIFY');
    assert.deepEqual(usagesFor('RSA_2048'), ['ENCRYPT_DECRYPT', 'SIGN_VERIFY']);
    checkKeyUsage('RSA_2048', 'SIGN_VERIFY');
    rejects(() => checkKeyUsage('ECC_NIST_P384', 'ENCRYPT_DECRYPT'), 'ValidationError', /^Key spec ECC_NIST_P384 does not support key usage "ENCRYPT_DECRYPT"; valid: SIGN_VERIFY$/);
  });

  test('checkAlgorithm: InvalidKeyUsage names spec, usage and the allowed algorithms; unknown names are ValidationError', () => {
    assert.equal(checkAlgorithm('RSA_2048', 'SIGN_VERIFY', 'RSASSA_PSS_SHA_384'), 'RSASSA_PSS_SHA_384');
    rejects(() => checkAlgorithm('ECC_NIST_P256', 'SIGN_VERIFY', 'ECDSA_SHA_384'), 'InvalidKeyUsage',
      /^Algorithm ECDSA_SHA_384 is not valid for key spec ECC_NIST_P256 with key usage SIGN_VERIFY; allowed: ECDSA_SHA_256$/);
    rejects(() => checkAlgorithm('RSA_4096', 'ENCRYPT_DECRYPT', 'RSASSA_PKCS1_V1_5_SHA_256'), 'InvalidKeyUsage',
      /^Algorithm RSASSA_PKCS1_V1_5_SHA_256 is not valid for key spec RSA_4096 with key usage ENCRYPT_DECRYPT; allowed: RSAES_OAEP_SHA_256$/);
    rejects(() => checkAlgorithm('RSA_2048', 'SIGN_VERIFY', 'RSAES_OAEP_SHA_256'), 'InvalidKeyUsage',
      /allowed: RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384, RSASSA_PSS_SHA_512, RSASSA_PKCS1_V1_5_SHA_256, RSASSA_PKCS1_V1_5_SHA_384, RSASSA_PKCS1_V1_5_SHA_512$/);
    rejects(() => checkAlgorithm('HMAC_256', 'GENERATE_VERIFY_MAC', 'HMAC_SHA_512'), 'InvalidKeyUsage', /key spec HMAC_256 .* allowed: HMAC_SHA_256$/);
    rejects(() => checkAlgorithm('ECC_ED25519', 'ENCRYPT_DECRYPT', 'SYMMETRIC_DEFAULT'), 'InvalidKeyUsage',
      /^Key spec ECC_ED25519 does not support key usage ENCRYPT_DECRYPT \(it supports SIGN_VERIFY\)$/);
    for (const weak of ['RSAES_OAEP_SHA_1', 'RSASSA_PSS_SHA_1', 'HMAC_SHA_1', 'ECDSA_SHA_1', 'ed25519', '']) {
      rejects(() => checkAlgorithm('RSA_2048', 'SIGN_VERIFY', weak), 'ValidationError', new RegExp(`^Unknown algorithm "${weak}"; supported: RSASSA_PSS_SHA_256, `));
    }
    rejects(() => checkAlgorithm('RSA_1024' as KeySpec, 'SIGN_VERIFY', 'RSASSA_PSS_SHA_256'), 'ValidationError', /Unknown key spec or key usage "RSA_1024"/);
  });
});

describe('material', () => {
  test('symmetric specs: random bytes of the spec length, no public key', () => {
    for (const [spec, n] of [['SYMMETRIC_DEFAULT', 32], ['HMAC_256', 32], ['HMAC_384', 48], ['HMAC_512', 64]] as const) {
      const a = generateMaterial(spec), b = generateMaterial(spec);
      assert.equal(a.material.length, n);
      assert.equal(a.publicKey, undefined);
      assert.notDeepEqual(a.material, b.material);
      assert.equal(isAsymmetric(spec), false);
      rejects(() => publicKeyFromMaterial(spec, a.material), 'ValidationError', new RegExp(`^Key spec ${spec} is symmetric: it has no public key$`));
    }
  });

  for (const spec of KEY_SPECS.filter(isAsymmetric)) {
    test(`${spec}: PKCS#8 private + SPKI public, consistent, PEM export`, () => {
      const { material, publicKey } = keyOf(spec);
      assert.ok(publicKey);
      assert.deepEqual(publicKeyFromMaterial(spec, material), publicKey);
      assert.deepEqual(publicKeyFromMaterial(spec, SecretBytes.copyOf(material)), publicKey);
      const priv = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
      assert.equal(priv.asymmetricKeyType, spec.startsWith('RSA') ? 'rsa' : spec === 'ECC_ED25519' ? 'ed25519' : 'ec');
      const pem = spkiToPem(publicKey);
      assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n$/);
      assert.deepEqual(createPublicKey(pem).export({ format: 'der', type: 'spki' }), publicKey);
      validateImportedMaterial(spec, material);
    });
  }
});

describe('Sign / Verify', () => {
  for (const spec of KEY_SPECS.filter(isAsymmetric)) {
    for (const alg of signingAlgorithms(spec)) {
      test(`${spec} ${alg}: RAW${alg === 'ED25519' ? '' : ' and DIGEST'} round trips; any change gives false`, () => {
        const pub = keyOf(spec).publicKey as Buffer;
        const raw = sign(spec, alg, secret(spec), MESSAGE, 'RAW');
        assert.equal(verify(spec, alg, pub, MESSAGE, 'RAW', raw), true);
        assert.equal(verify(spec, alg, pub, Buffer.from('transfer 900 EUR to account 42'), 'RAW', raw), false);
        for (const bad of [flip(raw, 0), flip(raw, raw.length - 1), raw.subarray(0, raw.length - 1), Buffer.concat([raw, Buffer.from([0])]), Buffer.alloc(0), Buffer.alloc(raw.length, 0xff)]) {
          assert.equal(verify(spec, alg, pub, MESSAGE, 'RAW', bad), false);
          if (alg !== 'ED25519') assert.equal(verify(spec, alg, pub, digest(alg, MESSAGE), 'DIGEST', bad), false);
        }
        const otherKey = generateMaterial(spec.startsWith('RSA') ? 'RSA_2048' : spec).publicKey as Buffer;
        assert.equal(verify(spec, alg, otherKey, MESSAGE, 'RAW', raw), false);
        if (alg === 'ED25519') {
          rejects(() => sign(spec, alg, secret(spec), digest('SHA_512', MESSAGE), 'DIGEST'), 'ValidationError', /^ED25519 signs messages only .*MessageType DIGEST is not supported; use RAW$/);
          rejects(() => verify(spec, alg, pub, MESSAGE, 'DIGEST', raw), 'ValidationError', /ED25519 signs messages only/);
          return;
        }
        const d = digest(alg, MESSAGE);
        const pre = sign(spec, alg, secret(spec), d, 'DIGEST');
        assert.equal(verify(spec, alg, pub, MESSAGE, 'RAW', pre), true, 'DIGEST signature = RAW signature of the message');
        assert.equal(verify(spec, alg, pub, d, 'DIGEST', pre), true);
        assert.equal(verify(spec, alg, pub, d, 'DIGEST', raw), true, 'RAW signature verifies against the digest');
        assert.equal(verify(spec, alg, pub, flip(d, 3), 'DIGEST', pre), false);
        for (const wrong of [d.subarray(1), Buffer.concat([d, Buffer.from([0])]), Buffer.alloc(0)]) {
          const n = d.length;
          rejects(() => sign(spec, alg, secret(spec), wrong, 'DIGEST'), 'ValidationError',
            new RegExp(`^A DIGEST message for ${alg} must be the ${n}-byte ${hashOf(alg).toUpperCase()} digest; got ${wrong.length} bytes$`));
          rejects(() => verify(spec, alg, pub, wrong, 'DIGEST', pre), 'ValidationError', /^A DIGEST message for/);
        }
      });
    }
  }

  test('RAW messages are 1 to 4096 bytes (AWS); MessageType is RAW or DIGEST', () => {
    const spec = 'ECC_NIST_P256', alg = 'ECDSA_SHA_256';
    const pub = keyOf(spec).publicKey as Buffer;
    const max = Buffer.alloc(MAX_MESSAGE_BYTES, 0x61);
    assert.equal(verify(spec, alg, pub, max, 'RAW', sign(spec, alg, secret(spec), max, 'RAW')), true);
    for (const m of [Buffer.alloc(MAX_MESSAGE_BYTES + 1), Buffer.alloc(0)]) {
      rejects(() => sign(spec, alg, secret(spec), m, 'RAW'), 'ValidationError', new RegExp(`^A RAW message must be 1 to 4096 bytes; got ${m.length}$`));
      rejects(() => verify(spec, alg, pub, m, 'RAW', Buffer.alloc(70)), 'ValidationError', /^A RAW message must be 1 to 4096 bytes/);
    }
    rejects(() => sign(spec, alg, secret(spec), MESSAGE, 'EXTERNAL_MU' as MessageType), 'ValidationError', /^MessageType must be RAW or DIGEST; got "EXTERNAL_MU"$/);
  });

  test('sign/verify refuse algorithms the spec does not allow', () => {
    rejects(() => sign('ECC_NIST_P384', 'ECDSA_SHA_256', secret('ECC_NIST_P384'), MESSAGE, 'RAW'), 'InvalidKeyUsage', /ECC_NIST_P384 .* allowed: ECDSA_SHA_384$/);
    rejects(() => verify('ECC_ED25519', 'ECDSA_SHA_256', keyOf('ECC_ED25519').publicKey as Buffer, MESSAGE, 'RAW', Buffer.alloc(64)), 'InvalidKeyUsage', /allowed: ED25519$/);
    rejects(() => sign('HMAC_256', 'ED25519', secret('HMAC_256'), MESSAGE, 'RAW'), 'InvalidKeyUsage', /^Key spec HMAC_256 does not support key usage SIGN_VERIFY/);
  });

  test('RFC 8032 §7.1 TEST 2 (one-byte message): exact signature from the fixed seed', () => {
    const pkcs8 = Buffer.concat([hex('302e020100300506032b657004220420'), hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb')]);
    const sig = sign('ECC_ED25519', 'ED25519', SecretBytes.copyOf(pkcs8), hex('72'), 'RAW');
    assert.equal(sig.toString('hex'), '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00');
    assert.deepEqual(publicKeyFromMaterial('ECC_ED25519', pkcs8).subarray(-32), hex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'));
  });
});

describe('GenerateMac / VerifyMac', () => {
  // RFC 4231 §4.3 (test case 2) and §4.5 (test case 4).
  const CASES = [
    { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), macs: {
      HMAC_SHA_256: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      HMAC_SHA_384: 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
      HMAC_SHA_512: '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
    } },
    { key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), data: Buffer.alloc(50, 0xcd), macs: {
      HMAC_SHA_256: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
      HMAC_SHA_384: '3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb',
      HMAC_SHA_512: 'b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd',
    } },
  ];
  const SPEC_OF = { HMAC_SHA_256: 'HMAC_256', HMAC_SHA_384: 'HMAC_384', HMAC_SHA_512: 'HMAC_512' } as const;

  test('RFC 4231 known answers', () => {
    for (const c of CASES) {
      for (const [alg, mac] of Object.entries(c.macs) as Array<[keyof typeof SPEC_OF, string]>) {
        assert.equal(generateMac(SPEC_OF[alg], alg, SecretBytes.copyOf(c.key), c.data).toString('hex'), mac);
        assert.equal(verifyMac(SPEC_OF[alg], alg, SecretBytes.copyOf(c.key), c.data, hex(mac)), true);
      }
    }
  });

  for (const alg of MAC_ALGORITHMS) {
    const spec = SPEC_OF[alg];
    test(`${spec}: round trip; tampered, truncated, extended or wrong-key MACs are false; other algorithms refused`, () => {
      const mac = generateMac(spec, alg, secret(spec), MESSAGE);
      assert.equal(verifyMac(spec, alg, secret(spec), MESSAGE, mac), true);
      for (const bad of [flip(mac, 0), flip(mac, mac.length - 1), mac.subarray(0, 16), Buffer.concat([mac, Buffer.from([0])]), Buffer.alloc(0)]) {
        assert.equal(verifyMac(spec, alg, secret(spec), MESSAGE, bad), false);
      }
      assert.equal(verifyMac(spec, alg, SecretBytes.copyOf(generateMaterial(spec).material), MESSAGE, mac), false);
      assert.equal(verifyMac(spec, alg, secret(spec), flip(MESSAGE, 2), mac), false);
      const other = MAC_ALGORITHMS.find((a) => a !== alg) as string;
      rejects(() => generateMac(spec, other, secret(spec), MESSAGE), 'InvalidKeyUsage', new RegExp(`^Algorithm ${other} is not valid for key spec ${spec} with key usage GENERATE_VERIFY_MAC; allowed: ${alg}$`));
      rejects(() => verifyMac(spec, other, secret(spec), MESSAGE, mac), 'InvalidKeyUsage', /allowed/);
      rejects(() => generateMac(spec, alg, secret(spec), Buffer.alloc(4097)), 'ValidationError', /^A MAC message must be 1 to 4096 bytes; got 4097$/);
    });
  }
});

describe('RSAES_OAEP_SHA_256 Encrypt / Decrypt', () => {
  for (const [spec, max] of [['RSA_2048', 190], ['RSA_3072', 318], ['RSA_4096', 446]] as const) {
    test(`${spec}: round trip up to ${max} bytes; larger is ValidationError; tampering gives undefined`, () => {
      const pub = keyOf(spec).publicKey as Buffer;
      for (const n of [1, max]) {
        const pt = Buffer.alloc(n, 0x5a);
        const ct = asymmetricEncrypt(spec, 'RSAES_OAEP_SHA_256', pub, pt);
        assert.deepEqual(asymmetricDecrypt(spec, 'RSAES_OAEP_SHA_256', secret(spec), ct), pt);
        for (const bad of [flip(ct, 0), flip(ct, ct.length - 1), ct.subarray(1), Buffer.concat([ct, Buffer.from([0])]), Buffer.alloc(0)]) {
          assert.equal(asymmetricDecrypt(spec, 'RSAES_OAEP_SHA_256', secret(spec), bad), undefined);
        }
      }
      for (const n of [max + 1, 0]) {
        rejects(() => asymmetricEncrypt(spec, 'RSAES_OAEP_SHA_256', pub, Buffer.alloc(n)), 'ValidationError',
          new RegExp(`^Plaintext for RSAES_OAEP_SHA_256 with ${spec} must be 1 to ${max} bytes; got ${n}$`));
      }
    });
  }

  test('wrong key gives undefined; wrong algorithm or spec is InvalidKeyUsage', () => {
    const ct = asymmetricEncrypt('RSA_2048', 'RSAES_OAEP_SHA_256', keyOf('RSA_2048').publicKey as Buffer, MESSAGE);
    assert.equal(asymmetricDecrypt('RSA_2048', 'RSAES_OAEP_SHA_256', SecretBytes.copyOf(generateMaterial('RSA_2048').material), ct), undefined);
    rejects(() => asymmetricEncrypt('RSA_2048', 'SYMMETRIC_DEFAULT', keyOf('RSA_2048').publicKey as Buffer, MESSAGE), 'InvalidKeyUsage', /allowed: RSAES_OAEP_SHA_256$/);
    rejects(() => asymmetricDecrypt('SYMMETRIC_DEFAULT', 'SYMMETRIC_DEFAULT', secret('SYMMETRIC_DEFAULT'), ct), 'InvalidKeyUsage', /^Algorithm SYMMETRIC_DEFAULT is symmetric/);
    rejects(() => asymmetricDecrypt('ECC_NIST_P256', 'RSAES_OAEP_SHA_256', secret('ECC_NIST_P256'), ct), 'InvalidKeyUsage', /does not support key usage ENCRYPT_DECRYPT/);
  });
});

describe('BYOK import and export', () => {
  const wrapping = generateImportWrappingKeyPair();
  const wrappingKey = () => SecretBytes.copyOf(wrapping.privatePkcs8);

  test('the import wrapping key is RSA-4096', () => {
    const k = createPublicKey({ key: wrapping.publicSpki, format: 'der', type: 'spki' });
    assert.equal(k.asymmetricKeyType, 'rsa');
    assert.equal(k.asymmetricKeyDetails?.modulusLength, 4096);
  });

  test('RSAES_OAEP_SHA_256: material wrapped by a client (node OAEP SHA-256) unwraps; anything else is undefined', () => {
    const material = generateMaterial('HMAC_512').material;
    const wrapped = publicEncrypt({ key: createPublicKey({ key: wrapping.publicSpki, format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
    assert.deepEqual(rsaOaepSha256Unwrap(wrappingKey(), wrapped), material);
    assert.equal(rsaOaepSha256Unwrap(wrappingKey(), flip(wrapped, 9)), undefined);
    const sha1 = publicEncrypt({ key: createPublicKey({ key: wrapping.publicSpki, format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, material);
    assert.equal(rsaOaepSha256Unwrap(wrappingKey(), sha1), undefined, 'OAEP-SHA-1 is not accepted');
  });

  test('export then import, for every spec: OAEP when it fits, RSA_AES_KEY_WRAP_SHA_256 for RSA private keys', () => {
    for (const spec of KEY_SPECS) {
      const { material } = keyOf(spec);
      const { wrapped, algorithm } = wrapForExport(wrapping.publicSpki, SecretBytes.copyOf(material));
      assert.equal(algorithm, spec.startsWith('RSA') ? 'RSA_AES_KEY_WRAP_SHA_256' : 'RSAES_OAEP_SHA_256', spec);
      const back = unwrapImportedMaterial(algorithm, wrappingKey(), wrapped);
      assert.deepEqual(back, material, spec);
      validateImportedMaterial(spec, back as Buffer);
      assert.equal(unwrapImportedMaterial(algorithm, wrappingKey(), flip(wrapped, wrapped.length - 3)), undefined);
    }
    assert.equal(rsaAesKeyWrapSha256Unwrap(wrappingKey(), Buffer.alloc(10)), undefined);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
    rejects(() => wrapForExport(small, secret('SYMMETRIC_DEFAULT')), 'ValidationError', /^The wrapping public key must be an SPKI DER RSA key of 2048, 3072 or 4096 bits$/);
    rejects(() => wrapForExport(keyOf('ECC_NIST_P256').publicKey as Buffer, secret('SYMMETRIC_DEFAULT')), 'ValidationError', /wrapping public key/);
    rejects(() => wrapForExport(Buffer.from('garbage'), secret('SYMMETRIC_DEFAULT')), 'ValidationError', /wrapping public key/);
  });

  test('validateImportedMaterial: sizes, types, curves, PSS-only keys, trailing bytes, mismatched halves; no material in messages', () => {
    const bad: Array<[KeySpec, Buffer, RegExp]> = [
      ['SYMMETRIC_DEFAULT', Buffer.alloc(16), /^Key material for SYMMETRIC_DEFAULT must be 32 bytes; got 16$/],
      ['SYMMETRIC_DEFAULT', Buffer.alloc(33), /must be 32 bytes; got 33$/],
      ['HMAC_256', Buffer.alloc(31), /^Key material for HMAC_256 must be 32 to 64 bytes; got 31$/],
      ['HMAC_384', Buffer.alloc(129), /^Key material for HMAC_384 must be 48 to 128 bytes; got 129$/],
      ['HMAC_512', Buffer.alloc(63), /must be 64 to 128 bytes/],
      ['RSA_3072', keyOf('RSA_2048').material, /^Key material for RSA_3072 must be one DER-encoded PKCS#8 private RSA 3072-bit key with public exponent 65537 \(openssl pkcs8 -topk8 -nocrypt -outform DER\)$/],
      ['ECC_NIST_P384', keyOf('ECC_NIST_P256').material, /private EC key on NIST P-384 \(/],
      ['ECC_NIST_P256', keyOf('ECC_ED25519').material, /private EC key on NIST P-256 \(/],
      ['ECC_ED25519', keyOf('ECC_NIST_P256').material, /private Ed25519 key \(/],
      ['RSA_2048', generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey.export({ format: 'der', type: 'pkcs8' }), /private RSA 2048-bit/],
      ['ECC_NIST_P256', Buffer.concat([keyOf('ECC_NIST_P256').material, Buffer.from([0])]), /private EC key on NIST P-256 \(/],
      ['RSA_2048', Buffer.from('not a key'), /private RSA 2048-bit/],
    ];
    // An EC PKCS#8 whose embedded public key belongs to another private key (the last 64 bytes are x || y).
    const p256 = keyOf('ECC_NIST_P256').material;
    const spliced = Buffer.concat([p256.subarray(0, p256.length - 64), generateMaterial('ECC_NIST_P256').material.subarray(-64)]);
    bad.push(['ECC_NIST_P256', spliced, /^Key material for ECC_NIST_P256 failed the pairwise consistency test: its private and public parts do not match$/]);
    for (const [spec, material, message] of bad) {
      rejects(() => validateImportedMaterial(spec, material), 'ValidationError', message);
      try {
        validateImportedMaterial(spec, material);
      } catch (e) {
        const text = (e as Error).message.toLowerCase();
        assert.ok(!text.includes(material.subarray(-8).toString('hex')) && !text.includes(material.subarray(-8).toString('base64').toLowerCase()));
      }
    }
    for (const spec of KEY_SPECS) validateImportedMaterial(spec, SecretBytes.copyOf(keyOf(spec).material));
    validateImportedMaterial('HMAC_256', Buffer.alloc(64, 1));
  });
});

describe('Wycheproof vectors (test/vectors/signatures)', () => {
  const dir = new URL('../../test/vectors/signatures/', import.meta.url);
  type Vector = { tcId: number; comment: string; msg: string; sig?: string; ct?: string; result: 'valid' | 'invalid' | 'acceptable' };
  type File = { spec: KeySpec; algorithm: string; numberOfTests: number; testGroups: Array<{ publicKeyDer?: string; privateKeyPkcs8?: string; tests: Vector[] }> };
  const files = readdirSync(dir).filter((f) => f.startsWith('wycheproof-')).sort();

  test('the vector files are present', () => assert.equal(files.length, 8));

  for (const name of files) {
    const file = JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as File;
    test(`${name}: ${file.numberOfTests} vectors, ${file.spec} ${file.algorithm}`, () => {
      let checked = 0;
      for (const group of file.testGroups) {
        for (const v of group.tests) {
          const what = `tcId ${v.tcId} (${v.comment}) expected ${v.result}`;
          const msg = hex(v.msg);
          if (v.ct !== undefined) {
            const pt = asymmetricDecrypt(file.spec, file.algorithm, SecretBytes.copyOf(hex(group.privateKeyPkcs8 as string)), hex(v.ct));
            assert.deepEqual(pt, v.result === 'valid' ? msg : undefined, what);
            checked++;
            continue;
          }
          const spki = hex(group.publicKeyDer as string), sig = hex(v.sig as string);
          const results: boolean[] = [];
          if (msg.length >= 1 && msg.length <= MAX_MESSAGE_BYTES) results.push(verify(file.spec, file.algorithm, spki, msg, 'RAW', sig));
          if (file.algorithm !== 'ED25519') results.push(verify(file.spec, file.algorithm, spki, digest(file.algorithm, msg), 'DIGEST', sig));
          if (v.result !== 'acceptable') assert.deepEqual(results, results.map(() => v.result === 'valid'), what);
          checked += results.length > 0 ? 1 : 0;
        }
      }
      assert.ok(checked >= file.numberOfTests - 5, `checked ${checked} of ${file.numberOfTests}`);
    });
  }
});
