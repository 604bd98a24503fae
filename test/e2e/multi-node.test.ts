/**
 * Issue 10 acceptance "multi-node": two real `keywarden server --config` processes on ONE
 * PostgreSQL (test/support/postgres.ts), shamir seal initialized once and unsealed on each node
 * with the same shares. Concurrent rotations of one key on both nodes; a disable on A refused on B
 * within a second; PostgreSQL restarted mid-load (clean 5xx JSON errors, no hang, no crash, then
 * recovery); the leader SIGKILLed (the other node takes the lock and runs a job); and every
 * ciphertext answered OK during the test decrypts at the end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startKeywarden, text, type ServerProc } from './helpers.js';
import { freshDatabase, pgCluster } from '../support/postgres.js';

/** No request may take longer than this, PostgreSQL down or not (the pool waits at most 10 s for a connection). */
const REQUEST_TIMEOUT_MS = 15_000;

interface Res {
  status: number;
  json: any;
  ms: number;
}

async function call(base: string, token: string | null, method: string, path: string, body?: unknown): Promise<Res> {
  const t0 = performance.now();
  const r = await fetch(base + path, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined, ms: performance.now() - t0 };
}

async function until<T>(ms: number, what: string, f: () => Promise<T | undefined | false>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined && v !== false) return { value: v, ms: performance.now() - t0 };
    if (performance.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let dir: string;
let nodes: ServerProc[] = [];
let token: string;
/** Each node's log (stderr), shown when an assertion about crashes fails. */
const logs: Record<string, string> = { a: '', b: '' };
/** Every ciphertext a node answered 200 for, with its plaintext: all must decrypt at the end. */
const issued: Array<{ ciphertext: string; plaintext: string }> = [];

const plaintext = (i: number) => Buffer.from(`multi-node #${i}`).toString('base64');

async function encrypt(base: string, key: string, i: number): Promise<Res> {
  const r = await call(base, token, 'POST', `/v1/keys/${key}/encrypt`, { plaintext: plaintext(i) });
  if (r.status === 200) issued.push({ ciphertext: r.json.ciphertext, plaintext: plaintext(i) });
  return r;
}

const role = async (n: ServerProc) => (await call(n.address, null, 'GET', '/v1/sys/health')).json?.cluster?.role as string | undefined;

before(async () => {
  const url = await freshDatabase();
  dir = await mkdtemp(join(tmpdir(), 'kw-multi-node-'));
  for (const name of ['a', 'b']) {
    const file = join(dir, `${name}.yaml`);
    await writeFile(
      file,
      [
        'listen:',
        '  address: 127.0.0.1:0',
        '  tls: { disable: true }',
        'storage:',
        '  type: postgres',
        `  url: ${url}`,
        '  pool: { max: 5 }',
        'seal: { type: shamir }',
        'cluster: { pollMs: 500 }',
        'log: { level: warn }',
        '',
      ].join('\n'),
    );
    const n = await startKeywarden(['server', '--config', file]);
    n.proc.stderr!.on('data', (c: string) => (logs[name] += c));
    n.proc.once('exit', (code, signal) => (logs[name] += `\n[exited: ${signal ?? code}]\n`));
    nodes.push(n);
  }
  const [a, b] = nodes as [ServerProc, ServerProc];
  const init = await call(a.address, null, 'POST', '/v1/sys/init', { shares: 3, threshold: 2 });
  assert.equal(init.status, 200, JSON.stringify(init.json));
  token = init.json.rootToken;
  // The seal state is per node: each node is unsealed with the shares.
  for (const n of [a, b]) {
    for (const share of init.json.shares.slice(0, 2)) assert.equal((await call(n.address, null, 'POST', '/v1/sys/unseal', { share })).status, 200);
    assert.equal((await call(n.address, null, 'GET', '/v1/sys/health')).status, 200);
  }
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await rm(dir, { recursive: true, force: true });
});

test('exactly one node leads; both serve', async () => {
  const { value: roles } = await until(10_000, 'one leader', async () => {
    const r = await Promise.all(nodes.map(role));
    return r.filter((x) => x === 'leader').length === 1 && r.filter((x) => x === 'follower').length === 1 ? r : undefined;
  });
  assert.deepEqual([...roles].sort(), ['follower', 'leader']);
  const key = (await call(nodes[0]!.address, token, 'POST', '/v1/keys', { description: 'both serve' })).json.key.id as string;
  for (const n of nodes) assert.equal((await encrypt(n.address, key, 0)).status, 200);
});

test('concurrent rotations of one key on both nodes: one new primary per rotation, versions 1..n without gaps', async (t) => {
  const [a, b] = nodes as [ServerProc, ServerProc];
  const key = (await call(a.address, token, 'POST', '/v1/keys', { description: 'rotations' })).json.key.id as string;
  const primaries: number[] = [];
  let refused = 0;
  for (let round = 0; round < 8; round++) {
    const rs = await Promise.all([a, b].map((n) => call(n.address, token, 'POST', `/v1/keys/${key}/rotate`)));
    for (const r of rs) {
      if (r.status === 200) primaries.push(r.json.key.primaryVersion);
      // The loser of a race is refused cleanly (the version it computed already exists).
      else {
        refused++;
        assert.equal(r.json.error.code, 'InvalidState', JSON.stringify(r.json));
      }
    }
    await encrypt(round % 2 ? a.address : b.address, key, round);
  }
  t.diagnostic(`16 rotation calls in 8 concurrent pairs: ${primaries.length} rotated, ${refused} refused as the loser of a race`);
  assert.equal(new Set(primaries).size, primaries.length, `each successful rotation made its own primary: ${primaries}`);
  for (const n of [a, b]) {
    const versions = (await call(n.address, token, 'GET', `/v1/keys/${key}/versions`)).json.versions as Array<{ version: number }>;
    assert.deepEqual(versions.map((v) => v.version).sort((x, y) => x - y), Array.from({ length: primaries.length + 1 }, (_, i) => i + 1));
    const k = (await call(n.address, token, 'GET', `/v1/keys/${key}`)).json.key;
    assert.equal(k.primaryVersion, primaries.length + 1, 'both nodes agree on the primary');
  }
});

test('a key disabled on A is refused on B within one second', async (t) => {
  const [a, b] = nodes as [ServerProc, ServerProc];
  const key = (await call(a.address, token, 'POST', '/v1/keys', { description: 'disable' })).json.key.id as string;
  for (let i = 0; i < 3; i++) assert.equal((await encrypt(b.address, key, i)).status, 200, 'B has the key cached');
  assert.equal((await call(a.address, token, 'POST', `/v1/keys/${key}/disable`)).status, 200);
  const { value: r, ms } = await until(1_000, 'B refuses', async () => {
    const r = await encrypt(b.address, key, 99);
    return r.status === 200 ? undefined : r;
  });
  t.diagnostic(`refused on B ${Math.round(ms)} ms after the disable on A answered`);
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'Disabled');
  assert.ok(ms <= 1_000);
  assert.equal((await call(a.address, token, 'POST', `/v1/keys/${key}/enable`)).status, 200, 'enabled again for the final decrypt check');
});

