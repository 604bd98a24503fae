/**
 * The six detectors of issue 10/10 §3. Each one is a small state machine fed with observations in
 * ledger order; its time is the events' time (never the wall clock), so a replay is deterministic.
 * Per-subject state lives in BoundedMaps (config `anomaly.maxSubjects` each): the least recently
 * seen subject is forgotten first, and starts learning again if it comes back.
 */
import type { AnomalySettings } from './config.js';
import { BoundedMap } from './bounded.js';
import { KEY_USE_OPERATIONS, MAX_FINDING_EVENTS, type DetectorName, type Finding, type Observation, type Severity, type Subject } from './model.js';
import { UNKNOWN_ZONE, type Zone, type ZoneMap } from './zones.js';

export interface Detector {
  readonly name: DetectorName;
  observe(o: Observation, emit: (f: Finding) => void): void;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Empty periods folded into a baseline at most (longer gaps: the baseline has decayed to ~0 anyway). */
const MAX_GAP_STEPS = 1440;

const round = (x: number) => Math.round(x * 100) / 100;


/** Appends `index` keeping the last MAX_FINDING_EVENTS. */
function remember(events: number[], index: number): void {
  events.push(index);
  if (events.length > MAX_FINDING_EVENTS) events.shift();
}

/**
 * Per-subject state of a detector: one bounded map per kind of subject, keyed by the plain id (no
 * string building or subject objects on the per-event path: subjects are built only for a finding).
 */
class PerSubject<V> {
  readonly key: BoundedMap<string, V>;
  readonly principal: BoundedMap<string, V>;

  constructor(cap: number) {
    this.key = new BoundedMap(cap);
    this.principal = new BoundedMap(cap);
  }
}

type Kind = 'key' | 'principal';
const subjectOf = (o: Observation, kind: Kind): Subject => (kind === 'key' ? { keyId: o.keyId as string } : principalSubject(o));

function principalSubject(o: Observation): Subject {
  return { principalId: o.principalId as string, ...(o.principalName !== null && { principalName: o.principalName }) };
}

const who = (s: Subject) => (s.keyId !== undefined ? `key ${s.keyId}` : s.principalId !== undefined ? `principal ${s.principalName ?? s.principalId}` : `address ${s.sourceIp}`);

/** Exponentially weighted mean and variance (West's incremental form). */
interface Ewma {
  mean: number;
  variance: number;
  /** Periods folded in so far. */
  periods: number;
}

function ewmaAdd(e: Ewma, x: number, alpha: number): void {
  const diff = x - e.mean;
  const incr = alpha * diff;
  e.mean += incr;
  e.variance = (1 - alpha) * (e.variance + diff * incr);
  e.periods++;
}

// ---- rate-spike --------------------------------------------------------------------------------

interface RateState extends Ewma {
  minute: number;
  count: number;
  /** Flagged this minute: 0 not yet, 1 over the threshold, 2 escalated (ESCALATE × the threshold). */
  fired: number;
  events: number[];
  /** The same baseline per hour of the day (UTC): daily cycles and scheduled jobs are normal at their hour. */
  hourly: Ewma[];
}

/** A minute this many times over its threshold is flagged again, as high severity. */
const ESCALATE = 10;
const newEwma = (): Ewma => ({ mean: 0, variance: 0, periods: 0 });
/** A subject's first state (its minute is set by its first call). */
const newRate = (): RateState => ({ minute: -1, count: 0, fired: 0, events: [], ...newEwma(), hourly: Array.from({ length: 24 }, newEwma) });
const hourOfMinute = (m: number) => Math.floor(m / 60) % 24;
/** σ of a baseline, at least √mean (counts are Poisson-like). */
const sigma = (e: Ewma) => Math.max(Math.sqrt(e.variance), Math.sqrt(e.mean));

/**
 * Calls per minute of each key and each principal against two EWMA baselines (mean and variance;
 * minutes without calls count as 0): the recent minutes (`alpha`) and the same hour of the day on
 * past days (`hourlyAlpha`), so a daily peak or a nightly batch job is judged against its own hour.
 * A minute is flagged as soon as its count exceeds max(minCount, mean + k·σ) of BOTH baselines
 * (σ at least √mean), once the subject has `warmupMinutes` of history (medium severity); a minute
 * that goes on to ESCALATE times its threshold is flagged again as high (it folds into the same
 * alert, raising its severity). The baselines learn a flagged minute only up to its threshold, so
 * an attack does not quickly become the new normal.
 */
export class RateSpikeDetector implements Detector {
  readonly name = 'rate-spike';
  readonly #s: PerSubject<RateState>;

