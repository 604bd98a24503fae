/**
 * Acceptance of the anomaly detectors (issue 10/10 §3): replay 14 days of NORMAL synthetic traffic
 * (test/anomaly/traffic.ts) through the engine with the default settings, measure the false-positive
 * rate (findings / subject-hours), then replay one ANOMALY set per detector and check that exactly
 * the expected detector fires on the expected subject. Plus the building blocks: zones (IPv4,
 * IPv6, longest prefix), bounded state, config defaults and validation.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AnomalyEngine, observationOf } from '../../src/anomaly/engine.js';
import { ANOMALY_DEFAULTS, resolveAnomalySettings } from '../../src/anomaly/config.js';
import { BoundedMap } from '../../src/anomaly/bounded.js';
import { ZoneMap } from '../../src/anomaly/zones.js';
import type { Finding, Observation } from '../../src/anomaly/model.js';
import { buildEvent } from '../../src/audit/event.js';
import { ConfigError, validateConfig } from '../../src/config/config.js';
import { ALICE, BOB, DAY, HOUR, INGEST, MIN, START, WEB, ZONES, ev, normalTraffic } from './traffic.js';

/** The bound this suite asserts for the false-positive rate of the normal set (docs/operations.md states the measured rate). */
const FP_BOUND = 0.001;
const NORMAL_DAYS = 14;