test('PostgreSQL restarted under load: clean 5xx JSON errors, no hang, no crash; then both nodes recover', async (t) => {
  const key = (await call(nodes[0]!.address, token, 'POST', '/v1/keys', { description: 'restart' })).json.key.id as string;
  const results: Res[] = [];
  let stop = false;
  let i = 1000;
  const worker = async (n: ServerProc) => {
    while (!stop) {
      results.push(await encrypt(n.address, key, i++).catch((e: Error) => ({ status: 0, json: { transport: e.message, logs }, ms: 0 })));
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const load = Promise.all(nodes.flatMap((n) => [worker(n), worker(n)]));
  await new Promise((r) => setTimeout(r, 300));
  const pg = await pgCluster();
  await pg.restart(1_500);
  const recovered = await Promise.all(
    nodes.map(async (n) => {
      let last: unknown;
      try {
        return await until(20_000, `${n.address} serves again`, async () => {
          const r = await encrypt(n.address, key, i++);
          last = r.json;
          return r.status === 200;
        });
      } catch (e) {
        throw new Error(`${(e as Error).message}; last answer ${JSON.stringify(last)}\n${logs.a}\n${logs.b}`);
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await load;

  const failed = results.filter((r) => r.status !== 200);
  t.diagnostic(`${results.length} requests under load, ${failed.length} failed while PostgreSQL was down; recovered after ${recovered.map((r) => Math.round(r.ms))} ms`);
  assert.ok(failed.length > 0, 'some requests met PostgreSQL down');
  for (const r of failed) {
    assert.ok(r.status >= 500 && r.status < 600, `a failure is a 5xx: ${r.status} ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json?.error?.code, 'string', 'with a JSON error');
    assert.doesNotMatch(JSON.stringify(r.json), /postgres:\/\//, 'no connection URL in an error');
  }
  assert.ok(Math.max(...results.map((r) => r.ms)) < REQUEST_TIMEOUT_MS, 'no request hung');
  for (const n of nodes) assert.equal(n.proc.exitCode, null, `no node crashed:\n${logs.a}\n${logs.b}`);
  for (const n of nodes) {
    const ready = await until(10_000, 'ready again', async () => (await call(n.address, null, 'GET', '/v1/sys/health/ready')).status === 200);
    assert.ok(ready);
  }
});

test('the leader killed (SIGKILL): the other node takes the lock within seconds and runs a job', async (t) => {
  const { value: leaderIdx } = await until(10_000, 'a leader', async () => {
    const r = await Promise.all(nodes.map(role));
    const i = r.indexOf('leader');
    return i >= 0 && r.filter((x) => x === 'leader').length === 1 ? i + 1 : undefined;
  });
  const leader = nodes[leaderIdx - 1]!;
  const survivor = nodes[2 - leaderIdx]!;
  const killedAt = Date.now();
  leader.proc.kill('SIGKILL');
  await new Promise((r) => leader.proc.once('exit', r));
  const { ms } = await until(10_000, 'the survivor leads', async () => (await role(survivor)) === 'leader');
  t.diagnostic(`failover: the survivor reported leader ${Math.round(ms)} ms after the kill`);
  const { value: job, ms: jobMs } = await until(25_000, 'the survivor runs a job', async () => {
    const jobs = (await call(survivor.address, token, 'GET', '/v1/sys/jobs')).json.jobs as Array<{ name: string; lastRunAt: string | null; lastStatus: string | null }>;
    return jobs.find((j) => j.lastRunAt !== null && Date.parse(j.lastRunAt) > killedAt && j.lastStatus === 'ok');
  });
  t.diagnostic(`job ${job.name} ran on the new leader ${Math.round(jobMs)} ms after it took over`);
  nodes = [survivor];
});

test('no ciphertext lost: every ciphertext answered OK during the test decrypts', async () => {
  const n = nodes[0]!;
  assert.ok(issued.length > 20, `${issued.length} ciphertexts`);
  const batch = 50;
  for (let i = 0; i < issued.length; i += batch) {
    const rs = await Promise.all(issued.slice(i, i + batch).map((c) => call(n.address, token, 'POST', '/v1/decrypt', { ciphertext: c.ciphertext })));
    rs.forEach((r, j) => {
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.plaintext, issued[i + j]!.plaintext);
    });
  }
});

test('the audit ledger is one append-only log: the events and checkpoints of both nodes verify as one tree', async () => {
  const n = nodes[0]!;
  const env = { KEYWARDEN_ADDR: n.address, KEYWARDEN_TOKEN: token };
  const out = text(await runCli(['--format', 'json', 'audit', 'verify'], { env }));
  const report = JSON.parse(out) as { ok: boolean; size: number; checkpoints: number };
  assert.equal(report.ok, true, out);
  // Events of both nodes (each encrypt above is one event) are in the one tree.
  assert.ok(report.size > issued.length, out);
});
