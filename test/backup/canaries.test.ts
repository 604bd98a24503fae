/**
 * Key version canaries on a real in-process server (SQLite): every version made by create, rotate
 * and import, for every key spec and usage, records a canary its material then passes; a changed
 * canary or a changed version fails, naming why; versions without one are backfilled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { CANARY_CONTEXT, checkCanary, makeCanary, openVersion } from '../../src/keys/canary.js';
import { parseCiphertext } from '../../src/crypto/ciphertext.js';
import { ManualClock } from '../../src/util/clock.js';
import type { KeyRecord } from '../../src/keys/key.model.js';

const SPECS: Array<[string, string]> = [
  ['SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'],
  ['HMAC_256', 'GENERATE_VERIFY_MAC'],
  ['HMAC_512', 'GENERATE_VERIFY_MAC'],
  ['RSA_2048', 'ENCRYPT_DECRYPT'],
  ['RSA_2048', 'SIGN_VERIFY'],
  ['ECC_NIST_P256', 'SIGN_VERIFY'],
  ['ECC_NIST_P384', 'SIGN_VERIFY'],
  ['ECC_ED25519', 'SIGN_VERIFY'],
];

describe('key version canaries', () => {
  let t: TestKeywarden;
  const keys: KeyRecord[] = [];

  /** Every version of every key passes its canary check; returns how many were checked. */
  const checkAll = async (): Promise<number> => {
    let n = 0;
    for (const k of keys) {
      const key = (await t.kw.store.keys.getKey(k.id))!;
      for (const v of await t.kw.store.keys.listVersions(k.id)) {
        const c = await t.kw.store.canaries.get(k.id, v.version);
        assert.ok(c, `${key.spec}/${key.usage} v${v.version} has a canary`);
        const crypto = openVersion(t.kw.seal.rootKey(), v);
        assert.notEqual(typeof crypto, 'string');
        if (typeof crypto === 'string') continue;
        try {
          assert.equal(await checkCanary(key, v, c, crypto), undefined, `${key.spec}/${key.usage} v${v.version}`);
        } finally {
          crypto.dispose();
        }
        n++;
      }
    }
    return n;
  };

  before(async () => {
    t = await startInProcess({ clock: new ManualClock() });
    for (const [spec, usage] of SPECS) {
      const r = await t.req('POST', '/v1/keys', { spec, usage });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      keys.push(r.json.key);
      assert.equal((await t.req('POST', `/v1/keys/${r.json.key.id}/rotate`)).status, 200);
    }
    // An imported (EXTERNAL) AES key: its imported version records a canary too.
    const ext = await t.req('POST', '/v1/keys', { origin: 'EXTERNAL' });
    assert.equal(ext.status, 201, JSON.stringify(ext.json));
    const key = (await t.kw.store.keys.getKey(ext.json.key.id))!;
    const params = await t.kw.keys.importParameters(key, 'RSAES_OAEP_SHA_256');
    const material = randomBytes(32);
    const wrapped = publicEncrypt({ key: createPublicKey({ key: params.publicKey, format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
    keys.push(await t.kw.keys.importMaterial(key, params.importToken, wrapped));
  });
  after(() => t.close());

  test('create, rotate and import record a canary for every version, which its material passes', async () => {
    assert.equal(await checkAll(), SPECS.length * 2 + 1);
    const aes = (await t.kw.store.canaries.listForKey(keys[0]!.id))[1]!;
    assert.equal(aes.kind, 'encrypt');
    assert.equal(aes.challenge.length, 32, 'only the plaintext\'s SHA-256 is kept');
    const parsed = parseCiphertext(aes.proof)!;
    assert.deepEqual([parsed.header.keyId, parsed.header.keyVersion], [keys[0]!.id, 2], 'a v1 ciphertext of that version');
    const dec = await t.req('POST', '/v1/decrypt', { ciphertext: aes.proof.toString('base64'), context: CANARY_CONTEXT });
    assert.equal(dec.status, 200, 'the canary is an ordinary ciphertext under the fixed canary context');
    assert.equal((await t.req('POST', '/v1/decrypt', { ciphertext: aes.proof.toString('base64') })).status, 400, 'and only under it');
    assert.deepEqual((await t.kw.store.canaries.listForKey(keys[3]!.id)).map((c) => c.kind), ['rsa-oaep', 'rsa-oaep']);
    assert.deepEqual((await t.kw.store.canaries.listForKey(keys[5]!.id)).map((c) => [c.kind, c.algorithm]), [['sign', 'ECDSA_SHA_256'], ['sign', 'ECDSA_SHA_256']]);
  });

  test('a changed canary or another version\'s material fails the check, saying why', async () => {
    const root = t.kw.seal.rootKey();
    for (const [i, why] of [
      [0, /does not decrypt its canary/],
      [1, /does not reproduce its canary MAC/],
      [3, /does not decrypt its canary/],
      [5, /canary signature does not verify with its public key/],
    ] as const) {
      const key = (await t.kw.store.keys.getKey(keys[i]!.id))!;
      const [v1, v2] = await t.kw.store.keys.listVersions(key.id);
      const c = (await t.kw.store.canaries.get(key.id, 1))!;
      const proof = Buffer.from(c.proof);
      proof[proof.length - 1]! ^= 1;
      const crypto = openVersion(root, v1!);
      assert.ok(typeof crypto !== 'string');
      assert.match((await checkCanary(key, v1!, { ...c, proof }, crypto))!, why);
      crypto.dispose();
      // Version 2's material against version 1's canary (a swapped version row).
      const other = openVersion(root, v2!);
      assert.ok(typeof other !== 'string');
      const swapped = key.usage === 'SIGN_VERIFY' ? { ...v1!, publicKey: v2!.publicKey } : v1!;
      assert.ok(await checkCanary(key, swapped, c, other), `${key.spec}: another version's material is caught`);
      other.dispose();
    }
    const v = (await t.kw.store.keys.listVersions(keys[0]!.id))[0]!;
    assert.match(openVersion(root, { ...v, wrappedMaterial: Buffer.from(v.wrappedMaterial).fill(7, 20, 21) }) as string, /does not unwrap under the root key/);
    const signKey = (await t.kw.store.keys.getKey(keys[4]!.id))!;
    const sv = (await t.kw.store.keys.listVersions(signKey.id))[0]!;
    const mac = (await t.kw.store.canaries.get(keys[1]!.id, 1))!;
    const crypto = openVersion(root, sv) as Exclude<ReturnType<typeof openVersion>, string>;
    assert.match((await checkCanary(signKey, sv, mac, crypto))!, /is a mac\/HMAC_SHA_256 canary, but the key is RSA_2048\/SIGN_VERIFY/);
    crypto.dispose();
    // A canary made now by the version passes (the self-test of a version without one).
    const fresh = openVersion(root, sv) as Exclude<ReturnType<typeof openVersion>, string>;
    assert.equal(await checkCanary(signKey, sv, await makeCanary(signKey, sv, fresh, 1), fresh), undefined);
    fresh.dispose();
  });

  test('versions without a canary (older data, a failed write) are backfilled while unsealed', async () => {
    const db = new Database(t.dbPath);
    const removed = db.prepare('DELETE FROM key_canaries WHERE version = 1').run().changes;
    db.close();
    assert.equal(removed, SPECS.length + 1, 'version 1 of every key, the imported one too');
    assert.equal((await t.kw.store.canaries.findMissing(100)).length, SPECS.length + 1);
    // The hourly canary-backfill job does it (and records how many).
    const run = await t.kw.scheduler.runNow('canary-backfill');
    assert.deepEqual([run?.status, run?.processed], ['ok', SPECS.length + 1]);
    assert.equal(await t.kw.canaries.backfill(), 0, 'idempotent');
    assert.equal(await checkAll(), SPECS.length * 2 + 1);
  });
});