  constructor(private readonly c: AnomalySettings['detectors']['rate-spike'], maxSubjects: number) {
    this.#s = new PerSubject(maxSubjects);
  }

  #threshold(s: RateState, minute: number): number {
    const h = s.hourly[hourOfMinute(minute)]!;
    const k = this.c.sensitivity;
    return Math.max(this.c.minCount, s.mean + k * sigma(s), h.mean + k * sigma(h));
  }

  #close(s: RateState, minute: number, count: number): void {
    const x = Math.min(count, this.#threshold(s, minute));
    ewmaAdd(s, x, this.c.alpha);
    ewmaAdd(s.hourly[hourOfMinute(minute)]!, x, this.c.hourlyAlpha);
  }

  observe(o: Observation, emit: (f: Finding) => void): void {
    const minute = Math.floor(o.time / MINUTE);
    if (o.keyId !== null) this.#count(o, this.#s.key.upsert(o.keyId, newRate), 'key', minute, emit);
    if (o.principalId !== null) this.#count(o, this.#s.principal.upsert(o.principalId, newRate), 'principal', minute, emit);
  }

  #count(o: Observation, s: RateState, kind: Kind, minute: number, emit: (f: Finding) => void): void {
    if (s.minute < 0) s.minute = minute;
    if (minute > s.minute) {
      this.#close(s, s.minute, s.count);
      for (let m = Math.max(s.minute + 1, minute - MAX_GAP_STEPS); m < minute; m++) this.#close(s, m, 0);
      Object.assign(s, { minute, count: 0, fired: 0, events: [] });
    }
    s.count++;
    remember(s.events, o.index);
    if (s.fired === 2 || s.periods < this.c.warmupMinutes) return;
    const threshold = this.#threshold(s, minute);
    const level = s.count > ESCALATE * threshold ? 2 : s.count > threshold ? 1 : 0;
    if (level <= s.fired) return;
    s.fired = level;
    const h = s.hourly[hourOfMinute(minute)]!;
    const subject = subjectOf(o, kind);
    emit({
      detector: this.name,
      severity: level === 2 ? 'high' : 'medium',
      subject,
      summary: `${who(subject)} made more than ${Math.floor(threshold)} calls in one minute (baseline ${round(Math.max(s.mean, h.mean))} per minute)`,
      evidence: {
        windowSeconds: 60,
        observed: s.count,
        baselineMean: round(s.mean),
        baselineStdDev: round(Math.sqrt(s.variance)),
        hourBaselineMean: round(h.mean),
        hourBaselineStdDev: round(Math.sqrt(h.variance)),
        threshold: round(threshold),
        sensitivity: this.c.sensitivity,
        minCount: this.c.minCount,
      },
      events: [...s.events],
      time: o.time,
    });
  }
}

// ---- new-zone ----------------------------------------------------------------------------------

interface ZoneState {
  firstSeen: number;
  zones: Set<string>;
  countries: Set<string>;
}

const MAX_ZONES_PER_SUBJECT = 256;
const newZoneState = (): ZoneState => ({ firstSeen: -1, zones: new Set(), countries: new Set() });

/**
 * First use from a network zone (and country) never seen before for the principal, or for the
 * key, once the subject's learning period (`learningHours` after it was first seen) is over. The
 * zone is then learnt: the next use from it is normal. A new country is high severity, a new zone
 * medium. Calls without a source address (none recorded) are not judged; for the key, only
 * allowed calls count (a refused call did not use the key).
 */
export class NewZoneDetector implements Detector {
  readonly name = 'new-zone';
  readonly #s: PerSubject<ZoneState>;

  constructor(private readonly c: AnomalySettings['detectors']['new-zone'], maxSubjects: number, private readonly zones: ZoneMap) {
    this.#s = new PerSubject(maxSubjects);
  }

