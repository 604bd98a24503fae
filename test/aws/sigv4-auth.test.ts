/**
 * SigV4 authentication and access keys through the official AWS SDK and hand-made requests
 * against a real Keywarden on a port: bad signature, unknown access key, request time more than
 * 5 minutes off, region and temporary-credential refusals, unknown operations, access-key
 * lifecycle (disable, enable, delete, revoke-root) and who may manage whose access keys.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KMSClient, ListKeysCommand, GenerateRandomCommand } from '@aws-sdk/client-kms';
import { rejectsAws, startAwsServer, type AwsTestServer } from './helpers.js';

let s: AwsTestServer;
before(async () => {
  s = await startAwsServer();
});
after(async () => {
  await s.close();
});

/** A fresh access key (as root) for `principal`; earlier ones are deleted (a principal holds at most two). */
async function accessKey(principal = 'root'): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  for (const k of (await s.t.req('GET', `/v1/access-keys?principal=${principal}`)).json.accessKeys) {
    assert.equal((await s.t.req('DELETE', `/v1/access-keys/${k.accessKeyId}`)).status, 200);
  }
  const r = await s.t.req('POST', '/v1/access-keys', { principal });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json;
}

function client(creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, opts: Record<string, unknown> = {}): KMSClient {
  return new KMSClient({ endpoint: s.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: creds, ...opts });
}

async function raw(target: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(s.endpoint + '/', { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, ...headers }, body });
  return { status: res.status, json: (await res.json()) as { __type: string; message: string }, type: res.headers.get('content-type') };
}

describe('SigV4 authentication', () => {
  test('a correctly signed request succeeds', async () => {
    const r = await client(await accessKey()).send(new GenerateRandomCommand({ NumberOfBytes: 8 }));
    assert.equal(r.Plaintext!.length, 8);
  });

  test('a wrong secret (bad signature) is InvalidSignatureException', async () => {
    const k = await accessKey();
    const wrong = k.secretAccessKey.slice(0, -2) + (k.secretAccessKey.endsWith('AA') ? 'BB' : 'AA');
    await rejectsAws(client({ ...k, secretAccessKey: wrong }).send(new ListKeysCommand({})), 'InvalidSignatureException', /signature/);
  });

  test('an unknown access key id is UnrecognizedClientException', async () => {
    await rejectsAws(client({ accessKeyId: 'AKKWNOSUCHKEY0000000', secretAccessKey: 'x'.repeat(40) }).send(new ListKeysCommand({})), 'UnrecognizedClientException');
  });

  test('a request time more than 5 minutes off is InvalidSignatureException (client clock or server clock)', async () => {
    const k = await accessKey();
    await rejectsAws(client(k, { systemClockOffset: 6 * 60_000 }).send(new ListKeysCommand({})), 'InvalidSignatureException', /Signature expired/);
    await rejectsAws(client(k, { systemClockOffset: -6 * 60_000 }).send(new ListKeysCommand({})), 'InvalidSignatureException', /Signature expired/);
    // 4 minutes off is within the window.
    await client(k, { systemClockOffset: 4 * 60_000 }).send(new ListKeysCommand({}));
    s.clock.advance(6 * 60_000);
    try {
      await rejectsAws(client(k).send(new ListKeysCommand({})), 'InvalidSignatureException', /Signature expired/);
    } finally {
      s.clock.advance(-6 * 60_000);
    }
  });

  test('a region the server does not serve, and temporary credentials, are refused', async () => {
    const k = await accessKey();
    await rejectsAws(client(k, { region: 'eu-west-1' }).send(new ListKeysCommand({})), 'InvalidSignatureException', /region/);
    await rejectsAws(client({ ...k, sessionToken: 'FwoGZXIvYXdzEXAMPLE' }).send(new ListKeysCommand({})), 'UnrecognizedClientException', /X-Amz-Security-Token/);
  });

  test('unsigned and malformed requests; unknown operations are UnsupportedOperationException', async () => {
    const unsigned = await raw('TrentService.ListKeys', '{}');
    assert.equal(unsigned.status, 400);
    assert.equal(unsigned.type, 'application/x-amz-json-1.1');
    assert.equal(unsigned.json.__type, 'UnrecognizedClientException');
    const malformed = await raw('TrentService.ListKeys', '{}', { authorization: 'AWS4-HMAC-SHA256 Credential=nonsense' });
    assert.equal(malformed.json.__type, 'IncompleteSignatureException');
    for (const target of ['TrentService.CreateCustomKeyStore', 'TrentService.Nope', 'DynamoDB_20120810.ListTables']) {
      const r = await raw(target, '{}');
      assert.equal(r.status, 400);
      assert.equal(r.json.__type, 'UnsupportedOperationException', target);
    }
    const notJson = await raw('TrentService.ListKeys', '{nope');
    assert.equal(notJson.json.__type, 'SerializationException');
    const badShape = await raw('TrentService.Encrypt', JSON.stringify({ KeyId: 'k', Plaintext: 'aGk=', Bogus: 1 }));
    assert.equal(badShape.json.__type, 'ValidationException');
  });
});

