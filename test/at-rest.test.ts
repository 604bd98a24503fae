/**
 * Reads the SQLite files byte by byte and checks that no key material, root key or token is
 * stored in plaintext: only barrier-wrapped blobs and hashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { startInProcess } from './support/in-process.js';

test('the SQLite files hold no plaintext key material, root key, unseal share or token', async () => {
  const t = await startInProcess({ seal: 'shamir' });
  try {
    const init = await t.req('POST', '/v1/sys/init', { shares: 3, threshold: 2 }, null);
    const shares: string[] = init.json.shares;
    for (const s of shares.slice(0, 2)) await t.req('POST', '/v1/sys/unseal', { share: s }, null);
    const token: string = init.json.rootToken;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await t.req('POST', '/v1/keys', { alias: `alias/k${i}` }, token)).json.key.id);
    const dataKey = await t.req('POST', '/v1/keys/alias/k0/data-key', {}, token);
    assert.equal(dataKey.status, 200);

    const secrets: Array<[string, Buffer]> = [['root key', Buffer.from(t.kw.seal.rootKey().expose())]];
    for (const id of ids) {
      const m = await t.kw.keys.material(id, 1);
      assert.ok(m);
      secrets.push([`material of ${id}`, Buffer.from(m.expose())]);
    }
    for (const s of shares) secrets.push(['unseal share', Buffer.from(s, 'base64')]);
    secrets.push(['root token', Buffer.from(token)]);
    secrets.push(['data key', Buffer.from(dataKey.json.plaintext, 'base64')]);

    const files = [t.dbPath, `${t.dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f));
    assert.ok(files.reduce((n, f) => n + f.length, 0) > 0);
    for (const [name, secret] of secrets) {
      assert.equal(secret.length >= 16, true);
      for (const f of files) {
        assert.equal(f.indexOf(secret), -1, `${name} found in plaintext in the database`);
        // Also no 16-byte window of it (a partial leak).
        assert.equal(f.indexOf(secret.subarray(0, 16)), -1, `a prefix of ${name} found in the database`);
        assert.equal(f.indexOf(Buffer.from(secret.toString('hex'))), -1, `${name} found hex-encoded`);
        assert.equal(f.indexOf(Buffer.from(secret.toString('base64'))), -1, `${name} found base64-encoded`);
      }
    }
    // The wrapped material is there (so the test is looking at the right file).
    const wrapped = await t.kw.store.keys.getVersion(ids[0] as string, 1);
    assert.ok(wrapped && files.some((f) => f.indexOf(wrapped.wrappedMaterial) !== -1));
  } finally {
    await t.close();
  }
});