describe('detectors on synthetic traffic (default settings)', () => {
  const engine = new AnomalyEngine({ settings: resolveAnomalySettings({ zones: ZONES }), onFinding: () => {} });
  let next = 0;
  const replay = (events: ReadonlyArray<Omit<Observation, 'index'>>): Finding[] => events.flatMap((e) => engine.observe({ ...e, index: next++ } as Observation));

  let normalFindings: Finding[] = [];
  let subjectHours = 0;
  before(() => {
    const normal = normalTraffic(NORMAL_DAYS);
    subjectHours = normal.subjectHours;
    next = normal.events.length;
    const t0 = performance.now();
    normalFindings = normal.events.flatMap((o) => engine.observe(o));
    const ms = performance.now() - t0;
    const rate = normalFindings.length / normal.subjectHours;
    // The measured numbers, printed for docs/operations.md.
    console.log(
      `normal set: ${NORMAL_DAYS} days, ${normal.events.length} events, ${normal.subjectHours} subject-hours; ` +
        `${normalFindings.length} findings -> false-positive rate ${rate} (bound ${FP_BOUND}); replay ${Math.round(ms)} ms (${Math.round((ms * 1e6) / normal.events.length)} ns per event)`,
    );
    for (const f of normalFindings) console.log(`  false positive: ${f.detector} ${JSON.stringify(f.subject)} ${f.summary}`);
  });

  test(`the normal set raises (almost) nothing: false-positive rate below ${FP_BOUND} per subject-hour`, () => {
    const normal = normalTraffic(1); // shape check of the generator (cheap)
    assert.ok(normal.events.length > 10_000);
    const rate = normalFindings.length / subjectHours;
    assert.ok(rate < FP_BOUND, `false-positive rate ${rate}: ${JSON.stringify(normalFindings.map((f) => [f.detector, f.subject, f.summary]))}`);
  });

  const day = START + NORMAL_DAYS * DAY; // a Monday

  /** Replays `events`, expects the findings' detectors to be exactly `detectors`, and returns the findings. */
  function expectOnly(events: Array<Omit<Observation, 'index'>>, detectors: string[]): Finding[] {
    const f = replay(events);
    assert.deepEqual([...new Set(f.map((x) => x.detector))].sort(), [...detectors].sort(), JSON.stringify(f.map((x) => [x.detector, x.subject, x.summary])));
    return f;
  }

  test('unusual-hours: alice at 03:10 on a weekday', () => {
    const f = expectOnly([ev(day + 3 * HOUR + 10 * MIN, { ...ALICE, sourceIp: '192.168.10.20', operation: 'key:decrypt', keyId: 'k-hr' })], ['unusual-hours']);
    assert.equal(f.length, 1);
    assert.deepEqual(f[0]!.subject, { principalId: 'p-alice', principalName: 'alice' });
    assert.equal(f[0]!.evidence.hourOfDay, 3);
    assert.ok((f[0]!.evidence.dayFraction as number) < 0.2);
    assert.match(f[0]!.summary, /^principal alice is active at 03:00–03:59 \(UTC\), outside its usual hours$/);
    // The next call in the same hour is not a new finding.
    expectOnly([ev(day + 3 * HOUR + 20 * MIN, { ...ALICE, sourceIp: '192.168.10.20', operation: 'key:decrypt', keyId: 'k-hr' })], []);
  });

  test('rate-spike: svc-web makes 2000 calls in one minute (normal: 2–18)', () => {
    const t = day + 10 * HOUR;
    const spike = Array.from({ length: 2000 }, (_, i) => ev(t + i * 25, { ...WEB, sourceIp: '10.1.0.3', operation: 'key:decrypt', keyId: 'k-web' }));
    const f = expectOnly(spike, ['rate-spike']);
    // Per subject: medium the moment the minute crosses its threshold, high once it is 10 times over.
    assert.deepEqual(f.map((x) => [x.subject.keyId ?? x.subject.principalName, x.severity, x.evidence.observed]), [['k-web', 'medium', 101], ['svc-web', 'medium', 101], ['k-web', 'high', 1001], ['svc-web', 'high', 1001]]);
    for (const x of f) {
      assert.equal(x.evidence.minCount, 100);
      assert.ok((x.evidence.observed as number) > (x.evidence.threshold as number) && (x.evidence.threshold as number) >= 100);
      assert.ok((x.evidence.hourBaselineMean as number) > 5 && (x.evidence.hourBaselineMean as number) < 30, `hour baseline ${x.evidence.hourBaselineMean}`);
      assert.equal(x.events.length, 20, 'the last 20 events of the minute are linked');
    }
  });

  test('new-zone: alice calls from a partner network in another country', () => {
    const f = expectOnly([ev(day + 11 * HOUR, { ...ALICE, sourceIp: '203.0.113.7', operation: 'key:decrypt', keyId: 'k-hr' })], ['new-zone']);
    assert.equal(f.length, 1);
    assert.equal(f[0]!.severity, 'high');
    assert.deepEqual(f[0]!.subject, { principalId: 'p-alice', principalName: 'alice', keyId: 'k-hr', sourceIp: '203.0.113.7' });
    assert.deepEqual(f[0]!.evidence, { zone: 'partner-us', country: 'US', newCountry: true, newForPrincipal: true, newForKey: true, learningHours: 24 });
    // Learnt: the next call from there is quiet.
    expectOnly([ev(day + 11 * HOUR + MIN, { ...ALICE, sourceIp: '203.0.113.7', operation: 'key:decrypt', keyId: 'k-hr' })], []);
    // An address in no configured zone is the zone 'unknown' (medium: no new country known).
    const u = expectOnly([ev(day + 11 * HOUR + 2 * MIN, { ...BOB, sourceIp: '2001:db8::1', operation: 'key:decrypt', keyId: 'k-hr' })], ['new-zone']);
    assert.equal(u[0]!.severity, 'medium');
    assert.equal(u[0]!.evidence.zone, 'unknown');
  });

  test('probing: 50 unauthenticated calls from one address in 25 s, and 25 failed decrypts by bob in 20 s', () => {
    const t = day + 12 * HOUR;
    const unauth = Array.from({ length: 50 }, (_, i) => ev(t + i * 500, { sourceIp: '198.51.100.9', operation: 'key:decrypt', outcome: 'deny', errorCode: 'Unauthenticated' }));
    const f = expectOnly(unauth, ['probing']);
    assert.equal(f.length, 1, 'one finding per window');
    assert.deepEqual(f[0]!.subject, { sourceIp: '198.51.100.9' });
    assert.deepEqual({ ...f[0]!.evidence }, { observed: 20, threshold: 20, windowSeconds: 60, denied: 20, failedDecrypts: 0, lastErrorCode: 'Unauthenticated' });
    const t2 = day + 12 * HOUR + 30 * MIN;
    const bad = Array.from({ length: 25 }, (_, i) => ev(t2 + i * 800, { ...BOB, sourceIp: '192.168.10.21', operation: 'key:decrypt', keyId: 'k-hr', outcome: 'error', errorCode: 'InvalidCiphertext' }));
    const g = expectOnly(bad, ['probing']);
    assert.deepEqual(g.map((x) => x.subject), [{ principalId: 'p-bob', principalName: 'bob' }, { sourceIp: '192.168.10.21' }]);
    assert.equal(g[0]!.evidence.failedDecrypts, 20);
  });

  test('inactive-key-use: code AND state must match (Compromised, Disabled, PendingDeletion, disabled version)', () => {
    const t = day + 13 * HOUR;
    const use = (keyId: string, errorCode: string, keyState: string) => ({ ...ev(t, { ...WEB, sourceIp: '10.1.0.2', operation: 'key:decrypt', keyId, outcome: 'error', errorCode }), keyState });
    const f = expectOnly([use('k-old', 'InvalidState', 'Compromised'), use('k-off', 'Disabled', 'Disabled'), use('k-gone', 'InvalidState', 'PendingDeletion'), use('k-v', 'Disabled', 'Enabled')], ['inactive-key-use']);
    assert.deepEqual(f.map((x) => [x.subject.keyId, x.severity, x.evidence.keyState]), [['k-old', 'critical', 'Compromised'], ['k-off', 'high', 'Disabled'], ['k-gone', 'high', 'PendingDeletion'], ['k-v', 'medium', 'Enabled']]);
    assert.equal(f[0]!.summary, 'key:decrypt on key k-old, which is revoked as compromised, by svc-web');
    // Not inactive-key use: InvalidState on an Enabled key (e.g. below the minimum decryption version), a Destroyed key, an allowed re-encrypt from a Compromised key.
    expectOnly(
      [use('k-x', 'InvalidState', 'Enabled'), use('k-y', 'InvalidState', 'Destroyed'), { ...ev(t, { ...WEB, operation: 'key:re-encrypt', keyId: 'k-old' }), keyState: 'Compromised' }],
      [],
    );
  });

  test('mass-data-key: svc-ingest generates 5000 data keys in 5 minutes (normal: ~250 per 10 min)', () => {
    const t = day + 14 * HOUR;
    const burst = Array.from({ length: 5000 }, (_, i) => ev(t + i * 60, { ...INGEST, sourceIp: '10.1.2.1', operation: 'key:generate-data-key', keyId: 'k-ingest' }));
    const f = expectOnly(burst, ['mass-data-key', 'rate-spike']);
    const m = f.filter((x) => x.detector === 'mass-data-key');
    assert.equal(m.length, 1);
    assert.deepEqual(m[0]!.subject, { principalId: 'p-ingest', principalName: 'svc-ingest' });
    assert.equal(m[0]!.evidence.threshold, 500);
    assert.equal(m[0]!.evidence.observed, 501);
    // A batch counts its items.
    const b = new AnomalyEngine({ settings: resolveAnomalySettings({}), onFinding: () => {} });
    assert.deepEqual(b.observe({ ...ev(t, { ...INGEST, operation: 'key:generate-data-key', keyId: 'k', items: 501 }), index: 0 } as Observation).map((x) => x.detector), ['mass-data-key']);
  });
});

