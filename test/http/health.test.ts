/**
 * Liveness and readiness probes (issue 10 §1) with their Vault-like status codes, for an unsealed,
 * a sealed and a not-initialized server, and the checks behind readiness (store, audit sinks).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { startInProcess } from '../support/in-process.js';

const live = '/v1/sys/health/live';
const ready = '/v1/sys/health/ready';

describe('health probes', () => {
  test('unsealed: live 200, ready 200 with every check ok; the old /v1/sys/health is unchanged', async () => {
    const t = await startInProcess();
    try {
      const l = await t.req('GET', live, undefined, null);
      assert.deepEqual({ status: l.status, json: l.json }, { status: 200, json: { alive: true } });
      const r = await t.req('GET', ready, undefined, null);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.ready, true);
      assert.equal(r.json.leader, true);
      assert.equal(r.json.degraded, false);
      assert.deepEqual({ ...r.json.checks, store: { ok: r.json.checks.store.ok } }, {
        store: { ok: true },
        seal: { ok: true },
        auditLedger: { ok: true, queued: 0, failedBatches: 0 },
        auditSinks: { ok: true, sinks: 0, dropping: 0 },
      });
      assert.equal(typeof r.json.checks.store.latencyMs, 'number');
      assert.equal((await t.req('GET', '/v1/sys/health', undefined, null)).status, 200);
    } finally {
      await t.close();
    }
  });

  test('sealed: live 200, ready 503 (and 200 again once unsealed)', async () => {
    const t = await startInProcess();
    try {
      assert.equal((await t.req('POST', '/v1/sys/seal')).status, 200);
      assert.equal((await t.req('GET', live, undefined, null)).status, 200);
      const r = await t.req('GET', ready, undefined, null);
      assert.equal(r.status, 503);
      assert.equal(r.json.ready, false);
      assert.equal(r.json.sealed, true);
      assert.deepEqual(r.json.checks.seal, { ok: false, error: 'sealed' });
      assert.equal(r.json.checks.store.ok, true);
      await bootDevSeal(t.kw.seal, t.dir);
      assert.equal((await t.req('GET', ready, undefined, null)).status, 200);
    } finally {
      await t.close();
    }
  });

  test('not initialized: live 200, ready 501', async () => {
    const t = await startInProcess({ seal: 'shamir' });
    try {
      assert.equal((await t.req('GET', live, undefined, null)).status, 200);
      const r = await t.req('GET', ready, undefined, null);
      assert.equal(r.status, 501);
      assert.equal(r.json.initialized, false);
      assert.deepEqual(r.json.checks.seal, { ok: false, error: 'not initialized' });
      assert.equal((await t.req('GET', '/v1/sys/health', undefined, null)).status, 501);
    } finally {
      await t.close();
    }
  });

  test('store unreachable: ready 503 naming the store, without a driver message', async () => {
    const t = await startInProcess();
    try {
      // Leaves the store closed: the next query throws as a lost database connection would.
      await t.kw.store.close();
      const r = await t.req('GET', ready, undefined, null);
      assert.equal(r.status, 503, JSON.stringify(r.json));
      assert.deepEqual(r.json.checks.store, { ok: false, latencyMs: null, error: 'the store could not be reached' });
      assert.equal((await t.req('GET', live, undefined, null)).status, 200);
    } finally {
      await t.kw.app.close();
      await rm(t.dir, { recursive: true, force: true });
    }
  });

  describe('an audit sink dropping records', () => {
    let dir = '';
    after(() => rm(dir, { recursive: true, force: true }));

    test('makes the node degraded (still 200: the ledger holds every event) and shows in the sink metrics', async () => {
      dir = await mkdtemp(join(tmpdir(), 'kw-health-'));
      // A sink whose directory is a file cannot deliver; with a queue of one it drops.
      await writeFile(join(dir, 'not-a-dir'), 'x');
      const kw = await createKeywarden({
        storage: { type: 'sqlite', path: join(dir, 'kw.db') },
        seal: 'dev',
        logger: false,
        auditSinks: { file: { path: join(dir, 'not-a-dir', 'audit.log'), maxBytes: 1024 * 1024, keep: 1, maxQueue: 1 } },
      });
      try {
        await bootDevSeal(kw.seal, dir);
        const token = await kw.tokens.createRootToken();
        const get = async (url: string) => {
          const r = await kw.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
          return { status: r.statusCode, body: r.body };
        };
        for (let i = 0; i < 5; i++) await kw.app.inject({ method: 'POST', url: '/v1/keys', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: '{}' });
        const r = await get(ready);
        assert.equal(r.status, 200, r.body);
        const j = JSON.parse(r.body);
        assert.equal(j.ready, true);
        assert.equal(j.degraded, true);
        assert.deepEqual(j.checks.auditSinks, { ok: false, sinks: 1, dropping: 1, error: 'an audit sink is dropping records (its queue is full)' });
        // Judged since the previous probe: nothing new dropped, no longer degraded.
        assert.equal(JSON.parse((await get(ready)).body).degraded, false);
        const m = await get('/v1/sys/metrics');
        assert.equal(m.status, 200);
        const dropped = /^keywarden_audit_sink_dropped_total\{sink="([^"]+)"\} (\d+)$/m.exec(m.body);
        assert.ok(dropped && Number(dropped[2]) > 0, m.body.split('\n').filter((l) => l.includes('sink')).join('\n'));
        assert.match(m.body, /^keywarden_audit_sink_queued\{sink="[^"]+"\} \d+$/m);
        assert.match(m.body, /^keywarden_audit_sink_sent_total\{sink="[^"]+"\} 0$/m);
      } finally {
        await kw.close();
      }
    });
  });
});
