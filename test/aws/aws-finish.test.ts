/**
 * The rest of issue 8 through the OFFICIAL AWS SDK against a real Keywarden on a port:
 * GenerateDataKeyPair(+WithoutPlaintext) (and the native /data-key-pair route),
 * DeleteImportedKeyMaterial, key policies (stored; explicit Deny enforced on AWS and native calls),
 * grants with a RetiringPrincipal (RetireGrant, ListRetirableGrants, ListGrants names), and the
 * SigV4 signing-key cache (disable, delete and seal still take effect at once).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createPrivateKey, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import * as K from '@aws-sdk/client-kms';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { rejectsAws, startAwsServer, type AwsTestServer } from './helpers.js';

const ARN = (id: string) => `arn:aws:kms:us-east-1:000000000000:key/${id}`;
const USER = (name: string) => `arn:aws:iam::000000000000:user/${name}`;

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
  return (await client.send(new K.CreateKeyCommand(input))).KeyMetadata!.KeyId!;
}

/** A service account with roles, its KMS client and a native bearer token. */
async function principal(name: string, roles: string[]): Promise<{ kms: K.KMSClient; token: string }> {
  const c = await s.t.req('POST', '/v1/principals', { name, roles });
  assert.equal(c.status, 201, JSON.stringify(c.json));
  const tok = await s.t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret, expires_in: 3600 }, null);
  assert.equal(tok.status, 200, JSON.stringify(tok.json));
  return { kms: await s.client(name), token: tok.json.access_token };
}

/** The SPKI DER of the public half of a PKCS#8 DER private key. */
const spkiOf = (pkcs8: Uint8Array) => createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });

describe('GenerateDataKeyPair', () => {
  for (const spec of ['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P384'] as const) {
    test(`${spec}: the private key matches the public key, and Decrypt of the blob returns it`, async () => {
      const id = await newKey();
      const ctx = { purpose: 'pair' };
      const r = await kms.send(new K.GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: spec, EncryptionContext: ctx }));
      assert.equal(r.KeyId, ARN(id));
      assert.equal(r.KeyPairSpec, spec);
      assert.deepEqual(spkiOf(r.PrivateKeyPlaintext!), Buffer.from(r.PublicKey!));
      const key = createPublicKey({ key: Buffer.from(r.PublicKey!), format: 'der', type: 'spki' });
      assert.equal(key.asymmetricKeyType, spec.startsWith('RSA') ? 'rsa' : 'ec');
      const d = await kms.send(new K.DecryptCommand({ CiphertextBlob: r.PrivateKeyCiphertextBlob, EncryptionContext: ctx }));
      assert.deepEqual(Buffer.from(d.Plaintext!), Buffer.from(r.PrivateKeyPlaintext!));
      // The context binds the blob.
      await rejectsAws(kms.send(new K.DecryptCommand({ CiphertextBlob: r.PrivateKeyCiphertextBlob })), 'InvalidCiphertextException');
    });
  }

  test('WithoutPlaintext returns no private key; the blob decrypts (AWS and native) to the pair of PublicKey', async () => {
    const id = await newKey();
    const r = await kms.send(new K.GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: id, KeyPairSpec: 'RSA_3072' }));
    assert.equal((r as { PrivateKeyPlaintext?: unknown }).PrivateKeyPlaintext, undefined);
    const d = await kms.send(new K.DecryptCommand({ CiphertextBlob: r.PrivateKeyCiphertextBlob }));
    assert.deepEqual(spkiOf(d.Plaintext!), Buffer.from(r.PublicKey!));
    const n = await s.t.req('POST', '/v1/decrypt', { ciphertext: Buffer.from(r.PrivateKeyCiphertextBlob!).toString('base64') });
    assert.equal(n.status, 200, JSON.stringify(n.json));
    assert.equal(n.json.plaintext, Buffer.from(d.Plaintext!).toString('base64'));
  });

  test('errors: asymmetric or signing key -> InvalidKeyUsageException; unsupported or unknown specs; disabled key', async () => {
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    await rejectsAws(kms.send(new K.GenerateDataKeyPairCommand({ KeyId: rsa, KeyPairSpec: 'RSA_2048' })), 'InvalidKeyUsageException');
    const signing = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    await rejectsAws(kms.send(new K.GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: signing, KeyPairSpec: 'RSA_2048' })), 'InvalidKeyUsageException');
    const id = await newKey();
    await rejectsAws(kms.send(new K.GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'ECC_SECG_P256K1' })), 'UnsupportedOperationException');
    await rejectsAws(kms.send(new K.GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'ECC_NIST_P521' })), 'UnsupportedOperationException');
    await rejectsAws(kms.send(new K.GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'DSA_1024' as K.DataKeyPairSpec })), 'ValidationException');
    await kms.send(new K.DisableKeyCommand({ KeyId: id }));
    await rejectsAws(kms.send(new K.GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'RSA_2048' })), 'DisabledException');
  });

  test('native POST /v1/keys/{key}/data-key-pair, audited as key:generate-data-key', async () => {
    const id = await newKey();
    const r = await s.t.req('POST', `/v1/keys/${id}/data-key-pair`, { keyPairSpec: 'ECC_NIST_P256', context: { a: 'b' } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.keyPairSpec, 'ECC_NIST_P256');
    assert.equal(r.json.keyId, id);
    assert.deepEqual(spkiOf(Buffer.from(r.json.privateKey, 'base64')), Buffer.from(r.json.publicKey, 'base64'));
    const d = await kms.send(new K.DecryptCommand({ CiphertextBlob: Buffer.from(r.json.ciphertext, 'base64'), EncryptionContext: { a: 'b' } }));
    assert.equal(Buffer.from(d.Plaintext!).toString('base64'), r.json.privateKey);
    const w = await s.t.req('POST', `/v1/keys/${id}/data-key-pair`, { keyPairSpec: 'RSA_2048', includePlaintext: false });
    assert.equal(w.status, 200, JSON.stringify(w.json));
    assert.equal(w.json.privateKey, undefined);
    const bad = await s.t.req('POST', `/v1/keys/${id}/data-key-pair`, { keyPairSpec: 'ECC_SECG_P256K1' });
    assert.equal(bad.status, 400);
    const ev = await s.t.req('GET', `/v1/audit/events?key=${id}`);
    assert.ok((ev.json.events as Array<{ operation: string }>).filter((e) => e.operation === 'key:generate-data-key').length >= 2, JSON.stringify(ev.json));
  });
});

