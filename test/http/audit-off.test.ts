/**
 * `audit: false` (benchmarks only: `dev --no-audit`) turns off the ledger and nothing else: the
 * audit stage still times every use-case for the metrics, so the bench's "ledger off" server does
 * the same work as the "ledger on" one except the append.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeywarden, type Keywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';

let dir: string;
let kw: Keywarden;
let token: string;

const req = async (method: string, url: string, body?: unknown) => {
  const r = await kw.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
  });
  return { status: r.statusCode, body: r.body, json: r.body && r.headers['content-type']?.toString().includes('json') ? JSON.parse(r.body) : undefined };
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kw-audit-off-'));
  kw = await createKeywarden({ storage: { type: 'sqlite', path: join(dir, 'kw.db') }, seal: 'dev', logger: false, audit: false });
  await bootDevSeal(kw.seal, dir);
  token = await kw.tokens.createRootToken();
});

after(async () => {
  await kw.close();
  await rm(dir, { recursive: true, force: true });
});

test('with the ledger off, use-cases are still counted and timed by outcome; nothing reaches the ledger', async () => {
  const key = (await req('POST', '/v1/keys', { description: 'off' })).json.key.id as string;
  for (let i = 0; i < 3; i++) assert.equal((await req('POST', `/v1/keys/${key}/encrypt`, { plaintext: 'AAAA' })).status, 200);
  assert.equal((await req('POST', '/v1/keys/00000000-0000-4000-8000-000000000000/encrypt', { plaintext: 'AAAA' })).status, 404);
  const text = (await req('GET', '/v1/sys/metrics')).body;
  assert.match(text, /^keywarden_operations_total\{operation="key:encrypt",outcome="allow"\} 3$/m);
  assert.match(text, /^keywarden_operations_total\{operation="key:encrypt",outcome="error"\} 1$/m);
  assert.match(text, /^keywarden_operation_duration_seconds_count\{operation="key:encrypt",outcome="allow"\} 3$/m);
  assert.equal(kw.ledger.stats().size, 0);
});
