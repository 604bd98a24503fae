/**
 * The key-compromise playbook end to end (issue 10/10 §5 acceptance): a real `keywarden dev` server
 * process and the real CLI. Two service accounts use a key from different source addresses (one
 * through an alias); the drill changes nothing in production; the real run revokes and replaces the
 * key, the alias encrypts under the successor, the printed rewrap command moves the old
 * ciphertexts and data keys, and the report and notification name both principals.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, apiOk, json, runCli, startDevServer, text, type DevServer } from './helpers.js';

/** A JSON call from a chosen loopback source address (the ledger records it). */
function from(localAddress: string, address: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      address + path,
      { method, localAddress, headers: { authorization: `Bearer ${token}`, ...(payload && { 'content-type': 'application/json', 'content-length': payload.length }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('keywarden incident key-compromise: drill, then for real, on a real server', () => {
  let srv: DevServer;
  let work: string;
  const tok = { officer: '', appA: '', appB: '' };
  let keyId = '';
  const secrets = ['order 1', 'order 2', 'order 3'];
  const dataKeys: Array<{ plaintext: string; ciphertext: string }> = [];
  let ciphertexts: string[] = [];

  const cli = (token: string, args: string[]) => runCli(args, { env: { KEYWARDEN_ADDR: srv.address, KEYWARDEN_TOKEN: token } });

  before(async () => {
    srv = await startDevServer();
    work = await mkdtemp(join(tmpdir(), 'kw-incident-e2e-'));
    const account = async (name: string, roles: string[]) => {
      const c = await apiOk(srv.address, srv.rootToken, 'POST', '/v1/principals', { name, roles });
      return (await apiOk(srv.address, srv.rootToken, 'POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret })).access_token as string;
    };
    tok.officer = await account('officer', ['security-officer']);
    tok.appA = await account('orders-api', ['application']);
    tok.appB = await account('batch-worker', ['application']);
    keyId = (await apiOk(srv.address, srv.rootToken, 'POST', '/v1/keys', { description: 'orders', alias: 'alias/orders' })).key.id;
    await apiOk(srv.address, srv.rootToken, 'POST', '/v1/grants', { key: keyId, principal: 'orders-api', operations: ['encrypt', 'decrypt', 're-encrypt'] });
    await apiOk(srv.address, srv.rootToken, 'POST', '/v1/grants', { key: keyId, principal: 'batch-worker', operations: ['encrypt', 'generate-data-key'] });
    // orders-api encrypts by key id from 127.0.0.2; batch-worker makes data keys through the alias from 127.0.0.3.
    for (const s of secrets) {
      const r = await from('127.0.0.2', srv.address, tok.appA, 'POST', `/v1/keys/${keyId}/encrypt`, { plaintext: b64(s) });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      ciphertexts.push(r.json.ciphertext);
    }
    for (let i = 0; i < 2; i++) {
      const r = await from('127.0.0.3', srv.address, tok.appB, 'POST', '/v1/keys/alias/orders/data-key', {});
      assert.equal(r.status, 200, JSON.stringify(r.json));
      dataKeys.push({ plaintext: r.json.plaintext, ciphertext: r.json.ciphertext });
    }
  });

  after(async () => {
    await srv?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const getKey = async (ref: string) => (await apiOk(srv.address, srv.rootToken, 'GET', `/v1/keys/${ref}`)).key;

  test('without --yes (and without --drill) it only says what it would do', async () => {
    const out = text(await cli(tok.officer, ['incident', 'key-compromise', keyId, '--reason', 'token leaked in CI logs']));
    assert.match(out, new RegExp(`will, for key ${keyId} \\(SYMMETRIC_DEFAULT, Enabled, aliases alias/orders\\)`));
    assert.match(out, /Nothing was changed\. Run again with --yes to do it, or with --drill to rehearse it on a copy\./);
    assert.equal((await getKey(keyId)).state, 'Enabled');
  });

  test('the drill leaves production as it was and reports both principals, marked DRILL', async () => {
    const grantsBefore = (await apiOk(srv.address, srv.rootToken, 'GET', `/v1/grants?key=${keyId}`)).grants;
    const dir = join(work, 'drill');
    const inc = json<any>(await cli(tok.officer, ['--format', 'json', 'incident', 'key-compromise', keyId, '--reason', 'token leaked in CI logs', '--drill', '--out', dir]));
    assert.equal(inc.drill, true);
    assert.deepEqual(inc.files, [join(dir, 'report.md'), join(dir, 'notification.md')]);
    const k = await getKey(keyId);
    assert.equal(k.state, 'Enabled');
    assert.deepEqual(k.aliases, ['alias/orders']);
    assert.equal((await getKey('alias/orders')).id, keyId);
    assert.deepEqual((await apiOk(srv.address, srv.rootToken, 'GET', `/v1/grants?key=${keyId}`)).grants, grantsBefore);
    const report = await readFile(join(dir, 'report.md'), 'utf8');
    assert.match(report, /^# DRILL — Incident report/);
    for (const [name, addr] of [['orders-api', '127.0.0.2'], ['batch-worker', '127.0.0.3']] as const) {
      assert.match(report, new RegExp(`\\| ${name} \\| service-account \\|[^\\n]*\\| ${addr.replace(/\./g, '\\.')} \\|`));
    }
    assert.match(await readFile(join(dir, 'notification.md'), 'utf8'), /DRILL: rehearsal output\. Do not send\./);
    // The key still serves its applications.
    assert.equal((await from('127.0.0.2', srv.address, tok.appA, 'POST', '/v1/decrypt', { ciphertext: ciphertexts[0] })).status, 200);
  });

  test('for real: revoked, replaced, alias moved, old data re-wrapped with the printed command, files and audit events written', async () => {
    const dir = join(work, 'real');
    const inc = json<any>(await cli(tok.officer, ['--format', 'json', 'incident', 'key-compromise', keyId, '--reason', 'token leaked in CI logs', '--yes', '--out', dir]));
    assert.equal(inc.drill, false);
    const successor = inc.successorId as string;
    assert.match(successor, /^[0-9a-f-]{36}$/);
    const old = await getKey(keyId);
    assert.equal(old.state, 'Compromised');
    assert.equal(old.revocationReason, 'compromised');
    assert.equal((await getKey('alias/orders')).id, successor);

    // The application using the alias encrypts under the clean key at once.
    const viaAlias = await from('127.0.0.3', srv.address, tok.appB, 'POST', '/v1/keys/alias/orders/encrypt', { plaintext: b64('new order') });
    assert.equal(viaAlias.status, 200, JSON.stringify(viaAlias.json));
    assert.equal(viaAlias.json.keyId, successor);

    // Report and notification name both principals and their addresses.
    const report = await readFile(join(dir, 'report.md'), 'utf8');
    const notification = await readFile(join(dir, 'notification.md'), 'utf8');
    assert.doesNotMatch(report, /DRILL/);
    for (const name of ['orders-api', 'batch-worker']) {
      assert.match(report, new RegExp(`\\| ${name} \\|`));
      assert.match(notification, new RegExp(`- ${name} \\(127\\.0\\.0\\.[23]\\)`));
    }
    assert.match(report, /\*\*3 ciphertext\(s\)\*\* and \*\*2 data key\(s\)\*\*/);
    assert.match(notification, /\{\{CUSTOMER_NAME\}\}/);

    // The printed command re-wraps ciphertexts and wrapped data keys; they decrypt under the successor.
    const command = inc.result.plan.command as string;
    assert.ok(report.includes(command), 'the report shows the command');
    const input = join(work, 'ciphertexts.txt');
    const output = join(work, 'rewrapped.txt');
    await writeFile(input, [...ciphertexts, ...dataKeys.map((d) => d.ciphertext)].join('\n') + '\n');
    const args = command.split(' ').slice(1).map((a) => (a === 'ciphertexts.txt' ? input : a === 'rewrapped.txt' ? output : a));
    const moved = json<any>(await cli(tok.appA, ['--format', 'json', ...args]));
    assert.deepEqual([moved.lines, moved.moved, moved.alreadyMoved, moved.failed], [5, 5, 0, 0]);
    const lines = (await readFile(output, 'utf8')).trim().split('\n');
    const expected = [...secrets.map(b64), ...dataKeys.map((d) => d.plaintext)];
    for (const [i, line] of lines.entries()) {
      const r = await from('127.0.0.2', srv.address, tok.appA, 'POST', '/v1/decrypt', { ciphertext: line });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.keyId, successor);
      assert.equal(r.json.plaintext, expected[i]);
    }
    // The old ciphertexts no longer decrypt (the key is Compromised), and re-running is idempotent.
    assert.equal((await from('127.0.0.2', srv.address, tok.appA, 'POST', '/v1/decrypt', { ciphertext: ciphertexts[0] })).status, 409);
    const again = json<any>(await cli(tok.appA, ['--format', 'json', 'incident', 'rewrap', '--from', keyId, '--to', 'alias/orders', '--in', output, '--out', join(work, 'again.txt')]));
    assert.deepEqual([again.moved, again.alreadyMoved, again.failed], [0, 5, 0]);
    assert.equal(await readFile(join(work, 'again.txt'), 'utf8'), await readFile(output, 'utf8'));

    // One audit event per run (drill and real), listed and shown by the CLI.
    const events = (await api(srv.address, srv.rootToken, 'GET', `/v1/audit/events?key=${keyId}&operation=incident:respond`)).json.events;
    assert.deepEqual(events.map((e: any) => [e.principal.name, e.outcome]), [['officer', 'allow'], ['officer', 'allow']]);
    const list = json<any>(await cli(tok.officer, ['--format', 'json', 'incident', 'list', '--key', keyId]));
    assert.deepEqual(list.incidents.map((i: any) => i.drill), [false, true]);
    const table = text(await cli(tok.officer, ['incident', 'show', inc.id, '--out', join(work, 'show')]));
    assert.match(table, /Exposure: \d+ ledger event\(s\)/);
    assert.match(table, /orders-api/);
    assert.equal(await readFile(join(work, 'show', 'report.md'), 'utf8'), report);
  });
});
