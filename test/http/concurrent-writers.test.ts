/**
 * The main thread and the audit writer thread both write the SQLite file. Read-then-write
 * transactions must take the write lock up front (BEGIN IMMEDIATE): a deferred one fails at once
 * with SQLITE_BUSY when the other connection commits between its read and its write. Regression
 * test: key creations, rotations and encrypts racing with audit appends all succeed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess } from '../support/in-process.js';

test('key writes racing with audit appends never fail with SQLITE_BUSY', async () => {
  const t = await startInProcess();
  try {
    const key = (await t.req('POST', '/v1/keys', {})).json.key.id as string;
    const calls: Array<Promise<{ status: number; json: any }>> = [];
    for (let i = 0; i < 150; i++) {
      calls.push(t.req('POST', '/v1/keys', { description: `race ${i}` }));
      calls.push(t.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: Buffer.from(`m${i}`).toString('base64') }));
      if (i % 10 === 0) calls.push(t.req('POST', `/v1/keys/${key}/rotate`));
    }
    const results = await Promise.all(calls);
    const failed = results.filter((r) => r.status >= 300);
    assert.deepEqual(failed.map((r) => `${r.status} ${JSON.stringify(r.json)}`), []);
    assert.ok(t.kw.ledger.stats().size >= results.length, 'every call was audited');
  } finally {
    await t.close();
  }
});