describe('engine plumbing', () => {
  test('observationOf reads a built audit event; alert events are ignored', async () => {
    const e = buildEvent({ requestId: 'r', principal: { id: 'p1', name: 'app', kind: 'service-account' }, authMethod: 'access-token', sourceIp: '10.0.0.1', operation: 'key:encrypt', keyId: 'k1', outcome: 'allow', details: { items: 3, succeeded: 3, failed: 0 } }, START, undefined);
    assert.deepEqual(observationOf(7, e), { index: 7, time: START, principalId: 'p1', principalName: 'app', principalKind: 'service-account', sourceIp: '10.0.0.1', operation: 'key:encrypt', keyId: 'k1', outcome: 'allow', errorCode: null, items: 3 });
    const found: Finding[] = [];
    const engine = new AnomalyEngine({ settings: resolveAnomalySettings({ detectors: { probing: { threshold: 2 } } }), onFinding: (f) => found.push(f) });
    const deny = (op: string, kind = 'service-account') => buildEvent({ requestId: 'r', principal: { id: 'p1', name: 'app', kind }, authMethod: 'internal', sourceIp: '10.0.0.1', operation: op, outcome: 'deny', errorCode: 'PermissionDenied' }, START, undefined);
    engine.push({ index: 0, event: deny('alert:manage'), leafHash: Buffer.alloc(32) });
    engine.push({ index: 1, event: deny('key:encrypt', 'system'), leafHash: Buffer.alloc(32) });
    await engine.settle();
    assert.equal(found.length, 0);
    assert.equal(engine.stats().ignored, 2);
    engine.push({ index: 2, event: deny('key:encrypt'), leafHash: Buffer.alloc(32) });
    engine.push({ index: 3, event: deny('key:decrypt'), leafHash: Buffer.alloc(32) });
    await engine.settle();
    assert.deepEqual(found.map((f) => [f.detector, f.events]), [['probing', [2, 3]], ['probing', [2, 3]]]);
  });

  test('the engine asks for the key state only for refused uses with Disabled / InvalidState', async () => {
    const asked: string[] = [];
    const found: Finding[] = [];
    const engine = new AnomalyEngine({ settings: resolveAnomalySettings({}), keyState: async (k) => (asked.push(k), 'Disabled'), onFinding: (f) => found.push(f) });
    const e = (errorCode: string | null, outcome: 'allow' | 'error') => buildEvent({ requestId: 'r', principal: null, authMethod: 'none', operation: 'key:encrypt', keyId: 'k9', outcome, errorCode }, START, undefined);
    engine.push({ index: 0, event: e(null, 'allow'), leafHash: Buffer.alloc(32) });
    engine.push({ index: 1, event: e('NotFound', 'error'), leafHash: Buffer.alloc(32) });
    engine.push({ index: 2, event: e('Disabled', 'error'), leafHash: Buffer.alloc(32) });
    await engine.settle();
    assert.deepEqual(asked, ['k9']);
    assert.deepEqual(found.map((f) => f.detector), ['inactive-key-use']);
  });
});

