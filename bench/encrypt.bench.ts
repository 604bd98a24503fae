/**
 * `npm run bench` — Keywarden encrypt throughput, measured against a bare node:http + node:crypto
 * baseline started in the same run on the same machine. See docs/performance.md.
 *
 * Env knobs:
 *   BENCH_DURATION           seconds per measured run (default 10)
 *   BENCH_WARMUP             seconds of warm-up per target before measuring (default 3)
 *   BENCH_CONNECTIONS        concurrent connections for the single-encrypt runs (default 50)
 *   BENCH_ROUNDS             alternating rounds, baseline then Keywarden each round (default 2)
 *   BENCH_BATCH_CONNECTIONS  concurrent connections for the batch run (default 4)
 *   BENCH_BATCH_SIZE         items per batch request (default 1000)
 *   BENCH_CPU_PROF           directory: run Keywarden with --cpu-prof, profile written there on exit
 *   BENCH_JSON               file: also write the results as JSON
 *   BENCH_BASELINE_ONLY=1    measure only the baseline (to check the harness itself)
 *   BENCH_NO_AUDIT_RUN=0     skip the second Keywarden with the audit ledger off (`dev --no-audit`)
 *   BENCH_HSM=0              skip the HSM-protected key target (run by default when SoftHSM2 is installed)
 *
 * Exit code: 0 when the benchmark ran cleanly, whether or not the goals were met (machines are
 * noisy); 1 when something is broken (a server failed to start or died, a non-2xx response, a
 * connection error, a response body without a ciphertext).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assertClean,
  envNumber,
  fmtFixed,
  fmtInt,
  fmtMs,
  runLoad,
  sleep,
  startServer,
  table,
  type LoadResult,
  type ServerProcess,
} from './lib.js';
import { SOFTHSM_LIBRARY, createSoftHsmToken } from '../test/support/softhsm.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const GOAL_RATIO = 0.8;
const GOAL_BATCH_ITEMS_PER_SEC = 50_000;
/** Issue 4/10 §3: encrypt req/s with the audit ledger on, over the same with it off, same run. */
const GOAL_AUDIT_RATIO = 0.9;

const cfg = {
  duration: envNumber('BENCH_DURATION', 10),
  warmup: envNumber('BENCH_WARMUP', 3, 0),
  connections: envNumber('BENCH_CONNECTIONS', 50),
  rounds: envNumber('BENCH_ROUNDS', 2),
  batchConnections: envNumber('BENCH_BATCH_CONNECTIONS', 4),
  batchSize: envNumber('BENCH_BATCH_SIZE', 1000),
  cpuProfDir: process.env.BENCH_CPU_PROF,
  jsonOut: process.env.BENCH_JSON,
  baselineOnly: process.env.BENCH_BASELINE_ONLY === '1',
  auditOff: process.env.BENCH_NO_AUDIT_RUN !== '0',
  hsm: process.env.BENCH_HSM !== '0',
};

/** The same 32 random bytes are sent in every request to both servers. */
const PLAINTEXT_B64 = randomBytes(32).toString('base64');
const SINGLE_BODY = JSON.stringify({ plaintext: PLAINTEXT_B64 });

interface Target {
  name: 'baseline' | 'keywarden' | 'keywarden-noaudit' | 'keywarden-hsm';
  url: string; // full endpoint URL
  headers: Record<string, string>;
  pid: number | undefined; // server process, for its CPU time per request
}

// ---------------------------------------------------------------------------------------------