describe('DeleteImportedKeyMaterial', () => {
  async function importInto(id: string, material: Buffer): Promise<void> {
    const p = await kms.send(new K.GetParametersForImportCommand({ KeyId: id, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' }));
    const wrapped = publicEncrypt({ key: createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
    await kms.send(new K.ImportKeyMaterialCommand({ KeyId: id, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
  }

  test('destroys the imported material: the key is PendingImport, its ciphertexts no longer decrypt; import again', async () => {
    const id = await newKey({ Origin: 'EXTERNAL' });
    await importInto(id, randomBytes(32));
    const e = await kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('imported') }));
    await kms.send(new K.DeleteImportedKeyMaterialCommand({ KeyId: ARN(id) }));
    assert.equal((await kms.send(new K.DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState, 'PendingImport');
    await rejectsAws(kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException');
    await rejectsAws(kms.send(new K.DecryptCommand({ CiphertextBlob: e.CiphertextBlob })), 'KMSInvalidStateException');
    // Natively too: every version's material is destroyed.
    const v = await s.t.req('GET', `/v1/keys/${id}/versions`);
    assert.equal(v.status, 200, JSON.stringify(v.json));
    assert.ok((v.json.versions as Array<{ state: string }>).every((x) => x.state === 'Destroyed'), JSON.stringify(v.json));
    // Again on a PendingImport key: nothing left to delete, accepted.
    await kms.send(new K.DeleteImportedKeyMaterialCommand({ KeyId: id }));
    await importInto(id, randomBytes(32));
    const e2 = await kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('again') }));
    assert.equal(Buffer.from((await kms.send(new K.DecryptCommand({ CiphertextBlob: e2.CiphertextBlob }))).Plaintext!).toString(), 'again');
    const ev = await s.t.req('GET', `/v1/audit/events?key=${id}`);
    assert.ok((ev.json.events as Array<{ operation: string; outcome: string }>).some((x) => x.operation === 'key:import' && x.outcome === 'allow'));
  });

  test('a key that was not imported: KMSInvalidStateException; an application: AccessDeniedException', async () => {
    const id = await newKey();
    await rejectsAws(kms.send(new K.DeleteImportedKeyMaterialCommand({ KeyId: id })), 'KMSInvalidStateException', /origin EXTERNAL/);
    const app = await principal('dikm-app', ['application']);
    await rejectsAws(app.kms.send(new K.DeleteImportedKeyMaterialCommand({ KeyId: id })), 'AccessDeniedException');
    await rejectsAws(kms.send(new K.DeleteImportedKeyMaterialCommand({ KeyId: 'alias/none' })), 'NotFoundException');
  });
});

describe('key policies', () => {
  test('PutKeyPolicy stores the document; a Deny naming the principal refuses the call on the AWS and the native API', async () => {
    const admin = await principal('kp-admin', ['key-administrator']);
    const app = await principal('kp-app', ['application']);
    const id = await newKey({}, admin.kms);
    await admin.kms.send(new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: 'kp-app', Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'] }));
    const before = await app.kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('before') }));

    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'admins', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' },
        { Sid: 'no-encrypt', Effect: 'Deny', Principal: { AWS: [USER('kp-app')] }, Action: ['kms:Encrypt', 'kms:GenerateDataKey*'], Resource: '*' },
      ],
    });
    await admin.kms.send(new K.PutKeyPolicyCommand({ KeyId: id, PolicyName: 'default', Policy: policy }));
    assert.equal((await admin.kms.send(new K.GetKeyPolicyCommand({ KeyId: id }))).Policy, policy);
    assert.deepEqual((await admin.kms.send(new K.ListKeyPoliciesCommand({ KeyId: id }))).PolicyNames, ['default']);

    await rejectsAws(app.kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'AccessDeniedException', /Deny in the key's policy/);
    await rejectsAws(app.kms.send(new K.GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' })), 'AccessDeniedException');
    await rejectsAws(app.kms.send(new K.GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'RSA_2048' })), 'AccessDeniedException');
    // Decrypt is not denied: the grant still allows it.
    assert.equal(Buffer.from((await app.kms.send(new K.DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext!).toString(), 'before');
    // The native API is refused the same way (the check is in the pipeline, not the transport).
    const n = await s.t.req('POST', `/v1/keys/${id}/encrypt`, { plaintext: Buffer.from('x').toString('base64') }, app.token);
    assert.equal(n.status, 403, JSON.stringify(n.json));
    assert.equal(n.json.error.code, 'PermissionDenied');
    const ev = await s.t.req('GET', `/v1/audit/events?key=${id}`);
    assert.ok((ev.json.events as Array<{ operation: string; outcome: string }>).some((e) => e.operation === 'key:encrypt' && e.outcome === 'deny'));

    // Deny everything to everyone: decrypt (key learnt from the ciphertext) and admin calls too; root is never locked out.
    await admin.kms.send(new K.PutKeyPolicyCommand({ KeyId: id, Policy: JSON.stringify({ Statement: { Effect: 'Deny', Principal: '*', Action: 'kms:*' } }) }));
    await rejectsAws(app.kms.send(new K.DecryptCommand({ CiphertextBlob: before.CiphertextBlob })), 'AccessDeniedException');
    await rejectsAws(admin.kms.send(new K.DescribeKeyCommand({ KeyId: id })), 'AccessDeniedException');
    await rejectsAws(admin.kms.send(new K.PutKeyPolicyCommand({ KeyId: id, Policy: policy })), 'AccessDeniedException');
    await kms.send(new K.PutKeyPolicyCommand({ KeyId: id, Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*' }] }) }));
    // Allow statements grant nothing beyond roles and grants: the admin still cannot encrypt (separation of duties).
    await rejectsAws(admin.kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'AccessDeniedException');
    await app.kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('allowed again') }));
  });

  test('malformed or unenforceable policies are refused; only the policy name default', async () => {
    const id = await newKey();
    const put = (Policy: string, extra: Partial<K.PutKeyPolicyCommandInput> = {}) => kms.send(new K.PutKeyPolicyCommand({ KeyId: id, Policy, ...extra }));
    await rejectsAws(put('not json'), 'MalformedPolicyDocumentException');
    await rejectsAws(put(JSON.stringify({ Statement: [] })), 'MalformedPolicyDocumentException');
    await rejectsAws(put(JSON.stringify({ Statement: [{ Effect: 'Maybe', Principal: '*', Action: 'kms:*' }] })), 'MalformedPolicyDocumentException');
    await rejectsAws(put(JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 'kms:Encrypt', Condition: { StringEquals: { 'kms:CallerAccount': '1' } } }] })), 'MalformedPolicyDocumentException', /Condition/);
    await rejectsAws(put(JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::000000000000:role/x' }, Action: 'kms:Encrypt' }] })), 'MalformedPolicyDocumentException');
    await rejectsAws(put(JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject' }] })), 'MalformedPolicyDocumentException');
    await rejectsAws(put(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Pad: 'x'.repeat(33_000) }] })), 'ValidationException');
    await rejectsAws(put(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*' }] }), { PolicyName: 'other' }), 'ValidationException');
    await rejectsAws(kms.send(new K.GetKeyPolicyCommand({ KeyId: id, PolicyName: 'other' })), 'NotFoundException');
    // Nothing was stored: the default (descriptive) document is still returned.
    assert.equal(JSON.parse((await kms.send(new K.GetKeyPolicyCommand({ KeyId: id }))).Policy!).Id, 'keywarden-default');
  });
});

describe('grants with a retiring principal', () => {
  test('RetiringPrincipal is stored and shown; it may retire the grant without grant:revoke; others may not', async () => {
    const admin = await principal('rg-admin', ['key-administrator']);
    const app = await principal('rg-app', ['application']);
    const retirer = await principal('rg-retirer', ['application']);
    const id = await newKey({}, admin.kms);
    const g = await admin.kms.send(new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: USER('rg-app'), RetiringPrincipal: USER('rg-retirer'), Operations: ['Encrypt'] }));
    const other = await admin.kms.send(new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: 'rg-app', Operations: ['Decrypt'] }));

    const list = await admin.kms.send(new K.ListGrantsCommand({ KeyId: id }));
    const mine = list.Grants!.find((x) => x.GrantId === g.GrantId)!;
    assert.equal(mine.GranteePrincipal, USER('rg-app'));
    assert.equal(mine.RetiringPrincipal, USER('rg-retirer'));
    assert.equal(list.Grants!.find((x) => x.GrantId === other.GrantId)!.RetiringPrincipal, undefined);

    const retirable = await retirer.kms.send(new K.ListRetirableGrantsCommand({ RetiringPrincipal: USER('rg-retirer') }));
    assert.deepEqual(retirable.Grants!.map((x) => x.GrantId), [g.GrantId]);
    assert.equal(retirable.Grants![0]!.KeyId, ARN(id));
    // Listing another principal's retirable grants needs grant:read.
    await rejectsAws(app.kms.send(new K.ListRetirableGrantsCommand({ RetiringPrincipal: 'rg-retirer' })), 'AccessDeniedException');

    // Neither the grantee nor another application may retire it (no grant:revoke); the retiring principal may.
    await rejectsAws(app.kms.send(new K.RetireGrantCommand({ KeyId: ARN(id), GrantId: g.GrantId })), 'AccessDeniedException');
    await rejectsAws(retirer.kms.send(new K.RetireGrantCommand({ GrantToken: other.GrantToken })), 'AccessDeniedException');
    await app.kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }));
    await retirer.kms.send(new K.RetireGrantCommand({ KeyId: ARN(id), GrantId: g.GrantId }));
    await rejectsAws(app.kms.send(new K.EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })), 'AccessDeniedException');
    assert.deepEqual((await retirer.kms.send(new K.ListRetirableGrantsCommand({ RetiringPrincipal: 'rg-retirer' }))).Grants, []);

    // An unknown retiring principal is NotFound, and no grant is left behind.
    await rejectsAws(admin.kms.send(new K.CreateGrantCommand({ KeyId: id, GranteePrincipal: 'rg-app', RetiringPrincipal: 'nobody', Operations: ['Encrypt'] })), 'NotFoundException');
    assert.equal((await admin.kms.send(new K.ListGrantsCommand({ KeyId: id }))).Grants!.length, 1);
  });
});

