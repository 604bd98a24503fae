import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INVALID_CIPHERTEXT_MESSAGE } from '../../src/errors/catalog.js';
import { type DevServer, type RunOptions, fails, json, ok, runCli, runCliIntoClosedPipe, startDevServer, text } from './helpers.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** Asserts a successful run and returns its stdout. */

interface Key {
  id: string;
  aliases: string[];
  tags: Record<string, string>;
  description: string;
  state: string;
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

test('output into a pipe its reader has closed (`keywarden ... | head`) ends quietly, not with an EPIPE crash', async () => {
  const r = await runCliIntoClosedPipe(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|Unhandled/);
});

describe('keywarden CLI against a dev server', () => {
  let server: DevServer;
  let tmp: string;
  let keyA: Key;
  let keyB: Key;

  /** Runs the CLI against the test server, authenticated with the root token unless overridden. */
  const kw = (args: string[], opts: RunOptions = {}) =>
    runCli(args, {
      ...opts,
      env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: server.rootToken, ...opts.env },
    });

  before(async () => {
    server = await startDevServer();
    tmp = await mkdtemp(join(tmpdir(), 'keywarden-cli-'));
    keyA = json<{ key: Key }>(
      await kw(['key', 'create', '--format', 'json', '--description', 'CLI test key A', '--alias', 'alias/cli-a',
        '--alias', 'alias/cli-a2', '--tag', 'team=platform', '--tag', 'env=test']),
    ).key;
    keyB = json<{ key: Key }>(await kw(['key', 'create', '--format', 'json', '--alias', 'alias/cli-b'])).key;
  });

  after(async () => {
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  describe('keys', () => {
    test('create returns the aliases, tags and description', () => {
      assert.deepEqual([...keyA.aliases].sort(), ['alias/cli-a', 'alias/cli-a2']);
      assert.deepEqual(keyA.tags, { team: 'platform', env: 'test' });
      assert.equal(keyA.description, 'CLI test key A');
      assert.match(keyA.id, /^[0-9a-f-]{36}$/);
    });

    test('describe by alias shows the key as a table and as JSON', async () => {
      const table = text(await kw(['key', 'describe', 'alias/cli-a']));
      assert.match(table, new RegExp(`^ID\\s+${keyA.id}$`, 'm'));
      assert.match(table, /^Aliases\s+.*alias\/cli-a\b/m);
      assert.match(table, /^Tags\s+.*team=platform/m);
      assert.match(table, /^Description\s+CLI test key A$/m);
      const described = json<{ key: Key }>(await kw(['key', 'describe', 'alias/cli-a2', '--format', 'json']));
      assert.equal(described.key.id, keyA.id);
    });

    test('list shows both keys; --all follows nextCursor', async () => {
      const table = text(await kw(['key', 'list']));
      assert.match(table, /^ID\s+ALIASES\s+STATE/);
      assert.ok(table.includes(keyA.id) && table.includes(keyB.id));

      const page = json<{ keys: Key[]; nextCursor: string | null }>(
        await kw(['key', 'list', '--limit', '1', '--format', 'json']),
      );
      assert.equal(page.keys.length, 1);
      assert.equal(typeof page.nextCursor, 'string');

      const all = json<{ keys: Key[]; nextCursor: null }>(
        await kw(['key', 'list', '--limit', '1', '--all', '--format', 'json']),
      );
      const ids = all.keys.map((k) => k.id);
      assert.ok(ids.includes(keyA.id) && ids.includes(keyB.id));
      assert.equal(new Set(ids).size, ids.length);
      assert.equal(all.nextCursor, null);
    });

    test('an unknown key fails with NotFound', async () => {
      fails(await kw(['key', 'describe', 'alias/does-not-exist']), 1, /^error: NotFound: .*not found/i);
      fails(await kw(['encrypt', '--key', 'alias/does-not-exist'], { input: 'x' }), 1, /^error: NotFound: .*not found/i);
    });
  });

  describe('encrypt and decrypt', () => {
    test('round trip of all byte values through stdin, base64 form', async () => {
      const ciphertext = text(await kw(['encrypt', '--key', 'alias/cli-a', '--context', 'purpose=test'], { input: ALL_BYTES }));
      assert.match(ciphertext, /^[A-Za-z0-9+/]+=*\n$/);
      const plaintext = ok(await kw(['decrypt', '--context', 'purpose=test'], { input: ciphertext }));
      assert.deepEqual(plaintext, ALL_BYTES);
    });

    test('round trip through raw files with --in/--out', async () => {
      const [plainFile, cipherFile, outFile] = ['plain.bin', 'cipher.bin', 'out.bin'].map((f) => join(tmp, f)) as [
        string,
        string,
        string,
      ];
      await writeFile(plainFile, ALL_BYTES);
      assert.equal(text(await kw(['encrypt', '--key', keyA.id, '--in', plainFile, '--out', cipherFile])), '');
      const raw = await readFile(cipherFile);
      assert.equal(raw[0], 0x01, 'a raw ciphertext starts with the format version byte');

      ok(await kw(['decrypt', '--in', cipherFile, '--out', outFile]));
      assert.deepEqual(await readFile(outFile), ALL_BYTES);
      // Raw ciphertext on stdin is recognized too.
      assert.deepEqual(ok(await kw(['decrypt'], { input: raw })), ALL_BYTES);
    });

    test('--format json prints the API responses', async () => {
      const enc = json<{ ciphertext: string; keyId: string; keyVersion: number }>(
        await kw(['encrypt', '--key', 'alias/cli-a', '--format', 'json'], { input: 'hello' }),
      );
      assert.equal(enc.keyId, keyA.id);
      assert.equal(enc.keyVersion, 1);
      const dec = json<{ plaintext: string; keyId: string }>(
        await kw(['decrypt', '--format', 'json'], { input: enc.ciphertext }),
      );
      assert.equal(Buffer.from(dec.plaintext, 'base64').toString(), 'hello');
      assert.equal(dec.keyId, keyA.id);
    });

    test('a different or missing context fails with InvalidCiphertext', async () => {
      const ciphertext = text(await kw(['encrypt', '--key', 'alias/cli-a', '--context', 'tenant=a'], { input: 'secret' }));
      const expected = new RegExp(`^error: InvalidCiphertext: ${INVALID_CIPHERTEXT_MESSAGE}`);
      fails(await kw(['decrypt', '--context', 'tenant=b'], { input: ciphertext }), 1, expected);
      fails(await kw(['decrypt'], { input: ciphertext }), 1, expected);
    });

    test('input that is neither raw nor base64 is rejected', async () => {
      fails(await kw(['decrypt'], { input: 'not base64!' }), 1, /^error: .*neither a raw Keywarden ciphertext nor valid base64/);
      fails(await kw(['decrypt'], { input: '' }), 1, /^error: no ciphertext given/);
    });
  });

  describe('data keys', () => {
    test('with plaintext: decrypting the ciphertext gives the plaintext', async () => {
      const dk = json<{ plaintext: string; ciphertext: string; keyId: string }>(
        await kw(['data-key', '--key', 'alias/cli-a', '--context', 'file=x', '--format', 'json']),
      );
      assert.equal(Buffer.from(dk.plaintext, 'base64').length, 32);
      assert.equal(dk.keyId, keyA.id);
      const plaintext = ok(await kw(['decrypt', '--context', 'file=x'], { input: dk.ciphertext }));
      assert.deepEqual(plaintext, Buffer.from(dk.plaintext, 'base64'));
    });

    test('table output, --bytes, and raw files', async () => {
      const table = text(await kw(['data-key', '--key', 'alias/cli-b', '--spec', 'AES_128']));
      assert.match(table, /^Plaintext\s+[A-Za-z0-9+/]{22}==$/m);
      assert.match(table, /^Ciphertext\s+\S+$/m);

      const [ptFile, ctFile] = [join(tmp, 'dk.key'), join(tmp, 'dk.enc')];
      const rest = json<Record<string, unknown>>(
        await kw(['data-key', '--key', 'alias/cli-b', '--bytes', '48', '--plaintext-out', ptFile, '--ciphertext-out', ctFile,
          '--format', 'json']),
      );
      assert.equal(rest.plaintext, undefined);
      assert.equal(rest.ciphertext, undefined);
      assert.equal(rest.keyId, keyB.id);
      const pt = await readFile(ptFile);
      assert.equal(pt.length, 48);
      assert.deepEqual(ok(await kw(['decrypt', '--in', ctFile])), pt);
    });

    test('--no-plaintext returns only the ciphertext', async () => {
      const dk = json<{ plaintext?: string; ciphertext: string }>(
        await kw(['data-key', '--key', 'alias/cli-a', '--no-plaintext', '--format', 'json']),
      );
      assert.equal(dk.plaintext, undefined);
      assert.equal(ok(await kw(['decrypt'], { input: dk.ciphertext })).length, 32);
      fails(await kw(['data-key', '--key', 'alias/cli-a', '--no-plaintext', '--plaintext-out', join(tmp, 'x')]), 2,
        /^error: option '--plaintext-out <file>' cannot be used with option '--no-plaintext'/);
    });
  });

  test('re-encrypt moves a ciphertext to another key and context', async () => {
    const original = text(await kw(['encrypt', '--key', 'alias/cli-a', '--context', 'v=1'], { input: ALL_BYTES }));
    const moved = json<{ ciphertext: string; keyId: string; sourceKeyId: string }>(
      await kw(['re-encrypt', '--destination-key', 'alias/cli-b', '--context', 'v=1', '--destination-context', 'v=2',
        '--format', 'json'], { input: original }),
    );
    assert.equal(moved.keyId, keyB.id);
    assert.equal(moved.sourceKeyId, keyA.id);
    const dec = json<{ plaintext: string; keyId: string }>(
      await kw(['decrypt', '--context', 'v=2', '--format', 'json'], { input: moved.ciphertext }),
    );
    assert.equal(dec.keyId, keyB.id);
    assert.deepEqual(Buffer.from(dec.plaintext, 'base64'), ALL_BYTES);

    // Table form prints just the base64 ciphertext.
    const again = text(await kw(['re-encrypt', '--destination-key', keyB.id, '--context', 'v=1'], { input: original }));
    assert.deepEqual(ok(await kw(['decrypt'], { input: again })), ALL_BYTES);
  });

  test('random', async () => {
    assert.equal(ok(await kw(['random', '--bytes', '32', '--raw'])).length, 32);
    assert.equal(Buffer.from(text(await kw(['random', '--bytes', '16'])).trim(), 'base64').length, 16);
    const file = join(tmp, 'random.bin');
    ok(await kw(['random', '--bytes', '64', '--out', file]));
    assert.equal((await readFile(file)).length, 64);
  });

  test('status works without a token', async () => {
    const status = json<{ initialized: boolean; sealed: boolean }>(
      await kw(['status', '--format', 'json'], { env: { KEYWARDEN_TOKEN: undefined } }),
    );
    assert.equal(status.initialized, true);
    assert.equal(status.sealed, false);
    assert.match(text(await kw(['status'], { env: { KEYWARDEN_TOKEN: undefined } })), /^Sealed\s+false$/m);
  });

  describe('errors', () => {
    test('a missing token fails with Unauthenticated', async () => {
      fails(await kw(['key', 'list'], { env: { KEYWARDEN_TOKEN: undefined } }), 1,
        /^error: Unauthenticated: .+ \(hint: pass --token or set KEYWARDEN_TOKEN\)/);
    });

    test('a wrong token fails with Unauthenticated and is never shown', async () => {
      const token = 'kwr_wrong_token_0123456789';
      const r = await kw(['key', 'list', '--token', token]);
      fails(r, 1, /^error: Unauthenticated: \S.*/);
      assert.ok(!r.stderr.includes(token) && !r.stdout.includes(token));
      assert.ok(!r.stderr.includes(server.rootToken));
    });

    test('an unreachable server is reported clearly', async () => {
      const address = `http://127.0.0.1:${await closedPort()}`;
      fails(await kw(['status', '--address', address]), 1,
        new RegExp(`^error: cannot reach Keywarden at ${address}: connection refused`));
    });

    test('usage errors exit 2', async () => {
      fails(await kw(['encrypt', '--key', 'alias/cli-a', '--context', 'foo']), 2,
        /^error: option '--context <k=v>' argument 'foo' is invalid/);
      fails(await kw(['key', 'create', '--tag', '=x']), 2, /^error: option '--tag <k=v>' argument '=x' is invalid/);
      fails(await kw(['random', '--bytes', 'ten']), 2, /^error: option '--bytes <n>' argument 'ten' is invalid/);
      fails(await kw(['status', '--format', 'yaml']), 2, /^error: option '--format <format>' argument 'yaml' is invalid/);
      fails(await kw(['encrypt']), 2, /^error: required option '--key <key>' not specified/);
      fails(await kw(['frobnicate']), 2, /^error: unknown command 'frobnicate'/);
    });
  });

  describe('--help', () => {
    const cases: [string[], string[]][] = [
      [[], ['--address', '--token', '--ca-cert', '--format']],
      [['status'], ['--address', '--format']],
      [['operator', 'init'], ['--shares', '--threshold']],
      [['operator', 'unseal'], ['--reset', 'share']],
      [['operator', 'seal'], ['--token']],
      [['key', 'create'], ['--description', '--alias', '--tag', '--spec']],
      [['key', 'list'], ['--limit', '--cursor', '--all']],
      [['key', 'describe'], ['<key>']],
      [['encrypt'], ['--key', '--in', '--out', '--context']],
      [['decrypt'], ['--in', '--out', '--context']],
      [['data-key'], ['--key', '--spec', '--bytes', '--no-plaintext', '--context', '--plaintext-out', '--ciphertext-out']],
      [['re-encrypt'], ['--destination-key', '--in', '--out', '--context', '--destination-context']],
      [['random'], ['--bytes', '--out', '--raw']],
    ];
    for (const [command, options] of cases) {
      const name = ['keywarden', ...command].join(' ');
      test(`${name} --help`, async () => {
        const help = text(await runCli([...command, '--help']));
        assert.ok(help.startsWith(`Usage: ${name} `), help);
        for (const option of options) assert.ok(help.includes(option), `help should mention ${option}:\n${help}`);
      });
    }
  });
});