function log(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

/** verifyBody for single encrypt: a JSON object with a non-empty string `ciphertext`. */
function singleVerifier(): { verify: (body: string) => boolean; firstBad: () => string | undefined } {
  let bad: string | undefined;
  return {
    verify(body: string): boolean {
      try {
        const c = (JSON.parse(body) as { ciphertext?: unknown }).ciphertext;
        if (typeof c === 'string' && c.length > 0) return true;
      } catch {
        /* fall through */
      }
      bad ??= body.slice(0, 300);
      return false;
    },
    firstBad: () => bad,
  };
}

async function preflight(label: string, url: string, headers: Record<string, string>, body: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body });
  } catch (err) {
    throw new Error(`${label}: request to ${url} failed: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`${label}: POST ${url} -> ${res.status} (expected 200)\n  body: ${text.slice(0, 500)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${label}: POST ${url} -> 200 but the body is not JSON: ${text.slice(0, 300)}`);
  }
}

async function measureSingle(t: Target, seconds: number, label: string): Promise<LoadResult> {
  const v = singleVerifier();
  const r = await runLoad({
    label,
    url: t.url,
    headers: t.headers,
    body: SINGLE_BODY,
    connections: cfg.connections,
    durationSec: seconds,
    verifyBody: v.verify,
    serverPid: t.pid,
  });
  assertClean(r, v.firstBad());
  return r;
}

// ---------------------------------------------------------------------------------------------

async function startBaseline(): Promise<{ server: ServerProcess; target: Target }> {
  const server = await startServer({
    name: 'baseline',
    cwd: ROOT,
    args: [join(ROOT, 'bench', 'baseline-server.ts'), '--listen', '127.0.0.1:0', '--exit-with-parent'],
    stdinPipe: true,
  });
  return {
    server,
    target: {
      name: 'baseline',
      url: `${server.url}/encrypt`,
      headers: { 'content-type': 'application/json' },
      pid: server.child.pid,
    },
  };
}

async function startKeywarden(
  dataDir: string,
  audit = true,
): Promise<{ server: ServerProcess; target: Target; token: string; keyId: string }> {
  const token = randomBytes(24).toString('base64url');
  const nodeArgs: string[] = [];
  if (cfg.cpuProfDir !== undefined) {
    mkdirSync(resolve(cfg.cpuProfDir), { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(cfg.cpuProfDir)}`);
  }
  const server = await startServer({
    name: 'keywarden',
    cwd: ROOT,
    nodeArgs,
    args: [
      join(ROOT, 'src', 'cli', 'main.ts'),
      'dev',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--root-token',
      token,
      ...(audit ? [] : ['--no-audit']),
    ],
  });
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  const createUrl = `${server.url}/v1/keys`;
  const res = await fetch(createUrl, { method: 'POST', headers: auth, body: JSON.stringify({ alias: 'alias/bench' }) });
  const text = await res.text();
  if (res.status !== 201) {
    throw new Error(`keywarden: POST ${createUrl} -> ${res.status} (expected 201)\n  body: ${text.slice(0, 500)}`);
  }
  let keyId: unknown;
  try {
    keyId = (JSON.parse(text) as { key?: { id?: unknown } }).key?.id;
  } catch {
    /* reported below */
  }
  if (typeof keyId !== 'string') {
    throw new Error(`keywarden: POST ${createUrl} -> 201 but no key.id in body: ${text.slice(0, 300)}`);
  }
  return {
    server,
    token,
    keyId,
    target: { name: audit ? 'keywarden' : 'keywarden-noaudit', url: `${server.url}/v1/keys/alias/bench/encrypt`, headers: auth, pid: server.child.pid },
  };
}

