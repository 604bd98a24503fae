import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { openAsRecipient, recipientAlgorithm, sealForRecipient } from './recipient-seal.js';

const pair = (type: 'x25519' | 'rsa' | 'ed25519', bits = 2048) => {
  const kp = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: bits }) : type === 'x25519' ? generateKeyPairSync('x25519') : generateKeyPairSync('ed25519');
  return { pub: kp.publicKey.export({ type: 'spki', format: 'pem' }).toString(), priv: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
};

test('X25519 and RSA recipients: round trip; a wrong key, AAD or byte gives undefined', () => {
  const x = pair('x25519');
  const r = pair('rsa');
  const secret = Buffer.from('a backup key share');
  const aad = Buffer.from('bound metadata');
  for (const [k, other, alg] of [[x, r, 'X25519-HKDF-SHA256-A256GCM'], [r, x, 'RSA-OAEP-256-A256GCM']] as const) {
    const sealed = sealForRecipient(k.pub, secret, aad);
    assert.equal(sealed.algorithm, alg);
    assert.equal(Buffer.from(sealed.ciphertext, 'base64').includes(secret), false);
    assert.deepEqual(openAsRecipient(k.priv, sealed, aad), secret);
    assert.notEqual(sealForRecipient(k.pub, secret, aad).ciphertext, sealed.ciphertext, 'fresh randomness per seal');
    assert.equal(openAsRecipient(other.priv, sealed, aad), undefined);
    assert.equal(openAsRecipient(pair(k === x ? 'x25519' : 'rsa').priv, sealed, aad), undefined, 'another key of the same type');
    assert.equal(openAsRecipient(k.priv, sealed, Buffer.from('other metadata')), undefined);
    const ct = Buffer.from(sealed.ciphertext, 'base64');
    ct[0]! ^= 1;
    assert.equal(openAsRecipient(k.priv, { ...sealed, ciphertext: ct.toString('base64') }, aad), undefined);
  }
  assert.throws(() => openAsRecipient('nope', sealForRecipient(x.pub, secret, aad), aad), /not a PEM private key/);
});

test('only X25519 and RSA >= 2048 public keys are accepted', () => {
  assert.equal(recipientAlgorithm(pair('x25519').pub), 'X25519-HKDF-SHA256-A256GCM');
  assert.throws(() => recipientAlgorithm(pair('ed25519').pub), /a ed25519 key is not accepted/);
  assert.throws(() => recipientAlgorithm(pair('rsa', 1024).pub), /1024 bits is too short/);
  assert.throws(() => recipientAlgorithm('-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----'), /not a PEM public key/);
});
