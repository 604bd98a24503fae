/**
 * `npm run bench` (cluster target, issue 10): encrypt throughput of TWO Keywarden nodes on one
 * PostgreSQL (the load spread evenly over both) beside ONE node on SQLite, measured in the same
 * run on the same machine, in alternating rounds; prints the ratio. One node on PostgreSQL is
 * measured too, so the table also shows what the second node adds. See docs/ha.md.
 *
 * PostgreSQL is the test fixture (test/support/postgres.ts): a throwaway server on this machine
 * with fsync off; SQLite runs with synchronous=FULL. Encrypt writes nothing but its audit event
 * (one group commit per batch on either backend), so the comparison is dominated by the HTTP and
 * crypto path and the audit commit, not by fsync. Every node runs on this one machine: two nodes
 * share its CPUs with PostgreSQL and the load generator, so the ratio says what a second process
 * buys here, not what a second machine would.
 *
 * Env knobs: BENCH_CLUSTER=0 skips it; BENCH_DURATION (s, default 10), BENCH_WARMUP (s, default 3),
 * BENCH_CONNECTIONS (total, default 50), BENCH_ROUNDS (default 2), BENCH_JSON (file: results).
 * Exit code 1 only when something is broken (a server died, a non-2xx answer).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertClean, envNumber, fmtFixed, fmtInt, fmtMs, runLoad, sleep, startServer, table, type LoadResult, type ServerProcess } from './lib.js';
import { freshDatabase, pgCluster } from '../test/support/postgres.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');

const cfg = {
  duration: envNumber('BENCH_DURATION', 10),
  warmup: envNumber('BENCH_WARMUP', 3, 0),
  connections: envNumber('BENCH_CONNECTIONS', 50, 2),
  rounds: envNumber('BENCH_ROUNDS', 2),
  jsonOut: process.env.BENCH_JSON,
};

const BODY = JSON.stringify({ plaintext: randomBytes(32).toString('base64') });

interface Node {
  server: ServerProcess;
  url: string; // encrypt endpoint
  headers: Record<string, string>;
}

/** A target is one or more nodes; its load is split evenly over them, and their req/s added up. */
interface Target {
  name: 'sqlite-1-node' | 'postgres-1-node' | 'postgres-2-nodes';
  nodes: Node[];
}

interface Run {
  reqPerSec: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  parts: LoadResult[];
}

const log = (m: string) => process.stdout.write(`${m}\n`);

