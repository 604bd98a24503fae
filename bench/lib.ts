/**
 * Helpers for `npm run bench`: child-process servers, an autocannon wrapper with exact latency
 * percentiles, and plain-text table formatting. Nothing here is Keywarden-specific.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// autocannon ships no type declarations (and @types/autocannon is not a dependency), so load it
// through require and describe the small part of its programmatic API that we use.
const require = createRequire(import.meta.url);

interface AutocannonOptions {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body: string;
  connections: number;
  pipelining: number;
  duration: number;
  timeout?: number;
  verifyBody?: (body: string) => boolean;
}

interface AutocannonResult {
  duration: number; // seconds, as measured by autocannon (wall time of the run)
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  resets: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
  requests: { total: number; sent: number; mean: number };
  latency: { p50: number; p99: number; mean: number };
}

interface AutocannonTracker {
  on(
    event: 'response',
    listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void,
  ): void;
  on(event: 'reqError', listener: (err: Error) => void): void;
  stop(): void;
}

type Autocannon = (
  opts: AutocannonOptions,
  cb: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonTracker;

const autocannon = require('autocannon') as Autocannon;

// ---------------------------------------------------------------------------------------------
// Child-process servers
// ---------------------------------------------------------------------------------------------

export interface ServerProcess {
  readonly name: string;
  readonly url: string; // e.g. http://127.0.0.1:41234
  readonly child: ChildProcess;
  /** Last lines the process wrote to stdout/stderr, for error messages. */
  tail(): string;
  /** Throws if the process has exited. */
  assertAlive(): void;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
let cleanupInstalled = false;

/** Kill every child we started when this process goes away, however it goes away. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: received ${sig}, stopping servers\n`);
      for (const child of live) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

/**
 * Starts `node <nodeArgs> <args>` and resolves once it prints `Listening on http://HOST:PORT`.
 * stdout/stderr are always drained (a chatty server must never block on a full pipe) and the
 * last lines kept for diagnostics.
 */
