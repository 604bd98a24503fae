/**
 * Alerts through the real HTTP server (issue 10/10 §4): a probing burst raises an alert visible in
 * GET /v1/alerts within the same minute; repeats fold into it; acknowledge and resolve (with the
 * audit events of each); filters and pagination; webhook delivery to a real local HTTP receiver
 * (signed, through a receiver outage and its recovery, with the per-minute cap); one automatic
 * response of each kind; and keywarden_anomaly_alerts_total scraped from /v1/sys/metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeywarden, type Keywarden, type KeywardenOptions } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { DEFAULT_ACCESS_POLICY } from '../../src/auth/access-policy.js';
import { ManualClock } from '../../src/util/clock.js';
import type { AnomalyConfig } from '../../src/anomaly/config.js';
import { assertError } from '../support/assert.js';

type Res = { status: number; json: any; headers: Record<string, unknown> };

interface Harness {
  kw: Keywarden;
  clock: ManualClock;
  root: string;
  req(method: string, url: string, body?: unknown, token?: string | null, from?: string): Promise<Res>;
  /** A service account with `roles` and an access token. */
  account(name: string, roles: string[]): Promise<string>;
  close(): Promise<void>;
}

/** A Keywarden on a temp SQLite file with the given anomaly config, driven with inject (`from` sets the caller address). */
async function start(anomaly: AnomalyConfig = {}, extra: Partial<KeywardenOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'kw-alerts-'));
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10, 0, 0));
  const kw = await createKeywarden({ storage: { type: 'sqlite', path: join(dir, 'keywarden.db') }, seal: 'dev', logger: false, clock, anomaly, ...extra });
  await bootDevSeal(kw.seal, dir);
  const root = await kw.tokens.createRootToken();
  const h: Harness = {
    kw,
    clock,
    root,
    async req(method, url, body, token, from = '127.0.0.1') {
      const auth = token === null ? undefined : (token ?? root);
      const r = await kw.app.inject({
        method: method as 'GET',
        url,
        remoteAddress: from,
        headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      let json: unknown;
      try {
        json = r.body.length ? JSON.parse(r.body) : undefined;
      } catch {
        json = r.body;
      }
      return { status: r.statusCode, json, headers: r.headers };
    },
    async account(name, roles) {
      const c = await h.req('POST', '/v1/principals', { name, roles });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const t = await h.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
      return t.json.access_token as string;
    },
    async close() {
      await kw.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** `n` unauthenticated calls from `from` (each denied: probing material). */
async function probe(h: Harness, n: number, from: string): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal((await h.req('GET', '/v1/keys', undefined, null, from)).status, 401);
}

describe('alerts over HTTP', () => {
  let h: Harness;
  let so: string;
  let auditor: string;
  let admin: string;
  before(async () => {
    h = await start();
    so = await h.account('so-1', ['security-officer']);
    auditor = await h.account('auditor-1', ['auditor']);
    admin = await h.account('admin-1', ['admin']);
  });
  after(() => h.close());

  test('a probing burst raises an alert visible in GET /v1/alerts within the same minute', async () => {
    const t0 = h.clock.now();
    await probe(h, 20, '198.51.100.7');
    await h.kw.settleAlerts();
    const r = await h.req('GET', '/v1/alerts?detector=probing', undefined, so);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.alerts.length, 1);
    const a = r.json.alerts[0];
    assert.equal(a.status, 'open');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.subject, { keyId: null, principalId: null, principalName: null, sourceIp: '198.51.100.7' });
    assert.equal(a.summary, 'address 198.51.100.7: 20 denied calls or failed decrypts within 60 s (probing)');
    assert.deepEqual(a.evidence, { observed: 20, threshold: 20, windowSeconds: 60, denied: 20, failedDecrypts: 0, lastErrorCode: 'Unauthenticated' });
    assert.equal(a.count, 1);
    assert.ok(Date.parse(a.createdAt) - t0 < 60_000, 'raised within the minute');
    // The linked events are the denied calls, in the ledger.
    assert.equal(a.auditEvents.length, 20);
    const ev = await h.req('GET', `/v1/audit/events?outcome=deny&limit=1000`, undefined, so);
    const denied = new Map(ev.json.events.map((e: any) => [e.index, e]));
    for (const i of a.auditEvents) assert.equal((denied.get(i) as any)?.sourceIp, '198.51.100.7');
    // Readable by id; admins and auditors may read, applications may not.
    assert.equal((await h.req('GET', `/v1/alerts/${a.id}`, undefined, auditor)).json.alert.id, a.id);
    assert.equal((await h.req('GET', `/v1/alerts/${a.id}`, undefined, admin)).status, 200);
    assertError(await h.req('GET', '/v1/alerts/00000000-0000-0000-0000-000000000000', undefined, so), 404, 'NotFound', 'alert 00000000-0000-0000-0000-000000000000 was not found');
    // The raise itself is in the audit ledger (and not analysed again: no feedback loop).
    const raised = await h.req('GET', '/v1/audit/events?operation=alert:raised', undefined, so);
    assert.equal(raised.json.events.length, 1);
    assert.deepEqual(raised.json.events[0].principal, { id: 'system:anomaly-detection', name: 'anomaly-detection', kind: 'system' });
    assert.equal(raised.json.events[0].details.detector, 'probing');
  });

  test('repeats fold into the open alert (count, last seen); nothing new is delivered or counted', async () => {
    const first = (await h.req('GET', '/v1/alerts?detector=probing', undefined, so)).json.alerts[0];
    h.clock.advance(61_000);
    await probe(h, 20, '198.51.100.7');
    h.clock.advance(61_000);
    await probe(h, 20, '198.51.100.7');
    await h.kw.settleAlerts();
    const list = (await h.req('GET', '/v1/alerts?detector=probing', undefined, so)).json.alerts;
    assert.equal(list.length, 1, 'one alert for one incident');
    assert.equal(list[0].id, first.id);
    assert.equal(list[0].count, 3);
    assert.equal(list[0].lastSeen, new Date(h.clock.now()).toISOString());
    assert.equal(list[0].auditEvents.length, 60);
    assert.equal((await h.req('GET', '/v1/audit/events?operation=alert:raised', undefined, so)).json.events.length, 1);
    assert.deepEqual(h.kw.alerts.stats(), { raised: 1, folded: 2, failed: 0 });
  });

  test('acknowledge and resolve: security officers only; each is audited; states are enforced', async () => {
    const id = (await h.req('GET', '/v1/alerts?detector=probing', undefined, so)).json.alerts[0].id;
    assertError(await h.req('POST', `/v1/alerts/${id}/acknowledge`, undefined, auditor), 403, 'PermissionDenied', /^auditor-1 is not allowed to perform alert:manage: /);
    const ack = await h.req('POST', `/v1/alerts/${id}/acknowledge`, undefined, so);
    assert.equal(ack.status, 200, JSON.stringify(ack.json));
    assert.equal(ack.json.alert.status, 'acknowledged');
    assert.equal(ack.json.alert.acknowledgedBy, 'so-1');
    assertError(await h.req('POST', `/v1/alerts/${id}/acknowledge`, undefined, so), 409, 'InvalidState', `alert ${id} is acknowledged: only an open alert can be acknowledged`);
    assertError(await h.req('POST', `/v1/alerts/${id}/resolve`, {}, so), 400, 'ValidationError', 'body is missing the required field "note"');
    assertError(await h.req('POST', `/v1/alerts/${id}/resolve`, { note: '   ' }, so), 400, 'ValidationError', 'note must say what was found or done');
    // Still active while acknowledged: a repeat folds into it.
    h.clock.advance(61_000);
    await probe(h, 20, '198.51.100.7');
    await h.kw.settleAlerts();
    assert.equal((await h.req('GET', `/v1/alerts/${id}`, undefined, so)).json.alert.count, 4);
    const res = await h.req('POST', `/v1/alerts/${id}/resolve`, { note: 'a scanner on the guest network; blocked at the firewall' }, so);
    assert.equal(res.json.alert.status, 'resolved');
    assert.equal(res.json.alert.resolvedBy, 'so-1');
    assert.equal(res.json.alert.resolutionNote, 'a scanner on the guest network; blocked at the firewall');
    assertError(await h.req('POST', `/v1/alerts/${id}/resolve`, { note: 'again' }, so), 409, 'InvalidState', `alert ${id} is already resolved`);
    for (const [op, details] of [
      ['alert:acknowledged', { alert: id, detector: 'probing' }],
      ['alert:resolved', { alert: id, detector: 'probing', note: 'a scanner on the guest network; blocked at the firewall' }],
    ] as const) {
      const e = (await h.req('GET', `/v1/audit/events?operation=${op}`, undefined, so)).json.events;
      assert.equal(e.length, 1, op);
      assert.equal(e[0].principal.name, 'so-1');
      assert.deepEqual(e[0].details, details);
    }
    // After resolution a new burst is a new alert.
    h.clock.advance(61_000);
    await probe(h, 20, '198.51.100.7');
    await h.kw.settleAlerts();
    const open = (await h.req('GET', '/v1/alerts?detector=probing&status=open', undefined, so)).json.alerts;
    assert.equal(open.length, 1);
    assert.notEqual(open[0].id, id);
  });

  test('filters, pagination and query validation', async () => {
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      h.clock.advance(1000);
      await probe(h, 20, ip);
    }
    await h.kw.settleAlerts();
    const all = (await h.req('GET', '/v1/alerts', undefined, so)).json.alerts;
    assert.equal(all.length, 5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Res = await h.req('GET', `/v1/alerts?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, so);
      seen.push(...page.json.alerts.map((a: any) => a.id));
      cursor = page.json.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(seen, all.map((a: any) => a.id), 'pages walk the list newest first');
    assert.equal((await h.req('GET', '/v1/alerts?status=resolved', undefined, so)).json.alerts.length, 1);
    assert.equal((await h.req('GET', '/v1/alerts?severity=low', undefined, so)).json.alerts.length, 0);
    assert.equal((await h.req('GET', `/v1/alerts?since=${encodeURIComponent(new Date(h.clock.now() - 1500).toISOString())}`, undefined, so)).json.alerts.length, 2);
    assertError(await h.req('GET', '/v1/alerts?detector=nope', undefined, so), 400, 'ValidationError', 'detector must be one of: rate-spike, new-zone, unusual-hours, probing, inactive-key-use, mass-data-key');
    assertError(await h.req('GET', '/v1/alerts?limit=0', undefined, so), 400, 'ValidationError', 'limit must be between 1 and 1000');
    assertError(await h.req('GET', '/v1/alerts?cursor=xyz', undefined, so), 400, 'ValidationError', 'cursor is not a cursor this API returned');
    assertError(await h.req('GET', '/v1/alerts?extra=1', undefined, so), 400, 'ValidationError', 'querystring has an unknown field "extra"');
  });

  test('keywarden_anomaly_alerts_total counts new alerts (not repeats), scraped over HTTP', async () => {
    const m = await h.req('GET', '/v1/sys/metrics', undefined, so);
    assert.equal(m.status, 200);
    const text = m.json as string;
    const value = (d: string) => Number(new RegExp(`^keywarden_anomaly_alerts_total\\{detector="${d}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('probing'), 5);
    assert.equal(value('rate-spike'), 0);
    assert.match(text, /^# HELP keywarden_anomaly_alerts_total Anomaly alerts raised \(new alerts; repeats folded into an open alert are not counted\), by detector$/m);
  });
});

interface Received {
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A local webhook receiver on `port` (0: any) recording every POST. */
function receiver(port = 0): Promise<{ server: Server; port: number; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, got })));
}

const SECRET = 'alert-webhook-secret-0123456789';

function checkSignature(r: Received): void {
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
  const got = Buffer.from(String(r.headers['x-keywarden-signature']));
  assert.ok(got.length === expected.length && timingSafeEqual(got, expected), 'HMAC signature over the body');
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('alert webhooks (a real local HTTP receiver)', () => {
  test('signed delivery, through a receiver outage and its recovery; the per-minute cap suppresses the rest', async () => {
    // Reserve a port, then stop the receiver: the first deliveries find it down.
    const first = await receiver();
    const port = first.port;
    await new Promise((r) => first.server.close(r));
    const h = await start(
      { webhooks: [{ url: `http://127.0.0.1:${port}/hook`, secret: SECRET, timeoutMs: 2000 }], alerts: { maxDeliveriesPerMinute: 2 } },
      { alertWebhookQueue: { initialBackoffMs: 50, maxBackoffMs: 200 } },
    );
    try {
      await probe(h, 20, '192.0.2.10');
      await h.kw.settleAlerts();
      const sink = () => Object.values(h.kw.alerts.deliveryStats().sinks)[0]!;
      await until(() => sink().failedAttempts >= 2, 'failed attempts while the receiver is down');
      assert.equal(sink().sent, 0);
      assert.match(sink().lastError ?? '', /^webhook: ECONNREFUSED$/);
      // The receiver comes back on the same port: the queued alert is delivered.
      const back = await receiver(port);
      try {
        await until(() => back.got.length === 1, 'delivery after recovery');
        const r = back.got[0]!;
        checkSignature(r);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.equal(r.headers['x-keywarden-timestamp'], String(h.clock.now()));
        const body = JSON.parse(r.body.toString('utf8'));
        assert.equal(body.format, 'keywarden-audit-sink/v1');
        assert.equal(body.id, r.headers['x-keywarden-delivery']);
        assert.equal(body.records.length, 1);
        assert.equal(body.records[0].type, 'alert');
        assert.equal(body.records[0].alert.detector, 'probing');
        assert.equal(body.records[0].alert.subject.sourceIp, '192.0.2.10');
        assert.equal(JSON.stringify(body).includes(SECRET), false);
        // Two more alerts in the same minute: the cap (2 per minute) lets one through.
        await probe(h, 20, '192.0.2.11');
        await probe(h, 20, '192.0.2.12');
        await h.kw.settleAlerts();
        await until(() => back.got.length === 2, 'second delivery');
        const d = h.kw.alerts.stats();
        assert.equal(d.raised, 3);
        const { queued, suppressed } = h.kw.alerts.deliveryStats();
        assert.deepEqual({ queued, suppressed }, { queued: 2, suppressed: 1 });
        // Next minute: the budget is back.
        h.clock.advance(60_000);
        await probe(h, 20, '192.0.2.13');
        await h.kw.settleAlerts();
        await until(() => back.got.length === 3, 'delivery in the next minute');
        for (const x of back.got) checkSignature(x);
        // Every alert is in the API regardless of delivery.
        assert.equal((await h.req('GET', '/v1/alerts')).json.alerts.length, 4);
      } finally {
        await h.close();
        await new Promise((r) => back.server.close(r));
      }
    } catch (e) {
      await h.close().catch(() => {});
      throw e;
    }
  });
});

describe('automatic responses (config anomaly.responses)', () => {
  test('reauthenticate: the probing user\u2019s sessions end', async () => {
    const h = await start({ responses: { probing: ['reauthenticate'] } });
    try {
      const u = await h.req('POST', '/v1/users', { name: 'ann', roles: ['auditor'], password: 'correct horse battery' });
      assert.equal(u.status, 201, JSON.stringify(u.json));
      const login = await h.req('POST', '/v1/auth/login', { username: 'ann', password: 'correct horse battery' }, null);
      const session = login.json.token as string;
      assert.equal((await h.req('GET', '/v1/keys', undefined, session)).status, 200);
      // Denied (403) until the automatic response lands, which may be mid-burst (detection runs beside the requests): then 401.
      for (let i = 0; i < 20; i++) assert.ok([401, 403].includes((await h.req('POST', '/v1/keys', { description: 'x' }, session, '10.0.0.5')).status));
      await h.kw.settleAlerts();
      assertError(await h.req('GET', '/v1/keys', undefined, session), 401, 'Unauthenticated', 'The session token is not valid or has expired');
      const alerts = (await h.req('GET', '/v1/alerts?principal=ann')).json.alerts;
      assert.equal(alerts.length, 1);
      assert.deepEqual(alerts[0].responses.map((r: any) => [r.kind, r.status, r.detail]), [['reauthenticate', 'done', 'ended 1 session of user ann: it must log in again']]);
      // The address-only alert of the same burst has no principal: skipped, and said so.
      const byIp = (await h.req('GET', '/v1/alerts')).json.alerts.find((a: any) => a.subject.sourceIp === '10.0.0.5');
      assert.deepEqual(byIp.responses.map((r: any) => [r.kind, r.status, r.detail]), [['reauthenticate', 'skipped', 'the alert names no principal']]);
      const audited = (await h.req('GET', '/v1/audit/events?operation=alert:response')).json.events;
      assert.deepEqual(audited.map((e: any) => [e.details.response, e.details.status]).sort(), [['reauthenticate', 'done'], ['reauthenticate', 'skipped']]);
      // Logging in again works (reauthentication, not a lockout).
      assert.equal((await h.req('POST', '/v1/auth/login', { username: 'ann', password: 'correct horse battery' }, null)).status, 200);
    } finally {
      await h.close();
    }
  });

  test('suspend-token: the probing service account is disabled, so its access token stops working', async () => {
    const h = await start({ responses: { probing: ['suspend-token'] } });
    try {
      const app = await h.account('app-1', ['application']);
      // Denied (403) until the automatic response lands, which may be mid-burst (detection runs beside the requests): then 401.
      for (let i = 0; i < 20; i++) assert.ok([401, 403].includes((await h.req('POST', '/v1/keys', { description: 'x' }, app, '10.0.0.6')).status));
      await h.kw.settleAlerts();
      assertError(await h.req('POST', '/v1/random', { bytes: 16 }, app), 401, 'Unauthenticated', 'The access token is not valid or has expired');
      const p = (await h.req('GET', '/v1/principals')).json.principals.find((x: any) => x.name === 'app-1');
      assert.equal(p.disabled, true);
      const a = (await h.req('GET', '/v1/alerts?principal=app-1')).json.alerts[0];
      assert.deepEqual(a.responses.map((r: any) => [r.kind, r.status]), [['suspend-token', 'done']]);
      assert.match(a.responses[0].detail, /^disabled principal app-1: its access tokens and sessions no longer work; re-enable it after review$/);
      // The root token is never suspended automatically.
      for (let i = 0; i < 20; i++) await h.req('POST', '/v1/keys/nope/encrypt', { plaintext: 'eA==' }, 'kwr_wrong', '10.0.0.7');
      await h.kw.settleAlerts();
      assert.equal((await h.req('GET', '/v1/keys')).status, 200);
    } finally {
      await h.close();
    }
  });

  const spiky: AnomalyConfig = { detectors: { 'rate-spike': { minCount: 5, warmupMinutes: 1 } }, responses: { 'rate-spike': ['disable-key'] } };

  /** One call, a quiet minute, then a burst on `key` by `app`: a rate spike for the key (and the principal). */
  async function spike(h: Harness, app: string, key: string): Promise<void> {
    assert.equal((await h.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: 'eA==' }, app)).status, 200);
    h.clock.advance(120_000);
    // The response may land mid-burst (detection runs beside the requests): later calls may already be refused.
    for (let i = 0; i < 8; i++) await h.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: 'eA==' }, app);
    await h.kw.settleAlerts();
  }

  async function keyAndApp(h: Harness): Promise<{ key: string; app: string }> {
    const key = (await h.req('POST', '/v1/keys', { description: 'spiky' })).json.key.id as string;
    const app = await h.account('app-2', ['application']);
    assert.equal((await h.req('POST', '/v1/grants', { key, principal: 'app-2', operations: ['encrypt'] })).status, 201);
    return { key, app };
  }

  test('disable-key: the spiking key is disabled pending review', async () => {
    const h = await start(spiky);
    try {
      const { key, app } = await keyAndApp(h);
      await spike(h, app, key);
      assert.equal((await h.req('GET', `/v1/keys/${key}`)).json.key.state, 'Disabled');
      // Calls of the burst that reach the key after its disable raise inactive-key-use too (timing): pick the spike's alert.
      const alerts = (await h.req('GET', `/v1/alerts?key=${key}`)).json.alerts as any[];
      assert.ok(alerts.every((x) => x.detector === 'rate-spike' || x.detector === 'inactive-key-use'), JSON.stringify(alerts.map((x) => x.detector)));
      const a = alerts.find((x) => x.detector === 'rate-spike');
      assert.ok(a, 'a rate-spike alert');
      assert.deepEqual(a.responses.map((r: any) => [r.kind, r.status, r.detail]), [['disable-key', 'done', `disabled key ${key} pending review (enable it with keywarden key enable)`]]);
      const e = (await h.req('GET', `/v1/audit/events?operation=alert:response&key=${key}`)).json.events;
      assert.equal(e.length, 1);
      assert.equal(e[0].details.status, 'done');
      assertError(await h.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: 'eA==' }, app), 409, 'Disabled', `key ${key} is disabled`);
    } finally {
      await h.close();
    }
  });

  test('disable-key under quorum approval: an approval request is filed by anomaly.respondAs instead', async () => {
    const h = await start({ ...spiky, respondAs: 'alert-responder' });
    try {
      assert.equal((await h.req('PUT', '/v1/access-policy', { policy: { ...DEFAULT_ACCESS_POLICY, approvals: { 'key:disable': 1 } } })).status, 200);
      await h.account('alert-responder', ['key-administrator']);
      const { key, app } = await keyAndApp(h);
      await spike(h, app, key);
      assert.equal((await h.req('GET', `/v1/keys/${key}`)).json.key.state, 'Enabled', 'not disabled without approval');
      const r = (await h.req('GET', `/v1/alerts?key=${key}`)).json.alerts[0].responses[0];
      assert.equal(r.status, 'approval-requested');
      const req = (await h.req('GET', `/v1/requests/${r.approvalRequestId}`)).json.request;
      assert.equal(req.action, 'disable');
      assert.equal(req.keyId, key);
      assert.equal(req.requesterName, 'alert-responder');
      assert.equal(req.status, 'pending');
      assert.match(req.reason, /^anomaly alert [0-9a-f-]{36} \(rate-spike\): key [0-9a-f-]{36} made more than 5 calls in one minute/);
      // A security officer approves: the key is disabled by the request, as the responder.
      const so = await h.account('so-2', ['security-officer']);
      const done = await h.req('POST', `/v1/requests/${r.approvalRequestId}/approve`, undefined, so);
      assert.equal(done.json.request.status, 'executed', JSON.stringify(done.json));
      assert.equal((await h.req('GET', `/v1/keys/${key}`)).json.key.state, 'Disabled');
    } finally {
      await h.close();
    }
  });

  test('disable-key under quorum without anomaly.respondAs fails, and says why', async () => {
    const h = await start(spiky);
    try {
      assert.equal((await h.req('PUT', '/v1/access-policy', { policy: { ...DEFAULT_ACCESS_POLICY, approvals: { 'key:disable': 1 } } })).status, 200);
      const { key, app } = await keyAndApp(h);
      await spike(h, app, key);
      const r = (await h.req('GET', `/v1/alerts?key=${key}`)).json.alerts[0].responses[0];
      assert.deepEqual([r.status, r.detail], ['failed', 'key:disable needs approval and anomaly.respondAs names no service account to request it']);
      assert.equal((await h.req('GET', `/v1/keys/${key}`)).json.key.state, 'Enabled');
    } finally {
      await h.close();
    }
  });
});