async function post(url: string, headers: Record<string, string>, body: unknown, expect = 200): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  if (r.status !== expect) throw new Error(`POST ${url} -> ${r.status} (expected ${expect}): ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

async function sqliteNode(dir: string): Promise<Node> {
  const token = randomBytes(24).toString('base64url');
  const server = await startServer({ name: 'sqlite', cwd: ROOT, args: [CLI, 'dev', '--listen', '127.0.0.1:0', '--data-dir', dir, '--root-token', token, '--log-level', 'warn'] });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  await post(`${server.url}/v1/keys`, headers, { alias: 'alias/bench' }, 201);
  return { server, url: `${server.url}/v1/keys/alias/bench/encrypt`, headers };
}

/** Two `server --config` nodes on one fresh PostgreSQL database: init on the first, both unsealed. */
async function postgresNodes(dir: string): Promise<Node[]> {
  const url = await freshDatabase();
  const servers: ServerProcess[] = [];
  for (const name of ['pg-a', 'pg-b']) {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `listen: { address: 127.0.0.1:0, tls: { disable: true } }\nstorage: { type: postgres, url: "${url}", pool: { max: 10 } }\nseal: { type: shamir }\nlog: { level: warn }\n`);
    servers.push(await startServer({ name, cwd: ROOT, args: [CLI, 'server', '--config', file] }));
  }
  const init = await post(`${servers[0]!.url}/v1/sys/init`, {}, { shares: 1, threshold: 1 });
  for (const s of servers) await post(`${s.url}/v1/sys/unseal`, {}, { share: init.shares[0] });
  const headers = { authorization: `Bearer ${init.rootToken}`, 'content-type': 'application/json' };
  await post(`${servers[0]!.url}/v1/keys`, headers, { alias: 'alias/bench' }, 201);
  return servers.map((server) => ({ server, url: `${server.url}/v1/keys/alias/bench/encrypt`, headers }));
}

async function measure(t: Target, seconds: number, label: string): Promise<Run> {
  const per = Math.max(1, Math.floor(cfg.connections / t.nodes.length));
  const parts = await Promise.all(
    t.nodes.map((n, i) =>
      runLoad({ label: `${label} node ${i + 1}`, url: n.url, headers: n.headers, body: BODY, connections: per, durationSec: seconds, serverPid: n.server.child.pid }),
    ),
  );
  for (const p of parts) assertClean(p);
  for (const n of t.nodes) n.server.assertAlive();
  const total = parts.reduce((s, p) => s + p.completed, 0);
  return {
    reqPerSec: parts.reduce((s, p) => s + p.reqPerSec, 0),
    // Request-weighted latencies across the nodes (each node's exact percentile, weighted).
    p50: parts.reduce((s, p) => s + p.p50 * p.completed, 0) / total,
    p99: Math.max(...parts.map((p) => p.p99)),
    cpuUsPerReq: parts.reduce((s, p) => s + p.serverCpuUsPerReq * p.completed, 0) / total,
    parts,
  };
}

const describe = (r: Run) => `${fmtInt(r.reqPerSec).padStart(7)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  ${fmtFixed(r.cpuUsPerReq)} µs CPU/req`;
const best = (runs: Run[]) => [...runs].sort((a, b) => b.reqPerSec - a.reqPerSec)[0]!;

async function main(): Promise<void> {
  if (process.env.BENCH_CLUSTER === '0') {
    log('cluster benchmark skipped (BENCH_CLUSTER=0)');
    return;
  }
  log(`Keywarden cluster benchmark — ${new Date().toISOString()}`);
  log(`node ${process.version}, ${cpus().length} CPU(s), connections=${cfg.connections} (split over a target's nodes), duration=${cfg.duration}s, warm-up=${cfg.warmup}s, rounds=${cfg.rounds}`);
  const dir = mkdtempSync(join(tmpdir(), 'keywarden-cluster-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const servers: ServerProcess[] = [];
  try {
    const pg = await pgCluster();
    log(`PostgreSQL fixture on port ${pg.port} (fsync off) started in ${pg.startupMs} ms`);
    const sqlite = await sqliteNode(join(dir, 'sqlite'));
    const pgNodes = await postgresNodes(dir);
    servers.push(sqlite.server, ...pgNodes.map((n) => n.server));
    const targets: Target[] = [
      { name: 'sqlite-1-node', nodes: [sqlite] },
      { name: 'postgres-1-node', nodes: [pgNodes[0]!] },
      { name: 'postgres-2-nodes', nodes: pgNodes },
    ];
    if (cfg.warmup > 0) for (const t of targets) log(`warm-up   ${t.name.padEnd(16)} ${describe(await measure(t, cfg.warmup, `${t.name} warm-up`))}`);
    const runs: Record<Target['name'], Run[]> = { 'sqlite-1-node': [], 'postgres-1-node': [], 'postgres-2-nodes': [] };
    for (let round = 1; round <= cfg.rounds; round++) {
      for (const t of targets) {
        await sleep(500);
        const r = await measure(t, cfg.duration, `${t.name} round ${round}`);
        runs[t.name].push(r);
        log(`round ${round}   ${t.name.padEnd(16)} ${describe(r)}`);
      }
    }
    const s = best(runs['sqlite-1-node']);
    const p1 = best(runs['postgres-1-node']);
    const p2 = best(runs['postgres-2-nodes']);
    log('');
    log(`Single encrypt, 32-byte plaintext — BEST of ${cfg.rounds} alternating rounds by req/s`);
    log(
      table(
        ['target', 'req/s', 'p50 ms', 'p99 ms', 'vs 1 node SQLite', 'µs CPU/req'],
        [
          ['1 node, SQLite', s, 1],
          ['1 node, PostgreSQL', p1, p1.reqPerSec / s.reqPerSec],
          ['2 nodes, PostgreSQL', p2, p2.reqPerSec / s.reqPerSec],
        ].map(([name, r, ratio]) => [name as string, fmtInt((r as Run).reqPerSec), fmtMs((r as Run).p50), fmtMs((r as Run).p99), fmtFixed(ratio as number, 2), fmtFixed((r as Run).cpuUsPerReq)]),
      ),
    );
    log(`ratio 2 nodes on PostgreSQL / 1 node on SQLite: ${fmtFixed(p2.reqPerSec / s.reqPerSec, 2)} (the second PostgreSQL node: x${fmtFixed(p2.reqPerSec / p1.reqPerSec, 2)})`);
    if (cfg.jsonOut) {
      const strip = (rs: Run[]) => rs.map(({ parts: _parts, ...r }) => r);
      writeFileSync(cfg.jsonOut, JSON.stringify({ config: cfg, runs: { sqlite1: strip(runs['sqlite-1-node']), postgres1: strip(runs['postgres-1-node']), postgres2: strip(runs['postgres-2-nodes']) }, ratio: p2.reqPerSec / s.reqPerSec }, null, 2));
    }
  } finally {
    await Promise.all(servers.map((x) => x.stop()));
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`cluster bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