describe('SigV4 signing-key cache', () => {
  test('disabling, deleting an access key and sealing take effect at once', async () => {
    const r = await s.t.req('POST', '/v1/principals', { name: 'cache-app', roles: ['auditor'] });
    assert.equal(r.status, 201);
    const k = await s.t.req('POST', '/v1/access-keys', { principal: 'cache-app' });
    const client = new K.KMSClient({ endpoint: s.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: k.json.accessKeyId, secretAccessKey: k.json.secretAccessKey } });
    try {
      const id = await newKey();
      const describe = () => client.send(new K.DescribeKeyCommand({ KeyId: id }));
      for (let i = 0; i < 3; i++) await describe(); // the signing key is cached now
      const d = await s.t.req('POST', `/v1/access-keys/${k.json.accessKeyId}/disable`);
      assert.equal(d.status, 200, JSON.stringify(d.json));
      await rejectsAws(describe(), 'UnrecognizedClientException'); // same instant (ManualClock): no TTL involved
      assert.equal((await s.t.req('POST', `/v1/access-keys/${k.json.accessKeyId}/enable`)).status, 200);
      await describe();
      // Seal: the cache is dropped (503 while sealed), and after unseal the key works again.
      assert.equal((await s.t.req('POST', '/v1/sys/seal')).status, 200);
      await assert.rejects(describe(), (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 503);
      await bootDevSeal(s.t.kw.seal, s.t.dir);
      await describe();
      assert.equal((await s.t.req('DELETE', `/v1/access-keys/${k.json.accessKeyId}`)).status, 200);
      await rejectsAws(describe(), 'UnrecognizedClientException');
    } finally {
      client.destroy();
    }
  });

  test('a bad signature is refused even when the access key signing key is cached', async () => {
    const k = await s.t.req('POST', '/v1/access-keys', { principal: 'root' });
    const good = new K.KMSClient({ endpoint: s.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: k.json.accessKeyId, secretAccessKey: k.json.secretAccessKey } });
    const bad = new K.KMSClient({ endpoint: s.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: k.json.accessKeyId, secretAccessKey: 'x' + k.json.secretAccessKey.slice(1) } });
    try {
      await good.send(new K.ListKeysCommand({ Limit: 1 }));
      await rejectsAws(bad.send(new K.ListKeysCommand({ Limit: 1 })), 'InvalidSignatureException');
      await good.send(new K.ListKeysCommand({ Limit: 1 }));
    } finally {
      good.destroy();
      bad.destroy();
      await s.t.req('DELETE', `/v1/access-keys/${k.json.accessKeyId}`);
    }
  });
});
