/**
 * Canaries of HSM-protected versions (SoftHSM2): recorded at creation and rotation with the HSM
 * object's own operations, and passed by it; the offline check (no HSM) reports them as skipped.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeywarden, type Keywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { openPkcs11Hsm } from '../../src/hsm/pkcs11/index.js';
import type { Hsm } from '../../src/hsm/hsm.js';
import { checkCanary, openVersion } from '../../src/keys/canary.js';
import { checkCanaries } from '../../src/backup/drill.js';
import { ManualClock } from '../../src/util/clock.js';
import { createSoftHsmToken } from '../support/softhsm.js';

let kw: Keywarden;
let hsm: Hsm;
let dir: string;

before(async () => {
  const token = createSoftHsmToken();
  hsm = await openPkcs11Hsm({ library: token.library, tokenLabel: token.label, pin: token.pin });
  dir = await mkdtemp(join(tmpdir(), 'kw-hsm-canaries-'));
  kw = await createKeywarden({ storage: { type: 'sqlite', path: join(dir, 'keywarden.db') }, seal: 'dev', logger: false, clock: new ManualClock(), hsm });
  await bootDevSeal(kw.seal, dir);
});
after(async () => {
  await kw.close();
  await hsm.close();
  await rm(dir, { recursive: true, force: true });
});

test('HSM versions record canaries their HSM objects pass; without the HSM they are skipped', async () => {
  const specs = [['SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'], ['HMAC_256', 'GENERATE_VERIFY_MAC'], ['RSA_2048', 'ENCRYPT_DECRYPT'], ['ECC_NIST_P256', 'SIGN_VERIFY']] as const;
  for (const [spec, usage] of specs) {
    const key = await kw.keys.create({ spec, usage, protection: 'hsm' });
    await kw.keys.rotate(key);
  }
  let checked = 0;
  for (const key of await kw.store.keys.listKeys({ limit: 10 })) {
    for (const v of await kw.store.keys.listVersions(key.id)) {
      const c = await kw.store.canaries.get(key.id, v.version);
      assert.ok(c, `${key.spec} v${v.version} has a canary`);
      const crypto = openVersion(kw.seal.rootKey(), v, hsm);
      assert.ok(typeof crypto !== 'string');
      assert.equal(await checkCanary(key, v, c, crypto), undefined, `${key.spec} v${v.version}`);
      checked++;
    }
  }
  assert.equal(checked, 8);
  const offline = await checkCanaries(kw.store, kw.seal.rootKey());
  assert.deepEqual([offline.checked, offline.skipped, offline.failed], [0, 8, 0]);
  assert.match(offline.results[0]!.reason!, /held by an HSM/);
});
