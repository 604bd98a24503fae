/**
 * Synthetic key-usage traffic for the detector acceptance tests: a NORMAL set (several principals
 * and keys with daily cycles, a nightly batch job, office hours with jitter, weekends, a few legit
 * zone moves, occasional denials and failed decrypts) and one ANOMALY set per detector. Seeded, so
 * every run replays exactly the same events.
 */
import type { Observation } from '../../src/anomaly/model.js';

export const START = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

export const ZONES = [
  { cidr: '10.1.0.0/16', zone: 'dc-a', country: 'DE' },
  { cidr: '10.2.0.0/16', zone: 'dc-b', country: 'NL' },
  { cidr: '192.168.10.0/24', zone: 'office', country: 'DE' },
  { cidr: '172.16.0.0/12', zone: 'vpn', country: 'DE' },
  { cidr: '203.0.113.0/24', zone: 'partner-us', country: 'US' },
  { cidr: 'fd00:1::/32', zone: 'dc-a-v6', country: 'DE' },
];

/** mulberry32: a small seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Ev = Omit<Observation, 'index' | 'items' | 'principalKind'> & { items?: number; principalKind?: string | null };

interface Actor {
  id: string;
  name: string;
  kind: 'service-account' | 'user';
  /** Calls expected in this minute (0 when inactive). */
  rate(minuteOfRun: number, r: () => number): number;
  /** One call. */
  call(t: number, day: number, r: () => number): Omit<Ev, 'time' | 'principalId' | 'principalName'>;
}

/** Poisson-like count around `lambda` (normal approximation, never negative). */
function count(lambda: number, r: () => number): number {
  if (lambda <= 0) return 0;
  if (lambda < 5) {
    // Knuth for small rates.
    let k = 0;
    let p = r();
    const l = Math.exp(-lambda);
    while (p > l) {
      k++;
      p *= r();
    }
    return k;
  }
  const g = Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
  return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * g));
}

const weekday = (day: number) => day % 7 < 5; // START is a Monday
const hourOf = (m: number) => Math.floor((m % 1440) / 60);
const ok = { outcome: 'allow' as const, errorCode: null };

/** Office hours with per-day jitter (decided once per day, from the day's own seed). */
function shift(seed: number, day: number, start: number, end: number, jitterMin: number) {
  const r = rng(seed * 1000 + day);
  return { from: start * 60 + Math.round((r() * 2 - 1) * jitterMin), to: end * 60 + Math.round((r() * 2 - 1) * jitterMin) };
}

