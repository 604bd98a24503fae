/**
 * Password hashing: argon2id (RFC 9106) with the OWASP Password Storage Cheat Sheet parameters
 * m = 19456 KiB, t = 2, p = 1, a 16-byte random salt and a 32-byte tag, encoded as a PHC string
 * (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) so the parameters travel with the hash.
 * Hashing runs on the libuv thread pool (@node-rs/argon2), never on the event loop.
 */
import { hash, verify, type Options } from '@node-rs/argon2';
import { randomBytes } from './index.js';

/** `algorithm: 2` is Algorithm.Argon2id (a const enum, which isolated transpilation cannot inline). */
export const ARGON2_PARAMS: Options = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1, outputLen: 32 };

export async function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_PARAMS);
}

/** False for a wrong password and for a malformed stored hash alike (fail closed, one answer). */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  try {
    return await verify(phc, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random password with the same parameters, verified against when the user does not
 * exist, so an unknown name costs the same argon2 work as a wrong password (no user enumeration
 * by timing).
 */
export function dummyPasswordHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(32).toString('base64url'));
  return dummy;
}

/** A random password of 144 bits (24 base64url characters), for accounts created without one. */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
