import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dummyPasswordHash, hashPassword, randomPassword, verifyPassword } from './password.js';

test('argon2id with the OWASP parameters (m=19456 KiB, t=2, p=1), random salt, PHC string', async () => {
  const a = await hashPassword('correct horse battery staple');
  const b = await hashPassword('correct horse battery staple');
  assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.notEqual(a, b, 'a fresh salt every time');
  assert.equal(await verifyPassword(a, 'correct horse battery staple'), true);
  assert.equal(await verifyPassword(a, 'correct horse battery stapl'), false);
  assert.equal(await verifyPassword('not a hash', 'x'), false);
  assert.equal(await verifyPassword(await dummyPasswordHash(), ''), false);
  assert.match(randomPassword(), /^[A-Za-z0-9_-]{24}$/);
});
