/**
 * Witnessing (issue 4/10 §5): a production server (`keywarden server --config`) with the audit
 * sinks of its config file copies every event and every signed checkpoint to a JSON-lines file
 * and to an HMAC-signed webhook. An operator who truncates the whole tail of the ledger — events
 * AND checkpoints, leaving a self-consistent log that `audit verify` alone accepts — is caught by
 * `audit verify --witness FILE`, because the witness holds a signed checkpoint the log no longer extends.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCli, startKeywarden, type ServerProc } from './helpers.js';

const SECRET = 'witness-webhook-secret-0123456789';

interface Received {
  records: Array<{ type: string; checkpoint?: { size: number; rootHash: string } }>;
  signatureOk: boolean;
}

describe('audit sinks from the server config witness the ledger', () => {
  let dir: string;
  let configFile: string;
  let receiver: Server;
  const received: Received[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-witness-'));
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const want = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
        const got = Buffer.from(String(req.headers['x-keywarden-signature'] ?? ''));
        received.push({ records: JSON.parse(body.toString('utf8')).records, signatureOk: got.length === want.length && timingSafeEqual(got, want) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    configFile = join(dir, 'keywarden.yaml');
    await writeFile(
      configFile,
      [
        'listen: { address: "127.0.0.1:0", tls: { disable: true } }',
        'storage: { type: sqlite, path: data/keywarden.db }',
        'seal: { type: shamir }',
        'log: { level: warn }',
        'audit:',
        '  sinks:',
        '    file: { path: witness/audit.jsonl, maxBytes: 1048576, keep: 2 }',
        `    webhook: { url: "http://127.0.0.1:${port}/audit", secret: "${SECRET}" }`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await new Promise((r) => receiver.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  test('a bad sinks config is refused at start, naming the member and never the secret', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, (await readFile(configFile, 'utf8')).replace(`secret: "${SECRET}"`, 'secret: "short-secret"'));
    const r = await runCli(['server', '--config', bad]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /invalid config at audit\.sinks\.webhook\.secret/);
    assert.doesNotMatch(r.stderr, /short-secret/);
  });

  test('checkpoints reach the file and the webhook; a truncated log fails verification against the witness', async () => {
    let server: ServerProc = await startKeywarden(['server', '--config', configFile]);
    const env: Record<string, string> = { KEYWARDEN_ADDR: server.address };
    let shares: string[] = [];
    let rootToken = '';
    try {
      const init = await runCli(['operator', 'init', '--shares', '3', '--threshold', '2', '--format', 'json'], { env });
      assert.equal(init.code, 0, init.stderr);
      ({ shares, rootToken } = JSON.parse(init.stdout.toString()) as { shares: string[]; rootToken: string });
      for (const s of shares.slice(0, 2)) assert.equal((await runCli(['operator', 'unseal', s], { env })).code, 0);
      env.KEYWARDEN_TOKEN = rootToken;
      const created = await runCli(['key', 'create', '--format', 'json'], { env });
      assert.equal(created.code, 0, created.stderr);
      const keyId = JSON.parse(created.stdout.toString()).key.id as string;
      for (let i = 0; i < 5; i++) assert.equal((await runCli(['encrypt', '--key', keyId], { env, input: Buffer.from(`m${i}`) })).code, 0);
    } finally {
      // A clean shutdown signs a last checkpoint over everything and lets the sinks deliver it.
      assert.equal(await server.stop(), 0);
    }

    const lines = (await readFile(join(dir, 'witness', 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const events = lines.filter((l) => l.type === 'event');
    const checkpoints = lines.filter((l) => l.type === 'checkpoint');
    assert.ok(events.length >= 8, 'init, unseal x2, key create, 5 encrypts');
    assert.deepEqual(events.map((e) => e.index), events.map((_, i) => i), 'every event, in index order');
    assert.ok(events.some((e) => e.event.operation === 'key:encrypt' && e.event.requestId.length > 0), 'events carry correlation ids');
    const last = checkpoints.at(-1);
    assert.equal(last.checkpoint.size, events.length, 'the final checkpoint covers every event');

    assert.ok(received.length > 0 && received.every((r) => r.signatureOk), 'every webhook batch is signed with the shared secret');
    const hooked = received.flatMap((r) => r.records).filter((r) => r.type === 'checkpoint').at(-1);
    assert.deepEqual(hooked?.checkpoint, last.checkpoint, 'the webhook witnessed the same checkpoint');

    // The attack: drop the append-only triggers and cut the tail, checkpoints included.
    const db = new Database(join(dir, 'data', 'keywarden.db'));
    db.exec("DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_checkpoints_no_delete; DELETE FROM audit_events WHERE idx >= 3; DELETE FROM audit_checkpoints WHERE size > 3;");
    db.close();

    server = await startKeywarden(['server', '--config', configFile]);
    try {
      env.KEYWARDEN_ADDR = server.address;
      for (const s of shares.slice(1, 3)) assert.equal((await runCli(['operator', 'unseal', s], { env })).code, 0);
      const alone = await runCli(['audit', 'verify'], { env });
      assert.equal(alone.code, 0, `without the witness the cut log looks whole: ${alone.stderr}`);
      const witnessed = await runCli(['audit', 'verify', '--witness', join(dir, 'witness', 'audit.jsonl')], { env });
      assert.notEqual(witnessed.code, 0);
      assert.match(witnessed.stderr, new RegExp(`FAILED at index \\d+ \\((truncated|inconsistent)\\): .*the witnessed checkpoint .*${last.checkpoint.size}`));
      const noFile = await runCli(['audit', 'verify', '--witness', join(dir, 'nope.jsonl')], { env });
      assert.equal(noFile.code, 1);
      assert.match(noFile.stderr, /cannot read witness file/);
    } finally {
      await server.stop();
    }
  });
});
