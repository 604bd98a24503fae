/**
 * `npm run bench` (second part) — Encrypt through the official AWS SDK (@aws-sdk/client-kms, SigV4,
 * the AWS KMS JSON 1.1 API) beside the native REST encrypt, on the SAME Keywarden dev server, in
 * alternating rounds at the same concurrency. Informational: there is no goal for the ratio.
 * See docs/performance.md ("AWS API").
 *
 * The native side is driven by autocannon (bench/lib.ts runLoad, as bench/encrypt.bench.ts does);
 * the AWS side by `concurrency` async workers each awaiting KMSClient.send(EncryptCommand) in a
 * loop, over a keep-alive agent with as many sockets. Both load generators run in this process,
 * so the SDK's own CPU (signing every request, building and parsing JSON) competes with the
 * server for the machine: req/s reflects client + server, and the server CPU per request
 * (read from /proc for the server pid) isolates what the AWS API costs Keywarden itself.
 *
 * A third, diagnostic target takes the SDK client out of the picture: one Encrypt request signed
 * by the SDK (fresh before each run; SigV4 signatures stay valid for 5 minutes and carry no nonce)
 * replayed by autocannon exactly like the native one — the AWS API's server-side throughput.
 *
 * Env knobs (shared with bench/encrypt.bench.ts):
 *   BENCH_DURATION     seconds per measured run (default 10)
 *   BENCH_WARMUP       seconds of warm-up per target before measuring (default 3; 0 = none)
 *   BENCH_CONNECTIONS  concurrency for both targets (default 50)
 *   BENCH_ROUNDS       alternating rounds, native then AWS each round (default 2)
 *   BENCH_AWS=0        skip this benchmark
 *   BENCH_AWS_JSON     file: also write the results as JSON
 *
 * Exit code: 0 when the benchmark ran cleanly; 1 when something is broken (the server failed to
 * start or died, a non-2xx response, an SDK error, a response without a ciphertext).
 */
import { Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  assertClean,
  envNumber,
  fmtFixed,
  fmtInt,
  fmtMs,
  percentile,
  processCpuMs,
  runLoad,
  sleep,
  startServer,
  table,
  type LoadResult,
  type ServerProcess,
} from './lib.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const cfg = {
  duration: envNumber('BENCH_DURATION', 10),
  warmup: envNumber('BENCH_WARMUP', 3, 0),
  connections: envNumber('BENCH_CONNECTIONS', 50),
  rounds: envNumber('BENCH_ROUNDS', 2),
  jsonOut: process.env.BENCH_AWS_JSON,
};

/** The same 32 random bytes are encrypted through both APIs. */
const PLAINTEXT = randomBytes(32);
const NATIVE_BODY = JSON.stringify({ plaintext: PLAINTEXT.toString('base64') });
const KEY_ALIAS = 'alias/bench';

/** A measured run plus the CPU this process (the load generator: autocannon or the AWS SDK) spent per request. */
type Run = LoadResult & { clientCpuUsPerReq: number };

