/**
 * `npx tsx bench/audit-cost.ts` — the audit ledger's CPU cost per call, in process (no HTTP, no
 * load generator): two Keywardens in this process, one with the ledger on and one with it off
 * (`audit: false`), each on its own SQLite file in dev mode with a root token; `concurrency` async
 * callers run `kw.ops.encrypt` of 32 bytes back to back, in alternating rounds. Per round it
 * reports the process CPU (`process.cpuUsage`: every thread, the audit writer thread and V8's
 * helpers included) per call, and the on − off delta. Not part of `npm run bench` (docs/performance.md).
 *
 * Env: AUDIT_COST_SECONDS per round (default 3), AUDIT_COST_ROUNDS (default 4), AUDIT_COST_CONCURRENCY
 * (default 50), AUDIT_COST_ONLY=on|off (measure one side only, e.g. under --cpu-prof),
 * AUDIT_COST_YIELD=0 (callers do not wait for a setImmediate before each call, as a request from a
 * socket would), AUDIT_COST_ANOMALY=0 (anomaly detection off).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createKeywarden, type Keywarden } from '../src/main.js';
import { bootDevSeal } from '../src/seal/dev-seal.js';
import { envNumber } from './lib.js';

const SECONDS = envNumber('AUDIT_COST_SECONDS', 3);
const ROUNDS = envNumber('AUDIT_COST_ROUNDS', 4);
const CONCURRENCY = envNumber('AUDIT_COST_CONCURRENCY', 50);
const ONLY = process.env.AUDIT_COST_ONLY;
const YIELD = process.env.AUDIT_COST_YIELD !== '0';
/** AUDIT_COST_ANOMALY=0: anomaly detection off (it analyses committed events, so its cost is part of the ledger's). */
const ANOMALY = process.env.AUDIT_COST_ANOMALY !== '0';

interface Side {
  name: 'on' | 'off';
  kw: Keywarden;
  dir: string;
  token: string;
}

async function start(name: 'on' | 'off'): Promise<Side> {
  const dir = await mkdtemp(join(tmpdir(), `kw-audit-cost-${name}-`));
  const kw = await createKeywarden({ storage: { type: 'sqlite', path: join(dir, 'keywarden.db') }, seal: 'dev', logger: false, audit: name === 'on', ...(ANOMALY ? {} : { anomaly: { enabled: false } }) });
  await bootDevSeal(kw.seal, dir);
  const token = randomBytes(24).toString('base64url');
  await kw.tokens.registerRootToken(token, 'bench root token');
  const res = await kw.app.inject({ method: 'POST', url: '/v1/keys', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify({ alias: 'alias/bench' }) });
  if (res.statusCode !== 201) throw new Error(`create key (${name}): ${res.statusCode} ${res.body}`);
  return { name, kw, dir, token };
}

const PLAINTEXT = randomBytes(32);

/** CPU µs of the main thread so far (Linux: /proc, clock ticks of 10 ms), or NaN elsewhere. */
function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000; // utime + stime, fields 14 and 15
  } catch {
    return Number.NaN;
  }
}

/** `CONCURRENCY` callers for `seconds`; returns calls and CPU µs per call. */
async function round(s: Side, seconds: number): Promise<{ calls: number; cpuUs: number; mainUs: number; perSec: number }> {
  let calls = 0;
  // Checked in the loop, not by a timer: with the ledger off a call may never leave the microtask
  // queue, so a timer would never fire.
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const caller = async () => {
    while (performance.now() < end) {
      // A request arrives in its own macrotask (socket I/O), with the ledger on or off.
      if (YIELD) await new Promise((r) => setImmediate(r));
      // What the HTTP transport hands over (src/transport/http/wire.ts): a UUID request id, the peer address.
      const r = await s.kw.ops.encrypt({ token: s.token, requestId: randomUUID(), sourceIp: '127.0.0.1' }, 'alias/bench', PLAINTEXT);
      if (r.ciphertext.length === 0) throw new Error('no ciphertext');
      calls++;
    }
  };
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuUs();
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  const cpu = process.cpuUsage(cpu0);
  const main = mainThreadCpuUs() - main0;
  const elapsed = (performance.now() - t0) / 1000;
  return { calls, cpuUs: (cpu.user + cpu.system) / calls, mainUs: main / calls, perSec: calls / elapsed };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const sides = (ONLY === 'on' || ONLY === 'off' ? [ONLY] : (['on', 'off'] as const)).map((n) => n as 'on' | 'off');
  const started: Side[] = [];
  try {
    for (const n of sides) started.push(await start(n));
    for (const s of started) await round(s, 1); // warm-up (JIT, caches, the writer thread)
    const per: Record<'on' | 'off', number[]> = { on: [], off: [] };
    process.stdout.write(`audit cost: ${CONCURRENCY} concurrent kw.ops.encrypt, ${ROUNDS} rounds x ${SECONDS} s per side\n`);
    for (let r = 0; r < ROUNDS; r++) {
      const line: string[] = [];
      for (const s of r % 2 ? [...started].reverse() : started) {
        const before = s.kw.ledger.stats();
        const m = await round(s, SECONDS);
        const after = s.kw.ledger.stats();
        const tx = after.transactions - before.transactions;
        per[s.name].push(m.cpuUs);
        line.push(`${s.name} ${m.cpuUs.toFixed(2)} us/call [main ${m.mainUs.toFixed(1)}, other threads ${(m.cpuUs - m.mainUs).toFixed(1)}] (${Math.round(m.perSec)}/s${tx > 0 ? `, ${((after.events - before.events) / tx).toFixed(1)} events/commit` : ''})`);
      }
      const d = per.on.length === per.off.length && per.on.length > 0 ? `  delta ${(per.on.at(-1)! - per.off.at(-1)!).toFixed(2)} us` : '';
      process.stdout.write(`round ${r + 1}: ${line.join(', ')}${d}\n`);
    }
    if (per.on.length && per.off.length) {
      process.stdout.write(`median: on ${median(per.on).toFixed(2)} us/call, off ${median(per.off).toFixed(2)} us/call, audit cost ${(median(per.on) - median(per.off)).toFixed(2)} us/call\n`);
    }
  } finally {
    for (const s of started) {
      await s.kw.close();
      await rm(s.dir, { recursive: true, force: true });
    }
  }
}

await main();
