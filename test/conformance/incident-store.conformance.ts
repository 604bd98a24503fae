/**
 * Backend-independent conformance suite for IncidentStore (src/incident/incident.store.ts): the
 * record round-trips field for field, one real incident per key (drills unlimited), newest-first
 * paging, and append-only at the database level. Talks only to Store, so every backend registers
 * it with its own `open()`:
 *
 *   runIncidentStoreConformance('SqliteStore', async () => ({ store, cleanup, raw }));
 *
 * `raw(sql)` runs SQL on the backend's own connection (to show the triggers refuse rewrites).
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeywardenError } from '../../src/errors/catalog.js';
import { newKeyRecord, newKeyVersion } from '../../src/keys/key.model.js';
import type { IncidentRecord } from '../../src/incident/incident.model.js';
import type { Store } from '../../src/storage/store.js';

export interface OpenedIncidentStore {
  store: Store;
  /** Runs one SQL statement directly on the database. */
  raw(sql: string): Promise<unknown>;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const KEY_A = '0b3c0f1e-8d1a-4c3b-9e2f-1a2b3c4d5e6f';
const KEY_B = '1b3c0f1e-8d1a-4c3b-9e2f-1a2b3c4d5e6f';

function incident(n: number, overrides: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    kind: 'key-compromise',
    keyId: KEY_A,
    drill: true,
    reason: `reason ${n} \u2014 "quoted" ✓`,
    windowStart: T0 - 86_400_000,
    createdAt: T0 + n,
    createdBy: { id: 'p-1', name: 'officer', kind: 'service-account' },
    successorId: null,
    requestId: `req-${n}`,
    result: {
      steps: [{ step: 'revoke', outcome: 'done', at: T0 + n, detail: 'revoked' }],
      exposure: { windowStart: T0 - 86_400_000, windowEnd: T0 + n, events: 1, truncated: false, principals: [], sourceAddresses: [{ address: '127.0.0.2', events: 1 }] },
      plan: { from: KEY_A, to: null, versions: [{ version: 1, state: 'Enabled', createdAt: T0, produced: 3 }], ciphertexts: 3, dataKeys: 0, command: null, note: 'n' },
      aliasesMoved: [],
      grantsCopied: [],
      grantsNotCopied: [],
      key: { id: KEY_A, spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', classification: null, environment: null, protection: 'software', stateBefore: 'Enabled', stateAfter: 'Compromised' },
    },
    report: `# Incident ${n}\n\n| a | b |\n`,
    notification: 'Dear {{CUSTOMER_NAME}},\n',
    ...overrides,
  };
}

async function rejectsWith(p: Promise<unknown>, code: KeywardenError['code'], message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KeywardenError, `a KeywardenError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

export function runIncidentStoreConformance(name: string, open: () => Promise<OpenedIncidentStore>): void {
  describe(`${name}: IncidentStore conformance`, () => {
    let o: OpenedIncidentStore;
    beforeEach(async () => {
      o = await open();
      for (const id of [KEY_A, KEY_B]) {
        await o.store.keys.createKey(newKeyRecord({ id, spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', createdAt: T0 }), newKeyVersion({ keyId: id, version: 1, createdAt: T0, wrappedMaterial: Buffer.from([1, 2, 3]) }));
      }
    });
    afterEach(() => o.cleanup());

    test('a record reads back field for field; an unknown id is undefined', async () => {
      const r = incident(1, { drill: false, successorId: KEY_B });
      await o.store.incidents.createIncident(r);
      assert.deepEqual(await o.store.incidents.getIncident(r.id), r);
      assert.deepEqual(await o.store.incidents.findRealIncident(KEY_A), r);
      assert.equal(await o.store.incidents.getIncident('nope'), undefined);
      assert.equal(await o.store.incidents.findRealIncident(KEY_B), undefined);
    });

    test('one real incident per key (AlreadyExists, nothing written); drills are unlimited; a taken id is refused', async () => {
      await o.store.incidents.createIncident(incident(1));
      await o.store.incidents.createIncident(incident(2));
      await o.store.incidents.createIncident(incident(3, { drill: false }));
      await rejectsWith(o.store.incidents.createIncident(incident(4, { drill: false })), 'AlreadyExists', /^key 0b3c0f1e-8d1a-4c3b-9e2f-1a2b3c4d5e6f already has an incident/);
      await rejectsWith(o.store.incidents.createIncident(incident(1, { createdAt: T0 + 99 })), 'AlreadyExists');
      await o.store.incidents.createIncident(incident(5, { drill: false, keyId: KEY_B }));
      assert.equal(await o.store.incidents.getIncident(incident(4).id), undefined);
      assert.equal((await o.store.incidents.listIncidents({ limit: 100 })).length, 4);
    });

    test('listing is newest first, pages strictly before the cursor, filters by key', async () => {
      for (let n = 1; n <= 5; n++) await o.store.incidents.createIncident(incident(n, { keyId: n % 2 ? KEY_A : KEY_B }));
      // Same createdAt: the id breaks the tie.
      await o.store.incidents.createIncident(incident(6, { createdAt: T0 + 5 }));
      const all = await o.store.incidents.listIncidents({ limit: 100 });
      assert.deepEqual(all.map((r) => r.requestId), ['req-6', 'req-5', 'req-4', 'req-3', 'req-2', 'req-1']);
      const page1 = await o.store.incidents.listIncidents({ limit: 2 });
      const last = page1.at(-1)!;
      const page2 = await o.store.incidents.listIncidents({ limit: 2, before: { createdAt: last.createdAt, id: last.id } });
      assert.deepEqual([...page1, ...page2].map((r) => r.requestId), ['req-6', 'req-5', 'req-4', 'req-3']);
      assert.deepEqual((await o.store.incidents.listIncidents({ limit: 100, keyId: KEY_B })).map((r) => r.requestId), ['req-4', 'req-2']);
    });

    test('append-only: the database refuses UPDATE and DELETE', async () => {
      await o.store.incidents.createIncident(incident(1));
      await assert.rejects(o.raw(`UPDATE incidents SET reason = 'rewritten'`), /append-only/);
      await assert.rejects(o.raw('DELETE FROM incidents'), /append-only/);
      assert.equal((await o.store.incidents.getIncident(incident(1).id))?.reason, incident(1).reason);
    });

    test('incidents are in the snapshot (backups), flags as 0/1', async () => {
      await o.store.incidents.createIncident(incident(1, { drill: false }));
      const chunks = [];
      for await (const c of o.store.snapshot()) chunks.push(c);
      const t = chunks.find((c) => c.table === 'incidents');
      assert.ok(t, 'the snapshot has the incidents table');
      assert.equal(t.rows.length, 1);
      const drillCol = t.columns.indexOf('drill');
      assert.equal(t.rows[0]![drillCol], 0, 'flags are 0/1 in a snapshot');
    });
  });
}
