/**
 * The `aws` section of `keywarden server --config` (a real server process): key and alias ARNs
 * carry the configured region and account, SigV4 scopes must name that region or one of
 * `additionalRegions`, and an ARN of the default region or another account names no key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as K from '@aws-sdk/client-kms';
import { api, apiOk, startKeywarden, type ServerProc } from '../e2e/helpers.js';
import { rejectsAws } from './helpers.js';

describe('keywarden server --config with an aws section', () => {
  let dir: string;
  let server: ServerProc;
  const clients: K.KMSClient[] = [];
  let keys: { accessKeyId: string; secretAccessKey: string };
  const client = (region: string) => {
    const c = new K.KMSClient({ endpoint: server.address, region, maxAttempts: 1, credentials: keys });
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-aws-config-'));
    const config = join(dir, 'keywarden.yaml');
    await writeFile(
      config,
      [
        'listen: { address: 127.0.0.1:0, tls: { disable: true } }',
        'storage: { type: sqlite, path: data/keywarden.db }',
        'seal: { type: shamir }',
        'log: { level: warn }',
        'aws: { region: eu-west-3, accountId: "123456789012", additionalRegions: [eu-central-1] }',
        '',
      ].join('\n'),
    );
    server = await startKeywarden(['server', '--config', config]);
    const init = await api(server.address, null, 'POST', '/v1/sys/init', { shares: 1, threshold: 1 });
    assert.equal(init.status, 200, JSON.stringify(init.json));
    assert.equal((await api(server.address, null, 'POST', '/v1/sys/unseal', { share: init.json.shares[0] })).json.sealed, false);
    keys = await apiOk(server.address, init.json.rootToken, 'POST', '/v1/access-keys', { principal: 'root' });
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('ARNs name the configured region and account; scopes of other regions are refused', async () => {
    const kms = client('eu-west-3');
    const m = (await kms.send(new K.CreateKeyCommand({ Description: 'paris' }))).KeyMetadata!;
    assert.equal(m.Arn, `arn:aws:kms:eu-west-3:123456789012:key/${m.KeyId}`);
    assert.equal(m.AWSAccountId, '123456789012');
    await kms.send(new K.CreateAliasCommand({ AliasName: 'alias/paris', TargetKeyId: m.Arn }));
    const aliases = await kms.send(new K.ListAliasesCommand({ KeyId: m.KeyId }));
    assert.equal(aliases.Aliases![0]!.AliasArn, 'arn:aws:kms:eu-west-3:123456789012:alias/paris');
    const e = await kms.send(new K.EncryptCommand({ KeyId: 'arn:aws:kms:eu-west-3:123456789012:alias/paris', Plaintext: Buffer.from('bonjour') }));
    assert.equal(e.KeyId, m.Arn);
    // An additional region: accepted in the scope and in ARNs; answers still name the main region.
    const frankfurt = client('eu-central-1');
    const d = await frankfurt.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob, KeyId: `arn:aws:kms:eu-central-1:123456789012:key/${m.KeyId}` }));
    assert.equal(Buffer.from(d.Plaintext!).toString(), 'bonjour');
    assert.equal(d.KeyId, m.Arn);
    // The defaults no longer apply: us-east-1 scopes and ARNs, the default account.
    await rejectsAws(client('us-east-1').send(new K.ListKeysCommand({})), 'InvalidSignatureException');
    await rejectsAws(kms.send(new K.DescribeKeyCommand({ KeyId: `arn:aws:kms:us-east-1:123456789012:key/${m.KeyId}` })), 'NotFoundException');
    await rejectsAws(kms.send(new K.DescribeKeyCommand({ KeyId: `arn:aws:kms:eu-west-3:000000000000:key/${m.KeyId}` })), 'NotFoundException');
  });
});
