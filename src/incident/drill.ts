/**
 * Drill mode of the compromise playbook: the same steps against a COPY of the data. The live
 * store's logical snapshot (the one backups use) is restored into a scratch SQLite file in a fresh
 * temp directory, unsealed with the live root key handed over in memory (SealService.unsealFrom:
 * never serialised), and given its own KeyService and GrantService. Production keys, aliases and
 * grants are never written; the scratch directory is deleted afterwards, whatever happened.
 *
 * HSM keys: a drill MUST NOT create or destroy objects in the production HSM, so the scratch
 * services get DrillHsm, which only pretends to (see below).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrantService } from '../auth/grant.service.js';
import { generateMaterial, type KeySpec } from '../crypto/keyspecs.js';
import { zeroize } from '../crypto/secret-bytes.js';
import type { Hsm, HsmKeyKind, HsmKeyRef } from '../hsm/hsm.js';
import { KeyService } from '../keys/key.service.js';
import { SealService } from '../seal/seal.service.js';
import { openStore } from '../storage/index.js';
import type { Store } from '../storage/store.js';
import type { Clock } from '../util/clock.js';
import type { PlaybookEnv } from './playbook.js';

/** Temp directories of drills are named after the incident (so an operator can spot a leftover). */
export const DRILL_DIR_PREFIX = 'keywarden-drill-';

/**
 * Runs `fn` on a scratch copy of `live`. The copy (and its root key copy) is gone when this returns.
 */
export async function withScratchCopy<T>(
  live: { store: Store; seal: SealService; hsm?: Hsm; clock: Clock },
  incidentId: string,
  fn: (env: PlaybookEnv) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `${DRILL_DIR_PREFIX}${incidentId}-`));
  try {
    const scratch = openStore({ type: 'sqlite', path: join(dir, 'drill.db') });
    const seal = new SealService(scratch.seal, live.clock);
    try {
      await scratch.restore({ schemaVersion: await live.store.schemaVersion(), chunks: live.store.snapshot() });
      await seal.load();
      seal.unsealFrom(live.seal);
      const keys = new KeyService(scratch.keys, seal, live.clock, live.hsm && new DrillHsm(live.hsm));
      const grants = new GrantService(scratch.principals, live.clock, (id) => keys.findById(id));
      return await fn({ keys, grants, principals: scratch.principals, audit: scratch.audit });
    } finally {
      seal.seal();
      await scratch.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const SPEC_OF_PAIR: Record<string, KeySpec> = { 'rsa:2048': 'RSA_2048', 'rsa:3072': 'RSA_3072', 'rsa:4096': 'RSA_4096', 'ec:P-256': 'ECC_NIST_P256', 'ec:P-384': 'ECC_NIST_P384' };

/**
 * The HSM as a drill sees it: creating a key creates nothing on the token (a key pair gets the
 * public half of a throw-away software pair, so the scratch version looks like a real one) and
 * destroying destroys nothing. Everything else is the real HSM's (a drill does not use keys).
 */
class DrillHsm implements Hsm {
  constructor(private readonly real: Hsm) {}

  get tokenLabel(): string {
    return this.real.tokenLabel;
  }

  async generateKey(label: string, kind: HsmKeyKind): Promise<{ ref: HsmKeyRef; publicSpki?: Buffer }> {
    const spec = kind.type === 'rsa' ? SPEC_OF_PAIR[`rsa:${kind.bits}`] : kind.type === 'ec' ? SPEC_OF_PAIR[`ec:${kind.curve}`] : undefined;
    if (spec === undefined) return { ref: { label } };
    const pair = generateMaterial(spec);
    zeroize(pair.material);
    return { ref: { label }, ...(pair.publicKey && { publicSpki: pair.publicKey }) };
  }

  async destroy(): Promise<void> {}

  exists(ref: HsmKeyRef) {
    return this.real.exists(ref);
  }
  aesGcmEncrypt(ref: HsmKeyRef, iv: Buffer, aad: Buffer, plaintext: Buffer) {
    return this.real.aesGcmEncrypt(ref, iv, aad, plaintext);
  }
  aesGcmDecrypt(ref: HsmKeyRef, iv: Buffer, aad: Buffer, ct: Buffer) {
    return this.real.aesGcmDecrypt(ref, iv, aad, ct);
  }
  hmac(ref: HsmKeyRef, data: Buffer) {
    return this.real.hmac(ref, data);
  }
  signDigest(ref: HsmKeyRef, scheme: Parameters<Hsm['signDigest']>[1], digest: Buffer) {
    return this.real.signDigest(ref, scheme, digest);
  }
  rsaOaepDecrypt(ref: HsmKeyRef, ct: Buffer) {
    return this.real.rsaOaepDecrypt(ref, ct);
  }
  random(bytes: number) {
    return this.real.random(bytes);
  }
  health() {
    return this.real.health();
  }
  /** The real HSM belongs to the server: a drill never closes it. */
  async close(): Promise<void> {}
}