const ACTORS: Actor[] = [
  {
    // A web service: all day, a daily cycle 2–18 calls/min; fails over to dc-b twice (day 0, in its learning period, and day 9).
    id: 'p-web', name: 'svc-web', kind: 'service-account',
    rate: (m) => 10 + 8 * Math.sin((2 * Math.PI * (hourOf(m) - 6)) / 24),
    call: (t, day, r) => {
      const h = hourOf(Math.floor((t - START) / MIN));
      const failover = (day === 0 && h >= 14 && h < 16) || (day === 9 && h >= 2 && h < 4);
      const x = r();
      const op = x < 0.6 ? 'key:decrypt' : x < 0.9 ? 'key:encrypt' : 'key:generate-data-key';
      const deny = r() < 0.0002;
      return { sourceIp: failover ? `10.2.0.${1 + Math.floor(r() * 4)}` : `10.1.0.${1 + Math.floor(r() * 8)}`, operation: op, keyId: 'k-web', ...(deny ? { outcome: 'deny' as const, errorCode: 'PermissionDenied' } : ok) };
    },
  },
  {
    // A nightly batch job: 01:00–02:59 every day, ~150 decrypts/min, from dc-b.
    id: 'p-batch', name: 'svc-batch', kind: 'service-account',
    rate: (m) => (hourOf(m) === 1 || hourOf(m) === 2 ? 150 : 0),
    call: (_t, _d, r) => ({ sourceIp: `10.2.1.${1 + Math.floor(r() * 2)}`, operation: 'key:decrypt', keyId: 'k-batch', ...ok }),
  },
  {
    // Ingestion: 08:00–19:59, ~25 data keys/min.
    id: 'p-ingest', name: 'svc-ingest', kind: 'service-account',
    rate: (m) => (hourOf(m) >= 8 && hourOf(m) < 20 ? 25 : 0),
    call: (_t, _d, r) => ({ sourceIp: `10.1.2.${1 + Math.floor(r() * 3)}`, operation: 'key:generate-data-key', keyId: 'k-ingest', ...ok }),
  },
  {
    // A report job over IPv6: 30 calls in the first minute of every hour.
    id: 'p-report', name: 'svc-report', kind: 'service-account',
    rate: (m) => (m % 60 === 0 ? 30 : 0),
    call: () => ({ sourceIp: 'fd00:1::10', operation: 'key:encrypt', keyId: 'k-report', ...ok }),
  },
  {
    // A person: weekdays about 09:00–17:00 (±45 min), from the office or (some days) the VPN; a few denials and failed decrypts.
    id: 'p-alice', name: 'alice', kind: 'user',
    rate: (m) => {
      const day = Math.floor(m / 1440);
      const s = shift(1, day, 9, 17, 45);
      return weekday(day) && m % 1440 >= s.from && m % 1440 < s.to ? 2 : 0;
    },
    call: (_t, day, r) => {
      const ip = [0, 3, 7, 11].includes(day) ? '172.16.5.9' : '192.168.10.20';
      const x = r();
      if (x < 0.003) return { sourceIp: ip, operation: 'key:decrypt', keyId: 'k-secret', outcome: 'deny', errorCode: 'PermissionDenied' };
      if (x < 0.004) return { sourceIp: ip, operation: 'key:decrypt', keyId: 'k-hr', outcome: 'error', errorCode: 'InvalidCiphertext' };
      return { sourceIp: ip, operation: x < 0.7 ? 'key:decrypt' : 'key:encrypt', keyId: 'k-hr', ...ok };
    },
  },
  {
    // Another person: Monday to Saturday about 07:00–19:00 (±30 min), office only.
    id: 'p-bob', name: 'bob', kind: 'user',
    rate: (m) => {
      const day = Math.floor(m / 1440);
      const s = shift(2, day, 7, 19, 30);
      return day % 7 < 6 && m % 1440 >= s.from && m % 1440 < s.to ? 1 : 0;
    },
    call: () => ({ sourceIp: '192.168.10.21', operation: 'key:decrypt', keyId: 'k-hr', ...ok }),
  },
];

export interface Traffic {
  events: Observation[];
  /** Distinct (subject, hour) pairs with activity: subjects are principals, keys and source addresses. */
  subjectHours: number;
}

/** The normal set: `days` days from START, events in time order with ledger indexes from `firstIndex`. */
export function normalTraffic(days: number, seed = 42, firstIndex = 0): Traffic {
  const r = rng(seed);
  const events: Observation[] = [];
  const hours = new Set<string>();
  for (let m = 0; m < days * 1440; m++) {
    const minute: Array<Omit<Observation, 'index'>> = [];
    const day = Math.floor(m / 1440);
    for (const a of ACTORS) {
      const n = count(a.rate(m, r), r);
      for (let i = 0; i < n; i++) {
        const time = START + m * MIN + Math.floor(r() * MIN);
        const c = a.call(time, day, r);
        minute.push({ time, principalId: a.id, principalName: a.name, principalKind: a.kind, items: 1, ...c } as Omit<Observation, 'index'>);
      }
    }
    minute.sort((x, y) => x.time - y.time);
    for (const e of minute) {
      const o = { index: firstIndex + events.length, ...e } as Observation;
      events.push(o);
      const h = Math.floor(o.time / HOUR);
      for (const s of [o.principalId && `p:${o.principalId}`, o.keyId && `k:${o.keyId}`, o.sourceIp && `ip:${o.sourceIp}`]) if (s) hours.add(`${s}@${h}`);
    }
  }
  return { events, subjectHours: hours.size };
}

/** Builds observations (indexes assigned later by the test). */
export function ev(time: number, e: Partial<Ev> & Pick<Ev, 'operation'>): Omit<Observation, 'index'> {
  return { principalId: null, principalName: null, principalKind: null, sourceIp: null, keyId: null, outcome: 'allow', errorCode: null, items: 1, time, ...e } as Omit<Observation, 'index'>;
}

export const ALICE = { principalId: 'p-alice', principalName: 'alice', principalKind: 'user' } as const;
export const BOB = { principalId: 'p-bob', principalName: 'bob', principalKind: 'user' } as const;
export const WEB = { principalId: 'p-web', principalName: 'svc-web', principalKind: 'service-account' } as const;
export const INGEST = { principalId: 'p-ingest', principalName: 'svc-ingest', principalKind: 'service-account' } as const;
