/**
 * The pkcs11 seal in process, against a real SoftHSM2 token: init (no shares, unsealed at once),
 * auto-unseal at start, HSM down at start (sealed, reason in health and seal status, back-off
 * 1 s doubling to 30 s) then back (unseals by itself), shares refused; migrate-seal both ways with
 * every key and ciphertext still working.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, validateConfig } from '../../src/config/config.js';
import type { Hsm } from '../../src/hsm/hsm.js';
import { createPkcs11Hsm, openPkcs11Hsm } from '../../src/hsm/pkcs11/index.js';
import { createKeywarden, migrateSeal, type Keywarden } from '../../src/main.js';
import type { Timers } from '../../src/seal/auto-unseal.js';
import type { SealType } from '../../src/seal/seal.model.js';
import { createSoftHsmToken, softHsmConf, type SoftHsmToken } from '../support/softhsm.js';

/** Timers the test fires by hand: records every back-off delay. */
class TestTimers implements Timers {
  pending: Array<{ fn: () => void; ms: number }> = [];
  delays: number[] = [];
  set(fn: () => void, ms: number) {
    const t = { fn, ms };
    this.pending.push(t);
    this.delays.push(ms);
    return t;
  }
  clear(h: unknown) {
    this.pending = this.pending.filter((t) => t !== h);
  }
  /** Runs the one pending timer (as if its delay elapsed). */
  fire(): void {
    const t = this.pending.shift();
    assert.ok(t, 'a retry is scheduled');
    t.fn();
  }
}

