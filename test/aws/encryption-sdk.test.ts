/**
 * The OFFICIAL AWS Encryption SDK (@aws-crypto/client-node) with a KMS keyring pointed at a real
 * Keywarden listening on a port: envelope encryption of messages and streams whose data keys
 * Keywarden generates (GenerateDataKey) and unwraps (Decrypt). The proof that the keys came from
 * Keywarden is threefold: the audit ledger counts the calls, the message's encrypted data key is a
 * native Keywarden ciphertext that the native API decrypts, and that plaintext is exactly the data
 * key the SDK received.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import * as K from '@aws-sdk/client-kms';
import { buildClient, CommitmentPolicy, getClient, KMS, KmsKeyringNode, type KmsKeyringNodeInput } from '@aws-crypto/client-node';
import { startAwsServer, type AwsTestServer } from './helpers.js';

const ARN = (id: string) => `arn:aws:kms:us-east-1:000000000000:key/${id}`;
const { encrypt, decrypt, encryptStream, decryptUnsignedMessageStream, decryptStream } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

let s: AwsTestServer;
let kms: K.KMSClient;
let creds: { accessKeyId: string; secretAccessKey: string };
/** Every GenerateDataKey response the SDK received, as it received it (the supplier records them). */
const generated: Array<{ KeyId: string; CiphertextBlob: Buffer; Plaintext: Buffer }> = [];
const clients: KMS[] = [];

/**
 * A client supplier: the ESDK's own getClient() building the SDK v3 `KMS` client for Keywarden's
 * endpoint, with generateDataKey observed (not altered) so the test can compare data keys.
 */
function supplier(credentials = creds): KmsKeyringNodeInput['clientProvider'] {
  const base = getClient(KMS, { endpoint: s.endpoint, credentials, region: 'us-east-1', maxAttempts: 1 });
  return (region: string) => {
    const c = base(region);
    if (!c) return c;
    clients.push(c);
    const original = c.generateDataKey.bind(c) as (a: K.GenerateDataKeyCommandInput) => Promise<K.GenerateDataKeyCommandOutput>;
    c.generateDataKey = (async (args: K.GenerateDataKeyCommandInput) => {
      const r = await original(args);
      generated.push({ KeyId: r.KeyId!, CiphertextBlob: Buffer.from(r.CiphertextBlob!), Plaintext: Buffer.from(r.Plaintext!) });
      return r;
    }) as typeof c.generateDataKey;
    return c;
  };
}

const keyring = (input: KmsKeyringNodeInput, credentials = creds) => new KmsKeyringNode({ clientProvider: supplier(credentials), ...input });

async function newKey(): Promise<string> {
  return (await kms.send(new K.CreateKeyCommand({ Description: 'esdk' }))).KeyMetadata!.KeyId!;
}

