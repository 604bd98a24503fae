import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRecoveryCode, normalizeRecoveryCode, totpCode, totpUri, verifyTotp } from './totp.js';

/** RFC 6238 Appendix B (SHA-1 rows), truncated to our 6 digits: the last 6 of the 8-digit values. */
const RFC6238_SHA1: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];
const SEED = Buffer.from('12345678901234567890');

test('TOTP codes match the RFC 6238 test vectors (SHA-1, 30 s steps)', async () => {
  for (const [t, expected] of RFC6238_SHA1) assert.equal(await totpCode(SEED, t * 1000), expected.slice(-6), `T=${t}`);
});

test('verifyTotp: one step of drift each way, nothing further, and a step at or before the last accepted one is refused', async () => {
  const now = 1234567890_000;
  const step = Math.floor(now / 30_000);
  assert.equal(await verifyTotp(SEED, await totpCode(SEED, now), now), step);
  assert.equal(await verifyTotp(SEED, await totpCode(SEED, now - 30_000), now), step - 1);
  assert.equal(await verifyTotp(SEED, await totpCode(SEED, now + 30_000), now), step + 1);
  assert.equal(await verifyTotp(SEED, await totpCode(SEED, now - 60_000), now), undefined);
  assert.equal(await verifyTotp(SEED, await totpCode(SEED, now + 60_000), now), undefined);
  assert.equal(await verifyTotp(SEED, await totpCode(SEED, now), now, step), undefined);
  assert.equal(await verifyTotp(SEED, await totpCode(SEED, now), now, step - 1), step);
  for (const bad of ['', '12345', '1234567', 'abcdef', ' 12345']) assert.equal(await verifyTotp(SEED, bad, now), undefined);
});

test('otpauth URI (Key Uri Format) and recovery codes', () => {
  assert.equal(totpUri(SEED, 'alice'), 'otpauth://totp/Keywarden:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Keywarden');
  const code = newRecoveryCode();
  assert.match(code, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
  assert.equal(normalizeRecoveryCode(code.toLowerCase().replaceAll('-', ' ')), code.replaceAll('-', ''));
  assert.equal(normalizeRecoveryCode('123456'), undefined);
  assert.equal(normalizeRecoveryCode('AAAA-AAAA-AAAA-AAA1'), undefined);
});
