/**
 * Backend-independent conformance suite for AlertStore (src/alerts/alert.store.ts): create/get
 * round trip, the active-alert lookup that dedup relies on, the version compare-and-set, and list
 * filters with newest-first pagination. Every backend registers it with its own `open()`.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../../src/alerts/alert.model.js';
import type { AlertStore } from '../../src/alerts/alert.store.js';

export interface OpenedAlertStore {
  alerts: AlertStore;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

function alert(id: string, over: Partial<Alert> = {}): Alert {
  return {
    id,
    detector: 'probing',
    severity: 'high',
    status: 'open',
    subjectKey: 'principal=p1',
    keyId: null,
    principalId: 'p1',
    principalName: 'app-1',
    sourceIp: '10.0.0.1',
    summary: 'principal app-1: 20 denied calls within 60 s (probing)',
    evidence: { observed: 20, threshold: 20, ratio: 1.5, lastErrorCode: 'PermissionDenied', flag: true, none: null },
    events: [3, 4, 5],
    count: 1,
    firstSeen: T0,
    lastSeen: T0,
    createdAt: T0,
    updatedAt: T0,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    resolutionNote: null,
    responses: [],
    version: 1,
    ...over,
  };
}

export function runAlertStoreConformance(name: string, open: () => Promise<OpenedAlertStore>): void {
  describe(name, () => {
    let opened: OpenedAlertStore | undefined;
    let s: AlertStore;

    beforeEach(async () => {
      opened = await open();
      s = opened.alerts;
    });
    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });

    test('create and get round-trip every field; a duplicate id is refused', async () => {
      const a = alert('a1', { responses: [{ kind: 'disable-key', status: 'approval-requested', detail: 'request r1', at: T0 + 1, approvalRequestId: 'r1' }], keyId: 'k1' });
      assert.equal(await s.createAlert(a), true);
      assert.deepEqual(await s.getAlert('a1'), a);
      assert.equal(await s.createAlert({ ...a, summary: 'other' }), false);
      assert.equal((await s.getAlert('a1'))?.summary, a.summary);
      assert.equal(await s.getAlert('nope'), undefined);
    });

    test('findActiveAlert: newest unresolved alert of detector + subject seen since the time given', async () => {
      await s.createAlert(alert('a1', { lastSeen: T0 }));
      await s.createAlert(alert('a2', { lastSeen: T0 + 10, createdAt: T0 + 10 }));
      await s.createAlert(alert('a3', { lastSeen: T0 + 20, status: 'resolved' }));
      await s.createAlert(alert('a4', { lastSeen: T0 + 30, detector: 'rate-spike' }));
      await s.createAlert(alert('a5', { lastSeen: T0 + 40, subjectKey: 'principal=p2' }));
      assert.equal((await s.findActiveAlert('probing', 'principal=p1', T0))?.id, 'a2');
      assert.equal((await s.findActiveAlert('probing', 'principal=p1', T0 + 10))?.id, 'a2');
      assert.equal(await s.findActiveAlert('probing', 'principal=p1', T0 + 11), undefined, 'too old; the resolved one never counts');
      await s.createAlert(alert('a6', { lastSeen: T0 + 50, status: 'acknowledged' }));
      assert.equal((await s.findActiveAlert('probing', 'principal=p1', T0))?.id, 'a6', 'an acknowledged alert is still active');
    });

    test('updateAlert is a compare-and-set on version', async () => {
      const a = alert('a1');
      await s.createAlert(a);
      const next = { ...a, count: 2, lastSeen: T0 + 5, events: [3, 4, 5, 9], version: 2 };
      assert.equal(await s.updateAlert(next, 1), true);
      assert.equal(await s.updateAlert({ ...next, count: 99, version: 2 }, 1), false, 'stale version');
      assert.deepEqual(await s.getAlert('a1'), next);
      const resolved = { ...next, status: 'resolved' as const, resolvedAt: T0 + 9, resolvedBy: 'so', resolutionNote: 'false alarm', version: 3 };
      assert.equal(await s.updateAlert(resolved, 2), true);
      assert.deepEqual(await s.getAlert('a1'), resolved);
    });

    test('listAlerts: filters, newest first, pagination by (createdAt, id)', async () => {
      for (let i = 0; i < 6; i++) {
        await s.createAlert(
          alert(`a${i}`, {
            createdAt: T0 + Math.floor(i / 2),
            lastSeen: T0 + i * 100,
            detector: i % 2 === 0 ? 'probing' : 'rate-spike',
            severity: i < 3 ? 'high' : 'medium',
            keyId: i === 4 ? 'k4' : null,
            principalId: i === 5 ? 'p5' : 'p1',
            principalName: i === 5 ? 'app-5' : 'app-1',
            status: i === 1 ? 'resolved' : 'open',
          }),
        );
      }
      const ids = async (f: Parameters<AlertStore['listAlerts']>[0]) => (await s.listAlerts(f)).map((a) => a.id);
      assert.deepEqual(await ids({ limit: 10 }), ['a5', 'a4', 'a3', 'a2', 'a1', 'a0']);
      assert.deepEqual(await ids({ limit: 10, detector: 'probing' }), ['a4', 'a2', 'a0']);
      assert.deepEqual(await ids({ limit: 10, severity: 'medium' }), ['a5', 'a4', 'a3']);
      assert.deepEqual(await ids({ limit: 10, status: 'resolved' }), ['a1']);
      assert.deepEqual(await ids({ limit: 10, keyId: 'k4' }), ['a4']);
      assert.deepEqual(await ids({ limit: 10, principal: 'app-5' }), ['a5']);
      assert.deepEqual(await ids({ limit: 10, principal: 'p5' }), ['a5']);
      assert.deepEqual(await ids({ limit: 10, since: T0 + 300 }), ['a5', 'a4', 'a3']);
      const page1 = await s.listAlerts({ limit: 4 });
      const last = page1.at(-1)!;
      assert.deepEqual(await ids({ limit: 4, before: { createdAt: last.createdAt, id: last.id } }), ['a1', 'a0']);
      assert.deepEqual(await ids({ limit: 10, before: { createdAt: T0 + 1, id: 'a3' } }), ['a2', 'a1', 'a0'], 'ties on createdAt are ordered by id');
    });
  });
}
