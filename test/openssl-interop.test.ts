/**
 * Interoperability of src/crypto/keyspecs.ts with the OpenSSL command line (an independent
 * implementation of the encodings and a stand-in for customers' tools): signatures both ways in RAW
 * and DIGEST mode, RSAES-OAEP-SHA-256 both ways, and BYOK material wrapped the way the AWS KMS
 * import guide does it with `openssl pkeyutl` / `openssl enc -id-aes256-wrap-pad`.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  asymmetricDecrypt,
  asymmetricEncrypt,
  generateImportWrappingKeyPair,
  generateMaterial,
  publicKeyFromMaterial,
  rsaAesKeyWrapSha256Unwrap,
  rsaOaepSha256Unwrap,
  sign,
  spkiToPem,
  validateImportedMaterial,
  verify,
  wrapForExport,
  type KeySpec,
  type SigningAlgorithm,
} from '../src/crypto/keyspecs.js';
import { SecretBytes } from '../src/crypto/secret-bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'keywarden-openssl-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
/** Writes `data` to a fresh file in the temp dir and returns its path. */
const file = (data: Buffer | string): string => {
  const path = join(dir, `f${counter++}`);
  writeFileSync(path, data);
  return path;
};
const out = (): string => join(dir, `f${counter++}`);
const openssl = (...args: string[]): string => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const OAEP = ['-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256'];
const MESSAGE = Buffer.from('interop: the quick brown fox jumps over the lazy dog', 'utf8');
const flip = (b: Buffer): Buffer => Buffer.from(b.map((x, i) => (i === 7 ? x ^ 1 : x)));

const CASES: Array<{ spec: KeySpec; alg: SigningAlgorithm; md?: string; opts: string[] }> = [
  { spec: 'RSA_2048', alg: 'RSASSA_PSS_SHA_256', md: 'sha256', opts: ['rsa_padding_mode:pss', 'rsa_pss_saltlen:digest'] },
  { spec: 'RSA_4096', alg: 'RSASSA_PSS_SHA_512', md: 'sha512', opts: ['rsa_padding_mode:pss', 'rsa_pss_saltlen:digest'] },
  { spec: 'RSA_3072', alg: 'RSASSA_PKCS1_V1_5_SHA_384', md: 'sha384', opts: ['rsa_padding_mode:pkcs1'] },
  { spec: 'ECC_NIST_P256', alg: 'ECDSA_SHA_256', md: 'sha256', opts: [] },
  { spec: 'ECC_NIST_P384', alg: 'ECDSA_SHA_384', md: 'sha384', opts: [] },
  { spec: 'ECC_ED25519', alg: 'ED25519', opts: [] },
];

test('openssl is installed', () => assert.match(openssl('version'), /^OpenSSL 3\./));

describe('signatures', () => {
  for (const { spec, alg, md, opts } of CASES) {
    const { material, publicKey } = generateMaterial(spec);
    const spki = publicKey as Buffer;
    const pem = file(spkiToPem(spki));
    const key = file(material);
    const msg = file(MESSAGE);
    const sigopt = opts.flatMap((o) => ['-sigopt', o]);
    const pkeyopt = opts.flatMap((o) => ['-pkeyopt', o]);
    /** openssl verification of `signature` over the message; throws (non-zero exit) when invalid. */
    const opensslVerifies = (signature: Buffer): void => {
      if (md === undefined) openssl('pkeyutl', '-verify', '-pubin', '-inkey', pem, '-rawin', '-in', msg, '-sigfile', file(signature));
      else openssl('dgst', `-${md}`, '-verify', pem, ...sigopt, '-signature', file(signature), msg);
    };

    test(`${spec} ${alg}: our RAW signature verifies with openssl; a tampered one does not`, () => {
      const signature = sign(spec, alg, SecretBytes.copyOf(material), MESSAGE, 'RAW');
      opensslVerifies(signature);
      assert.throws(() => opensslVerifies(flip(signature)));
    });

    if (md !== undefined) {
      test(`${spec} ${alg}: our DIGEST signature verifies with openssl, over the message and over the digest`, () => {
        const digest = createHash(md).update(MESSAGE).digest();
        const signature = sign(spec, alg, SecretBytes.copyOf(material), digest, 'DIGEST');
        opensslVerifies(signature);
        openssl('pkeyutl', '-verify', '-pubin', '-inkey', pem, '-in', file(digest), '-sigfile', file(signature), '-pkeyopt', `digest:${md}`, ...pkeyopt);
      });
    }

    test(`${spec} ${alg}: a signature openssl makes with our key verifies with verify() (RAW${md ? ' and DIGEST' : ''})`, () => {
      const sigPath = out();
      if (md === undefined) openssl('pkeyutl', '-sign', '-inkey', key, '-keyform', 'DER', '-rawin', '-in', msg, '-out', sigPath);
      else openssl('dgst', `-${md}`, '-sign', key, '-keyform', 'DER', ...sigopt, '-out', sigPath, msg);
      const signature = readFileSync(sigPath);
      assert.equal(verify(spec, alg, spki, MESSAGE, 'RAW', signature), true);
      assert.equal(verify(spec, alg, spki, MESSAGE, 'RAW', flip(signature)), false);
      if (md !== undefined) assert.equal(verify(spec, alg, spki, createHash(md).update(MESSAGE).digest(), 'DIGEST', signature), true);
    });
  }
});

