/**
 * Crash safety of rotation (issue 2/10): a real server process is killed with SIGKILL while a
 * client rotates a key and encrypts in a loop; after a restart on the same data directory every
 * ciphertext produced before the kill still decrypts, and the key has one consistent primary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, startDevServer } from './helpers.js';

test('SIGKILL during a rotation loop loses no ciphertext and leaves one consistent primary', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'kw-crash-'));
  const rootToken = 'kwr_crash_test_token';
  try {
    const first = await startDevServer({ dataDir, rootToken });
    const key = (await api(first.address, rootToken, 'POST', '/v1/keys', { alias: 'alias/crash' })).json.key;
    const produced: Array<{ ciphertext: string; plaintext: string; version: number }> = [];
    let killed = false;
    // Rotate and encrypt as fast as the server answers; kill it without warning mid-loop.
    const loop = (async () => {
      for (let i = 0; !killed; i++) {
        try {
          const rotations = Promise.allSettled([api(first.address, rootToken, 'POST', '/v1/keys/alias/crash/rotate'), api(first.address, rootToken, 'POST', '/v1/keys/alias/crash/rotate')]);
          const plaintext = `message ${i}`;
          const enc = await api(first.address, rootToken, 'POST', `/v1/keys/${key.id}/encrypt`, { plaintext: Buffer.from(plaintext).toString('base64') });
          if (enc.status === 200) produced.push({ ciphertext: enc.json.ciphertext, plaintext, version: enc.json.keyVersion });
          await rotations;
        } catch {
          return; // the server is gone
        }
      }
    })();
    while (produced.length < 40) await new Promise((r) => setTimeout(r, 20));
    first.proc.kill('SIGKILL');
    killed = true;
    await loop;
    if (first.proc.exitCode === null && first.proc.signalCode === null) await new Promise((r) => first.proc.once('exit', r));
    assert.ok(produced.length >= 40);
    assert.ok(new Set(produced.map((p) => p.version)).size > 10, 'the loop really rotated between encryptions');

    const second = await startDevServer({ dataDir, rootToken });
    try {
      const described = (await api(second.address, rootToken, 'GET', `/v1/keys/${key.id}`)).json.key;
      const versions = (await api(second.address, rootToken, 'GET', `/v1/keys/${key.id}/versions`)).json.versions as Array<{ version: number; primary: boolean }>;
      assert.equal(versions.filter((v) => v.primary).length, 1, 'exactly one primary version');
      assert.equal(described.primaryVersion, Math.max(...versions.map((v) => v.version)), 'the primary is the newest version');
      assert.deepEqual(versions.map((v) => v.version), Array.from({ length: versions.length }, (_, i) => i + 1), 'no gap in versions');
      for (const p of produced) {
        const dec = await api(second.address, rootToken, 'POST', '/v1/decrypt', { ciphertext: p.ciphertext });
        assert.equal(dec.status, 200, JSON.stringify(dec.json));
        assert.equal(Buffer.from(dec.json.plaintext, 'base64').toString(), p.plaintext);
      }
      const after = await api(second.address, rootToken, 'POST', `/v1/keys/${key.id}/encrypt`, { plaintext: 'YWZ0ZXI=' });
      assert.equal(after.json.keyVersion, described.primaryVersion, 'encryption resumes on the surviving primary');
    } finally {
      await second.stop({ keepData: true });
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
