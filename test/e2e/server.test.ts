/**
 * Production mode end to end: `keywarden server --config` with a real TLS listener and the Shamir
 * seal, driven by the CLI (operator init / unseal / seal, keys, encrypt, decrypt), across a restart.
 * Also dev mode's loopback-only rule and persistence of a dev data dir across restarts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startDevServer, startKeywarden } from './helpers.js';

describe('production server: TLS listener, shamir seal, CLI operator flow', () => {
  let dir: string;
  let configFile: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-server-e2e-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: 'ignore' });
    configFile = join(dir, 'keywarden.yaml');
    await writeFile(
      configFile,
      ['listen:', '  address: 127.0.0.1:0', '  tls: { certFile: cert.pem, keyFile: key.pem }', 'storage: { type: sqlite, path: data/keywarden.db }', 'seal: { type: shamir }', 'log: { level: warn }', ''].join('\n'),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('init, unseal share by share, use keys, seal, restart, unseal again, decrypt', async () => {
    let server = await startKeywarden(['server', '--config', configFile]);
    try {
      assert.match(server.address, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(server.stdout(), /not initialized/);
      env = { KEYWARDEN_ADDR: server.address, KEYWARDEN_CACERT: join(dir, 'cert.pem') };

      // Without the CA the TLS handshake is refused: the listener really is TLS.
      const noCa = await runCli(['status'], { env: { KEYWARDEN_ADDR: server.address } });
      assert.equal(noCa.code, 1);

      const st0 = await runCli(['status', '--format', 'json'], { env });
      assert.equal(st0.code, 0, st0.stderr);
      assert.equal(JSON.parse(st0.stdout.toString()).initialized, false);

      const init = await runCli(['operator', 'init', '--shares', '3', '--threshold', '2', '--format', 'json'], { env });
      assert.equal(init.code, 0, init.stderr);
      const { shares, rootToken } = JSON.parse(init.stdout.toString()) as { shares: string[]; rootToken: string };
      assert.equal(shares.length, 3);
      assert.match(init.stderr, /ONLY ONCE/);
      const again = await runCli(['operator', 'init', '--shares', '3', '--threshold', '2'], { env });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /AlreadyInitialized: Keywarden is already initialized/);

      const authed: Record<string, string> = { ...env, KEYWARDEN_TOKEN: rootToken };
      const sealedCreate = await runCli(['key', 'create'], { env: authed });
      assert.equal(sealedCreate.code, 1);
      assert.match(sealedCreate.stderr, /Sealed: Keywarden is sealed/);

      const u1 = await runCli(['operator', 'unseal'], { env, input: `${shares[0]}\n` });
      assert.equal(u1.code, 0, u1.stderr);
      assert.match(u1.stdout.toString(), /1\/2/);
      const wrong = Buffer.from(shares[1] as string, 'base64');
      wrong[3]! ^= 0x40;
      const bad = await runCli(['operator', 'unseal', wrong.toString('base64')], { env });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /InvalidShare: this unseal share was not issued for this Keywarden/);
      const u2 = await runCli(['operator', 'unseal', shares[2] as string], { env });
      assert.equal(u2.code, 0, u2.stderr);
      assert.match(u2.stdout.toString(), /[Uu]nsealed/);

      const created = await runCli(['key', 'create', '--alias', 'alias/prod', '--format', 'json'], { env: authed });
      assert.equal(created.code, 0, created.stderr);
      const keyId = JSON.parse(created.stdout.toString()).key.id as string;
      const secret = Buffer.from('production secret \u00e9\u0000\u00ff', 'utf8');
      const enc = await runCli(['encrypt', '--key', 'alias/prod', '--context', 'app=billing'], { env: authed, input: secret });
      assert.equal(enc.code, 0, enc.stderr);
      const ciphertext = enc.stdout.toString().trim();

      const sealed = await runCli(['operator', 'seal'], { env: authed });
      assert.equal(sealed.code, 0, sealed.stderr);
      const whileSealed = await runCli(['decrypt', '--context', 'app=billing'], { env: authed, input: ciphertext });
      assert.equal(whileSealed.code, 1);
      assert.match(whileSealed.stderr, /Sealed: /);

      assert.equal(await server.stop(), 0, 'SIGTERM shuts down cleanly');
      server = await startKeywarden(['server', '--config', configFile]);
      env.KEYWARDEN_ADDR = server.address;
      authed.KEYWARDEN_ADDR = server.address;
      const st1 = await runCli(['status', '--format', 'json'], { env });
      assert.deepEqual(
        (({ initialized, sealed: s }) => ({ initialized, sealed: s }))(JSON.parse(st1.stdout.toString())),
        { initialized: true, sealed: true },
        'a restarted server is sealed',
      );
      for (const s of [shares[1], shares[0]]) {
        const r = await runCli(['operator', 'unseal'], { env, input: `${s}\n` });
        assert.equal(r.code, 0, r.stderr);
      }
      const dec = await runCli(['decrypt', '--context', 'app=billing'], { env: authed, input: ciphertext });
      assert.equal(dec.code, 0, dec.stderr);
      assert.deepEqual(dec.stdout, secret);
      const described = await runCli(['key', 'describe', keyId, '--format', 'json'], { env: authed });
      assert.deepEqual(JSON.parse(described.stdout.toString()).key.aliases, ['alias/prod']);
    } finally {
      await server.stop();
    }
  });

  test('a bad config file is refused with a clear message and exit code 2', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'listen: { address: "0.0.0.0:8200", tls: { disable: true } }\nstorage: { type: sqlite, path: x.db }\nseal: { type: shamir }\n');
    const r = await runCli(['server', '--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /listen\.tls\.disable is only allowed on a loopback address/);
    await writeFile(bad, 'listen: { address: "127.0.0.1:8200", tls: { disable: true } }\nstorage: { type: postgres }\nseal: { type: shamir }\n');
    const r2 = await runCli(['server', '--config', bad]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /invalid config at storage/);
  });
});

describe('dev mode', () => {
  test('refuses a non-loopback listen address', async () => {
    const r = await runCli(['dev', '--listen', '0.0.0.0:8200', '--data-dir', join(tmpdir(), 'kw-never-created')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /dev mode refuses to listen on 0\.0\.0\.0/);
  });

  test('keeps keys, the generated root token and ciphertexts across restarts of the same data dir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'kw-dev-restart-'));
    try {
      const first = await startKeywarden(['dev', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'warn']);
      const token = /Root token: (\S+)/.exec(first.stdout())?.[1];
      assert.ok(token, 'dev prints the root token');
      assert.match(first.stdout(), /INSECURE/);
      let env = { KEYWARDEN_ADDR: first.address, KEYWARDEN_TOKEN: token };
      assert.equal((await runCli(['key', 'create', '--alias', 'alias/dev'], { env })).code, 0);
      // A sealed dev server unseals with the dev unseal key it printed.
      const unsealKey = /Unseal key: (\S+)/.exec(first.stdout())?.[1];
      assert.ok(unsealKey, 'dev prints the unseal key');
      assert.equal((await runCli(['operator', 'seal'], { env })).code, 0);
      assert.match((await runCli(['key', 'list'], { env })).stderr, /Sealed: /);
      const unsealed = await runCli(['operator', 'unseal', unsealKey], { env });
      assert.equal(unsealed.code, 0, unsealed.stderr);
      const enc = await runCli(['encrypt', '--key', 'alias/dev'], { env, input: 'persist me' });
      assert.equal(enc.code, 0, enc.stderr);
      await first.stop();

      const second = await startKeywarden(['dev', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'warn']);
      try {
        assert.equal(/Root token: (\S+)/.exec(second.stdout())?.[1], token, 'same root token after restart');
        env = { KEYWARDEN_ADDR: second.address, KEYWARDEN_TOKEN: token };
        const dec = await runCli(['decrypt'], { env, input: enc.stdout });
        assert.equal(dec.code, 0, dec.stderr);
        assert.equal(dec.stdout.toString(), 'persist me');
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('the helper-started dev server answers health', async () => {
    const s = await startDevServer();
    try {
      const r = await runCli(['status', '--format', 'json'], { env: { KEYWARDEN_ADDR: s.address } });
      assert.equal(r.code, 0);
      assert.equal(JSON.parse(r.stdout.toString()).sealed, false);
    } finally {
      await s.stop();
    }
  });
});
