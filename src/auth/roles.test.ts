import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, type GrantLookup } from './authorize.js';
import { roleConflict, ruleFor } from './roles.js';
import type { Principal } from './token.model.js';

const p = (roles: Principal['roles']): Principal => ({ kind: 'service-account', id: 'p1', name: 'svc', roles, accessor: 'a', displayName: 'svc', environment: null });
const grants = (ops: string[]): GrantLookup => ({ hasGrant: async (_p, keyId, op) => keyId === 'k1' && (op === 'any' ? ops.length > 0 : ops.includes(op)) });

test('separation of duties: conflicting role pairs', () => {
  assert.equal(roleConflict(['key-administrator', 'application']), 'key-administrator and application');
  assert.equal(roleConflict(['admin', 'application']), 'admin and application');
  assert.equal(roleConflict(['key-administrator', 'auditor', 'security-officer']), undefined);
});

test('allow beats grant-scoped, anything unlisted is denied', () => {
  assert.equal(ruleFor(['auditor', 'application'], 'key:describe'), 'allow');
  assert.equal(ruleFor(['application'], 'key:encrypt'), 'encrypt');
  assert.equal(ruleFor(['admin'], 'key:encrypt'), undefined);
  assert.equal(ruleFor([], 'key:list'), undefined);
});

test('authorize fails closed', async () => {
  await authorize({ ...p([]), kind: 'root' }, 'key:purge');
  await assert.rejects(authorize(p([]), 'key:list'), { code: 'PermissionDenied', message: 'svc is not allowed to perform key:list: none of its roles (none) grants it' });
  await assert.rejects(authorize(p(['application']), 'key:encrypt'), { code: 'PermissionDenied', message: 'svc is not allowed to perform key:encrypt: it needs a grant for encrypt on the key, and the call named none' });
  await assert.rejects(authorize(p(['application']), 'key:encrypt', { keyId: 'k1' }), { code: 'PermissionDenied' }, 'no grant lookup wired: deny');
  await authorize(p(['application']), 'key:encrypt', { keyId: 'k1' }, grants(['encrypt']));
  await assert.rejects(authorize(p(['application']), 'key:decrypt', { keyId: 'k1' }, grants(['encrypt'])), {
    code: 'PermissionDenied',
    message: 'svc is not allowed to perform key:decrypt: it holds no grant for decrypt on key k1 that matches this request (conditions: encryption context, source address, validity window)',
  });
  await assert.rejects(authorize(p(['application']), 'key:encrypt', { keyId: 'k2', ref: 'alias/x' }, grants(['encrypt'])), {
    message: 'svc is not allowed to perform key:encrypt: it holds no grant for encrypt on key alias/x that matches this request (conditions: encryption context, source address, validity window)',
  });
});
