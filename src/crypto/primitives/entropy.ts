/**
 * Randomness for KMS key material (issue 6/10 §4): the OS CSPRNG, optionally mixed with a second,
 * independent source (an HSM's C_GenerateRandom, config `hsm.entropy: mix`). The mix is
 * HKDF-SHA256 over OS bytes || extra bytes, so the result is at least as strong as the better of
 * the two: a weak or hostile extra source cannot make it weaker than the OS alone.
 *
 * The extra source is a process-wide seam set by the composition root (src/main.ts); it answers
 * synchronously (key generation is synchronous) from bytes it fetched ahead, and throws when it
 * has none (fail closed: with mixing configured, key material is never made without it).
 */
import { hkdfSync, randomBytes } from 'node:crypto';

export interface EntropySource {
  /** Exactly n bytes, or throws (the caller must not fall back to OS randomness alone). */
  bytes(n: number): Buffer;
}

const INFO = Buffer.from('keywarden key material v1');
let extra: EntropySource | undefined;

export function setExtraEntropy(source: EntropySource | undefined): void {
  extra = source;
}

export function extraEntropyEnabled(): boolean {
  return extra !== undefined;
}

/** Random bytes for key material: OS random, mixed with the extra source when one is set. */
export function keyMaterialRandom(n: number): Buffer {
  const os = randomBytes(n);
  if (extra === undefined) return os;
  const more = extra.bytes(n);
  const ikm = Buffer.concat([os, more]);
  try {
    return Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), INFO, n));
  } finally {
    ikm.fill(0);
    os.fill(0);
    more.fill(0);
  }
}
