/**
 * Key lifecycle over the REST API with an injected clock: automatic and event-driven rotation,
 * versions, states, deletion window, destruction, revocation, aliases, tags, usage and orphan keys.
 * Every window is crossed by moving a ManualClock and running the durable jobs, never by sleeping.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { ManualClock } from '../../src/util/clock.js';
import { INVALID_CIPHERTEXT_MESSAGE } from '../../src/errors/catalog.js';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';

const DAY = 86_400_000;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');


describe('key lifecycle', () => {
  let t: TestKeywarden;
  let clock: ManualClock;
  const encrypt = (key: string, text: string, context?: Record<string, string>) =>
    t.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: b64(text), ...(context ? { context } : {}) });
  const decrypt = (ciphertext: string, context?: Record<string, string>) => t.req('POST', '/v1/decrypt', { ciphertext, ...(context ? { context } : {}) });
  const create = async (body: Record<string, unknown> = {}) => (await t.req('POST', '/v1/keys', body)).json.key;
  /** Runs every lifecycle job now (as their timers would once due), and checks none failed. */
  const runJobs = async (kw = t.kw) => {
    for (const name of ['usage-flush', 'rotation-due', 'deletion-due', 'material-expiry', 'approval-expiry', 'canary-backfill']) {
      const r = await kw.scheduler.runNow(name);
      assert.equal(r?.status, 'ok', `${name}: ${r?.error ?? 'not run'}`);
    }
  };

  before(async () => {
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    t = await startInProcess({ clock });
  });
  after(() => t.close());

  test('on-demand rotation: new encryptions use the new primary, old versions keep decrypting', async () => {
    const key = await create({ alias: 'alias/rot' });
    const v1 = await encrypt('alias/rot', 'before rotation');
    assert.equal(v1.json.keyVersion, 1);
    const rotated = await t.req('POST', '/v1/keys/alias/rot/rotate');
    assert.equal(rotated.status, 200);
    assert.equal(rotated.json.key.primaryVersion, 2);
    const v2 = await encrypt(key.id, 'after rotation');
    assert.equal(v2.json.keyVersion, 2);
    assert.equal(Buffer.from((await decrypt(v1.json.ciphertext)).json.plaintext, 'base64').toString(), 'before rotation');
    assert.equal(Buffer.from((await decrypt(v2.json.ciphertext)).json.plaintext, 'base64').toString(), 'after rotation');
    const versions = (await t.req('GET', '/v1/keys/alias/rot/versions')).json.versions;
    assert.deepEqual(versions.map((v: any) => [v.version, v.state, v.primary]), [[1, 'Enabled', false], [2, 'Enabled', true]]);
  });

  test('automatic rotation fires when the period ends, not before, and shows nextRotationAt', async () => {
    const key = await create({ rotationPeriodDays: 30 });
    assert.equal(key.rotationPeriodDays, 30);
    assert.equal(key.nextRotationAt, new Date(clock.now() + 30 * DAY).toISOString());
    clock.advance(30 * DAY - 1);
    await runJobs();
    assert.equal((await t.req('GET', `/v1/keys/${key.id}`)).json.key.primaryVersion, 1, 'not before the period ends');
    clock.advance(1);
    await runJobs();
    const after30 = (await t.req('GET', `/v1/keys/${key.id}`)).json.key;
    assert.equal(after30.primaryVersion, 2);
    assert.equal(after30.nextRotationAt, new Date(clock.now() + 30 * DAY).toISOString());
    // Catch-up after downtime: 95 days later one job run rotates once and reschedules.
    clock.advance(95 * DAY);
    await runJobs();
    const caught = (await t.req('GET', `/v1/keys/${key.id}`)).json.key;
    assert.equal(caught.primaryVersion, 3);
    assertError(await t.req('POST', '/v1/keys', { rotationPeriodDays: 0 }), 400, 'ValidationError', 'rotationPeriodDays must be >= 1');
    assertError(await t.req('POST', '/v1/keys', { rotationPeriodDays: 3651 }), 400, 'ValidationError', 'rotationPeriodDays must be <= 3650');
    // A disabled key is not rotated when due; its rotation is postponed by one period.
    await t.req('POST', `/v1/keys/${key.id}/disable`);
    clock.advance(30 * DAY);
    await runJobs();
    const postponed = (await t.req('GET', `/v1/keys/${key.id}`)).json.key;
    assert.equal(postponed.primaryVersion, 3);
    assert.equal(postponed.nextRotationAt, new Date(clock.now() + 30 * DAY).toISOString());
    await t.req('POST', `/v1/keys/${key.id}/enable`);
    const off = await t.req('PATCH', `/v1/keys/${key.id}`, { rotationPeriodDays: null });
    assert.equal(off.json.key.nextRotationAt, null);
  });

  test('usage limit: the encryption after the limit rotates the key first', async () => {
    const key = await create({ usageLimit: 3 });
    assert.equal(key.usageLimit, 3);
    const versions = [];
    for (let i = 0; i < 7; i++) versions.push((await encrypt(key.id, `m${i}`)).json.keyVersion);
    assert.deepEqual(versions, [1, 1, 1, 2, 2, 2, 3]);
    const batch = await t.req('POST', `/v1/keys/${key.id}/encrypt`, { items: Array.from({ length: 4 }, (_, i) => ({ plaintext: b64(`b${i}`) })) });
    assert.deepEqual(batch.json.items.map((i: any) => i.keyVersion), [3, 3, 4, 4]);
    assert.equal((await create()).usageLimit, 2 ** 32, 'AES-GCM default limit is 2^32');
    // Usage is counted per version and flushed in batches by the usage-flush job.
    await runJobs();
    const vs = (await t.req('GET', `/v1/keys/${key.id}/versions`)).json.versions;
    assert.deepEqual(vs.map((v: any) => v.usageCount), [3, 3, 3, 2]);
    assert.ok(vs.every((v: any) => v.lastUsedAt !== null));
  });

  test('versions: disable/enable/destroy, primary protected, minDecryptionVersion, re-wrap', async () => {
    const key = await create({ alias: 'alias/ver' });
    const c1 = (await encrypt('alias/ver', 'one', { a: '1' })).json.ciphertext;
    await t.req('POST', '/v1/keys/alias/ver/rotate');
    const c2 = (await encrypt('alias/ver', 'two')).json.ciphertext;
    await t.req('POST', '/v1/keys/alias/ver/rotate');

    assertError(await t.req('POST', '/v1/keys/alias/ver/versions/3/destroy'), 409, 'InvalidState', `version 3 is the primary version of key ${key.id}: rotate first, then destroy it`);
    assertError(await t.req('POST', '/v1/keys/alias/ver/versions/3/disable'), 409, 'InvalidState', `version 3 is the primary version of key ${key.id}: rotate first, then disable it`);
    assertError(await t.req('POST', '/v1/keys/alias/ver/versions/9/disable'), 404, 'NotFound', `version 9 of key ${key.id} was not found`);

    const disabled = await t.req('POST', '/v1/keys/alias/ver/versions/1/disable');
    assert.equal(disabled.json.version.state, 'Disabled');
    assertError(await decrypt(c1, { a: '1' }), 409, 'Disabled', `version 1 of key ${key.id} is disabled`);
    await t.req('POST', `/v1/keys/${key.id}/versions/1/enable`);
    assert.equal((await decrypt(c1, { a: '1' })).status, 200);

    const rewrapped = await t.req('POST', '/v1/keys/alias/ver/re-wrap', { ciphertext: c1, context: { a: '1' } });
    assert.equal(rewrapped.status, 200);
    assert.deepEqual([rewrapped.json.keyVersion, rewrapped.json.previousKeyVersion], [3, 1]);
    assert.equal('plaintext' in rewrapped.json, false);
    assert.equal(Buffer.from((await decrypt(rewrapped.json.ciphertext, { a: '1' })).json.plaintext, 'base64').toString(), 'one');
    assertError(await t.req('POST', '/v1/keys/alias/rot/re-wrap', { ciphertext: c1, context: { a: '1' } }), 400, 'InvalidCiphertext', INVALID_CIPHERTEXT_MESSAGE);

    const min = await t.req('PATCH', '/v1/keys/alias/ver', { minDecryptionVersion: 2 });
    assert.equal(min.json.key.minDecryptionVersion, 2);
    assertError(await decrypt(c1, { a: '1' }), 409, 'InvalidState', `version 1 of key ${key.id} is below its minimum decryption version 2`);
    assert.equal((await decrypt(c2)).status, 200);
    assertError(await t.req('PATCH', '/v1/keys/alias/ver', { minDecryptionVersion: 4 }), 400, 'ValidationError', 'minDecryptionVersion must be between 1 and the primary version (3)');
    await t.req('PATCH', '/v1/keys/alias/ver', { minDecryptionVersion: 1 });

    const destroyed = await t.req('POST', '/v1/keys/alias/ver/versions/1/destroy');
    assert.equal(destroyed.json.version.state, 'Destroyed');
    assert.ok(destroyed.json.version.destroyedAt);
    assertError(await decrypt(c1, { a: '1' }), 409, 'InvalidState', `version 1 of key ${key.id} was destroyed: its ciphertexts can no longer be decrypted`);
    assertError(await t.req('POST', '/v1/keys/alias/ver/versions/1/enable'), 409, 'InvalidState', `version 1 of key ${key.id} is Destroyed: it cannot be enabled`);
    assert.equal((await decrypt(c2)).status, 200, 'other versions are untouched');
  });

  test('states: disable/enable, invalid transitions name the current state', async () => {
    const key = await create();
    const c = (await encrypt(key.id, 'x')).json.ciphertext;
    assert.equal((await t.req('POST', `/v1/keys/${key.id}/disable`)).json.key.state, 'Disabled');
    assertError(await encrypt(key.id, 'y'), 409, 'Disabled', `key ${key.id} is disabled`);
    assertError(await decrypt(c), 409, 'Disabled', `key ${key.id} is disabled`);
    assertError(await t.req('POST', `/v1/keys/${key.id}/cancel-deletion`), 409, 'InvalidState', `key ${key.id} is Disabled: it cannot have its deletion cancelled`);
    assertError(await t.req('POST', `/v1/keys/${key.id}/rotate`), 409, 'InvalidState', `key ${key.id} is Disabled: only an Enabled key can be rotated`);
    assert.equal((await t.req('POST', `/v1/keys/${key.id}/enable`)).json.key.state, 'Enabled');
    assert.equal((await decrypt(c)).status, 200);
  });

  test('scheduled deletion: 7-30 day window, cancel returns to Disabled, destruction at the end and not before', async () => {
    const key = await create({ alias: 'alias/doomed' });
    const c = (await encrypt(key.id, 'last words')).json.ciphertext;
    assertError(await t.req('POST', `/v1/keys/${key.id}/schedule-deletion`, { days: 6 }), 400, 'ValidationError', 'days must be >= 7');
    assertError(await t.req('POST', `/v1/keys/${key.id}/schedule-deletion`, { days: 31 }), 400, 'ValidationError', 'days must be <= 30');

    const pending = (await t.req('POST', `/v1/keys/${key.id}/schedule-deletion`, { days: 7 })).json.key;
    assert.equal(pending.state, 'PendingDeletion');
    assert.equal(pending.deletionAt, new Date(clock.now() + 7 * DAY).toISOString());
    assertError(await decrypt(c), 409, 'InvalidState', `key ${key.id} is PendingDeletion: cancel the deletion to use it`);
    const cancelled = (await t.req('POST', `/v1/keys/${key.id}/cancel-deletion`)).json.key;
    assert.equal(cancelled.state, 'Disabled');
    assert.equal(cancelled.deletionAt, null);

    const wrapped = (await t.kw.store.keys.getVersion(key.id, 1))!.wrappedMaterial;
    await t.req('POST', `/v1/keys/${key.id}/schedule-deletion`, {});
    const again = (await t.req('GET', `/v1/keys/${key.id}`)).json.key;
    assert.equal(again.deletionAt, new Date(clock.now() + 30 * DAY).toISOString(), 'default window is 30 days');
    clock.advance(30 * DAY - 1);
    await runJobs();
    assert.equal((await t.req('GET', `/v1/keys/${key.id}`)).json.key.state, 'PendingDeletion', 'not destroyed before the window ends');
    clock.advance(1);
    await runJobs();
    const gone = (await t.req('GET', `/v1/keys/${key.id}`)).json.key;
    assert.equal(gone.state, 'Destroyed', 'metadata kept as a tombstone');
    assertError(await decrypt(c), 409, 'InvalidState', new RegExp(`^key ${key.id} is Destroyed: its material was destroyed on .+ and its ciphertexts can no longer be decrypted$`));
    assertError(await t.req('POST', `/v1/keys/${key.id}/enable`), 409, 'InvalidState', `key ${key.id} is Destroyed: it cannot be enabled`);
    assertError(await t.req('POST', `/v1/keys/${key.id}/cancel-deletion`), 409, 'InvalidState', `key ${key.id} is Destroyed: it cannot have its deletion cancelled`);

    const v = await t.kw.store.keys.getVersion(key.id, 1);
    assert.equal(v!.wrappedMaterial.length, 0, 'material overwritten in the store');
    const files = [t.dbPath, `${t.dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f));
    for (const f of files) assert.equal(f.indexOf(wrapped), -1, 'the old wrapped material is not left in the database files');
  });

  test('revocation: compromised blocks encrypt and direct decrypt but permits re-encrypt to another key', async () => {
    const key = await create();
    const target = await create();
    const c = (await encrypt(key.id, 'exposed?', { t: '1' })).json.ciphertext;
    const when = new Date(clock.now() - DAY).toISOString();
    const revoked = (await t.req('POST', `/v1/keys/${key.id}/revoke`, { reason: 'compromised', compromisedAt: when })).json.key;
    assert.equal(revoked.state, 'Compromised');
    assert.equal(revoked.compromisedAt, when);
    assert.equal(revoked.revocationReason, 'compromised');
    assert.equal(revoked.primaryVersion, 2, 'revocation as compromised rotates the key');
    assertError(await encrypt(key.id, 'no'), 409, 'InvalidState', `key ${key.id} is Compromised: it cannot encrypt; re-encrypt its ciphertexts under another key`);
    assertError(await decrypt(c, { t: '1' }), 409, 'InvalidState', `key ${key.id} is Compromised: its ciphertexts can only be re-encrypted under another key`);
    const moved = await t.req('POST', '/v1/re-encrypt', { ciphertext: c, context: { t: '1' }, destinationKey: target.id });
    assert.equal(moved.status, 200);
    assert.equal(Buffer.from((await decrypt(moved.json.ciphertext)).json.plaintext, 'base64').toString(), 'exposed?');
    assertError(await t.req('POST', '/v1/re-encrypt', { ciphertext: c, context: { t: '1' }, destinationKey: key.id }), 409, 'InvalidState', /is Compromised: it cannot encrypt/);
    assertError(await t.req('POST', `/v1/keys/${key.id}/enable`), 409, 'InvalidState', `key ${key.id} is Compromised: it cannot be enabled`);
    assertError(await t.req('POST', `/v1/keys/${target.id}/revoke`, { reason: 'compromised', compromisedAt: new Date(clock.now() + DAY).toISOString() }), 400, 'ValidationError', 'compromisedAt must not be in the future');

    const other = await create();
    const sup = (await t.req('POST', `/v1/keys/${other.id}/revoke`, { reason: 'superseded' })).json.key;
    assert.deepEqual([sup.state, sup.revocationReason], ['Disabled', 'superseded']);
  });

  test('aliases and tags: create, update, delete, tag, untag, description', async () => {
    const a = await create();
    const b = await create();
    const created = await t.req('POST', '/v1/aliases', { alias: 'alias/app/current', key: a.id });
    assert.deepEqual([created.status, created.json], [201, { alias: 'alias/app/current', keyId: a.id }]);
    assert.equal((await t.req('GET', '/v1/keys/alias/app/current')).json.key.id, a.id);
    assertError(await t.req('POST', '/v1/aliases', { alias: 'alias/app/current', key: b.id }), 409, 'AlreadyExists', 'alias "alias/app/current" is already in use');
    await t.req('PUT', '/v1/aliases', { alias: 'alias/app/current', key: b.id });
    assert.equal((await t.req('GET', '/v1/keys/alias/app/current')).json.key.id, b.id, 'an alias update takes effect at once');
    assert.ok((await t.req('GET', '/v1/aliases')).json.aliases.some((x: any) => x.alias === 'alias/app/current' && x.keyId === b.id));
    const del = await t.req('DELETE', '/v1/aliases?alias=alias/app/current');
    assert.deepEqual(del.json, { deleted: 'alias/app/current' });
    assertError(await t.req('GET', '/v1/keys/alias/app/current'), 404, 'NotFound', 'key "alias/app/current" was not found');
    assertError(await t.req('DELETE', '/v1/aliases?alias=alias/app/current'), 404, 'NotFound', 'alias "alias/app/current" was not found');
    assertError(await t.req('PUT', '/v1/aliases', { alias: 'alias/none', key: a.id }), 404, 'NotFound', 'key "alias/none" was not found');

    const tagged = await t.req('POST', `/v1/keys/${a.id}/tags`, { tags: { team: 'pay', env: 'prod' } });
    assert.deepEqual(tagged.json.key.tags, { team: 'pay', env: 'prod' });
    const untagged = await t.req('POST', `/v1/keys/${a.id}/untag`, { tagKeys: ['env'] });
    assert.deepEqual(untagged.json.key.tags, { team: 'pay' });
    const described = await t.req('PATCH', `/v1/keys/${a.id}`, { description: 'payments KEK' });
    assert.equal(described.json.key.description, 'payments KEK');
  });

  test('unused-key report and purge respect aliases, usage and the pending window', async () => {
    const localClock = new ManualClock(Date.UTC(2026, 5, 1));
    const fresh = await startInProcess({ clock: localClock });
    try {
      const orphan = (await fresh.req('POST', '/v1/keys', { description: 'orphan' })).json.key;
      const aliased = (await fresh.req('POST', '/v1/keys', { alias: 'alias/in-use' })).json.key;
      const used = (await fresh.req('POST', '/v1/keys', { description: 'used' })).json.key;
      localClock.advance(100 * DAY);
      await fresh.req('POST', `/v1/keys/${used.id}/encrypt`, { plaintext: b64('x') });
      await runJobs(fresh.kw);
      const report = await fresh.req('GET', '/v1/reports/unused-keys?unusedForDays=90');
      assert.deepEqual(report.json.keys.map((k: any) => k.id), [orphan.id]);
      assert.ok(aliased.id);
      const purge = await fresh.req('POST', '/v1/reports/unused-keys/purge', { unusedForDays: 90, pendingWindowDays: 7 });
      assert.deepEqual(purge.json.scheduled.map((k: any) => [k.id, k.state]), [[orphan.id, 'PendingDeletion']]);
      assert.deepEqual((await fresh.req('GET', '/v1/reports/unused-keys?unusedForDays=90')).json.keys, [], 'pending keys are not reported again');
      assertError(await fresh.req('GET', '/v1/reports/unused-keys?unusedForDays=0'), 400, 'ValidationError', 'unusedForDays must be a whole number of days between 1 and 36500');
    } finally {
      await fresh.close();
    }
  });

  test('jobs are visible with their schedule and last outcome', async () => {
    await runJobs();
    const jobs = (await t.req('GET', '/v1/sys/jobs')).json.jobs;
    assert.deepEqual(jobs.map((j: any) => j.name).sort(), ['approval-expiry', 'canary-backfill', 'deletion-due', 'material-expiry', 'rotation-due', 'usage-flush']);
    assert.ok(jobs.every((j: any) => j.lastStatus === 'ok' && j.lastRunAt !== null));
  });
});
