/**
 * TOTP (RFC 6238) over otplib: HMAC-SHA-1, 6 digits, 30 s steps, as every authenticator app
 * expects. Secrets are 20 random bytes (RFC 4226 §4 recommends 160 bits; otplib refuses < 16).
 * Time comes from the caller (the injected Clock), never from Date.now().
 */
import { ScureBase32Plugin, generate, generateURI, verify } from 'otplib';
import { randomBytes } from './index.js';

export const TOTP = { digits: 6, periodSeconds: 30, secretBytes: 20, issuer: 'Keywarden' } as const;
const base32 = new ScureBase32Plugin();
const CODE_RE = /^[0-9]{6}$/;

export function newTotpSecret(): Buffer {
  return randomBytes(TOTP.secretBytes);
}

/** The otpauth:// URI (Key Uri Format) an authenticator app scans: label `Keywarden:<account>`. */
export function totpUri(secret: Uint8Array, account: string): string {
  return generateURI({ issuer: TOTP.issuer, label: account, secret: base32.encode(secret, { padding: false }), algorithm: 'sha1', digits: TOTP.digits, period: TOTP.periodSeconds });
}

export const isTotpCode = (code: string): boolean => CODE_RE.test(code);

/** The code for time `nowMs` (tests and tools). */
export function totpCode(secret: Uint8Array, nowMs: number): Promise<string> {
  return generate({ secret, epoch: Math.floor(nowMs / 1000), algorithm: 'sha1', digits: TOTP.digits, period: TOTP.periodSeconds });
}

/**
 * Verifies `code` at `nowMs`, accepting the previous, current and next step (RFC 6238 §5.2: one
 * step of clock drift each way). A step at or before `afterStep` (the last one accepted) is
 * refused, so a code is never accepted twice (RFC 6238 §5.2). Returns the matched step, or
 * undefined on any failure.
 */
export async function verifyTotp(secret: Uint8Array, code: string, nowMs: number, afterStep?: number | null): Promise<number | undefined> {
  if (!isTotpCode(code)) return undefined;
  try {
    const r = await verify({
      secret,
      token: code,
      epoch: Math.floor(nowMs / 1000),
      epochTolerance: TOTP.periodSeconds,
      algorithm: 'sha1',
      digits: TOTP.digits,
      period: TOTP.periodSeconds,
      ...(afterStep !== undefined && afterStep !== null ? { afterTimeStep: afterStep } : {}),
    });
    return r.valid && 'timeStep' in r ? r.timeStep : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Recovery codes: 80 random bits as 16 base32 characters, shown as XXXX-XXXX-XXXX-XXXX. Stored
 * as the SHA-256 of the normalized code (a digest of a high-entropy secret is enough; see
 * ClientCredential) and looked up by that digest.
 */
export function newRecoveryCode(): string {
  const b = randomBytes(10);
  const s = base32.encode(b, { padding: false });
  b.fill(0);
  return s.match(/.{4}/g)!.join('-');
}

/** The canonical form of a recovery code as typed (case, dashes and spaces ignored), or undefined if it cannot be one. */
export function normalizeRecoveryCode(code: string): string | undefined {
  const c = code.replace(/[\s-]/g, '').toUpperCase();
  return /^[A-Z2-7]{16}$/.test(c) ? c : undefined;
}
