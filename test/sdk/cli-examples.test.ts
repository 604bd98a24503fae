/**
 * End to end against a real `keywarden dev` process: the `keywarden envelope` CLI round trip, each
 * SDK example under examples/ (run as written, importing 'keywarden/sdk' through the package's
 * exports with the keywarden-source condition), and the built package resolved as 'keywarden/sdk'
 * by a consumer outside the repository.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, apiOk, fails, ok, runCli, startDevServer, type DevServer } from '../e2e/helpers.js';

let srv: DevServer;
let work: string;
before(async () => {
  srv = await startDevServer();
  work = mkdtempSync(join(tmpdir(), 'kw-sdk-e2e-'));
  await apiOk(srv.address, srv.rootToken, 'POST', '/v1/keys', { alias: 'alias/env' });
  await apiOk(srv.address, srv.rootToken, 'POST', '/v1/keys', { alias: 'alias/env2' });
});
after(async () => {
  await srv.stop();
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({ KEYWARDEN_ADDR: srv.address, KEYWARDEN_TOKEN: srv.rootToken });

function run(args: string[], cwd = REPO_ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env() } });
  let stdout = '';
  let stderr = '';
  p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => p.once('close', (code) => resolve({ code, stdout, stderr })));
}
const example = (name: string, ...args: string[]) => run(['--conditions=keywarden-source', '--import', 'tsx', join('examples', name), ...args]);

describe('keywarden envelope', () => {
  test('encrypt | decrypt round trip through stdin/stdout and files, two wrapping keys, context checked', async () => {
    const data = Buffer.concat([Buffer.from('line one\n'), Buffer.alloc(200_000, 0xab)]);
    const enc = ok(await runCli(['envelope', 'encrypt', '--key', 'alias/env', '--key', 'alias/env2', '--context', 'app=cli', '--frame-length', '4096'], { env: env(), input: data }));
    assert.ok(enc.length > data.length && !enc.includes(Buffer.from('line one')));
    assert.deepEqual(ok(await runCli(['envelope', 'decrypt', '--context', 'app=cli'], { env: env(), input: enc })), data);

    const msgFile = join(work, 'm.kwe');
    const outFile = join(work, 'm.out');
    writeFileSync(join(work, 'in'), data);
    ok(await runCli(['envelope', 'encrypt', '--key', 'alias/env', '--in', join(work, 'in'), '--out', msgFile], { env: env() }));
    ok(await runCli(['envelope', 'decrypt', '--in', msgFile, '--out', outFile], { env: env() }));
    assert.deepEqual(readFileSync(outFile), data);

    const j = JSON.parse(ok(await runCli(['--format', 'json', 'envelope', 'decrypt'], { env: env(), input: enc })).toString());
    assert.deepEqual(j.context, { app: 'cli' });
    assert.equal(Buffer.from(j.plaintext, 'base64').length, data.length);
    assert.match(j.keyId, /^[0-9a-f-]{36}$/);
  });

  test('a wrong context or a truncated message fails with one line; --out is not left behind', async () => {
    const enc = ok(await runCli(['envelope', 'encrypt', '--key', 'alias/env', '--context', 'app=cli'], { env: env(), input: 'secret' }));
    fails(await runCli(['envelope', 'decrypt', '--context', 'app=other'], { env: env(), input: enc }), 1, /^error: The message is invalid/);
    const out = join(work, 'truncated.out');
    fails(await runCli(['envelope', 'decrypt', '--out', out], { env: env(), input: enc.subarray(0, enc.length - 3) }), 1, /^error: The message is invalid/);
    assert.equal(existsSync(out), false);
    fails(await runCli(['envelope', 'encrypt', '--key', 'alias/none'], { env: env(), input: 'x' }), 1, /^error: .*(request id|NotFound|not found)/i);
  });
});

describe('examples', () => {
  test('sdk-encrypt-file.ts', async () => {
    const file = join(work, 'report.bin');
    writeFileSync(file, Buffer.alloc(300_000, 0x5a));
    const r = await example('sdk-encrypt-file.ts', 'alias/env', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /encrypted 300000 bytes into \d+ bytes, decrypted 300000 bytes/);
    assert.deepEqual(readFileSync(`${file}.out`), readFileSync(file));
  });

  test('sdk-database-column.ts', async () => {
    const r = await example('sdk-database-column.ts', 'alias/env');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /user42: user42@example\.com/);
    assert.match(r.stdout, /stored bytes contain the address: false/);
    assert.match(r.stdout, /100 rows written, 1 read: 3 server calls, cache hits 99, misses 2/);
  });

  test('sdk-rewrap-data-keys.ts', async () => {
    await apiOk(srv.address, srv.rootToken, 'POST', '/v1/keys', { alias: 'alias/archive' });
    const r = await example('sdk-rewrap-data-keys.ts', 'alias/archive');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /before: data keys wrapped by version 1\nrotated: primary version 2\nafter: data keys wrapped by version 2\na: record a\nb: record b\nc: record c/);
  });
});

describe('the package', () => {
  test("a consumer imports 'keywarden/sdk' from the built package (exports: types and import)", async () => {
    const consumer = join(work, 'consumer');
    const pkg = join(consumer, 'node_modules', 'keywarden');
    mkdirSync(pkg, { recursive: true });
    cpSync(join(REPO_ROOT, 'package.json'), join(pkg, 'package.json'));
    // The SDK part of `npm run build` (tsconfig.build.json with --declaration), into the consumer's copy.
    const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '--declaration', '--outDir', join(pkg, 'dist'), '--rootDir', 'src', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--types', 'node', 'src/sdk/index.ts'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    const exp = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).exports['./sdk'];
    assert.ok(existsSync(join(pkg, exp.types)), 'the types entry exists');
    assert.ok(existsSync(join(pkg, exp.import)), 'the import entry exists');
    writeFileSync(join(consumer, 'app.mjs'), `
      import { Keywarden } from 'keywarden/sdk';
      const kw = new Keywarden({ address: process.env.KEYWARDEN_ADDR, token: process.env.KEYWARDEN_TOKEN });
      const m = await kw.envelope.encrypt(Buffer.from('from a consumer'), { key: 'alias/env', context: { c: '1' } });
      const d = await kw.envelope.decrypt(m);
      console.log(d.plaintext.toString(), JSON.stringify(d.context));
    `);
    const r = await run(['app.mjs'], consumer);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'from a consumer {"c":"1"}');
  });
});