describe('access keys', () => {
  test('disable, enable and delete take effect at once; the secret is never listed', async () => {
    const k = await accessKey();
    const kms = client(k);
    await kms.send(new ListKeysCommand({}));
    const d = await s.t.req('POST', `/v1/access-keys/${k.accessKeyId}/disable`);
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.equal(d.json.accessKey.status, 'Inactive');
    await rejectsAws(kms.send(new ListKeysCommand({})), 'UnrecognizedClientException');
    assert.equal((await s.t.req('POST', `/v1/access-keys/${k.accessKeyId}/enable`)).json.accessKey.status, 'Active');
    await kms.send(new ListKeysCommand({}));
    const list = await s.t.req('GET', '/v1/access-keys');
    assert.equal(list.status, 200);
    const mine = list.json.accessKeys.find((x: { accessKeyId: string }) => x.accessKeyId === k.accessKeyId);
    assert.deepEqual(Object.keys(mine).sort(), ['accessKeyId', 'createdAt', 'principal', 'status']);
    assert.ok(!JSON.stringify(list.json).includes(k.secretAccessKey));
    assert.equal((await s.t.req('DELETE', `/v1/access-keys/${k.accessKeyId}`)).status, 200);
    await rejectsAws(kms.send(new ListKeysCommand({})), 'UnrecognizedClientException');
    assert.equal((await s.t.req('DELETE', `/v1/access-keys/${k.accessKeyId}`)).status, 404);
  });

  test('who may manage whose access keys', async () => {
    const mk = async (name: string, roles: string[]) => {
      const c = await s.t.req('POST', '/v1/principals', { name, roles });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const tok = await s.t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
      return tok.json.access_token as string;
    };
    const app = await mk('ak-app', ['application']);
    const admin = await mk('ak-admin', ['admin']);
    await mk('ak-other', ['application']);
    // Its own: allowed; another's or root's: denied.
    const own = await s.t.req('POST', '/v1/access-keys', { principal: 'ak-app' }, app);
    assert.equal(own.status, 201, JSON.stringify(own.json));
    assert.equal(own.json.principal, 'ak-app');
    assert.equal((await s.t.req('POST', '/v1/access-keys', { principal: 'ak-other' }, app)).status, 403);
    assert.equal((await s.t.req('POST', '/v1/access-keys', { principal: 'root' }, admin)).status, 403);
    assert.equal((await s.t.req('GET', '/v1/access-keys?principal=ak-other', undefined, app)).status, 403);
    assert.equal((await s.t.req('POST', `/v1/access-keys/${own.json.accessKeyId}/disable`, undefined, await mk('ak-third', ['application']))).status, 403);
    // The admin (principal:manage) manages anyone's.
    const forOther = await s.t.req('POST', '/v1/access-keys', { principal: 'ak-other' }, admin);
    assert.equal(forOther.status, 201);
    const listed = await s.t.req('GET', '/v1/access-keys', undefined, app);
    assert.deepEqual(listed.json.accessKeys.map((k: { principal: string }) => k.principal), ['ak-app']);
    assert.equal((await s.t.req('GET', '/v1/access-keys?principal=ak-other', undefined, admin)).json.accessKeys.length, 1);
    // At most two per principal (as AWS IAM); users get none.
    await s.t.req('POST', '/v1/access-keys', { principal: 'ak-app' }, app);
    assert.equal((await s.t.req('POST', '/v1/access-keys', { principal: 'ak-app' }, app)).status, 413);
    assert.equal((await s.t.req('POST', '/v1/access-keys', { principal: 'nobody' })).status, 404);
  });

  test('revoking the root tokens also removes root access keys', async () => {
    const k = await accessKey('root');
    await client(k).send(new ListKeysCommand({}));
    const r = await s.t.req('POST', '/v1/sys/root-token/revoke');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    await rejectsAws(client(k).send(new ListKeysCommand({})), 'UnrecognizedClientException');
  });
});
