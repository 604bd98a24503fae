/**
 * The one key state machine (diagram: docs/key-lifecycle.md). Every state change of a KMS key
 * goes through transition(); an event that is not allowed in the current state is an
 * InvalidState error naming that state. Repeating an event that leaves the key where it already
 * is (enable an Enabled key, disable a Disabled one) is accepted as a no-op, as in AWS KMS.
 */
import { KeywardenError } from '../errors/catalog.js';
import type { KeyState } from './key.model.js';

export type KeyEvent =
  | 'enable'
  | 'disable'
  | 'schedule-deletion'
  | 'cancel-deletion'
  | 'destroy'
  | 'revoke-compromised'
  | 'revoke-superseded'
  | 'import-material'
  | 'material-expired';

/** event -> (from state -> to state). States not listed for an event reject it. */
const TRANSITIONS: Record<KeyEvent, Partial<Record<KeyState, KeyState>>> = {
  enable: { Enabled: 'Enabled', Disabled: 'Enabled' },
  disable: { Enabled: 'Disabled', Disabled: 'Disabled' },
  'schedule-deletion': { Enabled: 'PendingDeletion', Disabled: 'PendingDeletion', Compromised: 'PendingDeletion', PendingImport: 'PendingDeletion' },
  'cancel-deletion': { PendingDeletion: 'Disabled' },
  destroy: { PendingDeletion: 'Destroyed' },
  'revoke-compromised': { Enabled: 'Compromised', Disabled: 'Compromised', Compromised: 'Compromised' },
  'revoke-superseded': { Enabled: 'Disabled', Disabled: 'Disabled' },
  'import-material': { PendingImport: 'Enabled', Enabled: 'Enabled', Disabled: 'Disabled' },
  'material-expired': { Enabled: 'PendingImport', Disabled: 'PendingImport' },
};

const WHAT: Record<KeyEvent, string> = {
  enable: 'be enabled',
  disable: 'be disabled',
  'schedule-deletion': 'be scheduled for deletion',
  'cancel-deletion': 'have its deletion cancelled',
  destroy: 'be destroyed',
  'revoke-compromised': 'be revoked',
  'revoke-superseded': 'be revoked',
  'import-material': 'receive imported key material',
  'material-expired': 'have its key material expire',
};

export function transition(keyId: string, from: KeyState, event: KeyEvent): KeyState {
  const to = TRANSITIONS[event][from];
  if (to === undefined) {
    throw new KeywardenError('InvalidState', `key ${keyId} is ${from}: it cannot ${WHAT[event]}`);
  }
  return to;
}

export function allowedEvents(from: KeyState): KeyEvent[] {
  return (Object.keys(TRANSITIONS) as KeyEvent[]).filter((e) => TRANSITIONS[e][from] !== undefined);
}

/** All edges, for the documentation diagram and its test. */
export function edges(): Array<{ from: KeyState; event: KeyEvent; to: KeyState }> {
  return (Object.entries(TRANSITIONS) as Array<[KeyEvent, Partial<Record<KeyState, KeyState>>]>).flatMap(([event, m]) =>
    (Object.entries(m) as Array<[KeyState, KeyState]>).map(([from, to]) => ({ from, event, to })),
  );
}