export function startServer(opts: {
  name: string;
  args: string[];
  nodeArgs?: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Give the child a stdin pipe (held open until we exit) instead of /dev/null. */
  stdinPipe?: boolean;
}): Promise<ServerProcess> {
  installCleanup();
  const argv = [...(opts.nodeArgs ?? []), '--import', 'tsx', ...opts.args];
  const child = spawn(process.execPath, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  live.add(child);

  const lines: string[] = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > 60) lines.shift();
  };
  const tail = (): string => lines.map((l) => `    | ${l}`).join('\n');
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      resolve();
    });
  });

  return new Promise<ServerProcess>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      if (ready) return;
      child.kill('SIGKILL');
      reject(
        new Error(
          `${opts.name}: no "Listening on http://..." line within ${opts.readyTimeoutMs ?? 60_000} ms\n` +
            `  command: ${process.execPath} ${argv.join(' ')}\n${tail()}`,
        ),
      );
    }, opts.readyTimeoutMs ?? 60_000);

    const onLine = (stream: 'out' | 'err') => {
      let partial = '';
      return (chunk: Buffer): void => {
        partial += chunk.toString('utf8');
        let nl: number;
        while ((nl = partial.indexOf('\n')) >= 0) {
          const line = partial.slice(0, nl).replace(/\r$/, '');
          partial = partial.slice(nl + 1);
          keep(stream === 'err' ? `[stderr] ${line}` : line);
          const m = stream === 'out' && !ready ? /Listening on (https?:\/\/[^\s/]+)/.exec(line) : null;
          if (m?.[1] !== undefined) {
            ready = true;
            clearTimeout(timer);
            const url = m[1];
            resolve({
              name: opts.name,
              url,
              child,
              tail,
              assertAlive() {
                if (exit !== undefined) {
                  throw new Error(
                    `${opts.name} exited unexpectedly (code ${exit.code}, signal ${exit.signal})\n${tail()}`,
                  );
                }
              },
              async stop(graceMs = 5_000) {
                if (exit !== undefined) return;
                child.kill('SIGTERM');
                const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
                await exited;
                clearTimeout(t);
              },
            });
          }
        }
        if (partial.length > 64 * 1024) partial = partial.slice(-1024); // a line that never ends
      };
    };
    child.stdout?.on('data', onLine('out'));
    child.stderr?.on('data', onLine('err'));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name}: failed to spawn: ${err.message}`));
    });
    void exited.then(() => {
      if (ready) return;
      clearTimeout(timer);
      reject(
        new Error(
          `${opts.name} exited before it was ready (code ${exit?.code}, signal ${exit?.signal})\n` +
            `  command: ${process.execPath} ${argv.join(' ')}\n${tail()}`,
        ),
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Load generation
// ---------------------------------------------------------------------------------------------

export interface LoadResult {
  label: string;
  seconds: number;
  completed: number; // responses received (any status)
  ok: number; // 2xx responses
  reqPerSec: number; // completed / seconds
  p50: number; // ms, exact (from every response), not autocannon's integer-ms histogram
  p99: number;
  meanMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number; // 2xx responses whose body failed verification
  statusCodes: Record<string, number>;
  /** Server CPU time (user + system, all threads) per completed request, in µs; NaN if unknown. */
  serverCpuUsPerReq: number;
  /** Server CPU time / wall time of the run: ~1.0 means the (single-threaded) server was saturated. */
  serverCpuUtil: number;
}

/** Growable Float64Array: collecting ~10^5..10^6 latencies must not distort the client. */
class Samples {
  private buf = new Float64Array(1 << 16);
  private n = 0;
  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.n).sort();
  }
}

let clockTicksPerSec: number | undefined;

/**
 * CPU time (user + system, all threads) consumed so far by process `pid`, in ms, read from
 * /proc/<pid>/stat (Linux). undefined elsewhere. CPU per request is far less sensitive to noisy
 * neighbours than requests per second, so it is reported next to the throughput.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]); // field 14 of the full line
    const stime = Number(fields[12]); // field 15
    if (clockTicksPerSec === undefined) {
      try {
        clockTicksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
      } catch {
        clockTicksPerSec = 100;
      }
    }
    const ms = ((utime + stime) * 1000) / clockTicksPerSec;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function runLoad(opts: {
  label: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationSec: number;
  verifyBody?: (body: string) => boolean;
  timeoutSec?: number;
  /** pid of the server process, to report its CPU time per request. */
  serverPid?: number;
}): Promise<LoadResult> {
  return new Promise<LoadResult>((resolve, reject) => {
    const latencies = new Samples();
    const cpuBefore = processCpuMs(opts.serverPid);
    const acOpts: AutocannonOptions = {
      url: opts.url,
      method: 'POST',
      headers: opts.headers,
      body: opts.body,
      connections: opts.connections,
      pipelining: 1,
      // autocannon only notices the end of the run on its next 1 s sampling tick; stopping a hair
      // early makes a 10 s run last 10 s rather than 11 s. (req/s is computed from the measured
      // duration either way.)
      duration: Math.max(0.5, opts.durationSec - 0.05),
      timeout: opts.timeoutSec ?? 10,
    };
    if (opts.verifyBody) acOpts.verifyBody = opts.verifyBody;
    const tracker = autocannon(acOpts, (err, r) => {
      if (err) {
        reject(err);
        return;
      }
      const cpuAfter = processCpuMs(opts.serverPid);
      const cpuMs = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : Number.NaN;
      const sorted = latencies.sorted();
      let sum = 0;
      for (const v of sorted) sum += v;
      const statusCodes: Record<string, number> = {};
      for (const [code, s] of Object.entries(r.statusCodeStats)) statusCodes[code] = s.count;
      resolve({
        label: opts.label,
        seconds: r.duration,
        completed: r.requests.total,
        ok: r['2xx'],
        reqPerSec: r.requests.total / r.duration,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        meanMs: sorted.length > 0 ? sum / sorted.length : Number.NaN,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        mismatches: r.mismatches,
        statusCodes,
        serverCpuUsPerReq: r.requests.total > 0 ? (cpuMs * 1000) / r.requests.total : Number.NaN,
        serverCpuUtil: cpuMs / (r.duration * 1000),
      });
    });
    tracker.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
}

/** Throws (loudly) if a load run saw anything but verified 2xx responses. */
export function assertClean(r: LoadResult, sampleFailure?: string): void {
  const problems: string[] = [];
  if (r.completed === 0) problems.push('no responses at all');
  if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx responses (status codes: ${JSON.stringify(r.statusCodes)})`);
  if (r.errors > 0) problems.push(`${r.errors} connection errors (${r.timeouts} of them timeouts)`);
  if (r.mismatches > 0) problems.push(`${r.mismatches} 2xx responses with an invalid body`);
  if (problems.length > 0) {
    throw new Error(
      `${r.label}: ${problems.join('; ')}` + (sampleFailure ? `\n  first bad body: ${sampleFailure}` : ''),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

export function fmtMs(n: number): string {
  return Number.isFinite(n) ? n.toFixed(2) : 'n/a';
}

export function fmtFixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** Left-aligned first column, right-aligned others. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [fmt(header), sep, ...rows.map(fmt)].join('\n');
}

export function envNumber(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
