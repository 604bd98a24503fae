/**
 * GET /v1/sys/metrics (issue 10 §2): scraped over a real socket with fetch and parsed as the
 * Prometheus text format; counters and histograms move after real calls, gauges follow the key
 * store, the endpoint needs a token with sys:metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ManualClock } from '../../src/util/clock.js';
import { KEY_STATS_TTL_MS, ANOMALY_DETECTORS } from '../../src/ops/metrics.js';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';

// ---- a small parser of the text exposition format 0.0.4 -----------------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  help: Map<string, string>;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  LABEL_RE.lastIndex = 0;
  while (LABEL_RE.lastIndex < s.length) {
    const m = LABEL_RE.exec(s);
    if (m === null) throw new Error(`malformed labels: {${s}}`);
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return out;
}

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (/^nan$/i.test(s)) return NaN; // Go's ParseFloat (the Prometheus parser) takes any case; prom-client writes "Nan"
  const v = Number(s);
  if (Number.isNaN(v)) throw new Error(`not a sample value: ${s}`);
  return v;
}

/** Throws on any line it cannot read, so a malformed exposition fails the test. */
function parseExposition(text: string): Exposition {
  const e: Exposition = { samples: [], types: new Map(), help: new Map() };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'TYPE' ? e.types : e.help).set(meta[2]!, meta[3]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE_RE.exec(line);
    if (m === null) throw new Error(`malformed sample line: ${line}`);
    e.samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2]) : {}, value: parseValue(m[3]!) });
  }
  return e;
}