  /** Learns zone `z` for the subject; returns 0 (known or learning), 1 (new zone) or 2 (new zone in a new country). */
  #learn(s: ZoneState, z: Zone, time: number): number {
    if (s.firstSeen < 0) s.firstSeen = time;
    if (s.zones.has(z.zone)) return 0;
    const freshCountry = z.country !== null && !s.countries.has(z.country);
    if (s.zones.size < MAX_ZONES_PER_SUBJECT) s.zones.add(z.zone);
    if (z.country !== null && s.countries.size < MAX_ZONES_PER_SUBJECT) s.countries.add(z.country);
    if (time - s.firstSeen < this.c.learningHours * HOUR) return 0;
    return freshCountry ? 2 : 1;
  }

  observe(o: Observation, emit: (f: Finding) => void): void {
    if (o.sourceIp === null) return;
    const z = this.zones.lookup(o.sourceIp);
    const p = o.principalId !== null ? this.#learn(this.#s.principal.upsert(o.principalId, newZoneState), z, o.time) : 0;
    // A key is used only by allowed calls (a refused one is the principal's doing, judged on the principal).
    const k = o.keyId !== null && o.outcome === 'allow' ? this.#learn(this.#s.key.upsert(o.keyId, newZoneState), z, o.time) : 0;
    if (p === 0 && k === 0) return;
    const news = [...(p > 0 ? ['principal'] : []), ...(k > 0 ? ['key'] : [])];
    const newCountry = p === 2 || k === 2;
    const subject: Subject = { ...(o.principalId !== null && principalSubject(o)), ...(o.keyId !== null && { keyId: o.keyId }), sourceIp: o.sourceIp };
    const where = `zone ${z.zone}${z.country !== null ? ` (${z.country})` : ''}`;
    emit({
      detector: this.name,
      severity: newCountry ? 'high' : 'medium',
      subject,
      summary: `first use from ${where}, never seen before for the ${news.join(' and the ')}${z === UNKNOWN_ZONE ? ' (the address is in no configured zone)' : ''}`,
      evidence: { zone: z.zone, country: z.country, newCountry, newForPrincipal: news.includes('principal'), newForKey: news.includes('key'), learningHours: this.c.learningHours },
      events: [o.index],
      time: o.time,
    });
  }
}

// ---- unusual-hours -----------------------------------------------------------------------------

const newHoursState = (): HoursState => ({ firstDay: -1, lastDay: -Infinity, activeDays: 0, lastHour: -Infinity, week: new Uint16Array(168), day: new Uint16Array(24) });

interface HoursState {
  firstDay: number;
  lastDay: number;
  activeDays: number;
  lastHour: number;
  /** Distinct active hours per hour of the week (Monday 00:00 = 0). */
  week: Uint16Array;
  /** Distinct active days per hour of the day. */
  day: Uint16Array;
}

/**
 * Use outside a principal's usual hours: a learnt hour-of-week histogram (distinct active hours,
 * in UTC shifted by `timezoneOffsetMinutes`). Once `minHistoryDays` of history exist, the first
 * call in an hour is unusual when that hour of the week was never active AND the hour of the day
 * (±1 hour) was active on fewer than `minDayFraction` of the principal's active days. Every hour
 * is learnt afterwards (so a new shift becomes usual over time), but one night alone does not make
 * its hours usual: their day fraction stays low.
 */
export class UnusualHoursDetector implements Detector {
  readonly name = 'unusual-hours';
  readonly #s: BoundedMap<string, HoursState>;

  constructor(private readonly c: AnomalySettings['detectors']['unusual-hours'], maxSubjects: number, private readonly offsetMs: number) {
    this.#s = new BoundedMap(maxSubjects);
  }

  observe(o: Observation, emit: (f: Finding) => void): void {
    if (o.principalId === null) return;
    const absHour = Math.floor((o.time + this.offsetMs) / HOUR);
    const dayNo = Math.floor(absHour / 24);
    const h = absHour - dayNo * 24;
    // 1970-01-01 was a Thursday: +3 makes Monday 0.
    const how = (((dayNo + 3) % 7) + 7) % 7 * 24 + h;
    const s = this.#s.upsert(o.principalId, newHoursState);
    if (s.firstDay < 0) s.firstDay = dayNo;
    if (absHour === s.lastHour) return;
    if (dayNo - s.firstDay >= this.c.minHistoryDays && s.week[how] === 0) {
      const band = Math.max(s.day[(h + 23) % 24]!, s.day[h]!, s.day[(h + 1) % 24]!);
      const fraction = s.activeDays === 0 ? 0 : band / s.activeDays;
      if (fraction < this.c.minDayFraction) {
        const subject = principalSubject(o);
        const hh = String(h).padStart(2, '0');
        emit({
          detector: this.name,
          severity: 'medium',
          subject,
          summary: `${who(subject)} is active at ${hh}:00–${hh}:59 (UTC${this.offsetMs === 0 ? '' : `${this.offsetMs > 0 ? '+' : '-'}${Math.abs(this.offsetMs) / MINUTE}min`}), outside its usual hours`,
          evidence: { hourOfDay: h, hourOfWeek: how, weekBinCount: 0, dayFraction: round(fraction), minDayFraction: this.c.minDayFraction, historyDays: dayNo - s.firstDay, activeDays: s.activeDays },
          events: [o.index],
          time: o.time,
        });
      }
    }
    s.lastHour = absHour;
    s.week[how] = Math.min(0xffff, s.week[how]! + 1);
    if (dayNo !== s.lastDay) {
      s.lastDay = dayNo;
      s.activeDays++;
    }
    s.day[h] = Math.min(0xffff, s.day[h]! + 1);
  }
}

