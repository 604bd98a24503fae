/**
 * The pure planner of `keywarden apply` (src/policy/apply-plan.ts): ownership by tag, what can and
 * cannot change, grant matching, destruction windows and pending approvals. The end-to-end flow
 * against a real server is test/e2e/apply.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeChange, plan, type ServerKey, type ServerState } from '../../src/policy/apply-plan.js';
import { parseManifest } from '../../src/policy/engine.js';

const DAY = 86_400_000;
const manifest = (keys: string, grants = '') =>
  parseManifest(`apiVersion: keywarden.io/v1\nkind: KeyManifest\nmetadata: { name: team }\nkeys:\n${keys}${grants ? `grants:\n${grants}` : ''}`);
const server = (keys: ServerKey[], more: Partial<ServerState> = {}): ServerState => ({ keys, grants: [], principals: ['app'], pendingDeletions: {}, ...more });
const managed = (id: string, alias: string, more: Partial<ServerKey> = {}): ServerKey => ({
  id, aliases: [alias], description: '', spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', state: 'Enabled', exportable: false,
  rotationPeriodDays: null, classification: null, environment: null, protection: 'software', tags: { 'keywarden:manifest': 'team' }, ...more,
});
const lines = (m: ReturnType<typeof manifest>, s: ServerState) => plan(m, s).map(describeChange);

describe('apply plan (pure)', () => {
  test('a manifest without metadata.name is refused', () => {
    const m = parseManifest('apiVersion: keywarden.io/v1\nkind: KeyManifest\nkeys: []\n');
    assert.throws(() => plan(m, server([])), /the manifest has no metadata\.name/);
  });

  test('keys it does not manage are never changed; an alias they hold is an error', () => {
    const m = manifest('  - alias: alias/a\n');
    const foreign = { ...managed('k1', 'alias/a'), tags: { 'keywarden:manifest': 'other' } };
    const stranger = { ...managed('k2', 'alias/b'), tags: {} };
    assert.deepEqual(lines(m, server([foreign, stranger])), ['! alias/a: the alias belongs to key k1, which manifest other manages; apply does not take over keys']);
  });

  test('what cannot change: spec, protection, exportability, environment once set, looser or removed classification', () => {
    const m = manifest('  - alias: alias/a\n    spec: HMAC_256\n  - alias: alias/b\n    protection: hsm\n    exportable: true\n  - alias: alias/c\n    environment: prod\n    classification: internal\n  - alias: alias/d\n');
    const s = server([
      managed('a', 'alias/a'),
      managed('b', 'alias/b'),
      managed('c', 'alias/c', { environment: 'dev', classification: 'confidential' }),
      managed('d', 'alias/d', { classification: 'public' }),
    ]);
    assert.deepEqual(lines(m, s), [
      '! alias/a: the key spec cannot change (SYMMETRIC_DEFAULT -> HMAC_256): declare a new key under a new alias and retire this one',
      '! alias/b: the protection cannot change (software -> hsm): key material does not move between software and an HSM',
      '! alias/b: exportability cannot change (false -> true)',
      '! alias/c: the classification can only become stricter (confidential -> internal)',
      '! alias/c: the environment is set once (it is dev, the manifest says prod)',
      '! alias/d: the classification cannot be removed (it is public)',
    ]);
  });

  test('updates keep keywarden tags of other tools; the deletion window travels as a tag', () => {
    const m = manifest('  - alias: alias/a\n    environment: prod\n    classification: internal\n    deletionWindowDays: 10\n    tags: { team: x }\n');
    const k = managed('a', 'alias/a', { tags: { 'keywarden:manifest': 'team', 'keywarden:superseded-by': 'n', stray: '1' } });
    const [c] = plan(m, server([k]));
    assert.equal(c?.op, 'update-key');
    assert.deepEqual(c?.op === 'update-key' && [c.patch, c.setTags, c.removeTags], [
      { classification: 'internal', environment: 'prod' },
      { team: 'x', 'keywarden:deletion-window-days': '10' },
      ['stray'],
    ]);
  });

  test('grants: matched, created, revoked; an unknown principal is an error', () => {
    const m = manifest('  - alias: alias/a\n', '  - key: alias/a\n    principal: app\n    operations: [decrypt, encrypt]\n    expiresInDays: 7\n  - key: alias/a\n    principal: ghost\n    operations: [encrypt]\n');
    const g = (id: string, ops: string[], lifetime: number | null, principal: string | null = 'app') => ({ id, keyId: 'a', principal, principalId: `p-${principal}`, operations: ops, createdAt: 0, notAfter: lifetime === null ? null : lifetime });
    const s = server([managed('a', 'alias/a')], { grants: [g('g1', ['encrypt', 'decrypt'], 7 * DAY + 1000), g('g2', ['encrypt'], null, null)] });
    assert.deepEqual(lines(m, s), [
      '= key alias/a (a)',
      '= grant alias/a -> app (g1)',
      '! alias/a: principal ghost does not exist (grants go to service accounts by name)',
      '- grant alias/a -> p-null (g2): revoke (encrypt)',
    ]);
    const longer = server([managed('a', 'alias/a')], { grants: [g('g1', ['encrypt', 'decrypt'], 30 * DAY)] });
    assert.deepEqual(lines(manifest('  - alias: alias/a\n', '  - key: alias/a\n    principal: app\n    operations: [decrypt, encrypt]\n    expiresInDays: 7\n'), longer).slice(1), [
      '+ grant alias/a -> app: decrypt, encrypt, expires in 7d',
      '- grant alias/a -> app (g1): revoke (encrypt, decrypt)',
    ]);
  });

  test('destruction: the tagged window, a pending approval, keys already pending deletion', () => {
    const m = manifest('  - alias: alias/keep\n');
    const s = server(
      [managed('keep', 'alias/keep'), managed('x', 'alias/x', { tags: { 'keywarden:manifest': 'team', 'keywarden:deletion-window-days': '7' } }), managed('y', 'alias/y'), managed('z', 'alias/z', { state: 'PendingDeletion' })],
      { pendingDeletions: { y: 'r1' } },
    );
    assert.deepEqual(lines(m, s), [
      '= key alias/keep (keep)',
      '- key x (alias/x): schedule deletion in 7 days [destructive]',
      '= key y (alias/y): waiting for approval r1 (schedule deletion)',
    ]);
  });
});