/** The one sample of `name` whose labels include `labels` (undefined when none). */
function val(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length <= 1, `${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}
const num = (e: Exposition, name: string, labels: Record<string, string> = {}) => val(e, name, labels) ?? 0;

// ---- the tests ---------------------------------------------------------------------------------

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('GET /v1/sys/metrics over HTTP', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  let t: TestKeywarden;
  let base: string;
  const tokens: Record<string, string> = {};

  async function account(name: string, roles: string[]): Promise<string> {
    const c = await t.req('POST', '/v1/principals', { name, roles });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
    assert.equal(tok.status, 200, JSON.stringify(tok.json));
    return tok.json.access_token;
  }

  async function scrape(token: string | null = tokens.auditor!): Promise<{ status: number; contentType: string | null; text: string }> {
    const res = await fetch(`${base}/v1/sys/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
  }

  async function parsed(): Promise<Exposition> {
    const s = await scrape();
    assert.equal(s.status, 200, s.text);
    return parseExposition(s.text);
  }

  async function key(body: object): Promise<string> {
    const r = await t.req('POST', '/v1/keys', body);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.key.id;
  }

  before(async () => {
    t = await startInProcess({ clock });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = t.kw.app.server.address();
    assert.ok(addr !== null && typeof addr === 'object');
    base = `http://127.0.0.1:${addr.port}`;
    tokens.auditor = await account('m-auditor', ['auditor']);
    tokens.officer = await account('m-officer', ['security-officer']);
    tokens.admin = await account('m-admin', ['admin']);
    tokens.app = await account('m-app', ['application']);
    tokens.keyAdmin = await account('m-keyadmin', ['key-administrator']);
  });
  after(() => t.close());

  test('access: a token with sys:metrics (admin, security-officer, auditor); others and anonymous callers are refused', async () => {
    for (const role of ['auditor', 'officer', 'admin'] as const) {
      const s = await scrape(tokens[role]);
      assert.equal(s.status, 200, `${role}: ${s.text}`);
      assert.match(s.contentType ?? '', /^text\/plain; version=0\.0\.4/);
    }
    const anon = await scrape(null);
    assertError({ status: anon.status, json: JSON.parse(anon.text) }, 401, 'Unauthenticated', /./);
    for (const [who, role] of [['app', 'application'], ['keyAdmin', 'key-administrator']] as const) {
      const s = await scrape(tokens[who]);
      assertError({ status: s.status, json: JSON.parse(s.text) }, 403, 'PermissionDenied', new RegExp(`^m-${who === 'app' ? 'app' : 'keyadmin'} is not allowed to perform sys:metrics: none of its roles \\(${role}\\) grants it`));
    }
    // Every scrape is a use-case like any other: audited and counted.
    const e = await parsed();
    assert.ok(num(e, 'keywarden_operations_total', { operation: 'sys:metrics', outcome: 'allow' }) >= 3);
    assert.ok(num(e, 'keywarden_operations_total', { operation: 'sys:metrics', outcome: 'deny' }) >= 3);
  });

  test('operation and HTTP counters and histograms move after an allowed, a denied and a failed call', async () => {
    const k = await key({ description: 'metrics' });
    const g = await t.req('POST', '/v1/grants', { key: k, principal: 'm-app', operations: ['encrypt'] });
    assert.equal(g.status, 201, JSON.stringify(g.json));
    const other = await key({ description: 'not granted' });

    const before = await parsed();
    const enc = { operation: 'key:encrypt', outcome: 'allow' };
    const denied = { operation: 'key:encrypt', outcome: 'deny' };
    const failed = { operation: 'key:decrypt', outcome: 'error' };
    const route = { method: 'POST', route: '/v1/keys/:keyRef/encrypt' };

    assert.equal((await t.req('POST', `/v1/keys/${k}/encrypt`, { plaintext: b64('hello') }, tokens.app)).status, 200);
    assert.equal((await t.req('POST', `/v1/keys/${k}/encrypt`, { plaintext: b64('again') }, tokens.app)).status, 200);
    assertError(await t.req('POST', `/v1/keys/${other}/encrypt`, { plaintext: b64('no') }, tokens.app), 403, 'PermissionDenied', /^m-app is not allowed to perform key:encrypt/);
    const bad = await t.req('POST', '/v1/decrypt', { ciphertext: b64('not a ciphertext at all, really not') });
    assert.equal(bad.status, 400, JSON.stringify(bad.json));

    const now = await parsed();
    assert.equal(num(now, 'keywarden_operations_total', enc) - num(before, 'keywarden_operations_total', enc), 2);
    assert.equal(num(now, 'keywarden_operations_total', denied) - num(before, 'keywarden_operations_total', denied), 1);
    assert.equal(num(now, 'keywarden_operations_total', failed) - num(before, 'keywarden_operations_total', failed), 1);
    // The latency histogram: count, +Inf bucket and a positive sum move with the counter.
    assert.equal(now.types.get('keywarden_operation_duration_seconds'), 'histogram');
    const count = (e: Exposition) => num(e, 'keywarden_operation_duration_seconds_count', enc);
    assert.equal(count(now) - count(before), 2);
    assert.equal(num(now, 'keywarden_operation_duration_seconds_bucket', { ...enc, le: '+Inf' }), count(now));
    assert.ok(num(now, 'keywarden_operation_duration_seconds_sum', enc) > 0);
    assert.ok(num(now, 'keywarden_operation_duration_seconds_sum', enc) < 60, 'seconds, from the monotonic clock (not the manual one)');
    const buckets = now.samples.filter((s) => s.name === 'keywarden_operation_duration_seconds_bucket' && s.labels.operation === 'key:encrypt' && s.labels.outcome === 'allow');
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
    // HTTP by route template and status (the raw URL with the key id is never a label value).
    assert.equal(num(now, 'keywarden_http_requests_total', { ...route, status: '200' }) - num(before, 'keywarden_http_requests_total', { ...route, status: '200' }), 2);
    assert.equal(num(now, 'keywarden_http_requests_total', { ...route, status: '403' }) - num(before, 'keywarden_http_requests_total', { ...route, status: '403' }), 1);
    assert.equal(num(now, 'keywarden_http_requests_total', { method: 'POST', route: '/v1/decrypt', status: '400' }) - num(before, 'keywarden_http_requests_total', { method: 'POST', route: '/v1/decrypt', status: '400' }), 1);
    assert.ok(num(now, 'keywarden_http_request_duration_seconds_count', route) >= 3);
    assert.ok(!now.samples.some((s) => s.labels.route?.includes(k)), 'no key id in a label');
    await t.req('GET', '/v1/no/such/route', undefined, null);
    assert.ok(num(await parsed(), 'keywarden_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }) >= 1);
  });

  test('gauges: keys by state and classification (cached a few seconds), approvals pending, audit, cache, anomaly alerts', async () => {
    clock.advance(KEY_STATS_TTL_MS);
    const before = await parsed();
    const keys = (e: Exposition, state: string, classification: string) => num(e, 'keywarden_keys', { state, classification });

    await key({ classification: 'confidential' });
    await key({ classification: 'confidential' });
    const disabled = await key({ classification: 'internal' });
    assert.equal((await t.req('POST', `/v1/keys/${disabled}/disable`)).status, 200);
    const doomed = await key({});
    assert.equal((await t.req('POST', `/v1/keys/${doomed}/schedule-deletion`, {})).status, 200);

    // Within the cache window the walk over the key store is not repeated.
    const cached = await parsed();
    assert.equal(keys(cached, 'Enabled', 'confidential'), keys(before, 'Enabled', 'confidential'));

    clock.advance(KEY_STATS_TTL_MS);
    const now = await parsed();
    assert.equal(keys(now, 'Enabled', 'confidential') - keys(before, 'Enabled', 'confidential'), 2);
    assert.equal(keys(now, 'Disabled', 'internal') - keys(before, 'Disabled', 'internal'), 1);
    assert.equal(keys(now, 'PendingDeletion', 'none') - keys(before, 'PendingDeletion', 'none'), 1);
    const listed = (await t.req('GET', '/v1/keys?limit=1000')).json.keys.length;
    assert.equal(now.samples.filter((s) => s.name === 'keywarden_keys').reduce((a, s) => a + s.value, 0), listed, 'every key counted once');

    // Approvals pending: a just-in-time grant request waits for its approvers.
    const k = await key({});
    const r = await t.req('POST', '/v1/requests', { action: 'jit-grant', key: k, reason: 'metrics', duration: 3600, params: { operations: ['encrypt'] } }, tokens.app);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(num(await parsed(), 'keywarden_approvals_pending') - num(now, 'keywarden_approvals_pending'), 1);

    // Audit ledger stats (LedgerService.stats()).
    const ledger = t.kw.ledger.stats();
    const e = await parsed();
    assert.ok(num(e, 'keywarden_audit_events_total') >= ledger.events && ledger.events > 0);
    assert.ok(num(e, 'keywarden_audit_batches_total') > 0);
    assert.equal(val(e, 'keywarden_audit_failed_batches_total'), 0);
    assert.equal(typeof val(e, 'keywarden_audit_queue_depth'), 'number');
    assert.ok(num(e, 'keywarden_audit_ledger_size') >= ledger.size);
    assert.equal(e.types.get('keywarden_audit_events_total'), 'counter');

    // Key cache: hits and misses of both caches, and their ratio.
    for (const cache of ['material', 'records']) {
      const hits = num(e, 'keywarden_key_cache_hits_total', { cache });
      const misses = num(e, 'keywarden_key_cache_misses_total', { cache });
      assert.ok(misses > 0, `${cache} misses`);
      assert.ok(Math.abs(num(e, 'keywarden_key_cache_hit_ratio', { cache }) - hits / (hits + misses)) < 1e-9);
    }
    assert.ok(num(e, 'keywarden_key_cache_hits_total', { cache: 'material' }) > 0, 'the second encrypt under a key used its cached material');

    // Anomaly alerts: a series per detector from the start, 0 until one raises an alert (test/http/alerts.test.ts counts them).
    for (const detector of ANOMALY_DETECTORS) assert.equal(val(e, 'keywarden_anomaly_alerts_total', { detector }), 0);
    assert.match(e.help.get('keywarden_anomaly_alerts_total') ?? '', /^Anomaly alerts raised \(new alerts; repeats folded/);
    // No HSM configured: no HSM series. Process metrics come from this instance's registry.
    assert.ok(!e.samples.some((s) => s.name.startsWith('keywarden_hsm_')));
    assert.ok(num(e, 'process_resident_memory_bytes') > 0 || val(e, 'nodejs_heap_size_used_bytes') !== undefined);
    assert.equal(val(e, 'keywarden_build_info', { version: '0.1.0' }), 1);
  });

  test('docs: the Grafana dashboard is valid JSON and queries only metrics that exist; operations.md lists every metric', async () => {
    const e = await parsed();
    const families = new Set([...e.types.keys()].filter((n) => n.startsWith('keywarden_')));
    const hsm = ['keywarden_hsm_calls_total', 'keywarden_hsm_errors_total', 'keywarden_hsm_call_seconds_total', 'keywarden_hsm_reconnects_total'];
    const dash = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8'));
    const exprs: string[] = dash.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((x) => x.expr));
    for (const m of exprs.join(' ').match(/keywarden_[a-z_]+/g) ?? []) {
      const family = m.replace(/_(bucket|sum|count)$/, '');
      assert.ok(families.has(family) || hsm.includes(family), `dashboard metric ${m} exists`);
    }
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    for (const f of [...families, ...hsm]) assert.ok(doc.includes(`\`${f}\``), `operations.md documents ${f}`);
  });

  test('rotations due and overdue follow the injected clock', async () => {
    clock.advance(KEY_STATS_TTL_MS);
    const before = await parsed();
    await key({ rotationPeriodDays: 1 });
    clock.advance(86_400_000 + 1);
    // Tokens of 15 minutes have expired by now: fresh ones.
    tokens.auditor = await t.req('POST', '/v1/principals/m-auditor/rotate-secret').then(async (c) => {
      const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
      return tok.json.access_token as string;
    });
    const due = await parsed();
    assert.equal(num(due, 'keywarden_key_rotations_due') - num(before, 'keywarden_key_rotations_due'), 1);
    assert.equal(num(due, 'keywarden_key_rotations_overdue') - num(before, 'keywarden_key_rotations_overdue'), 0);
    clock.advance(60 * 60_000);
    tokens.auditor = await t.req('POST', '/v1/principals/m-auditor/rotate-secret').then(async (c) => {
      const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
      return tok.json.access_token as string;
    });
    const overdue = await parsed();
    assert.equal(num(overdue, 'keywarden_key_rotations_overdue') - num(before, 'keywarden_key_rotations_overdue'), 1);
    // The rotation-due job rotates it: due no more.
    await t.kw.scheduler.tick();
    clock.advance(KEY_STATS_TTL_MS);
    assert.equal(num(await parsed(), 'keywarden_key_rotations_due'), num(before, 'keywarden_key_rotations_due'));
  });
});