// ---- probing -----------------------------------------------------------------------------------

interface ProbeState {
  /** Failures in the window, oldest first (at most `threshold`). */
  recent: Array<{ time: number; index: number; denied: boolean }>;
  quietUntil: number;
}

/** A failed decrypt: the uniform crypto failure (a wrong or tampered ciphertext). */
const isFailedDecrypt = (o: Observation) => o.errorCode === 'InvalidCiphertext';

/**
 * Bursts of denied calls (any refusal by authentication, authorization or policy) or failed
 * decrypts, per principal and per source address (unauthenticated probing has only the latter):
 * `threshold` within `windowSeconds` (sliding) raises one finding, then the subject is quiet for
 * one window (a continuing burst folds into the open alert).
 */
export class ProbingDetector implements Detector {
  readonly name = 'probing';
  readonly #s: BoundedMap<string, ProbeState>;

  constructor(private readonly c: AnomalySettings['detectors']['probing'], maxSubjects: number) {
    this.#s = new BoundedMap(maxSubjects);
  }

  observe(o: Observation, emit: (f: Finding) => void): void {
    if (o.outcome !== 'deny' && !isFailedDecrypt(o)) return;
    const windowMs = this.c.windowSeconds * 1000;
    const ids: Array<[string, Subject]> = [];
    if (o.principalId !== null) ids.push([`p:${o.principalId}`, principalSubject(o)]);
    if (o.sourceIp !== null) ids.push([`ip:${o.sourceIp}`, { sourceIp: o.sourceIp }]);
    for (const [id, subject] of ids) {
      const s = this.#s.upsert(id, () => ({ recent: [], quietUntil: -Infinity }));
      const r = s.recent;
      while (r.length > 0 && r[0]!.time <= o.time - windowMs) r.shift();
      r.push({ time: o.time, index: o.index, denied: o.outcome === 'deny' });
      if (r.length > this.c.threshold) r.shift();
      if (r.length < this.c.threshold || o.time < s.quietUntil) continue;
      s.quietUntil = o.time + windowMs;
      const denied = r.filter((x) => x.denied).length;
      emit({
        detector: this.name,
        severity: 'high',
        subject,
        summary: `${who(subject)}: ${r.length} denied calls or failed decrypts within ${this.c.windowSeconds} s (probing)`,
        evidence: { observed: r.length, threshold: this.c.threshold, windowSeconds: this.c.windowSeconds, denied, failedDecrypts: r.length - denied, lastErrorCode: o.errorCode },
        events: r.slice(-MAX_FINDING_EVENTS).map((x) => x.index),
        time: o.time,
      });
    }
  }
}

// ---- inactive-key-use --------------------------------------------------------------------------

/**
 * The key states whose use the pipeline refuses (src/ops/ops.ts requireState): a Disabled key
 * (code Disabled, "key K is disabled"; also a superseded revocation), a Compromised key (code
 * InvalidState, "key K is Compromised: ..."), a key PendingDeletion (InvalidState, "key K is
 * PendingDeletion: cancel the deletion to use it"). The event records the code, not the message,
 * so the engine adds the key's state for these codes and the detector matches code AND state. A
 * Disabled code on an Enabled key is a disabled VERSION ("version N of key K is disabled").
 */
const INACTIVE: Record<string, { code: string; severity: Severity; what: string }> = {
  Disabled: { code: 'Disabled', severity: 'high', what: 'disabled' },
  Compromised: { code: 'InvalidState', severity: 'critical', what: 'revoked as compromised' },
  PendingDeletion: { code: 'InvalidState', severity: 'high', what: 'pending deletion' },
};

/** Error codes for which the engine looks up the key's state. */
export const INACTIVE_KEY_CODES: ReadonlySet<string> = new Set(['Disabled', 'InvalidState']);

export function needsKeyState(o: Observation): boolean {
  return o.keyId !== null && o.outcome === 'error' && o.errorCode !== null && INACTIVE_KEY_CODES.has(o.errorCode) && KEY_USE_OPERATIONS.has(o.operation);
}

/**
 * Any refused use of a disabled, revoked (compromised) or pending-deletion key, or of a disabled
 * version. A successful re-encrypt FROM a Compromised key is the sanctioned way out of it (the
 * compromise playbook's re-wrap plan) and is not flagged.
 */
