/**
 * The AWS KMS-compatible API through the OFFICIAL AWS SDK (@aws-sdk/client-kms) against a real
 * Keywarden listening on a port: every implemented operation, AWS error names, key id forms
 * (id, key ARN, alias, alias ARN), ciphertexts crossing between the AWS and the native API, and
 * identities/grants applying exactly as on the native API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createPublicKey, publicEncrypt, randomBytes, verify as nodeVerify } from 'node:crypto';
import * as K from '@aws-sdk/client-kms';
import { rejectsAws, startAwsServer, type AwsTestServer } from './helpers.js';

const ARN = (id: string) => `arn:aws:kms:us-east-1:000000000000:key/${id}`;
const text = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('utf8');

let s: AwsTestServer;
let kms: K.KMSClient;

before(async () => {
  s = await startAwsServer();
  kms = await s.client('root');
});
after(async () => {
  await s.close();
});

async function newKey(input: K.CreateKeyCommandInput = {}, client = kms): Promise<string> {
  const r = await client.send(new K.CreateKeyCommand(input));
  return r.KeyMetadata!.KeyId!;
}

describe('key management', () => {
  test('CreateKey and DescribeKey by key id, key ARN, alias name and alias ARN', async () => {
    const r = await kms.send(new K.CreateKeyCommand({ Description: 'orders', Tags: [{ TagKey: 'team', TagValue: 'pay' }] }));
    const m = r.KeyMetadata!;
    assert.equal(m.Arn, ARN(m.KeyId!));
    assert.equal(m.AWSAccountId, '000000000000');
    assert.equal(m.KeyState, 'Enabled');
    assert.equal(m.Enabled, true);
    assert.equal(m.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(m.KeyUsage, 'ENCRYPT_DECRYPT');
    assert.equal(m.Origin, 'AWS_KMS');
    assert.deepEqual(m.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);
    assert.ok(m.CreationDate instanceof Date && Math.abs(m.CreationDate.getTime() - s.clock.now()) < 1000);
    await kms.send(new K.CreateAliasCommand({ AliasName: 'alias/orders', TargetKeyId: m.KeyId }));
    for (const ref of [m.KeyId!, m.Arn!, 'alias/orders', 'arn:aws:kms:us-east-1:000000000000:alias/orders']) {
      const d = await kms.send(new K.DescribeKeyCommand({ KeyId: ref }));
      assert.equal(d.KeyMetadata!.KeyId, m.KeyId, ref);
      assert.equal(d.KeyMetadata!.Description, 'orders');
    }
    // An ARN of another account names no key here; an unknown key id is NotFound.
    await rejectsAws(kms.send(new K.DescribeKeyCommand({ KeyId: `arn:aws:kms:us-east-1:111111111111:key/${m.KeyId}` })), 'NotFoundException');
    await rejectsAws(kms.send(new K.DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })), 'NotFoundException');
    await rejectsAws(kms.send(new K.DescribeKeyCommand({ KeyId: 'alias/none' })), 'NotFoundException');
  });

  test('CreateKey refuses what Keywarden does not support, with AWS error names', async () => {
    await rejectsAws(kms.send(new K.CreateKeyCommand({ Policy: '{}' })), 'UnsupportedOperationException', /PutKeyPolicy/);
    await rejectsAws(kms.send(new K.CreateKeyCommand({ MultiRegion: true })), 'UnsupportedOperationException');
    await rejectsAws(kms.send(new K.CreateKeyCommand({ KeySpec: 'SM2' as K.KeySpec })), 'UnsupportedOperationException');
    await rejectsAws(kms.send(new K.CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'GENERATE_VERIFY_MAC' })), 'ValidationException');
  });

  test('ListKeys pages with Limit, NextMarker and Truncated', async () => {
    for (let i = 0; i < 3; i++) await newKey();
    const seen = new Set<string>();
    let marker: string | undefined;
    let pages = 0;
    do {
      const r = await kms.send(new K.ListKeysCommand({ Limit: 2, ...(marker ? { Marker: marker } : {}) }));
      assert.ok(r.Keys!.length <= 2);
      for (const k of r.Keys!) {
        assert.equal(k.KeyArn, ARN(k.KeyId!));
        seen.add(k.KeyId!);
      }
      assert.equal(r.Truncated, r.NextMarker !== undefined);
      marker = r.NextMarker;
      pages++;
    } while (marker);
    assert.ok(seen.size >= 3 && pages >= 2);
    await rejectsAws(kms.send(new K.ListKeysCommand({ Limit: 0 })), 'ValidationException');
  });

  test('UpdateKeyDescription, DisableKey (DisabledException), EnableKey', async () => {
    const id = await newKey();
    await kms.send(new K.UpdateKeyDescriptionCommand({ KeyId: ARN(id), Description: 'new words' }));
    assert.equal((await kms.send(new K.DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.Description, 'new words');
    await kms.send(new K.DisableKeyCommand({ KeyId: id }));
    const d = (await kms.send(new K.DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    assert.equal(d.KeyState, 'Disabled');
    assert.equal(d.Enabled, false);
    await rejectsAws(kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'DisabledException');
    await rejectsAws(kms.send(new K.GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' })), 'DisabledException');
    await kms.send(new K.EnableKeyCommand({ KeyId: id }));
    await kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }));
  });

  test('ScheduleKeyDeletion (window 7–30, else ValidationException) and CancelKeyDeletion', async () => {
    const id = await newKey();
    await rejectsAws(kms.send(new K.ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 6 })), 'ValidationException');
    await rejectsAws(kms.send(new K.ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 31 })), 'ValidationException');
    const r = await kms.send(new K.ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    assert.equal(r.KeyId, ARN(id));
    assert.equal(r.KeyState, 'PendingDeletion');
    assert.equal(r.PendingWindowInDays, 7);
    assert.equal(r.DeletionDate!.getTime(), s.clock.now() + 7 * 86_400_000);
    assert.equal((await kms.send(new K.DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.DeletionDate!.getTime(), r.DeletionDate!.getTime());
    await rejectsAws(kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException');
    const c = await kms.send(new K.CancelKeyDeletionCommand({ KeyId: id }));
    assert.equal(c.KeyId, ARN(id));
    assert.notEqual((await kms.send(new K.DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState, 'PendingDeletion');
  });
});

describe('aliases and tags', () => {
  test('CreateAlias, ListAliases (by key, paged), UpdateAlias, DeleteAlias', async () => {
    const a = await newKey();
    const b = await newKey();
    await kms.send(new K.CreateAliasCommand({ AliasName: 'alias/app/one', TargetKeyId: ARN(a) }));
    await kms.send(new K.CreateAliasCommand({ AliasName: 'alias/app/two', TargetKeyId: a }));
    await rejectsAws(kms.send(new K.CreateAliasCommand({ AliasName: 'alias/app/one', TargetKeyId: b })), 'AlreadyExistsException');
    const ofA = await kms.send(new K.ListAliasesCommand({ KeyId: a }));
    assert.deepEqual(ofA.Aliases!.map((x) => [x.AliasName, x.AliasArn, x.TargetKeyId]), [
      ['alias/app/one', 'arn:aws:kms:us-east-1:000000000000:alias/app/one', a],
      ['alias/app/two', 'arn:aws:kms:us-east-1:000000000000:alias/app/two', a],
    ]);
    const p1 = await kms.send(new K.ListAliasesCommand({ KeyId: a, Limit: 1 }));
    assert.equal(p1.Truncated, true);
    const p2 = await kms.send(new K.ListAliasesCommand({ KeyId: a, Limit: 1, Marker: p1.NextMarker }));
    assert.equal(p2.Truncated, false);
    assert.equal(p2.Aliases![0]!.AliasName, 'alias/app/two');
    await rejectsAws(kms.send(new K.ListAliasesCommand({ Marker: 'junk' })), 'InvalidMarkerException');
    await kms.send(new K.UpdateAliasCommand({ AliasName: 'alias/app/two', TargetKeyId: b }));
    assert.equal((await kms.send(new K.DescribeKeyCommand({ KeyId: 'alias/app/two' }))).KeyMetadata!.KeyId, b);
    await kms.send(new K.DeleteAliasCommand({ AliasName: 'arn:aws:kms:us-east-1:000000000000:alias/app/two' }));
    await rejectsAws(kms.send(new K.DescribeKeyCommand({ KeyId: 'alias/app/two' })), 'NotFoundException');
  });

  test('TagResource, ListResourceTags, UntagResource', async () => {
    const id = await newKey({ Tags: [{ TagKey: 'a', TagValue: '1' }] });
    await kms.send(new K.TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'b', TagValue: '2' }, { TagKey: 'c', TagValue: '3' }] }));
    assert.deepEqual((await kms.send(new K.ListResourceTagsCommand({ KeyId: ARN(id) }))).Tags, [
      { TagKey: 'a', TagValue: '1' },
      { TagKey: 'b', TagValue: '2' },
      { TagKey: 'c', TagValue: '3' },
    ]);
    await kms.send(new K.UntagResourceCommand({ KeyId: id, TagKeys: ['a', 'c'] }));
    const r = await kms.send(new K.ListResourceTagsCommand({ KeyId: id }));
    assert.deepEqual(r.Tags, [{ TagKey: 'b', TagValue: '2' }]);
    assert.equal(r.Truncated, false);
  });
});

describe('cryptographic operations', () => {
  let key: string;
  before(async () => {
    key = await newKey();
    await kms.send(new K.CreateAliasCommand({ AliasName: 'alias/crypto', TargetKeyId: key }));
  });

  test('Encrypt/Decrypt with an encryption context; a wrong context is InvalidCiphertextException', async () => {
    const ctx = { tenant: 'acme' };
    const e = await kms.send(new K.EncryptCommand({ KeyId: 'alias/crypto', Plaintext: Buffer.from('secret'), EncryptionContext: ctx }));
    assert.equal(e.KeyId, ARN(key));
    assert.equal(e.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    const d = await kms.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: ctx }));
    assert.equal(text(d.Plaintext), 'secret');
    assert.equal(d.KeyId, ARN(key));
    await rejectsAws(kms.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: { tenant: 'other' } })), 'InvalidCiphertextException');
    await rejectsAws(kms.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob })), 'InvalidCiphertextException');
    await rejectsAws(kms.send(new K.DecryptCommand({ CiphertextBlob: Buffer.from('not a ciphertext') })), 'InvalidCiphertextException');
    // KeyId on Decrypt: the right key in any form passes, another key is IncorrectKeyException.
    for (const ref of [key, ARN(key), 'alias/crypto']) {
      assert.equal(text((await kms.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: ctx, KeyId: ref }))).Plaintext), 'secret');
    }
    await rejectsAws(kms.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: ctx, KeyId: await newKey() })), 'IncorrectKeyException');
  });

  test('ReEncrypt moves a ciphertext to another key and context without returning plaintext', async () => {
    const dest = await newKey();
    const e = await kms.send(new K.EncryptCommand({ KeyId: key, Plaintext: Buffer.from('move me'), EncryptionContext: { a: '1' } }));
    const r = await kms.send(new K.ReEncryptCommand({
      CiphertextBlob: e.CiphertextBlob,
      SourceEncryptionContext: { a: '1' },
      SourceKeyId: key,
      DestinationKeyId: ARN(dest),
      DestinationEncryptionContext: { b: '2' },
    }));
    assert.equal(r.SourceKeyId, ARN(key));
    assert.equal(r.KeyId, ARN(dest));
    assert.equal(r.DestinationEncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    assert.equal(text((await kms.send(new K.DecryptCommand({ CiphertextBlob: r.CiphertextBlob, EncryptionContext: { b: '2' } }))).Plaintext), 'move me');
    await rejectsAws(kms.send(new K.ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, SourceEncryptionContext: { a: 'x' }, DestinationKeyId: dest })), 'InvalidCiphertextException');
    await rejectsAws(kms.send(new K.ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, SourceEncryptionContext: { a: '1' }, SourceKeyId: dest, DestinationKeyId: dest })), 'IncorrectKeyException');
  });

  test('GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom', async () => {
    const dk = await kms.send(new K.GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256', EncryptionContext: { f: 'x' } }));
    assert.equal(dk.Plaintext!.length, 32);
    assert.equal(dk.KeyId, ARN(key));
    const back = await kms.send(new K.DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { f: 'x' } }));
    assert.deepEqual(Buffer.from(back.Plaintext!), Buffer.from(dk.Plaintext!));
    assert.equal((await kms.send(new K.GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_128' }))).Plaintext!.length, 16);
    assert.equal((await kms.send(new K.GenerateDataKeyCommand({ KeyId: key, NumberOfBytes: 64 }))).Plaintext!.length, 64);
    await rejectsAws(kms.send(new K.GenerateDataKeyCommand({ KeyId: key })), 'ValidationException');
    await rejectsAws(kms.send(new K.GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256', NumberOfBytes: 32 })), 'ValidationException');
    const np = await kms.send(new K.GenerateDataKeyWithoutPlaintextCommand({ KeyId: 'alias/crypto', KeySpec: 'AES_256' }));
    assert.equal((np as { Plaintext?: unknown }).Plaintext, undefined);
    assert.equal((await kms.send(new K.DecryptCommand({ CiphertextBlob: np.CiphertextBlob }))).Plaintext!.length, 32);
    const r1 = await kms.send(new K.GenerateRandomCommand({ NumberOfBytes: 48 }));
    const r2 = await kms.send(new K.GenerateRandomCommand({ NumberOfBytes: 48 }));
    assert.equal(r1.Plaintext!.length, 48);
    assert.notDeepEqual(Buffer.from(r1.Plaintext!), Buffer.from(r2.Plaintext!));
    await rejectsAws(kms.send(new K.GenerateRandomCommand({ NumberOfBytes: 1025 })), 'ValidationException');
  });

  test('ciphertexts cross between the AWS API and the native API, both ways', async () => {
    const viaAws = await kms.send(new K.EncryptCommand({ KeyId: key, Plaintext: Buffer.from('from aws'), EncryptionContext: { x: 'y' } }));
    const nd = await s.t.req('POST', '/v1/decrypt', { ciphertext: Buffer.from(viaAws.CiphertextBlob!).toString('base64'), context: { x: 'y' } });
    assert.equal(nd.status, 200, JSON.stringify(nd.json));
    assert.equal(Buffer.from(nd.json.plaintext, 'base64').toString(), 'from aws');
    const ne = await s.t.req('POST', `/v1/keys/${key}/encrypt`, { plaintext: Buffer.from('from native').toString('base64'), context: { p: 'q' } });
    assert.equal(ne.status, 200, JSON.stringify(ne.json));
    const d = await kms.send(new K.DecryptCommand({ CiphertextBlob: Buffer.from(ne.json.ciphertext, 'base64'), EncryptionContext: { p: 'q' } }));
    assert.equal(text(d.Plaintext), 'from native');
    assert.equal(d.KeyId, ARN(key));
  });

  test('Sign, Verify (KMSInvalidSignatureException) and GetPublicKey on an ECC key', async () => {
    const id = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const msg = Buffer.from('signed message');
    const sig = await kms.send(new K.SignCommand({ KeyId: id, Message: msg, SigningAlgorithm: 'ECDSA_SHA_256' }));
    assert.equal(sig.SigningAlgorithm, 'ECDSA_SHA_256');
    const v = await kms.send(new K.VerifyCommand({ KeyId: ARN(id), Message: msg, Signature: sig.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }));
    assert.equal(v.SignatureValid, true);
    await rejectsAws(kms.send(new K.VerifyCommand({ KeyId: id, Message: Buffer.from('other'), Signature: sig.Signature, SigningAlgorithm: 'ECDSA_SHA_256' })), 'KMSInvalidSignatureException');
    const pk = await kms.send(new K.GetPublicKeyCommand({ KeyId: id }));
    assert.equal(pk.KeySpec, 'ECC_NIST_P256');
    assert.deepEqual(pk.SigningAlgorithms, ['ECDSA_SHA_256']);
    const pub = createPublicKey({ key: Buffer.from(pk.PublicKey!), format: 'der', type: 'spki' });
    assert.ok(nodeVerify('sha256', msg, pub, Buffer.from(sig.Signature!)), 'the signature verifies with the public key outside Keywarden');
    await rejectsAws(kms.send(new K.SignCommand({ KeyId: key, Message: msg, SigningAlgorithm: 'ECDSA_SHA_256' })), 'InvalidKeyUsageException');
  });

  test('GenerateMac and VerifyMac (KMSInvalidMacException)', async () => {
    const id = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const m = await kms.send(new K.GenerateMacCommand({ KeyId: id, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }));
    assert.equal(m.Mac!.length, 32);
    assert.equal(m.KeyId, ARN(id));
    const v = await kms.send(new K.VerifyMacCommand({ KeyId: id, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256', Mac: m.Mac }));
    assert.equal(v.MacValid, true);
    await rejectsAws(kms.send(new K.VerifyMacCommand({ KeyId: id, Message: Buffer.from('n'), MacAlgorithm: 'HMAC_SHA_256', Mac: m.Mac })), 'KMSInvalidMacException');
  });
});

describe('rotation', () => {
  test('EnableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations, DisableKeyRotation', async () => {
    const id = await newKey();
    assert.equal((await kms.send(new K.GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled, false);
    await kms.send(new K.EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    const st = await kms.send(new K.GetKeyRotationStatusCommand({ KeyId: ARN(id) }));
    assert.equal(st.KeyRotationEnabled, true);
    assert.equal(st.RotationPeriodInDays, 90);
    assert.equal(st.NextRotationDate!.getTime(), s.clock.now() + 90 * 86_400_000);
    const before = await kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('v1') }));
    assert.equal((await kms.send(new K.RotateKeyOnDemandCommand({ KeyId: id }))).KeyId, ARN(id));
    const rot = await kms.send(new K.ListKeyRotationsCommand({ KeyId: id }));
    assert.equal(rot.Rotations!.length, 1);
    assert.equal(rot.Rotations![0]!.KeyId, ARN(id));
    // Ciphertexts of the old version still decrypt.
    assert.equal(text((await kms.send(new K.DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext), 'v1');
    await kms.send(new K.DisableKeyRotationCommand({ KeyId: id }));
    assert.equal((await kms.send(new K.GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled, false);
  });
});

describe('identities, grants and authorization', () => {
  test('roles apply (AccessDeniedException), and grants made through CreateGrant let an application use a key', async () => {
    const admin = await s.account('aws-ka', ['key-administrator']);
    const app = await s.account('aws-app', ['application']);
    const auditor = await s.account('aws-auditor', ['auditor']);
    const id = await newKey({ Description: 'granted' }, admin);
    // The key administrator cannot use the key; the application has no grant yet; the auditor only reads.
    await rejectsAws(admin.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'AccessDeniedException');
    await rejectsAws(app.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'AccessDeniedException');
    await rejectsAws(auditor.send(new K.CreateKeyCommand({})), 'AccessDeniedException');
    assert.equal((await auditor.send(new K.DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.Description, 'granted');
    // A grant-scoped principal learns nothing about keys it holds no grant on.
    await rejectsAws(app.send(new K.EncryptCommand({ KeyId: '00000000-0000-4000-8000-000000000000', Plaintext: Buffer.from('x') })), 'AccessDeniedException');

    const g = await admin.send(new K.CreateGrantCommand({
      KeyId: id,
      GranteePrincipal: 'arn:aws:iam::000000000000:user/aws-app',
      Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'],
      Constraints: { EncryptionContextSubset: { tenant: 'acme' } },
    }));
    assert.ok(g.GrantId && g.GrantToken);
    const e = await app.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('granted'), EncryptionContext: { tenant: 'acme', x: '1' } }));
    assert.equal(text((await app.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: { tenant: 'acme', x: '1' } }))).Plaintext), 'granted');
    // The grant's constraint holds; operations not granted are denied.
    await rejectsAws(app.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x'), EncryptionContext: { tenant: 'other' } })), 'AccessDeniedException');
    await rejectsAws(app.send(new K.ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, SourceEncryptionContext: { tenant: 'acme', x: '1' }, DestinationKeyId: id })), 'AccessDeniedException');

    const list = await admin.send(new K.ListGrantsCommand({ KeyId: id }));
    assert.equal(list.Grants!.length, 1);
    assert.deepEqual(list.Grants![0]!.Operations, ['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext']);
    assert.deepEqual(list.Grants![0]!.Constraints, { EncryptionContextSubset: { tenant: 'acme' } });
    await rejectsAws(admin.send(new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: 'aws-app', Operations: ['CreateGrant'] })), 'UnsupportedOperationException');
    await admin.send(new K.RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId }));
    await rejectsAws(app.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x'), EncryptionContext: { tenant: 'acme' } })), 'AccessDeniedException');
    await rejectsAws(admin.send(new K.RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId })), 'NotFoundException');

    // RetireGrant with the grant token.
    const g2 = await admin.send(new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: 'aws-app', Operations: ['Encrypt'] }));
    await app.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }));
    await admin.send(new K.RetireGrantCommand({ GrantToken: g2.GrantToken }));
    await rejectsAws(app.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'AccessDeniedException');
    await rejectsAws(admin.send(new K.RetireGrantCommand({ GrantToken: 'not-a-token' })), 'InvalidGrantTokenException');
  });

  test('the audit ledger records AWS calls with the access key principal', async () => {
    const id = await newKey({ Description: 'audited' });
    await kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }));
    const r = await s.t.req('GET', `/v1/audit/events?key=${id}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const events = r.json.events as Array<{ operation: string; outcome: string; principal: { name: string; kind: string } }>;
    const enc = events.find((e) => e.operation === 'key:encrypt');
    assert.ok(enc, JSON.stringify(events));
    assert.equal(enc.outcome, 'allow');
    assert.deepEqual([enc.principal.kind, enc.principal.name], ['root', 'root']);
  });
});

describe('key policies and import', () => {
  test('ListKeyPolicies/GetKeyPolicy describe a key without a policy; a malformed PutKeyPolicy is refused', async () => {
    const id = await newKey();
    assert.deepEqual((await kms.send(new K.ListKeyPoliciesCommand({ KeyId: id }))).PolicyNames, ['default']);
    const p = JSON.parse((await kms.send(new K.GetKeyPolicyCommand({ KeyId: id, PolicyName: 'default' }))).Policy!);
    assert.equal(p.Statement[0].Resource, ARN(id));
    await rejectsAws(kms.send(new K.PutKeyPolicyCommand({ KeyId: id, PolicyName: 'default', Policy: '{}' })), 'MalformedPolicyDocumentException');
  });

  test('CreateKey Origin EXTERNAL, GetParametersForImport, ImportKeyMaterial, then Encrypt', async () => {
    const id = await newKey({ Origin: 'EXTERNAL' });
    assert.equal((await kms.send(new K.DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState, 'PendingImport');
    const p = await kms.send(new K.GetParametersForImportCommand({ KeyId: id, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' }));
    assert.ok(p.ParametersValidTo! > new Date(s.clock.now()));
    const material = randomBytes(32);
    const wrapped = publicEncrypt({ key: createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
    await kms.send(new K.ImportKeyMaterialCommand({ KeyId: id, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    const e = await kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('imported') }));
    assert.equal(text((await kms.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob }))).Plaintext), 'imported');
  });
});
