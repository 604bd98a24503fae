/**
 * hsm.entropy: mix — KMS key material draws on the HSM's RNG (a real SoftHSM2 token, its calls
 * counted by a wrapping Hsm), and fails closed when the HSM RNG is unavailable.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeywardenError } from '../../src/errors/catalog.js';
import type { Hsm } from '../../src/hsm/hsm.js';
import { openPkcs11Hsm } from '../../src/hsm/pkcs11/index.js';
import { createKeywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { keyMaterialRandom } from '../../src/crypto/primitives/entropy.js';
import { createSoftHsmToken } from '../support/softhsm.js';

/** The real adapter, with random() calls counted and an off switch. */
function counting(inner: Hsm): Hsm & { randomCalls: number; randomBytes: number; down: boolean } {
  const w = Object.create(inner) as Hsm & { randomCalls: number; randomBytes: number; down: boolean };
  w.randomCalls = 0;
  w.randomBytes = 0;
  w.down = false;
  w.random = async (n: number) => {
    if (w.down) throw new KeywardenError('HsmUnavailable', 'test: HSM down');
    w.randomCalls++;
    w.randomBytes += n;
    return inner.random(n);
  };
  return w;
}

async function startWith(dir: string, hsm: Hsm, hsmEntropy: 'mix' | 'off') {
  const kw = await createKeywarden({ storage: { type: 'sqlite', path: join(dir, `${hsmEntropy}.db`) }, seal: 'dev', logger: false, hsm, hsmEntropy });
  await bootDevSeal(kw.seal, join(dir, hsmEntropy));
  const token = await kw.tokens.createRootToken();
  const createKey = async (body: object = {}) => {
    const r = await kw.app.inject({ method: 'POST', url: '/v1/keys', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    return { status: r.statusCode, json: JSON.parse(r.body) };
  };
  return { kw, createKey };
}

describe('HSM entropy mixing (SoftHSM2)', () => {
  let dir: string;
  let inner: Hsm;

  before(async () => {
    const token = createSoftHsmToken();
    inner = await openPkcs11Hsm({ library: token.library, tokenLabel: token.label, pin: token.pin });
    dir = mkdtempSync(join(tmpdir(), 'kw-entropy-'));
  });
  after(async () => {
    await inner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('with mix, every symmetric key generation draws on the HSM RNG; without it, none does', async () => {
    const hsm = counting(inner);
    const { kw, createKey } = await startWith(dir, hsm, 'mix');
    try {
      const atStart = hsm.randomCalls;
      assert.ok(atStart >= 1, 'the pool is filled from the HSM at start');
      for (const spec of ['SYMMETRIC_DEFAULT', 'HMAC_256', 'SYMMETRIC_DEFAULT']) {
        const before = hsm.randomCalls;
        const r = await createKey(spec === 'HMAC_256' ? { spec, usage: 'GENERATE_VERIFY_MAC' } : {});
        assert.equal(r.status, 201, JSON.stringify(r.json));
        await new Promise((res) => setTimeout(res, 20)); // the top-up runs in the background
        assert.equal(hsm.randomCalls, before + 1, `creating a ${spec} key took HSM random bytes`);
      }
      // Mixed output is fresh each time and of the size asked.
      const a = keyMaterialRandom(32);
      const b = keyMaterialRandom(32);
      assert.equal(a.length, 32);
      assert.notDeepEqual(a, b);

      // Fail closed: with the HSM RNG gone, generation stops once the pool is used up.
      hsm.down = true;
      let refused: { status: number; json: any } | undefined;
      for (let i = 0; i < 64 && refused === undefined; i++) {
        const r = await createKey();
        if (r.status !== 201) refused = r;
      }
      assert.ok(refused, 'key creation is refused once the HSM entropy runs out');
      assert.equal(refused.status, 503);
      assert.equal(refused.json.error.code, 'HsmUnavailable');
      assert.match(refused.json.error.message, /HSM random number generator is unavailable/);
      hsm.down = false;
      assert.throws(() => keyMaterialRandom(32), /unavailable/, 'the refused take asked for a refill');
      await new Promise((res) => setTimeout(res, 50));
      assert.equal((await createKey()).status, 201, 'back once the HSM answers again');
    } finally {
      await kw.close();
    }

    const off = counting(inner);
    const plain = await startWith(dir, off, 'off');
    try {
      assert.equal((await plain.createKey()).status, 201);
      assert.equal(off.randomCalls, 0, 'no HSM random without hsm.entropy: mix');
    } finally {
      await plain.kw.close();
    }
  });
});