export class InactiveKeyUseDetector implements Detector {
  readonly name = 'inactive-key-use';

  observe(o: Observation, emit: (f: Finding) => void): void {
    if (!needsKeyState(o) || o.keyState === undefined) return;
    const rule = INACTIVE[o.keyState];
    const versionDisabled = o.errorCode === 'Disabled' && o.keyState === 'Enabled';
    if (!versionDisabled && (rule === undefined || rule.code !== o.errorCode)) return;
    const subject: Subject = { keyId: o.keyId as string, ...(o.principalId !== null && principalSubject(o)) };
    const what = versionDisabled ? 'has a disabled version' : rule!.what;
    emit({
      detector: this.name,
      severity: versionDisabled ? 'medium' : rule!.severity,
      subject,
      summary: `${o.operation} on key ${o.keyId}, which ${versionDisabled ? what : `is ${what}`}, by ${o.principalName ?? o.principalId ?? 'an unknown caller'}`,
      evidence: { operation: o.operation, keyState: o.keyState, errorCode: o.errorCode, versionDisabled },
      events: [o.index],
      time: o.time,
    });
  }
}

// ---- mass-data-key -----------------------------------------------------------------------------

const newMassState = (): MassState => ({ window: -1, count: 0, fired: false, events: [], mean: 0, variance: 0, periods: 0 });

interface MassState extends Ewma {
  window: number;
  count: number;
  fired: boolean;
  events: number[];
}

/**
 * Data keys generated per principal in tumbling windows of `windowMinutes`, against
 * max(minCount, ratio × the EWMA of its past windows). A batch counts its items.
 */
export class MassDataKeyDetector implements Detector {
  readonly name = 'mass-data-key';
  readonly #s: BoundedMap<string, MassState>;

  constructor(private readonly c: AnomalySettings['detectors']['mass-data-key'], maxSubjects: number) {
    this.#s = new BoundedMap(maxSubjects);
  }

  #threshold(s: MassState): number {
    return Math.max(this.c.minCount, this.c.ratio * s.mean);
  }

  observe(o: Observation, emit: (f: Finding) => void): void {
    if (o.operation !== 'key:generate-data-key' || o.outcome !== 'allow' || o.principalId === null) return;
    const windowMs = this.c.windowMinutes * MINUTE;
    const window = Math.floor(o.time / windowMs);
    const s = this.#s.upsert(o.principalId, newMassState);
    if (s.window < 0) s.window = window;
    if (window > s.window) {
      ewmaAdd(s, Math.min(s.count, this.#threshold(s)), this.c.alpha);
      for (let i = 1; i < Math.min(window - s.window, MAX_GAP_STEPS); i++) ewmaAdd(s, 0, this.c.alpha);
      Object.assign(s, { window, count: 0, fired: false, events: [] });
    }
    s.count += o.items;
    remember(s.events, o.index);
    const threshold = this.#threshold(s);
    if (s.fired || s.count <= threshold) return;
    s.fired = true;
    const subject = principalSubject(o);
    emit({
      detector: this.name,
      severity: 'high',
      subject,
      summary: `${who(subject)} generated ${s.count} data keys within ${this.c.windowMinutes} min (baseline ${round(s.mean)} per window)`,
      evidence: { windowMinutes: this.c.windowMinutes, observed: s.count, baselineMean: round(s.mean), threshold: round(threshold), ratio: this.c.ratio, minCount: this.c.minCount },
      events: [...s.events],
      time: o.time,
    });
  }
}

/** The enabled detectors of `settings`, in ANOMALY_DETECTORS order. */
export function buildDetectors(settings: AnomalySettings, zones: ZoneMap): Detector[] {
  const d = settings.detectors;
  const n = settings.maxSubjects;
  const all: Array<[boolean, () => Detector]> = [
    [d['rate-spike'].enabled, () => new RateSpikeDetector(d['rate-spike'], n)],
    [d['new-zone'].enabled, () => new NewZoneDetector(d['new-zone'], n, zones)],
    [d['unusual-hours'].enabled, () => new UnusualHoursDetector(d['unusual-hours'], n, settings.timezoneOffsetMinutes * MINUTE)],
    [d.probing.enabled, () => new ProbingDetector(d.probing, n)],
    [d['inactive-key-use'].enabled, () => new InactiveKeyUseDetector()],
    [d['mass-data-key'].enabled, () => new MassDataKeyDetector(d['mass-data-key'], n)],
  ];
  return all.filter(([on]) => on).map(([, make]) => make());
}
