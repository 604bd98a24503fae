/**
 * End-to-end: `keywarden access-key create --format json` against a real dev server prints
 * {"accessKeyId", "secretAccessKey"}, and the official AWS SDK signs with it (default region and
 * account of a dev server); list, disable and delete through the CLI take effect at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { type DevServer, fails, json, runCli, startDevServer, text } from './helpers.js';

describe('keywarden access-key', () => {
  let server: DevServer;
  const kw = (args: string[]) => runCli(args, { env: { KEYWARDEN_ADDR: server.address, KEYWARDEN_TOKEN: server.rootToken } });

  before(async () => {
    server = await startDevServer();
  });
  after(async () => {
    await server.stop();
  });

  test('create --format json prints the key pair once; the AWS SDK signs with it', async () => {
    const created = json<Record<string, string>>(await kw(['access-key', 'create', '--principal', 'root', '--format', 'json']));
    assert.deepEqual(Object.keys(created).sort(), ['accessKeyId', 'secretAccessKey']);
    assert.match(created.accessKeyId as string, /^AKKW[A-Z2-7]{16}$/);
    const kms = new KMSClient({ endpoint: server.address, region: 'us-east-1', maxAttempts: 1, credentials: created as { accessKeyId: string; secretAccessKey: string } });
    try {
      const key = await kms.send(new CreateKeyCommand({ Description: 'via cli key' }));
      assert.equal(key.KeyMetadata!.Arn, `arn:aws:kms:us-east-1:000000000000:key/${key.KeyMetadata!.KeyId}`);
      const e = await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.Arn, Plaintext: Buffer.from('e2e') }));
      assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }))).Plaintext!).toString(), 'e2e');

      const listed = json<{ accessKeys: Array<{ accessKeyId: string; principal: string; status: string }> }>(await kw(['access-key', 'list', '--format', 'json']));
      assert.deepEqual(listed.accessKeys.map((k) => [k.accessKeyId, k.principal, k.status]), [[created.accessKeyId, 'root', 'Active']]);
      assert.ok(!JSON.stringify(listed).includes(created.secretAccessKey as string));
      assert.match(text(await kw(['access-key', 'list'])), new RegExp(`${created.accessKeyId}\\s+root\\s+Active`));

      assert.equal(json<{ accessKey: { status: string } }>(await kw(['access-key', 'disable', created.accessKeyId as string, '--format', 'json'])).accessKey.status, 'Inactive');
      await assert.rejects(kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.Arn, Plaintext: Buffer.from('x') })), { name: 'UnrecognizedClientException' });
      assert.match(text(await kw(['access-key', 'enable', created.accessKeyId as string])), /Active/);
      await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.Arn, Plaintext: Buffer.from('x') }));
      assert.match(text(await kw(['access-key', 'delete', created.accessKeyId as string])), /Deleted access key/);
      await assert.rejects(kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.Arn, Plaintext: Buffer.from('x') })), { name: 'UnrecognizedClientException' });
    } finally {
      kms.destroy();
    }
  });

  test('table output warns that the secret is shown once; errors are reported', async () => {
    const out = text(await kw(['access-key', 'create', '--principal', 'root']));
    assert.match(out, /Secret access key/);
    assert.match(out, /shown only now/);
    fails(await kw(['access-key', 'create', '--principal', 'no-such-account']), 1, /not found/i);
  });
});