describe('RSAES_OAEP_SHA_256', () => {
  const { material, publicKey } = generateMaterial('RSA_2048');
  const pem = file(spkiToPem(publicKey as Buffer));

  test('a ciphertext from openssl pkeyutl (OAEP, SHA-256, MGF1-SHA-256) decrypts with asymmetricDecrypt', () => {
    const ct = out();
    openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', pem, ...OAEP, '-in', file(MESSAGE), '-out', ct);
    assert.deepEqual(asymmetricDecrypt('RSA_2048', 'RSAES_OAEP_SHA_256', SecretBytes.copyOf(material), readFileSync(ct)), MESSAGE);
    assert.equal(asymmetricDecrypt('RSA_2048', 'RSAES_OAEP_SHA_256', SecretBytes.copyOf(material), flip(readFileSync(ct))), undefined);
  });

  test('a ciphertext from asymmetricEncrypt decrypts with openssl pkeyutl', () => {
    const ct = asymmetricEncrypt('RSA_2048', 'RSAES_OAEP_SHA_256', publicKey as Buffer, MESSAGE);
    const pt = out();
    openssl('pkeyutl', '-decrypt', '-inkey', file(material), '-keyform', 'DER', ...OAEP, '-in', file(ct), '-out', pt);
    assert.deepEqual(readFileSync(pt), MESSAGE);
  });
});

describe('BYOK with the openssl CLI (AWS KMS import procedure)', () => {
  const wrapping = generateImportWrappingKeyPair();
  const wrappingPem = file(spkiToPem(wrapping.publicSpki));
  const wrappingKey = () => SecretBytes.copyOf(wrapping.privatePkcs8);

  test('RSAES_OAEP_SHA_256: a P-384 key from openssl genpkey imports and signs', () => {
    const der = opensslPkcs8('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384');
    const wrapped = out();
    openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', wrappingPem, ...OAEP, '-in', der, '-out', wrapped);
    const material = rsaOaepSha256Unwrap(wrappingKey(), readFileSync(wrapped));
    assert.deepEqual(material, readFileSync(der));
    validateImportedMaterial('ECC_NIST_P384', material as Buffer);
    const signature = sign('ECC_NIST_P384', 'ECDSA_SHA_384', SecretBytes.copyOf(material as Buffer), MESSAGE, 'RAW');
    const pubPem = file(openssl('pkey', '-inform', 'DER', '-in', der, '-pubout'));
    openssl('dgst', '-sha384', '-verify', pubPem, '-signature', file(signature), file(MESSAGE));
  });

  test('RSA_AES_KEY_WRAP_SHA_256: an RSA-3072 key from openssl genpkey, AES-KWP + OAEP by openssl, imports', () => {
    const der = opensslPkcs8('-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072');
    const aesKey = out(), wrappedKey = out(), wrappedMaterial = out();
    openssl('rand', '-out', aesKey, '32');
    const kekHex = readFileSync(aesKey).toString('hex');
    openssl('enc', '-id-aes256-wrap-pad', '-K', kekHex, '-iv', 'A65959A6', '-in', der, '-out', wrappedMaterial);
    openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', wrappingPem, ...OAEP, '-in', aesKey, '-out', wrappedKey);
    const wrapped = Buffer.concat([readFileSync(wrappedKey), readFileSync(wrappedMaterial)]);
    const material = rsaAesKeyWrapSha256Unwrap(wrappingKey(), wrapped);
    assert.deepEqual(material, readFileSync(der));
    validateImportedMaterial('RSA_3072', material as Buffer);
    assert.equal(rsaAesKeyWrapSha256Unwrap(wrappingKey(), flip(wrapped)), undefined);
    assert.deepEqual(publicKeyFromMaterial('RSA_3072', material as Buffer), readFileSync(exportPub(der)));
  });

  test('wrapForExport output unwraps with openssl (RSA_AES_KEY_WRAP_SHA_256 for an RSA key)', () => {
    const recipient = generateMaterial('RSA_2048');
    const exported = generateMaterial('RSA_2048').material;
    const { wrapped, algorithm } = wrapForExport(recipient.publicKey as Buffer, SecretBytes.copyOf(exported));
    assert.equal(algorithm, 'RSA_AES_KEY_WRAP_SHA_256');
    const recipientKey = file(recipient.material);
    const aesKey = out(), material = out();
    openssl('pkeyutl', '-decrypt', '-inkey', recipientKey, '-keyform', 'DER', ...OAEP, '-in', file(wrapped.subarray(0, 256)), '-out', aesKey);
    openssl('enc', '-d', '-id-aes256-wrap-pad', '-K', readFileSync(aesKey).toString('hex'), '-iv', 'A65959A6', '-in', file(wrapped.subarray(256)), '-out', material);
    assert.deepEqual(readFileSync(material), exported);
  });
});

/**
 * A new private key as a PKCS#8 DER file, made as the AWS import guide does. (OpenSSL 3.0's
 * `genpkey -outform DER` writes the traditional SEC1/PKCS#1 encoding, which import refuses.)
 */
function opensslPkcs8(...genpkeyArgs: string[]): string {
  const pem = out(), der = out();
  openssl('genpkey', ...genpkeyArgs, '-out', pem);
  openssl('pkcs8', '-topk8', '-nocrypt', '-in', pem, '-outform', 'DER', '-out', der);
  return der;
}

/** SPKI DER of a PKCS#8 DER key file, by openssl. */
function exportPub(der: string): string {
  const path = out();
  openssl('pkey', '-inform', 'DER', '-in', der, '-pubout', '-outform', 'DER', '-out', path);
  return path;
}