function log(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

function clientCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function post(url: string, headers: Record<string, string>, body: unknown, expect: number): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`keywarden: POST ${url} -> ${res.status} (expected ${expect})\n  body: ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}

/** A Keywarden dev server with alias/bench and an access key for root (the AWS side signs with it). */
async function startKeywarden(dataDir: string) {
  const token = randomBytes(24).toString('base64url');
  const server = await startServer({
    name: 'keywarden',
    cwd: ROOT,
    args: [join(ROOT, 'src', 'cli', 'main.ts'), 'dev', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--root-token', token],
  });
  const auth = { authorization: `Bearer ${token}` };
  const created = (await post(`${server.url}/v1/keys`, auth, { alias: KEY_ALIAS }, 201)) as { key?: { id?: string } };
  if (typeof created.key?.id !== 'string') throw new Error(`keywarden: no key.id in ${JSON.stringify(created).slice(0, 300)}`);
  const ak = (await post(`${server.url}/v1/access-keys`, auth, { principal: 'root' }, 201)) as { accessKeyId?: string; secretAccessKey?: string };
  if (typeof ak.accessKeyId !== 'string' || typeof ak.secretAccessKey !== 'string') throw new Error('keywarden: POST /v1/access-keys returned no access key');
  return { server, keyId: created.key.id, auth: { ...auth, 'content-type': 'application/json' }, credentials: { accessKeyId: ak.accessKeyId, secretAccessKey: ak.secretAccessKey } };
}

/** autocannon against `url` with a fixed request; every 2xx body must carry a non-empty string `field`. */
async function measureFixed(server: ServerProcess, url: string, headers: Record<string, string>, body: string, field: string, seconds: number, label: string): Promise<Run> {
  let bad: string | undefined;
  const cpu0 = clientCpuMs();
  const r = await runLoad({
    label,
    url,
    headers,
    body,
    connections: cfg.connections,
    durationSec: seconds,
    serverPid: server.child.pid,
    verifyBody(text) {
      try {
        const c = (JSON.parse(text) as Record<string, unknown>)[field];
        if (typeof c === 'string' && c.length > 0) return true;
      } catch {
        /* reported below */
      }
      bad ??= text.slice(0, 300);
      return false;
    },
  });
  assertClean(r, bad);
  return { ...r, clientCpuUsPerReq: ((clientCpuMs() - cpu0) * 1000) / r.completed };
}

/**
 * Sends one Encrypt through the SDK and captures the request exactly as signed (a middleware at
 * the deserialize step sees the final, signed HTTP request). host and content-length are left to
 * autocannon, which sends the same values.
 */
async function signedEncrypt(kms: KMSClient): Promise<{ headers: Record<string, string>; body: string }> {
  let captured: { headers: Record<string, string>; body: string } | undefined;
  const name = `capture-${randomBytes(4).toString('hex')}`;
  kms.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers: Record<string, string>; body: Uint8Array | string };
      const { host: _host, 'content-length': _len, ...headers } = req.headers;
      // The SDK's body is a Uint8Array subclass that warns on string methods: copy its bytes.
      const b = req.body;
      captured = { headers, body: typeof b === 'string' ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') };
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name },
  );
  try {
    await kms.send(new EncryptCommand({ KeyId: KEY_ALIAS, Plaintext: PLAINTEXT }));
  } finally {
    kms.middlewareStack.remove(name);
  }
  if (captured === undefined) throw new Error('could not capture the signed Encrypt request');
  return captured;
}

/**
 * `cfg.connections` workers, each sending Encrypt through the SDK back to back until the time is
 * up. Any SDK error or a response without a CiphertextBlob fails the run (after it ends).
 */
async function measureAws(kms: KMSClient, pid: number | undefined, seconds: number, label: string): Promise<Run> {
  const latencies: number[] = [];
  const failures: string[] = [];
  const cpu0 = clientCpuMs();
  const server0 = processCpuMs(pid);
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await kms.send(new EncryptCommand({ KeyId: KEY_ALIAS, Plaintext: PLAINTEXT }));
        if (!r.CiphertextBlob || r.CiphertextBlob.length === 0) failures.push('a response without CiphertextBlob');
      } catch (err) {
        failures.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: cfg.connections }, worker));
  const wall = (performance.now() - start) / 1000;
  const server1 = processCpuMs(pid);
  const serverCpuMs = server0 !== undefined && server1 !== undefined ? server1 - server0 : Number.NaN;
  if (failures.length > 0) throw new Error(`${label}: ${failures.length} failed requests; first: ${failures[0]}`);
  const sorted = Float64Array.from(latencies).sort();
  const n = sorted.length;
  if (n === 0) throw new Error(`${label}: no responses at all`);
  return {
    label,
    seconds: Number(wall.toFixed(2)),
    completed: n,
    ok: n,
    reqPerSec: n / wall,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    meanMs: latencies.reduce((a, b) => a + b, 0) / n,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    mismatches: 0,
    statusCodes: { '200': n },
    serverCpuUsPerReq: (serverCpuMs * 1000) / n,
    serverCpuUtil: serverCpuMs / (wall * 1000),
    clientCpuUsPerReq: ((clientCpuMs() - cpu0) * 1000) / n,
  };
}

function describe(r: Run): string {
  return (
    `${fmtInt(r.reqPerSec).padStart(7)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  ` +
    `server ${fmtFixed(r.serverCpuUsPerReq)} µs CPU/req, ${fmtInt(r.serverCpuUtil * 100)}% busy  ` +
    `client ${fmtFixed(r.clientCpuUsPerReq)} µs CPU/req  (${fmtInt(r.completed)} req in ${r.seconds}s)`
  );
}

function best(runs: Run[]): Run {
  const top = [...runs].sort((a, b) => b.reqPerSec - a.reqPerSec)[0];
  if (top === undefined) throw new Error('no runs');
  return top;
}

async function main(): Promise<void> {
  if (process.env.BENCH_AWS === '0') {
    log('AWS API benchmark skipped (BENCH_AWS=0)');
    return;
  }
  const started = new Date();
  const cpuInfo = cpus();
  log('');
  log(`Keywarden AWS API benchmark — Encrypt through @aws-sdk/client-kms vs the native REST encrypt — ${started.toISOString()}`);
  log(
    `node ${process.version}, ${cpuInfo.length} CPU(s) (${cpuInfo[0]?.model.trim() ?? 'unknown'}), concurrency=${cfg.connections}, ` +
      `duration=${cfg.duration}s, warm-up=${cfg.warmup}s, rounds=${cfg.rounds}, payload=32 bytes`,
  );

  const dataDir = mkdtempSync(join(tmpdir(), 'keywarden-bench-aws-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  let server: ServerProcess | undefined;
  let kms: KMSClient | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: cfg.connections });
  try {
    const kw = await startKeywarden(dataDir);
    server = kw.server;
    log(`keywarden ready at ${server.url} (key ${kw.keyId} as ${KEY_ALIAS}, data dir ${dataDir})`);
    kms = new KMSClient({ endpoint: server.url, region: 'us-east-1', credentials: kw.credentials, maxAttempts: 1, requestHandler: { httpAgent: agent } });

    // Preflight: one request each way, and the AWS ciphertext decrypts through the native API.
    const e = await kms.send(new EncryptCommand({ KeyId: KEY_ALIAS, Plaintext: PLAINTEXT }));
    const d = (await post(`${server.url}/v1/decrypt`, kw.auth, { ciphertext: Buffer.from(e.CiphertextBlob ?? []).toString('base64') }, 200)) as { plaintext?: string };
    if (d.plaintext !== PLAINTEXT.toString('base64')) throw new Error('preflight: the AWS ciphertext did not decrypt to the plaintext through the native API');
    await post(`${server.url}/v1/keys/${KEY_ALIAS}/encrypt`, kw.auth, JSON.parse(NATIVE_BODY), 200);

    const srv = server;
    const client = kms;
    const targets = [
      { name: 'native' as const, run: (s: number, label: string) => measureFixed(srv, `${srv.url}/v1/keys/${KEY_ALIAS}/encrypt`, kw.auth, NATIVE_BODY, 'ciphertext', s, label) },
      { name: 'aws' as const, run: (s: number, label: string) => measureAws(client, srv.child.pid, s, label) },
      {
        name: 'signed' as const,
        run: async (s: number, label: string) => {
          const req = await signedEncrypt(client); // fresh: valid for 5 minutes from now
          return measureFixed(srv, `${srv.url}/`, req.headers, req.body, 'CiphertextBlob', s, label);
        },
      },
    ].filter((t) => t.name !== 'signed' || cfg.duration < 280);
    if (cfg.warmup > 0) {
      for (const t of targets) {
        const r = await t.run(cfg.warmup, `${t.name} warm-up`);
        server.assertAlive();
        log(`warm-up   ${t.name.padEnd(6)} ${describe(r)}`);
      }
    }
    const runs: Record<'native' | 'aws' | 'signed', Run[]> = { native: [], aws: [], signed: [] };
    for (let round = 1; round <= cfg.rounds; round++) {
      for (const t of targets) {
        await sleep(500); // let the previous run's sockets close and GC settle
        const r = await t.run(cfg.duration, `${t.name} round ${round}`);
        server.assertAlive();
        runs[t.name].push(r);
        log(`round ${round}   ${t.name.padEnd(6)} ${describe(r)}`);
      }
    }

    const n = best(runs.native);
    const a = best(runs.aws);
    const ratio = a.reqPerSec / n.reqPerSec;
    const paired = runs.aws.map((r, i) => r.reqPerSec / (runs.native[i]?.reqPerSec ?? Number.NaN));
    const sg = runs.signed.length > 0 ? best(runs.signed) : undefined;
    const rows = [
      ['native REST (autocannon)', n],
      ['AWS KMS API (@aws-sdk/client-kms)', a],
      ...(sg ? [['AWS KMS API, SDK-signed request replayed (autocannon)', sg] as const] : []),
    ] as const;
    log('');
    log(`Encrypt, 32-byte plaintext, concurrency ${cfg.connections}, ${cfg.duration}s per run — BEST of ${cfg.rounds} alternating rounds by req/s, same server`);
    log(
      table(
        ['target', 'req/s', 'p50 ms', 'p99 ms', 'server µs CPU/req', 'client µs CPU/req'],
        rows.map(([label, r]) => [label, fmtInt(r.reqPerSec), fmtMs(r.p50), fmtMs(r.p99), fmtFixed(r.serverCpuUsPerReq), fmtFixed(r.clientCpuUsPerReq)]),
      ),
    );
    log(`aws/native req/s ratio: ${ratio.toFixed(2)} (best runs); per round: ${paired.map((x) => x.toFixed(2)).join(', ')}`);
    log(
      `aws/native server CPU per request: ${(a.serverCpuUsPerReq / n.serverCpuUsPerReq).toFixed(2)} ` +
        `(SigV4 verification and the JSON 1.1 mapping; the SDK's own CPU is the client column and competes with the server on this machine)`,
    );
    if (sg !== undefined) {
      log(
        `aws/native without the SDK client (one SDK-signed request replayed): req/s ${(sg.reqPerSec / n.reqPerSec).toFixed(2)}, ` +
          `server CPU per request ${(sg.serverCpuUsPerReq / n.serverCpuUsPerReq).toFixed(2)} — the AWS API's own server-side cost`,
      );
    } else {
      log('(the SDK-signed replay target is skipped when BENCH_DURATION >= 280 s: a SigV4 signature is valid for 5 minutes)');
    }
    const unsaturated = [n, sg].filter((r): r is Run => r !== undefined && r.serverCpuUtil < 0.9);
    if (unsaturated.length > 0) {
      log(`NOTE: ${unsaturated.map((r) => `${r.label} was only ${fmtInt(r.serverCpuUtil * 100)}% busy`).join(', ')}: the machine was contended; trust the CPU-per-request figures more, or re-run when it is quieter`);
    }
    log('(informational, no goal: the ratios are reported, never enforced)');

    if (cfg.jsonOut !== undefined) {
      const out = { date: started.toISOString(), node: process.version, cpus: cpuInfo.length, config: { ...cfg, jsonOut: undefined }, runs, best: { native: n, aws: a, signedReplay: sg }, ratio, pairedRatios: paired };
      writeFileSync(resolve(cfg.jsonOut), `${JSON.stringify(out, null, 2)}\n`);
      log(`results written to ${resolve(cfg.jsonOut)}`);
    }
  } finally {
    kms?.destroy();
    agent.destroy();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`\nBENCH FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
