/**
 * The pkcs11 seal end to end with real processes and a real SoftHSM2 token: `keywarden server
 * --config` with `seal: pkcs11` (PIN from the environment), `operator init` (no shares), auto-unseal
 * at the next start, then `operator migrate-seal` to shamir and back with the server stopped, the
 * same ciphertext decrypting after each step.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import { json, runCli, startKeywarden, text } from './helpers.js';

describe('pkcs11 seal: server --config, auto-unseal, migrate-seal (real processes)', () => {
  let dir: string;
  let token: SoftHsmToken;
  let pkcs11Config: string;
  let shamirConfig: string;

  before(async () => {
    token = createSoftHsmToken();
    dir = await mkdtemp(join(tmpdir(), 'kw-hsm-e2e-'));
    // The server and the CLI inherit SOFTHSM2_CONF (set by softhsm.ts) and the PIN variable.
    process.env.KW_E2E_HSM_PIN = token.pin;
    const common = ['listen:', '  address: 127.0.0.1:0', '  tls: { disable: true }', 'storage: { type: sqlite, path: data/keywarden.db }', 'log: { level: warn }'];
    pkcs11Config = join(dir, 'pkcs11.yaml');
    await writeFile(
      pkcs11Config,
      [...common, 'seal: { type: pkcs11, keyLabel: e2e-seal }', 'hsm:', `  library: ${token.library}`, `  tokenLabel: ${token.label}`, '  pinEnv: KW_E2E_HSM_PIN', '  pool: 2', ''].join('\n'),
    );
    shamirConfig = join(dir, 'shamir.yaml');
    await writeFile(shamirConfig, [...common, 'seal: { type: shamir }', ''].join('\n'));
  });
  after(async () => {
    delete process.env.KW_E2E_HSM_PIN;
    await rm(dir, { recursive: true, force: true });
  });

  test('init without shares, auto-unseal after a restart, migrate to shamir and back', async () => {
    const data = join(dir, 'data', 'keywarden.db');
    let server = await startKeywarden(['server', '--config', pkcs11Config]);
    let rootToken: string;
    let ciphertext: string;
    const secret = 'kept through every seal';
    try {
      assert.match(server.stdout(), /not initialized/);
      const env = { KEYWARDEN_ADDR: server.address };
      const init = await runCli(['operator', 'init', '--format', 'json'], { env });
      assert.equal(init.code, 0, init.stderr);
      const res = JSON.parse(init.stdout.toString()) as { shares: string[]; rootToken: string; message: string };
      assert.deepEqual(res.shares, []);
      assert.match(res.message, /HSM key "e2e-seal"/);
      rootToken = res.rootToken;
      const authed = { ...env, KEYWARDEN_TOKEN: rootToken };
      ok(await runCli(['key', 'create', '--alias', 'alias/hsm-e2e'], { env: authed }));
      ciphertext = text(await runCli(['encrypt', '--key', 'alias/hsm-e2e'], { env: authed, input: secret })).trim();
      const unseal = await runCli(['operator', 'unseal', Buffer.alloc(33).toString('base64')], { env });
      assert.equal(unseal.code, 1);
      assert.match(unseal.stderr, /pkcs11 seal: it unseals itself with the HSM/);
    } finally {
      assert.equal(await server.stop(), 0);
    }

    // Restart: unsealed by the HSM before it listens.
    server = await startKeywarden(['server', '--config', pkcs11Config]);
    try {
      assert.match(server.stdout(), /is unsealed \(pkcs11 seal/);
      const env = { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: rootToken };
      const st = json<{ sealed: boolean; sealType: string }>(await runCli(['status', '--format', 'json'], { env }));
      assert.deepEqual([st.sealed, st.sealType], [false, 'pkcs11']);
      assert.equal(text(await runCli(['decrypt'], { env, input: ciphertext })), secret);
    } finally {
      assert.equal(await server.stop(), 0);
    }

    // pkcs11 -> shamir (server stopped).
    const toShamir = json<{ from: string; to: string; shares: string[]; threshold: number }>(
      await runCli(['operator', 'migrate-seal', '--data', data, '--to', 'shamir', '--config', pkcs11Config, '--shares', '3', '--threshold', '2', '--format', 'json']),
    );
    assert.deepEqual([toShamir.from, toShamir.to, toShamir.shares.length, toShamir.threshold], ['pkcs11', 'shamir', 3, 2]);
    server = await startKeywarden(['server', '--config', shamirConfig]);
    try {
      const env = { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: rootToken };
      for (const s of toShamir.shares.slice(1)) ok(await runCli(['operator', 'unseal'], { env, input: `${s}\n` }));
      assert.equal(text(await runCli(['decrypt'], { env, input: ciphertext })), secret);
    } finally {
      assert.equal(await server.stop(), 0);
    }

    // shamir -> pkcs11, the current shares on stdin; a wrong share changes nothing.
    const wrong = await runCli(['operator', 'migrate-seal', '--data', data, '--to', 'pkcs11', '--config', pkcs11Config], { input: `${Buffer.alloc(33, 1).toString('base64')}\n` });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /this unseal share was not issued for this Keywarden/);
    const back = await runCli(['operator', 'migrate-seal', '--data', data, '--to', 'pkcs11', '--config', pkcs11Config], { input: `${toShamir.shares[0]}\n${toShamir.shares[2]}\n` });
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout.toString(), /Migrated the seal from shamir to pkcs11/);
    server = await startKeywarden(['server', '--config', pkcs11Config]);
    try {
      assert.match(server.stdout(), /is unsealed/);
      const env = { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: rootToken };
      assert.equal(text(await runCli(['decrypt'], { env, input: ciphertext })), secret);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

function ok(r: { code: number | null; stderr: string }) {
  assert.equal(r.code, 0, r.stderr);
}
