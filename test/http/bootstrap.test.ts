/**
 * Bootstrap (issue 3/10 §7) through the real HTTP server and SQLite: revoking every root token at
 * once (refused while no enabled admin exists), and making a new root token from a quorum of
 * unseal shares (shamir seal): wrong, foreign and duplicate shares, one attempt at a time,
 * expiry by the clock, cancel, seal, and a token that works.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { ManualClock } from '../../src/util/clock.js';
import { assertError } from '../support/assert.js';

const NO_ADMIN = 'no enabled principal holds the admin role: create one (and check it can log in) before revoking the root token, or nobody could manage identities';

async function serviceAccount(t: TestKeywarden, name: string, roles: string[], token?: string): Promise<string> {
  const c = await t.req('POST', '/v1/principals', { name, roles }, token);
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
  return tok.json.access_token as string;
}

describe('bootstrap: revoke-root and generate-root (shamir seal)', () => {
  const clock = new ManualClock();
  let t: TestKeywarden;
  let shares: string[];
  let root: string;

  const start = () => t.req('POST', '/v1/sys/generate-root/attempt', undefined, null);
  const update = (nonce: string, share: string) => t.req('POST', '/v1/sys/generate-root/update', { nonce, share }, null);
  const status = () => t.req('GET', '/v1/sys/generate-root/attempt', undefined, null);
  const cancel = () => t.req('DELETE', '/v1/sys/generate-root/attempt', undefined, null);

  before(async () => {
    t = await startInProcess({ seal: 'shamir', clock });
    const init = await t.req('POST', '/v1/sys/init', { shares: 5, threshold: 3 }, null);
    shares = init.json.shares;
    root = init.json.rootToken;
    for (const s of shares.slice(0, 3)) await t.req('POST', '/v1/sys/unseal', { share: s }, null);
    assert.equal((await t.req('GET', '/v1/sys/health', undefined, null)).status, 200);
  });
  after(() => t.close());

  test('revoke-root is refused while no enabled admin exists; other roles may not call it', async () => {
    assertError(await t.req('POST', '/v1/sys/root-token/revoke', undefined, root), 400, 'ValidationError', NO_ADMIN);
    const app = await serviceAccount(t, 'boot-app', ['application'], root);
    assertError(await t.req('POST', '/v1/sys/root-token/revoke', undefined, app), 403, 'PermissionDenied', /^boot-app is not allowed to perform sys:revoke-root/);
    assertError(await t.req('POST', '/v1/sys/root-token/revoke', undefined, null), 401, 'Unauthenticated', 'A bearer token is required (Authorization: Bearer <token>)');
    await serviceAccount(t, 'boot-admin', ['admin'], root);
    assert.equal((await t.req('POST', '/v1/principals/boot-admin/disable', undefined, root)).status, 200);
    assertError(await t.req('POST', '/v1/sys/root-token/revoke', undefined, root), 400, 'ValidationError', NO_ADMIN);
    assert.equal((await t.req('GET', '/v1/principals', undefined, root)).status, 200, 'the refused call revoked nothing');
    assert.equal((await t.req('POST', '/v1/principals/boot-admin/enable', undefined, root)).status, 200);
  });

  test('the root token revokes every root token, itself included, at once', async () => {
    const second = await t.kw.tokens.createRootToken('second root');
    // Warm the token cache: revocation must not wait for its TTL.
    assert.equal((await t.req('GET', '/v1/principals', undefined, root)).status, 200);
    assert.equal((await t.req('GET', '/v1/principals', undefined, second)).status, 200);
    assert.deepEqual((await t.req('POST', '/v1/sys/root-token/revoke', undefined, root)).json, { revoked: 2 });
    for (const tok of [root, second]) assertError(await t.req('GET', '/v1/principals', undefined, tok), 401, 'Unauthenticated', 'The bearer token is not valid');
  });

  test('generate-root: attempt, foreign / duplicate / malformed shares, wrong nonce, new token once', async () => {
    assertError(await update('0'.repeat(32), shares[0]!), 409, 'InvalidState', 'no root token generation attempt is in progress: start one with POST /v1/sys/generate-root/attempt');
    assert.deepEqual((await status()).json, { started: false, nonce: null, required: 3, progress: 0, expiresAt: null });
    const a = await start();
    assert.equal(a.status, 200, JSON.stringify(a.json));
    assert.match(a.json.nonce, /^[0-9a-f]{32}$/);
    assert.deepEqual({ ...a.json, nonce: 'n' }, { started: true, nonce: 'n', required: 3, progress: 0, expiresAt: new Date(clock.now() + 600_000).toISOString() });
    assertError(await start(), 409, 'InvalidState', 'a root token generation attempt is already in progress: finish it, or cancel it with DELETE /v1/sys/generate-root/attempt');
    const nonce: string = a.json.nonce;

    const foreign = Buffer.from(shares[3]!, 'base64');
    foreign[5]! ^= 1;
    const bad = await update(nonce, foreign.toString('base64'));
    assertError(bad, 400, 'InvalidShare', 'this unseal share was not issued for this Keywarden (check for a typo or a share of another cluster)');
    assertError(await update(nonce, 'short'), 400, 'InvalidShare', 'an unseal share is 33 bytes in base64; this one is malformed');
    assertError(await update('f'.repeat(32), shares[3]!), 400, 'ValidationError', 'the nonce does not match the root token generation attempt in progress');

    let u = await update(nonce, shares[3]!);
    assert.deepEqual({ progress: u.json.progress, complete: u.json.complete, rootToken: u.json.rootToken }, { progress: 1, complete: false, rootToken: undefined });
    const dup = await update(nonce, shares[3]!);
    assertError(dup, 400, 'InvalidShare', 'this unseal share was already submitted; submit a different one');
    assert.equal((await status()).json.progress, 1, 'a refused share does not count');
    u = await update(nonce, shares[1]!);
    assert.equal(u.json.progress, 2);
    assert.equal((await status()).json.progress, 2);
    u = await update(nonce, shares[4]!);
    assert.equal(u.status, 200);
    assert.equal(u.json.complete, true);
    assert.equal(u.json.started, false);
    assert.match(u.json.rootToken, /^kwr_/);
    const fresh: string = u.json.rootToken;
    assert.equal((await t.req('GET', '/v1/principals', undefined, fresh)).status, 200, 'the new root token works');
    assert.equal((await t.req('POST', '/v1/keys', {}, fresh)).status, 201);
    // Shown once: the attempt is over.
    assert.deepEqual((await status()).json, { started: false, nonce: null, required: 3, progress: 0, expiresAt: null });
    assertError(await update(nonce, shares[0]!), 409, 'InvalidState', 'no root token generation attempt is in progress: start one with POST /v1/sys/generate-root/attempt');
    root = fresh;
  });

  test('an attempt expires after 10 minutes by the clock; cancel ends it', async () => {
    const a = (await start()).json;
    assert.equal((await update(a.nonce, shares[0]!)).json.progress, 1);
    clock.advance(10 * 60_000);
    assertError(await update(a.nonce, shares[1]!), 409, 'InvalidState', 'the root token generation attempt expired (attempts last 10 minutes): start a new one');
    assert.equal((await status()).json.started, false);

    const b = (await start()).json;
    assert.notEqual(b.nonce, a.nonce);
    assert.equal((await update(b.nonce, shares[0]!)).json.progress, 1);
    assert.deepEqual((await cancel()).json, { started: false, nonce: null, required: 3, progress: 0, expiresAt: null });
    assertError(await update(b.nonce, shares[1]!), 409, 'InvalidState', 'no root token generation attempt is in progress: start one with POST /v1/sys/generate-root/attempt');
  });

  test('sealing drops the attempt; a sealed server refuses to start one', async () => {
    const a = (await start()).json;
    await update(a.nonce, shares[0]!);
    assert.deepEqual((await t.req('POST', '/v1/sys/seal', undefined, root)).json, { sealed: true });
    assertError(await start(), 503, 'Sealed', 'Keywarden is sealed: unseal it with the unseal shares before using keys');
    for (const s of shares.slice(2, 5)) await t.req('POST', '/v1/sys/unseal', { share: s }, null);
    assert.equal((await status()).json.started, false);
  });

  test('after revoke-root, only the shares make a new root token', async () => {
    assert.deepEqual((await t.req('POST', '/v1/sys/root-token/revoke', undefined, root)).json, { revoked: 1 });
    assertError(await t.req('GET', '/v1/principals', undefined, root), 401, 'Unauthenticated', 'The bearer token is not valid');
    const a = (await start()).json;
    let last;
    for (const s of [shares[2]!, shares[0]!, shares[1]!]) last = await update(a.nonce, s);
    assert.equal((await t.req('GET', '/v1/principals', undefined, last!.json.rootToken)).status, 200);
  });
});

describe('bootstrap with the dev seal', () => {
  let t: TestKeywarden;
  before(async () => {
    t = await startInProcess();
  });
  after(() => t.close());

  test('generate-root needs the shamir seal; an admin may revoke the root token', async () => {
    assertError(
      await t.req('POST', '/v1/sys/generate-root/attempt', undefined, null),
      409,
      'InvalidState',
      "this Keywarden uses the dev seal: a new root token needs the shamir seal's unseal shares",
    );
    const admin = await serviceAccount(t, 'dev-admin', ['admin']);
    assert.deepEqual((await t.req('POST', '/v1/sys/root-token/revoke', undefined, admin)).json, { revoked: 1 });
    assertError(await t.req('GET', '/v1/keys'), 401, 'Unauthenticated', 'The bearer token is not valid');
    assert.deepEqual((await t.req('POST', '/v1/sys/root-token/revoke', undefined, admin)).json, { revoked: 0 });
  });
});
