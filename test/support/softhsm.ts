/**
 * SoftHSM2 tokens for tests (issue 6/10): a process-wide token directory in a temp dir, pointed at
 * by SOFTHSM2_CONF (set before the PKCS#11 module is first loaded in this process), and
 * `createSoftHsmToken()` to initialise a fresh token in it with softhsm2-util. scripts/ensure-deps.sh
 * installs the softhsm2 Debian package. SoftHSM2 reads its token directory when the module is
 * initialised (C_Initialize), so create the tokens a test needs before opening the module.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  library: string;
  label: string;
  pin: string;
  soPin: string;
  /** The SOFTHSM2_CONF file (child processes need it in their environment). */
  conf: string;
}

let conf: string | undefined;

/** The process-wide SoftHSM2 config (created on first use) and its token directory. */
export function softHsmConf(): string {
  if (conf !== undefined) return conf;
  const dir = mkdtempSync(join(tmpdir(), 'kw-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  return conf;
}

/** Initialises a new token with a random label and PINs. */
export function createSoftHsmToken(label = `kw-test-${randomBytes(4).toString('hex')}`): SoftHsmToken {
  const c = softHsmConf();
  const pin = randomBytes(8).toString('hex');
  const soPin = randomBytes(8).toString('hex');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin], {
    env: { ...process.env, SOFTHSM2_CONF: c },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return { library: SOFTHSM_LIBRARY, label, pin, soPin, conf: c };
}
