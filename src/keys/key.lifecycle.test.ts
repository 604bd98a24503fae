import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeywardenError } from '../errors/catalog.js';
import { KEY_STATES } from './key.model.js';
import { allowedEvents, edges, transition, type KeyEvent } from './key.lifecycle.js';

const EVENTS: KeyEvent[] = ['enable', 'disable', 'schedule-deletion', 'cancel-deletion', 'destroy', 'revoke-compromised', 'revoke-superseded', 'import-material', 'material-expired'];

test('every (state, event) pair either follows the table or fails with InvalidState naming the state', () => {
  const table = new Map(edges().map((e) => [`${e.from}:${e.event}`, e.to]));
  let refused = 0;
  for (const state of KEY_STATES) {
    for (const event of EVENTS) {
      const to = table.get(`${state}:${event}`);
      if (to !== undefined) {
        assert.equal(transition('k1', state, event), to);
        assert.ok(allowedEvents(state).includes(event));
      } else {
        refused++;
        assert.throws(
          () => transition('k1', state, event),
          (e: unknown) => e instanceof KeywardenError && e.code === 'InvalidState' && e.message.startsWith(`key k1 is ${state}: it cannot `),
        );
      }
    }
  }
  assert.ok(refused > 20);
});

test('Destroyed is terminal and PendingDeletion only cancels or destroys', () => {
  assert.deepEqual(allowedEvents('Destroyed'), []);
  assert.deepEqual(allowedEvents('PendingDeletion').sort(), ['cancel-deletion', 'destroy']);
  assert.equal(transition('k', 'PendingDeletion', 'cancel-deletion'), 'Disabled');
});