/** SoftHSM2 (Debian package softhsm2, scripts/ensure-deps.sh): its module and softhsm2-util. */
function softHsmInstalled(): boolean {
  if (!existsSync(SOFTHSM_LIBRARY)) return false;
  try {
    execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function call(url: string, body: unknown, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`keywarden-hsm: POST ${url} -> ${res.status}\n  body: ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}

/**
 * `keywarden server --config` with an HSM (config `hsm`) on a fresh SoftHSM2 token, initialized
 * (Shamir, one share) and unsealed, with a `protection: hsm` key as alias/bench-hsm: every encrypt
 * runs AES-GCM inside the token. The PIN reaches the server through `hsm.pinEnv`.
 */
async function startHsmKeywarden(dataDir: string): Promise<{ server: ServerProcess; target: Target }> {
  const token = createSoftHsmToken(`kw-bench-${randomBytes(3).toString('hex')}`);
  process.on('exit', () => rmSync(dirname(token.conf), { recursive: true, force: true }));
  const configFile = join(dataDir, 'keywarden.yaml');
  writeFileSync(
    configFile,
    [
      'listen:',
      '  address: 127.0.0.1:0',
      '  tls: { disable: true }',
      'storage:',
      '  type: sqlite',
      '  path: keywarden.db',
      'seal:',
      '  type: shamir',
      'hsm:',
      `  library: ${token.library}`,
      `  tokenLabel: ${token.label}`,
      '  pinEnv: KEYWARDEN_BENCH_HSM_PIN',
      'log:',
      '  level: warn',
      '',
    ].join('\n'),
  );
  const server = await startServer({
    name: 'keywarden-hsm',
    cwd: ROOT,
    args: [join(ROOT, 'src', 'cli', 'main.ts'), 'server', '--config', configFile],
    env: { ...process.env, SOFTHSM2_CONF: token.conf, KEYWARDEN_BENCH_HSM_PIN: token.pin },
  });
  const init = (await call(`${server.url}/v1/sys/init`, { shares: 1, threshold: 1 })) as { shares: string[]; rootToken: string };
  await call(`${server.url}/v1/sys/unseal`, { share: init.shares[0] });
  const auth = { authorization: `Bearer ${init.rootToken}`, 'content-type': 'application/json' };
  const created = (await call(`${server.url}/v1/keys`, { alias: 'alias/bench-hsm', protection: 'hsm' }, auth)) as { key?: { protection?: string } };
  if (created.key?.protection !== 'hsm') throw new Error(`keywarden-hsm: the key was not created HSM-protected: ${JSON.stringify(created).slice(0, 300)}`);
  return { server, target: { name: 'keywarden-hsm', url: `${server.url}/v1/keys/alias/bench-hsm/encrypt`, headers: auth, pid: server.child.pid } };
}

// ---------------------------------------------------------------------------------------------

interface BatchResult {
  seconds: number;
  requests: number;
  items: number;
  itemsPerSec: number;
  p50: number;
  p99: number;
  serverCpuUsPerItem: number;
}

async function measureBatch(t: Target, seconds: number, label: string): Promise<BatchResult> {
  const n = cfg.batchSize;
  const items = Array.from({ length: n }, (_, i) => ({ plaintext: PLAINTEXT_B64, ref: String(i) }));
  const body = JSON.stringify({ items });
  let verifiedItems = 0;
  let bad: string | undefined;
  const verify = (text: string): boolean => {
    let reason: string | undefined;
    try {
      const got = (JSON.parse(text) as { items?: unknown }).items;
      if (!Array.isArray(got)) reason = 'no items array';
      else if (got.length !== n) reason = `expected ${n} items, got ${got.length}`;
      else {
        for (let i = 0; i < n; i++) {
          const it = got[i] as { ref?: unknown; ciphertext?: unknown } | null;
          if (typeof it?.ciphertext !== 'string' || it.ciphertext.length === 0) {
            reason = `item ${i} has no ciphertext: ${JSON.stringify(it).slice(0, 200)}`;
            break;
          }
          if (it.ref !== String(i)) {
            reason = `item ${i} has ref ${JSON.stringify(it.ref)}, expected "${i}"`;
            break;
          }
        }
      }
    } catch {
      reason = 'body is not JSON';
    }
    if (reason === undefined) {
      verifiedItems += n;
      return true;
    }
    bad ??= `${reason}; body starts: ${text.slice(0, 200)}`;
    return false;
  };
  const r = await runLoad({
    label,
    url: t.url,
    headers: t.headers,
    body,
    connections: cfg.batchConnections,
    durationSec: seconds,
    verifyBody: verify,
    timeoutSec: 30,
    serverPid: t.pid,
  });
  assertClean(r, bad);
  return {
    seconds: r.seconds,
    requests: r.ok,
    items: verifiedItems,
    itemsPerSec: verifiedItems / r.seconds,
    p50: r.p50,
    p99: r.p99,
    serverCpuUsPerItem: r.serverCpuUsPerReq / n,
  };
}

// ---------------------------------------------------------------------------------------------

function describe(r: LoadResult): string {
  return (
    `${fmtInt(r.reqPerSec).padStart(7)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  ` +
    `server ${fmtFixed(r.serverCpuUsPerReq)} µs CPU/req, ${fmtInt(r.serverCpuUtil * 100)}% busy  ` +
    `(${fmtInt(r.completed)} req in ${r.seconds}s)`
  );
}

function median(xs: number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

function best(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) => b.reqPerSec - a.reqPerSec);
  const top = sorted[0];
  if (top === undefined) throw new Error('no runs');
  return top;
}

async function main(): Promise<void> {
  const cpuInfo = cpus();
  const started = new Date();
  log(`Keywarden encrypt benchmark — ${started.toISOString()}`);
  log(
    `node ${process.version}, ${cpuInfo.length} CPU(s) (${cpuInfo[0]?.model.trim() ?? 'unknown'}), ` +
      `connections=${cfg.connections}, pipelining=1, duration=${cfg.duration}s, warm-up=${cfg.warmup}s, ` +
      `rounds=${cfg.rounds}, payload=32 bytes`,
  );

  const dataDir = mkdtempSync(join(tmpdir(), 'keywarden-bench-'));
  // Also removed when the bench is interrupted (SIGINT/SIGTERM end in process.exit via lib.ts).
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const servers: ServerProcess[] = [];
  try {
    // --- start both servers ------------------------------------------------------------------
    const baseline = await startBaseline();
    servers.push(baseline.server);
    log(`baseline  ready at ${baseline.server.url}`);
    await preflight('baseline', baseline.target.url, baseline.target.headers, SINGLE_BODY);

    const targets: Target[] = [baseline.target];
    let kw: Awaited<ReturnType<typeof startKeywarden>> | undefined;
    if (!cfg.baselineOnly) {
      kw = await startKeywarden(dataDir);
      servers.push(kw.server);
      log(`keywarden ready at ${kw.server.url} (key ${kw.keyId} as alias/bench, data dir ${dataDir})`);
      await preflight('keywarden', kw.target.url, kw.target.headers, SINGLE_BODY);
      targets.push(kw.target);
    }
    // The same Keywarden with the audit ledger off, measured in the same rounds (the audit cost).
    let noAudit: Awaited<ReturnType<typeof startKeywarden>> | undefined;
    if (!cfg.baselineOnly && cfg.auditOff) {
      const dir = join(dataDir, 'no-audit');
      mkdirSync(dir);
      noAudit = await startKeywarden(dir, false);
      servers.push(noAudit.server);
      log(`keywarden-noaudit ready at ${noAudit.server.url} (audit ledger off)`);
      await preflight('keywarden-noaudit', noAudit.target.url, noAudit.target.headers, SINGLE_BODY);
      targets.push(noAudit.target);
    }
    // A Keywarden whose key is HSM-protected (SoftHSM2), measured in the same rounds (informational).
    let hsm: Awaited<ReturnType<typeof startHsmKeywarden>> | undefined;
    if (!cfg.baselineOnly && cfg.hsm) {
      if (softHsmInstalled()) {
        const dir = join(dataDir, 'hsm');
        mkdirSync(dir);
        hsm = await startHsmKeywarden(dir);
        servers.push(hsm.server);
        log(`keywarden-hsm ready at ${hsm.server.url} (server --config, protection: hsm key on a SoftHSM2 token)`);
        await preflight('keywarden-hsm', hsm.target.url, hsm.target.headers, SINGLE_BODY);
        targets.push(hsm.target);
      } else {
        log('keywarden-hsm skipped: SoftHSM2 is not installed (scripts/ensure-deps.sh installs it)');
      }
    }
    const serverByTarget: Record<Target['name'], ServerProcess | undefined> = { baseline: baseline.server, keywarden: kw?.server, 'keywarden-noaudit': noAudit?.server, 'keywarden-hsm': hsm?.server };
    const serverOf = (t: Target): ServerProcess => serverByTarget[t.name]!;

    // --- warm-up --------------------------------------------------------------------------------
    if (cfg.warmup > 0) {
      for (const t of targets) {
        const r = await measureSingle(t, cfg.warmup, `${t.name} warm-up`);
        serverOf(t).assertAlive();
        log(`warm-up   ${t.name.padEnd(9)} ${describe(r)}`);
      }
    }

    // --- alternating measured rounds: A B A B ... -------------------------------------------------
    const runs: Record<Target['name'], LoadResult[]> = { baseline: [], keywarden: [], 'keywarden-noaudit': [], 'keywarden-hsm': [] };
    for (let round = 1; round <= cfg.rounds; round++) {
      for (const t of targets) {
        await sleep(500); // let the previous run's sockets close and GC settle
        const r = await measureSingle(t, cfg.duration, `${t.name} round ${round}`);
        serverOf(t).assertAlive();
        runs[t.name].push(r);
        log(`round ${round}   ${t.name.padEnd(9)} ${describe(r)}`);
      }
    }

    // --- batch ------------------------------------------------------------------------------------
    let batch: BatchResult | undefined;
    if (kw !== undefined) {
      const items = Array.from({ length: 2 }, (_, i) => ({ plaintext: PLAINTEXT_B64, ref: String(i) }));
      const probe = (await preflight('keywarden batch', kw.target.url, kw.target.headers, JSON.stringify({ items }))) as {
        items?: unknown;
      };
      if (!Array.isArray(probe.items) || probe.items.length !== 2) {
        throw new Error(`keywarden batch: unexpected response to a 2-item batch: ${JSON.stringify(probe).slice(0, 300)}`);
      }
      await sleep(500);
      if (cfg.warmup > 0) {
        const w = await measureBatch(kw.target, cfg.warmup, 'keywarden batch warm-up');
        log(`warm-up   batch     ${fmtInt(w.itemsPerSec).padStart(7)} items/s`);
      }
      await sleep(500);
      batch = await measureBatch(kw.target, cfg.duration, 'keywarden batch');
      kw.server.assertAlive();
      log(
        `batch     keywarden ${fmtInt(batch.itemsPerSec).padStart(7)} items/s  (${fmtInt(batch.requests)} requests x ` +
          `${cfg.batchSize} items in ${batch.seconds}s, ${cfg.batchConnections} connections, ` +
          `p50 ${fmtMs(batch.p50)} ms  p99 ${fmtMs(batch.p99)} ms per request, ` +
          `server ${fmtFixed(batch.serverCpuUsPerItem, 2)} µs CPU/item)`,
      );
    }

    // --- report -------------------------------------------------------------------------------------
    const b = best(runs.baseline);
    const k = runs.keywarden.length > 0 ? best(runs.keywarden) : undefined;
    const ratio = k !== undefined ? k.reqPerSec / b.reqPerSec : Number.NaN;
    const paired = runs.keywarden.map((kr, i) => kr.reqPerSec / (runs.baseline[i]?.reqPerSec ?? Number.NaN));
    const cpuRatio = median(
      runs.keywarden.map((kr, i) => (runs.baseline[i]?.serverCpuUsPerReq ?? Number.NaN) / kr.serverCpuUsPerReq),
    );

    log('');
    log(
      `Single encrypt, 32-byte plaintext, ${cfg.connections} connections, pipelining 1, ${cfg.duration}s per run — ` +
        `BEST of ${cfg.rounds} alternating rounds by req/s (latencies from that same run)`,
    );
    const rows = [
      ['baseline (node:http)', fmtInt(b.reqPerSec), fmtMs(b.p50), fmtMs(b.p99), '1.00', fmtFixed(b.serverCpuUsPerReq)],
    ];
    if (k !== undefined) {
      rows.push(['keywarden', fmtInt(k.reqPerSec), fmtMs(k.p50), fmtMs(k.p99), ratio.toFixed(2), fmtFixed(k.serverCpuUsPerReq)]);
    }
    const n = runs['keywarden-noaudit'].length > 0 ? best(runs['keywarden-noaudit']) : undefined;
    const auditRatio = k !== undefined && n !== undefined ? k.reqPerSec / n.reqPerSec : Number.NaN;
    const auditPaired = runs.keywarden.map((kr, i) => kr.reqPerSec / (runs['keywarden-noaudit'][i]?.reqPerSec ?? Number.NaN));
    if (n !== undefined) {
      rows.push(['keywarden, audit off', fmtInt(n.reqPerSec), fmtMs(n.p50), fmtMs(n.p99), (n.reqPerSec / b.reqPerSec).toFixed(2), fmtFixed(n.serverCpuUsPerReq)]);
    }
    const h = runs['keywarden-hsm'].length > 0 ? best(runs['keywarden-hsm']) : undefined;
    const hsmRatio = k !== undefined && h !== undefined ? h.reqPerSec / k.reqPerSec : Number.NaN;
    if (h !== undefined) {
      rows.push(['keywarden, HSM key (SoftHSM2)', fmtInt(h.reqPerSec), fmtMs(h.p50), fmtMs(h.p99), (h.reqPerSec / b.reqPerSec).toFixed(2), fmtFixed(h.serverCpuUsPerReq)]);
    }
    log(table(['target', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs baseline', 'server µs CPU/req'], rows));
    if (paired.length > 0) {
      log(`per-round req/s ratios (keywarden/baseline, adjacent runs): ${paired.map((x) => x.toFixed(2)).join(', ')}`);
    }
    if (n !== undefined) {
      log(`audit ledger on/off req/s: ${auditRatio.toFixed(2)} (best runs); per round: ${auditPaired.filter(Number.isFinite).map((x) => x.toFixed(2)).join(', ')}`);
    }
    if (h !== undefined) {
      const hsmPaired = runs['keywarden-hsm'].map((hr, i) => hr.reqPerSec / (runs.keywarden[i]?.reqPerSec ?? Number.NaN));
      log(
        `HSM-protected/software key encrypt req/s: ${hsmRatio.toFixed(2)} (best runs); per round: ${hsmPaired.filter(Number.isFinite).map((x) => x.toFixed(2)).join(', ')}; ` +
          `server CPU/req ${fmtFixed(h.serverCpuUsPerReq)} vs ${fmtFixed(k?.serverCpuUsPerReq ?? Number.NaN)} µs (SoftHSM2 runs inside the server process) — informational, no goal`,
      );
    }
    const unsaturated = [b, k, n].filter((r): r is LoadResult => r !== undefined && r.serverCpuUtil < 0.9);
    if (unsaturated.length > 0) {
      log(
        `NOTE: ${unsaturated.map((r) => `${r.label} was only ${fmtInt(r.serverCpuUtil * 100)}% busy`).join(', ')}: ` +
          `the machine was contended (or the client was the bottleneck), so req/s understates that server; ` +
          `trust the CPU-efficiency ratio more, or re-run when the machine is quieter`,
      );
    }
    if (k !== undefined && Number.isFinite(cpuRatio)) {
      log(
        `CPU-efficiency ratio (baseline µs/req ÷ keywarden µs/req, median over rounds): ${cpuRatio.toFixed(2)} ` +
          `— less sensitive to noisy neighbours than req/s; informational, not a goal`,
      );
    }

    log('');
    const goalRows: string[][] = [];
    if (k !== undefined) {
      goalRows.push([
        'keywarden/baseline req/s',
        `>= ${GOAL_RATIO.toFixed(2)}`,
        ratio.toFixed(2),
        ratio >= GOAL_RATIO ? 'PASS' : 'BELOW',
      ]);
    }
    if (n !== undefined) {
      goalRows.push(['audit on/off req/s', `>= ${GOAL_AUDIT_RATIO.toFixed(2)}`, auditRatio.toFixed(2), auditRatio >= GOAL_AUDIT_RATIO ? 'PASS' : 'BELOW']);
    }
    if (batch !== undefined) {
      goalRows.push([
        `batch encrypt (${cfg.batchSize} items/request) items/s`,
        `>= ${fmtInt(GOAL_BATCH_ITEMS_PER_SEC)}`,
        fmtInt(batch.itemsPerSec),
        batch.itemsPerSec >= GOAL_BATCH_ITEMS_PER_SEC ? 'PASS' : 'BELOW',
      ]);
    }
    if (goalRows.length > 0) {
      log(table(['goal', 'target', 'measured', 'result'], goalRows));
      log('(goals are reported, never enforced: a BELOW does not fail the run)');
    } else {
      log('BENCH_BASELINE_ONLY=1: Keywarden not measured, no goals evaluated.');
    }

    if (cfg.jsonOut !== undefined) {
      const out = {
        date: started.toISOString(),
        node: process.version,
        cpus: cpuInfo.length,
        cpuModel: cpuInfo[0]?.model.trim(),
        config: { ...cfg, jsonOut: undefined },
        runs,
        best: { baseline: b, keywarden: k, keywardenNoAudit: n, keywardenHsm: h },
        hsmRatio,
        ratio,
        pairedRatios: paired,
        auditRatio,
        auditPairedRatios: auditPaired,
        cpuEfficiencyRatio: cpuRatio,
        batch,
        goals: { ratio: GOAL_RATIO, batchItemsPerSec: GOAL_BATCH_ITEMS_PER_SEC, auditRatio: GOAL_AUDIT_RATIO },
      };
      writeFileSync(resolve(cfg.jsonOut), `${JSON.stringify(out, null, 2)}\n`);
      log(`results written to ${resolve(cfg.jsonOut)}`);
    }
  } finally {
    // Stop servers gracefully so --cpu-prof can be written; SIGKILL after the grace period.
    await Promise.all(servers.map((s) => s.stop(cfg.cpuProfDir !== undefined ? 30_000 : 5_000)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`\nBENCH FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