/** Audit events (as root) of one key and operation, e.g. key:generate-data-key. */
async function audited(keyId: string, operation: string) {
  const r = await s.t.req('GET', `/v1/audit/events?key=${keyId}&operation=${operation}&limit=1000`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.events as Array<{ outcome: string; errorCode: string | null; context: Record<string, string | null>; principal: { name: string } }>;
}

async function accessKey(principal: string) {
  const r = await s.t.req('POST', '/v1/access-keys', { principal });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return { accessKeyId: r.json.accessKeyId as string, secretAccessKey: r.json.secretAccessKey as string };
}

before(async () => {
  s = await startAwsServer();
  kms = await s.client('root');
  creds = await accessKey('root');
});
after(async () => {
  for (const c of clients) c.destroy();
  await s.close();
});

describe('AWS Encryption SDK with a KMS keyring on Keywarden', () => {
  test('encrypt and decrypt a message: the data key is generated and unwrapped by Keywarden', async () => {
    const id = await newKey();
    const ring = keyring({ generatorKeyId: ARN(id) });
    const context = { tenant: 'acme', purpose: 'esdk-test' };
    const message = Buffer.from('a message for the AWS Encryption SDK');
    const before = generated.length;

    const { result, messageHeader } = await encrypt(ring, message, { encryptionContext: context });
    assert.ok(!result.includes(message), 'the ciphertext does not contain the plaintext');
    // One encrypted data key, wrapped by the Keywarden key (named by its ARN, as AWS KMS does).
    assert.equal(messageHeader.encryptedDataKeys.length, 1);
    const edk = messageHeader.encryptedDataKeys[0]!;
    assert.deepEqual([edk.providerId, edk.providerInfo], ['aws-kms', ARN(id)]);
    // The SDK adds its signing public key to the context it sends to KMS.
    assert.equal(messageHeader.encryptionContext.tenant, 'acme');
    assert.ok(messageHeader.encryptionContext['aws-crypto-public-key']);

    // The data key the SDK used is the one Keywarden generated: GenerateDataKey's CiphertextBlob is
    // the EDK, and the NATIVE API decrypts it (with the message's context) to GenerateDataKey's Plaintext.
    assert.equal(generated.length, before + 1);
    const gdk = generated.at(-1)!;
    assert.equal(gdk.KeyId, ARN(id));
    assert.equal(gdk.Plaintext.length, 32);
    assert.deepEqual(Buffer.from(edk.encryptedDataKey), gdk.CiphertextBlob);
    const native = await s.t.req('POST', '/v1/decrypt', { ciphertext: Buffer.from(edk.encryptedDataKey).toString('base64'), context: messageHeader.encryptionContext });
    assert.equal(native.status, 200, JSON.stringify(native.json));
    assert.deepEqual(Buffer.from(native.json.plaintext, 'base64'), gdk.Plaintext);
    assert.equal(native.json.keyId, id);
    // Without the SDK's full context the native API refuses, as AWS KMS would.
    const wrongCtx = await s.t.req('POST', '/v1/decrypt', { ciphertext: Buffer.from(edk.encryptedDataKey).toString('base64'), context });
    assert.notEqual(wrongCtx.status, 200);

    const d = await decrypt(ring, result);
    assert.deepEqual(d.plaintext, message);
    assert.deepEqual({ ...d.messageHeader.encryptionContext }, { ...messageHeader.encryptionContext });

    // The ledger saw exactly one GenerateDataKey (with the context's keys, values HMAC'd) and one
    // Decrypt through the AWS API, plus the native decrypts above (one allowed, one refused).
    const gen = await audited(id, 'key:generate-data-key');
    assert.equal(gen.length, 1);
    assert.equal(gen[0]!.outcome, 'allow');
    assert.deepEqual(Object.keys(gen[0]!.context).sort(), ['aws-crypto-public-key', 'purpose', 'tenant']);
    const dec = await audited(id, 'key:decrypt');
    assert.equal(dec.filter((e) => e.outcome === 'allow').length, 2); // native + SDK
  });

  test('a stream of a few MB encrypts and decrypts with one data key from Keywarden', async () => {
    const id = await newKey();
    const ring = keyring({ generatorKeyId: ARN(id) });
    const data = randomBytes(4 * 1024 * 1024 + 123);
    const chunks = (b: Buffer) => Readable.from((function* () { for (let i = 0; i < b.length; i += 64 * 1024) yield b.subarray(i, i + 64 * 1024); })());
    const collect = () => {
      const out: Buffer[] = [];
      return { out, sink: async (src: AsyncIterable<Buffer>) => { for await (const c of src) out.push(c); } };
    };

    const enc = collect();
    await pipeline(chunks(data), encryptStream(ring, { encryptionContext: { stream: 'yes' } }), enc.sink);
    const ciphertext = Buffer.concat(enc.out);
    assert.ok(ciphertext.length > data.length);

    const dec = collect();
    await pipeline(chunks(ciphertext), decryptStream(ring), dec.sink);
    assert.ok(Buffer.concat(dec.out).equals(data));
    // decryptUnsignedMessageStream refuses a signed message (the default suite signs).
    await assert.rejects(pipeline(chunks(ciphertext), decryptUnsignedMessageStream(ring), collect().sink), /Configuration conflict/);

    assert.equal((await audited(id, 'key:generate-data-key')).length, 1);
    assert.equal((await audited(id, 'key:decrypt')).filter((e) => e.outcome === 'allow').length, 1);
  });

  test('a keyring pointing at another Keywarden key cannot decrypt; an alias generator with a discovery keyring can', async () => {
    const a = await newKey();
    const b = await newKey();
    await kms.send(new K.CreateAliasCommand({ AliasName: 'alias/esdk-a', TargetKeyId: a }));
    // Generator by alias: the EDK still names the key ARN (GenerateDataKey answers with it).
    const { result, messageHeader } = await encrypt(keyring({ generatorKeyId: 'alias/esdk-a' }), 'under key a', { encryptionContext: { k: 'a' } });
    assert.equal(messageHeader.encryptedDataKeys[0]!.providerInfo, ARN(a));

    // (the SDK's error when no keyring produced a data key)
    await assert.rejects(decrypt(keyring({ generatorKeyId: ARN(b) }), result), /unencryptedDataKey has not been set/);
    // Nothing was asked of key b: the keyring only sends EDKs of its own keys to KMS.
    assert.equal((await audited(b, 'key:decrypt')).length, 0);

    // A discovery keyring limited to another account refuses too; limited to Keywarden's, it decrypts.
    await assert.rejects(decrypt(keyring({ discovery: true, discoveryFilter: { partition: 'aws', accountIDs: ['111111111111'] } }), result));
    const d = await decrypt(keyring({ discovery: true, discoveryFilter: { partition: 'aws', accountIDs: ['000000000000'] } }), result);
    assert.equal(d.plaintext.toString(), 'under key a');
    // And a keyring naming both keys (b first) decrypts through a.
    assert.equal((await decrypt(keyring({ generatorKeyId: ARN(b), keyIds: [ARN(a)] }), result)).plaintext.toString(), 'under key a');

    // A keyring with a second key wraps the same data key with Encrypt too: either key alone decrypts.
    const two = await encrypt(keyring({ generatorKeyId: ARN(a), keyIds: [ARN(b)] }), 'under a and b', { encryptionContext: { k: 'ab' } });
    assert.deepEqual(two.messageHeader.encryptedDataKeys.map((e) => e.providerInfo), [ARN(a), ARN(b)]);
    assert.equal((await audited(b, 'key:encrypt')).length, 1);
    assert.equal((await decrypt(keyring({ generatorKeyId: ARN(b) }), two.result)).plaintext.toString(), 'under a and b');
  });

  test('a disabled key makes decryption fail with the SDK error carrying DisabledException', async () => {
    const id = await newKey();
    const ring = keyring({ generatorKeyId: ARN(id) });
    const { result } = await encrypt(ring, 'soon disabled', { encryptionContext: { x: '1' } });
    await kms.send(new K.DisableKeyCommand({ KeyId: id }));
    await assert.rejects(decrypt(ring, result), (e: Error) => {
      assert.match(e.message, /Unable to decrypt data key and one or more KMS CMKs had an error/);
      assert.match(e.message, /DisabledException/);
      return true;
    });
    // Encrypting under the disabled key fails as well (GenerateDataKey is refused).
    await assert.rejects(encrypt(ring, 'x'), (e: Error) => e.name === 'DisabledException');
    const denied = (await audited(id, 'key:decrypt')).filter((e) => e.outcome !== 'allow');
    assert.ok(denied.length >= 1, 'the refused Decrypt is in the ledger');
    await kms.send(new K.EnableKeyCommand({ KeyId: id }));
    assert.equal((await decrypt(ring, result)).plaintext.toString(), 'soon disabled');
  });

  test('an application holding a grant (with an encryption context constraint) uses the ESDK through Keywarden', async () => {
    const id = await newKey();
    const r = await s.t.req('POST', '/v1/principals', { name: 'esdk-app', roles: ['application'] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const appCreds = await accessKey('esdk-app');
    const ring = keyring({ generatorKeyId: ARN(id) }, appCreds);
    // No grant yet: GenerateDataKey is denied.
    await assert.rejects(encrypt(ring, 'x', { encryptionContext: { tenant: 'acme' } }), (e: Error) => e.name === 'AccessDeniedException');
    await kms.send(new K.CreateGrantCommand({
      KeyId: id,
      GranteePrincipal: 'esdk-app',
      Operations: ['GenerateDataKey', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { tenant: 'acme' } },
    }));
    const { result } = await encrypt(ring, 'granted', { encryptionContext: { tenant: 'acme' } });
    assert.equal((await decrypt(ring, result)).plaintext.toString(), 'granted');
    // The grant's constraint holds for the SDK's context too.
    await assert.rejects(encrypt(ring, 'x', { encryptionContext: { tenant: 'other' } }), (e: Error) => e.name === 'AccessDeniedException');
    const gen = await audited(id, 'key:generate-data-key');
    assert.ok(gen.some((e) => e.outcome === 'allow' && e.principal.name === 'esdk-app'));
  });
});