async function start(dbPath: string, seal: SealType, hsm?: Hsm, timers?: Timers) {
  const kw = await createKeywarden({ storage: { type: 'sqlite', path: dbPath }, seal, logger: false, ...(hsm && { hsm }), ...(timers && { timers }) });
  const req = async (method: string, url: string, body?: unknown, token?: string) => {
    const res = await kw.app.inject({
      method: method as 'GET',
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, json: res.body ? JSON.parse(res.body) : undefined };
  };
  return { kw, req };
}

async function until(kw: Keywarden, f: () => void) {
  for (let i = 0; i < 100 && kw.seal.sealed; i++) {
    f();
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('pkcs11 seal (SoftHSM2, in process)', () => {
  let token: SoftHsmToken;
  let dir: string;
  const hsmConfig = () => ({ library: token.library, tokenLabel: token.label, pin: token.pin });

  before(() => {
    token = createSoftHsmToken();
    dir = mkdtempSync(join(tmpdir(), 'kw-hsm-seal-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('init issues no shares and unseals; a restart auto-unseals; shares are refused; HSM down at start, then back', async () => {
    const dbPath = join(dir, 'a.db');
    let hsm = await openPkcs11Hsm(hsmConfig());
    let { kw, req } = await start(dbPath, 'pkcs11', hsm);
    let keyId: string;
    let ciphertext: string;
    try {
      assert.equal((await req('GET', '/v1/sys/health')).status, 501);
      const refused = await req('POST', '/v1/sys/init', { shares: 3, threshold: 2 });
      assert.equal(refused.status, 400);
      assert.match(refused.json.error.message, /pkcs11 seal, which issues no unseal shares/);
      const init = await req('POST', '/v1/sys/init', {});
      assert.equal(init.status, 200, JSON.stringify(init.json));
      assert.deepEqual(init.json.shares, []);
      assert.match(init.json.message, /HSM key "keywarden-seal".*no unseal shares/);
      assert.equal(await hsm.exists({ label: 'keywarden-seal' }), true, 'the wrapping key is on the token');
      const health = await req('GET', '/v1/sys/health');
      assert.equal(health.status, 200);
      assert.equal(health.json.sealType, 'pkcs11');
      assert.equal(health.json.hsm.ok, true);
      assert.equal(health.json.hsm.tokenLabel, token.label);
      assert.equal(typeof health.json.hsm.latencyMs, 'number');
      const rootToken = init.json.rootToken as string;
      keyId = (await req('POST', '/v1/keys', {}, rootToken)).json.key.id;
      ciphertext = (await req('POST', `/v1/keys/${keyId}/encrypt`, { plaintext: Buffer.from('sealed by the HSM').toString('base64') }, rootToken)).json.ciphertext;
      // The stored seal holds no share digests and the root key only wrapped.
      const stored = await kw.store.seal.getSealConfig();
      assert.deepEqual([stored?.type, stored?.shares, stored?.shareDigests], ['pkcs11', 0, []]);
      const unseal = await req('POST', '/v1/sys/unseal', { share: Buffer.alloc(33).toString('base64') });
      assert.equal(unseal.status, 409);
      assert.match(unseal.json.error.message, /pkcs11 seal: it unseals itself with the HSM/);
    } finally {
      await kw.close();
      await hsm.close();
    }

    // Restart: auto-unseal at start, the old ciphertext decrypts.
    hsm = createPkcs11Hsm(hsmConfig());
    ({ kw, req } = await start(dbPath, 'pkcs11', hsm));
    let rootToken: string;
    try {
      assert.equal(kw.seal.sealed, false, 'unsealed at start by the HSM');
      rootToken = await kw.tokens.createRootToken('test');
      const dec = await req('POST', '/v1/decrypt', { ciphertext }, rootToken);
      assert.equal(dec.status, 200);
      assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), 'sealed by the HSM');
    } finally {
      await kw.close();
      await hsm.close();
    }

    // The HSM is down at start: the token directory is gone (every HSM user in this process is closed,
    // so the module is initialised afresh and finds no token).
    const tokens = join(dirname(softHsmConf()), 'tokens');
    renameSync(tokens, `${tokens}.away`);
    mkdirSync(tokens);
    const timers = new TestTimers();
    hsm = createPkcs11Hsm(hsmConfig());
    ({ kw, req } = await start(dbPath, 'pkcs11', hsm, timers));
    try {
      assert.equal(kw.seal.sealed, true);
      const health = await req('GET', '/v1/sys/health');
      assert.equal(health.status, 503);
      assert.match(health.json.sealReason, /auto-unseal with the HSM failed: the HSM token ".*" was not found/);
      assert.equal(health.json.hsm.ok, false);
      assert.match(health.json.hsm.error, /not found/);
      const status = await req('GET', '/v1/sys/seal-status');
      assert.equal(status.json.sealed, true);
      assert.equal(status.json.sealReason, health.json.sealReason);
      assert.equal((await req('POST', '/v1/decrypt', { ciphertext }, rootToken)).status, 503);
      // Back-off: 1 s doubling to 30 s while it keeps failing.
      for (let i = 0; i < 6; i++) {
        timers.fire();
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(timers.delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
      assert.equal(kw.seal.sealed, true);

      // The token is back: the next retry unseals.
      rmSync(tokens, { recursive: true });
      renameSync(`${tokens}.away`, tokens);
      await until(kw, () => timers.pending.length > 0 && timers.fire());
      assert.equal(kw.seal.sealed, false, 'unsealed by itself once the HSM is back');
      const health2 = await req('GET', '/v1/sys/health');
      assert.equal(health2.status, 200);
      assert.equal(health2.json.sealReason, undefined);
      assert.equal(health2.json.hsm.ok, true);
      const dec = await req('POST', '/v1/decrypt', { ciphertext }, rootToken);
      assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), 'sealed by the HSM');
      assert.equal(timers.pending.length, 0, 'no retry after unsealing');
    } finally {
      await kw.close();
      await hsm.close();
    }
  });

  test('migrate-seal shamir -> pkcs11 -> shamir: every key and ciphertext still works', async () => {
    const dbPath = join(dir, 'm.db');
    const label = 'kw-migrated-seal';
    let { kw, req } = await start(dbPath, 'shamir');
    const plaintexts = ['one', 'two', 'three'];
    let rootToken: string;
    let ciphertexts: string[];
    let shares: string[];
    let macKey: string;
    let mac: string;
    try {
      const init = await req('POST', '/v1/sys/init', { shares: 3, threshold: 2 });
      shares = init.json.shares;
      rootToken = init.json.rootToken;
      for (const s of shares.slice(0, 2)) await req('POST', '/v1/sys/unseal', { share: s });
      const keys = [];
      for (let i = 0; i < 2; i++) keys.push((await req('POST', '/v1/keys', {}, rootToken)).json.key.id as string);
      await req('POST', `/v1/keys/${keys[0]}/rotate`, {}, rootToken);
      ciphertexts = [];
      for (const [i, p] of plaintexts.entries()) {
        const r = await req('POST', `/v1/keys/${keys[i % 2]}/encrypt`, { plaintext: Buffer.from(p).toString('base64'), context: { n: String(i) } }, rootToken);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        ciphertexts.push(r.json.ciphertext);
      }
      macKey = (await req('POST', '/v1/keys', { spec: 'HMAC_256', usage: 'GENERATE_VERIFY_MAC' }, rootToken)).json.key.id;
      const m = await req('POST', `/v1/keys/${macKey}/mac`, { message: Buffer.from('m').toString('base64'), algorithm: 'HMAC_SHA_256' }, rootToken);
      assert.equal(m.status, 200, JSON.stringify(m.json));
      mac = m.json.mac;
    } finally {
      await kw.close();
    }
    const check = async (r: typeof req) => {
      for (const [i, c] of ciphertexts.entries()) {
        const dec = await r('POST', '/v1/decrypt', { ciphertext: c, context: { n: String(i) } }, rootToken);
        assert.equal(dec.status, 200, JSON.stringify(dec.json));
        assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), plaintexts[i]);
      }
      if (mac !== undefined) {
        const v = await r('POST', `/v1/keys/${macKey}/mac`, { message: Buffer.from('m').toString('base64'), algorithm: 'HMAC_SHA_256' }, rootToken);
        assert.equal(v.json.mac, mac, 'the HMAC key material is unchanged');
      }
    };

    // shamir -> pkcs11 (too few shares first: nothing changes).
    let hsm = await openPkcs11Hsm(hsmConfig());
    try {
      await assert.rejects(migrateSeal({ storage: { type: 'sqlite', path: dbPath }, to: { type: 'pkcs11', keyLabel: label }, hsm, currentShares: [shares[0] as string] }), /not enough unseal shares/);
      const res = await migrateSeal({ storage: { type: 'sqlite', path: dbPath }, to: { type: 'pkcs11', keyLabel: label }, hsm, currentShares: [shares[2] as string, shares[0] as string] });
      assert.deepEqual(res, { from: 'shamir', to: 'pkcs11', shares: [], threshold: 0, keyLabel: label });
      assert.equal(await hsm.exists({ label }), true);
      ({ kw, req } = await start(dbPath, 'pkcs11', hsm));
      try {
        assert.equal(kw.seal.sealed, false, 'auto-unsealed with the migrated seal');
        await check(req);
        assert.equal((await req('POST', '/v1/sys/unseal', { share: shares[0] })).status, 409, 'the old shares are of no use now');
      } finally {
        await kw.close();
      }
      // pkcs11 -> shamir: new shares, the old ones do not unseal.
      const back = await migrateSeal({ storage: { type: 'sqlite', path: dbPath }, to: { type: 'shamir', shares: 5, threshold: 3 }, hsm });
      assert.equal(back.from, 'pkcs11');
      assert.equal(back.shares.length, 5);
      shares = back.shares;
    } finally {
      await hsm.close();
    }
    ({ kw, req } = await start(dbPath, 'shamir'));
    try {
      assert.equal(kw.seal.sealed, true);
      for (const s of [shares[4], shares[1], shares[3]]) await req('POST', '/v1/sys/unseal', { share: s });
      assert.equal(kw.seal.sealed, false);
      await check(req);
    } finally {
      await kw.close();
    }
  });
});

describe('config: hsm section and seal.type pkcs11', () => {
  const base = { listen: { address: '127.0.0.1:0', tls: { disable: true } }, storage: { type: 'sqlite', path: 'k.db' } };
  test('the library path is resolved against the config directory; defaults hold', () => {
    const c = validateConfig({ ...base, seal: { type: 'pkcs11' }, hsm: { library: 'lib/p11.so', tokenLabel: 't', pinEnv: 'HSM_PIN' } }, '/etc/kw');
    assert.equal(c.hsm?.library, '/etc/kw/lib/p11.so');
    assert.deepEqual(c.seal, { type: 'pkcs11' });
  });
  test('refused: pkcs11 without hsm, both or neither of pin and pinEnv, unknown fields', () => {
    const bad = (raw: object, re: RegExp) => assert.throws(() => validateConfig({ ...base, ...raw }, '/x'), (e: unknown) => e instanceof ConfigError && re.test(e.message));
    bad({ seal: { type: 'pkcs11' } }, /the pkcs11 seal needs the hsm section/);
    bad({ seal: { type: 'shamir' }, hsm: { library: 'l', tokenLabel: 't' } }, /exactly one of pin and pinEnv/);
    bad({ seal: { type: 'shamir' }, hsm: { library: 'l', tokenLabel: 't', pin: '1', pinEnv: 'P' } }, /exactly one of pin and pinEnv/);
    bad({ seal: { type: 'pkcs11', slot: 1 }, hsm: { library: 'l', tokenLabel: 't', pin: '1' } }, /invalid config at seal/);
    bad({ seal: { type: 'shamir' }, hsm: { library: 'l', tokenLabel: 't', pin: '1', entropy: 'xor' } }, /invalid config at hsm/);
  });
});
