/**
 * `keywarden alert list|show|ack|resolve` against a real `keywarden dev` process: a probing burst
 * of unauthenticated calls over real sockets becomes an alert the CLI lists, shows, acknowledges
 * and resolves, in both output formats.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, fails, json, runCli, startDevServer, text, type DevServer } from '../e2e/helpers.js';

describe('keywarden alert', () => {
  let server: DevServer;
  const env = () => ({ KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: server.rootToken });
  let id = '';

  before(async () => {
    server = await startDevServer();
    for (let i = 0; i < 20; i++) assert.equal((await api(server.address, null, 'GET', '/v1/keys')).status, 401);
  });
  after(() => server.stop());

  test('list (json, then table) shows the probing alert within the minute', async () => {
    let alerts: Array<{ id: string; detector: string; subject: { sourceIp: string } }> = [];
    for (let i = 0; i < 50 && alerts.length === 0; i++) {
      alerts = json<{ alerts: typeof alerts }>(await runCli(['alert', 'list', '--detector', 'probing', '--format', 'json'], { env: env() })).alerts;
      if (alerts.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.subject.sourceIp, '127.0.0.1');
    id = alerts[0]!.id;
    const table = text(await runCli(['alert', 'list', '--status', 'open'], { env: env() }));
    assert.match(table, /^ID +DETECTOR +SEVERITY +STATUS +COUNT +SUBJECT +LAST SEEN$/m);
    assert.match(table, new RegExp(`^${id} +probing +high +open +1 +address 127\\.0\\.0\\.1 +\\d{4}-`, 'm'));
  });

  test('show, ack, resolve; wrong input is refused by the server with the allowed values', async () => {
    const shown = text(await runCli(['alert', 'show', id], { env: env() }));
    assert.match(shown, /^Summary +address 127\.0\.0\.1: 20 denied calls or failed decrypts within 60 s \(probing\)$/m);
    assert.match(shown, /^Evidence +observed=20, threshold=20, windowSeconds=60, denied=20, failedDecrypts=0, lastErrorCode=Unauthenticated$/m);
    assert.equal(json<{ alert: { status: string } }>(await runCli(['alert', 'ack', id, '--format', 'json'], { env: env() })).alert.status, 'acknowledged');
    const resolved = text(await runCli(['alert', 'resolve', id, '--note', 'the e2e test probing itself'], { env: env() }));
    assert.match(resolved, /^Status +resolved$/m);
    assert.match(resolved, /^Resolved +\S+ by dev root token: the e2e test probing itself$/m);
    fails(await runCli(['alert', 'resolve', id, '--note', 'again'], { env: env() }), 1, new RegExp(`alert ${id} is already resolved`));
    fails(await runCli(['alert', 'list', '--detector', 'nope'], { env: env() }), 1, /detector must be one of: rate-spike, new-zone, unusual-hours, probing, inactive-key-use, mass-data-key/);
  });
});