describe('building blocks', () => {
  test('zones: longest prefix wins, IPv6, IPv4-mapped IPv6, unknown', () => {
    const z = new ZoneMap([...ZONES, { cidr: '10.1.7.0/24', zone: 'dc-a-mgmt', country: 'DE' }, { cidr: '::/0', zone: 'anywhere-v6' }]);
    assert.deepEqual(z.lookup('10.1.0.5'), { zone: 'dc-a', country: 'DE' });
    assert.deepEqual(z.lookup('10.1.7.5'), { zone: 'dc-a-mgmt', country: 'DE' });
    assert.deepEqual(z.lookup('::ffff:10.2.3.4'), { zone: 'dc-b', country: 'NL' });
    assert.deepEqual(z.lookup('fd00:1:0:0::99'), { zone: 'dc-a-v6', country: 'DE' });
    assert.deepEqual(z.lookup('2001:db8::1'), { zone: 'anywhere-v6', country: null });
    assert.deepEqual(new ZoneMap(ZONES).lookup('8.8.8.8'), { zone: 'unknown', country: null });
  });

  test('bounded state: the least recently used subject is forgotten first', () => {
    const m = new BoundedMap<string, number>(2);
    m.upsert('a', () => 1);
    m.upsert('b', () => 2);
    m.get('a');
    m.upsert('c', () => 3);
    assert.equal(m.get('b'), undefined);
    assert.equal(m.get('a'), 1);
    assert.equal(m.size, 2);
    assert.equal(m.evicted, 1);
  });

  test('memory stays bounded: 50 000 principals through a detector capped at 1000 subjects', () => {
    const engine = new AnomalyEngine({ settings: resolveAnomalySettings({ maxSubjects: 1000 }), onFinding: () => {} });
    for (let i = 0; i < 50_000; i++) engine.observe({ ...ev(START + i, { principalId: `p${i}`, principalName: `p${i}`, sourceIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, operation: 'key:encrypt', keyId: `k${i}` }), index: i } as Observation);
    assert.equal(engine.stats().observed, 50_000);
  });

  test('config: defaults, and errors name the member but never the value', () => {
    const s = resolveAnomalySettings({});
    assert.deepEqual(s.detectors, ANOMALY_DEFAULTS.detectors);
    assert.deepEqual(s.alerts, ANOMALY_DEFAULTS.alerts);
    assert.deepEqual(s.responses, {});
    assert.equal(resolveAnomalySettings({ detectors: { probing: { threshold: 5 } } }).detectors.probing.threshold, 5);
    assert.throws(() => resolveAnomalySettings({ zones: [{ cidr: '10.0.0.1/8', zone: 'x' }] }), { code: 'ValidationError', message: 'invalid anomaly config at /zones/0/cidr: "10.0.0.1/8" has host bits set' });
    assert.throws(() => resolveAnomalySettings({ webhooks: [{ url: 'https://x', secret: 'short' }] }), (e: Error) => e.message.startsWith('invalid anomaly config at /webhooks/0/secret') && !e.message.includes('short'));
    assert.throws(() => resolveAnomalySettings({ responses: { probing: ['explode'] } }), { code: 'ValidationError' });
    assert.throws(() => resolveAnomalySettings({ detector: {} }), { message: /invalid anomaly config at \/detector/ });
  });

  test('server config: the anomaly section is validated at start (paths in config terms)', () => {
    const base = { listen: { address: '127.0.0.1:8200', tls: { disable: true } }, storage: { type: 'sqlite', path: 'kw.db' }, seal: { type: 'shamir' } };
    const c = validateConfig({ ...base, anomaly: { zones: ZONES, responses: { probing: ['suspend-token'] }, detectors: { 'rate-spike': { sensitivity: 8 } } } }, '/tmp');
    assert.equal(c.anomaly?.detectors?.['rate-spike']?.sensitivity, 8);
    assert.throws(() => validateConfig({ ...base, anomaly: { zones: [{ cidr: '10.0.0.0/33', zone: 'x' }] } }, '/tmp'), (e: Error) => e instanceof ConfigError && e.message === 'invalid config at anomaly.zones.0.cidr: "10.0.0.0/33" is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)');
    assert.throws(() => validateConfig({ ...base, anomaly: { detectors: { probing: { threshold: 1 } } } }, '/tmp'), (e: Error) => e instanceof ConfigError && /^invalid config at anomaly\.detectors\.probing\.threshold: /.test(e.message));
  });
});
