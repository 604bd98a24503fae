/** Checkpoints: the exact signed message, Ed25519 signing checked by node:crypto directly, and every way verification must fail. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { generateKeyPair } from '../../src/crypto/primitives/asymmetric.js';
import { KeywardenError } from '../../src/errors/catalog.js';
import {
  checkpointFromJson,
  checkpointKeyId,
  checkpointMessage,
  checkpointToJson,
  parseTrustedCheckpoint,
  signCheckpoint,
  trustedCheckpoint,
  verifyCheckpoint,
  type Checkpoint,
} from '../../src/audit/checkpoint.js';

const pair = generateKeyPair({ type: 'ed25519' });
const other = generateKeyPair({ type: 'ed25519' });
const root = Buffer.alloc(32, 0xab);

function make(size = 10, time = 1_767_225_600_000): Checkpoint {
  return { size, rootHash: root, time, keyId: checkpointKeyId(pair.publicSpki), signature: signCheckpoint(pair.privatePkcs8, { size, rootHash: root, time }) };
}

test('the message is the documented text and the signature is plain Ed25519 over it', () => {
  const c = make();
  assert.equal(checkpointMessage(c).toString('utf8'), `keywarden-audit-checkpoint/v1\n10\n${root.toString('base64')}\n1767225600000\n`);
  assert.ok(verify(null, checkpointMessage(c), createPublicKey({ key: pair.publicSpki, format: 'der', type: 'spki' }), c.signature));
  assert.equal(c.signature.length, 64);
  assert.match(c.keyId, /^[0-9a-f]{32}$/);
  assert.ok(verifyCheckpoint(c, pair.publicSpki));
});

test('verification fails for any altered field, another key, a wrong key id or garbage', () => {
  const c = make();
  const flipped = Buffer.from(c.signature);
  flipped[5] = flipped[5]! ^ 1;
  const cases: Array<[string, Checkpoint, Buffer]> = [
    ['size', { ...c, size: 11 }, pair.publicSpki],
    ['root', { ...c, rootHash: Buffer.alloc(32, 0xac) }, pair.publicSpki],
    ['time', { ...c, time: c.time + 1 }, pair.publicSpki],
    ['signature', { ...c, signature: flipped }, pair.publicSpki],
    ['short signature', { ...c, signature: c.signature.subarray(0, 63) }, pair.publicSpki],
    ['other key', c, other.publicSpki],
    ['key id', { ...c, keyId: checkpointKeyId(other.publicSpki) }, pair.publicSpki],
    ['short root', { ...c, rootHash: root.subarray(0, 31) }, pair.publicSpki],
    ['garbage key', c, Buffer.from('not a key')],
    ['non-Ed25519 key', c, generateKeyPair({ type: 'ec', curve: 'P-256' }).publicSpki],
  ];
  for (const [name, cp, key] of cases) assert.equal(verifyCheckpoint(cp, key), false, name);
});

test('JSON form round-trips; trusted checkpoints carry the key and are validated strictly', () => {
  const c = make(3);
  assert.deepEqual(checkpointFromJson(checkpointToJson(c)), c);
  const t = trustedCheckpoint(c, pair.publicSpki);
  const parsed = parseTrustedCheckpoint(JSON.parse(JSON.stringify(t)));
  assert.deepEqual(parsed, t);
  assert.ok(verifyCheckpoint(checkpointFromJson(parsed), Buffer.from(parsed.publicKey, 'base64')));
  for (const bad of [{ ...t, extra: 1 }, { ...t, size: -1 }, { ...t, format: 'x' }, { ...t, rootHash: '***' }, null, []]) {
    assert.throws(() => parseTrustedCheckpoint(bad), (e: unknown) => e instanceof KeywardenError && e.code === 'ValidationError');
  }
});
