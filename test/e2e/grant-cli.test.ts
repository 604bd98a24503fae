/**
 * End-to-end tests of `keywarden grant create|list|revoke` against a real dev server: a key
 * administrator grants an application use of a key under an encryption context and an expiry,
 * the application uses it (and is refused outside the context), the grant is listed and revoked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type DevServer, type RunOptions, apiOk, fails, json, runCli, startDevServer, text } from './helpers.js';

interface Grant {
  id: string;
  keyId: string | null;
  tagSelector: Record<string, string> | null;
  principalId: string;
  operations: string[];
  conditions: Record<string, unknown>;
  createdBy: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

describe('keywarden grant', () => {
  let server: DevServer;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let keyId: string;

  /** A JSON request to the server with the root token (setting up principals is not under test here). */
  const api = (method: string, path: string, body?: object, token = server.rootToken): Promise<any> => apiOk(server.address, token, method, path, body);

  const kw = (as: string, args: string[], opts: RunOptions = {}) =>
    runCli(args, { ...opts, env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: tokens[as], ...opts.env } });

  before(async () => {
    server = await startDevServer();
    for (const [name, role] of [['ka', 'key-administrator'], ['app1', 'application']] as const) {
      const c = await api('POST', '/v1/principals', { name, roles: [role] });
      ids[name] = c.principal.id;
      const t = await api('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, expires_in: 3600 });
      tokens[name] = t.access_token;
    }
    keyId = json<{ key: { id: string } }>(await kw('ka', ['key', 'create', '--format', 'json', '--alias', 'alias/billing', '--tag', 'team=billing'])).key.id;
  });
  after(() => server?.stop());

  test('create with --context and --not-after; the application is bound by them', async () => {
    const before = Date.now();
    const { grant } = json<{ grant: Grant }>(
      await kw('ka', ['grant', 'create', '--key', 'alias/billing', '--principal', 'app1', '--operations', 'encrypt,decrypt', '--context', 'tenant=acme', '--not-after', '2h', '--format', 'json']),
    );
    assert.equal(grant.keyId, keyId);
    assert.equal(grant.tagSelector, null);
    assert.equal(grant.principalId, ids.app1);
    assert.equal(grant.createdBy, ids.ka);
    assert.deepEqual(grant.operations, ['encrypt', 'decrypt']);
    assert.deepEqual(Object.keys(grant.conditions).sort(), ['contextEquals', 'notAfter']);
    assert.deepEqual(grant.conditions.contextEquals, { tenant: 'acme' });
    const notAfter = Date.parse(grant.conditions.notAfter as string);
    assert.ok(notAfter >= before + 2 * 3_600_000 - 1000 && notAfter <= Date.now() + 2 * 3_600_000, `notAfter ${grant.conditions.notAfter}`);

    const ciphertext = text(await kw('app1', ['encrypt', '--key', 'alias/billing', '--context', 'tenant=acme'], { input: 'secret' })).trim();
    assert.equal(text(await kw('app1', ['decrypt', '--context', 'tenant=acme'], { input: ciphertext })), 'secret');
    fails(
      await kw('app1', ['encrypt', '--key', 'alias/billing', '--context', 'tenant=other'], { input: 'secret' }),
      1,
      /^error: PermissionDenied: app1 is not allowed to perform key:encrypt: it holds no grant for encrypt on key alias\/billing that matches this request \(conditions: encryption context, source address, validity window\) \(request id [0-9a-f-]{36}\)\n$/,
    );
    fails(await kw('app1', ['encrypt', '--key', 'alias/billing'], { input: 'secret' }), 1, /^error: PermissionDenied: .*no grant for encrypt on key alias\/billing/);
  });

  test('a tag selector with an includes context and source ranges, as a table', async () => {
    const out = text(
      await kw('ka', ['grant', 'create', '--tag', 'team=billing', '--principal', 'app1', '--operations', 'generate-data-key', '--context', 'tenant=acme', '--context-match', 'includes', '--source-cidr', '127.0.0.0/8', '--source-cidr', '::1']),
    );
    assert.match(out, /^Tag selector +team=billing$/m);
    assert.match(out, /^Operations +generate-data-key$/m);
    assert.match(out, /^Conditions +context ⊇ \{tenant=acme\}; from 127\.0\.0\.0\/8 ::1$/m);
    assert.match(out, /^Last used +never$/m);
    const dk = json<{ plaintext: string }>(await kw('app1', ['data-key', '--key', keyId, '--context', 'tenant=acme', '--context', 'x=y', '--format', 'json']));
    assert.equal(Buffer.from(dk.plaintext, 'base64').length, 32);
  });

  test('list as JSON and as a table, filtered by key and principal', async () => {
    const listed = json<{ grants: Grant[] }>(await kw('ka', ['grant', 'list', '--key', 'alias/billing', '--principal', 'app1', '--format', 'json'])).grants;
    assert.deepEqual(listed.map((g) => g.keyId ?? 'selector').sort(), [keyId, 'selector'].sort());
    const table = text(await kw('ka', ['grant', 'list', '--key', keyId]));
    const [header, ...rows] = table.trimEnd().split('\n');
    assert.match(header as string, /^ID +TARGET +PRINCIPAL +OPERATIONS +CONDITIONS +LAST USED$/);
    assert.equal(rows.length, 2);
    assert.ok(rows.some((r) => r.includes('encrypt,decrypt') && r.includes('context = {tenant=acme}; not after ')), table);
    assert.ok(rows.some((r) => r.includes('tags: team=billing')), table);
  });

  test('revoke stops the grant at once', async () => {
    const [g] = json<{ grants: Grant[] }>(await kw('ka', ['grant', 'list', '--key', keyId, '--format', 'json'])).grants.filter((x) => x.keyId === keyId);
    assert.ok(g);
    const revoked = json<{ grant: Grant }>(await kw('ka', ['grant', 'revoke', g.id, '--format', 'json'])).grant;
    assert.equal(revoked.id, g.id);
    assert.ok(revoked.revokedAt);
    fails(await kw('app1', ['encrypt', '--key', keyId, '--context', 'tenant=acme'], { input: 'x' }), 1, /^error: PermissionDenied: /);
    fails(await kw('ka', ['grant', 'revoke', g.id]), 1, new RegExp(`^error: NotFound: grant ${g.id} was not found or is already revoked`));
  });

  test('usage and server-side errors', async () => {
    fails(await kw('ka', ['grant', 'create', '--principal', 'app1', '--operations', 'encrypt']), 1, /^error: give either --key or --tag \(one or more\)\n$/);
    const both = await kw('ka', ['grant', 'create', '--key', keyId, '--tag', 'a=b', '--principal', 'app1', '--operations', 'encrypt']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /cannot be used with option '--key/);
    const bad = await kw('ka', ['grant', 'create', '--key', keyId, '--principal', 'app1', '--operations', 'encrypt', '--not-after', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected an ISO 8601 time/);
    fails(
      await kw('ka', ['grant', 'create', '--key', keyId, '--principal', 'app1', '--operations', 'encrypt', '--not-after', '2020-01-01T00:00:00Z']),
      1,
      /^error: ValidationError: conditions\.notAfter is not in the future/,
    );
    fails(await kw('ka', ['grant', 'create', '--key', keyId, '--principal', 'app1', '--operations', 'encrypt', '--source-cidr', '10.0.0.1/8']), 1, /has address bits set beyond its prefix length/);
    fails(await kw('app1', ['grant', 'list']), 1, /^error: PermissionDenied: app1 is not allowed to perform grant:read/);
  });
});
