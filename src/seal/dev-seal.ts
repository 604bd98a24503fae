/**
 * Dev seal: INSECURE, for local development only. The unseal key is kept in the data directory
 * next to the database, so anyone who can read the directory can read every key.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from '../crypto/primitives/index.js';
import { zeroize } from '../crypto/secret-bytes.js';
import type { SealService } from './seal.service.js';

export const DEV_UNSEAL_FILE = 'dev-unseal.key';

/** Writes a small secret file with mode 0600 and fsyncs it before returning. */
export function writeSecretFile(path: string, data: Buffer | string): void {
  writeFileSync(path, data, { mode: 0o600 });
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Initializes (first start) or auto-unseals (later starts) a dev-sealed Keywarden. Returns the dev
 * unseal key in base64 (printed by `keywarden dev`, so that a sealed dev server can be unsealed).
 */
export async function bootDevSeal(seal: SealService, dataDir: string): Promise<string> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, DEV_UNSEAL_FILE);
  let unsealKey: Buffer;
  if (!seal.initialized) {
    if (existsSync(file)) {
      unsealKey = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    } else {
      unsealKey = randomBytes(32);
      // The key file is written (durably) before the seal config that depends on it.
      writeSecretFile(file, unsealKey.toString('base64') + '\n');
    }
    await seal.initDev(unsealKey);
  } else {
    if (!existsSync(file)) throw new Error(`the dev unseal key ${DEV_UNSEAL_FILE} is missing from the data directory`);
    unsealKey = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  }
  try {
    seal.unsealWithKey(unsealKey);
    return unsealKey.toString('base64');
  } finally {
    zeroize(unsealKey);
  }
}
