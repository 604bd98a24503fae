/**
 * The AWS KMS operations: each one decodes its AWS request, calls the SAME ops/ use-cases as the
 * native REST API (identities, grants, policy and audit all apply there) and encodes AWS's
 * response shape. No permission check or business rule lives here (ARCHITECTURE rule 1).
 */
import type { KeyRecord } from '../../keys/key.model.js';
import { KEY_SPEC_USAGES, isKeySpec } from '../../crypto/keyspecs.js';
import { parseCiphertext } from '../../crypto/aead.js';
import { zeroize } from '../../crypto/secret-bytes.js';
import { errors } from '../../errors/catalog.js';
import { DATA_KEY_PAIR_SPECS, type Call, type Ops } from '../../ops/ops.js';
import { KEY_POLICY_NAME } from '../../auth/key-policy.js';
import type { KeyAdminOps } from '../../ops/key-admin.ops.js';
import type { GrantOps } from '../../ops/grant.ops.js';
import type { GrantRecord } from '../../auth/principal.model.js';
import { decodeBase64 } from '../http/wire.js';
import type { Arns } from './arn.js';
import { AwsOnlyError, unsupported } from './errors.js';
import { S, type In } from './schemas.js';

export interface AwsOpsDeps {
  ops: Ops;
  admin: KeyAdminOps;
  grantOps: GrantOps;
}

type Ctx = AwsOpsDeps & { call: Call; arns: Arns; accountId: string };
type Handler<K extends keyof typeof S> = { schema: K; run: (c: Ctx, i: In<K>) => Promise<object> };
const op = <K extends keyof typeof S>(schema: K, run: (c: Ctx, i: In<K>) => Promise<object>): Handler<K> => ({ schema, run });

const b64 = (b: Buffer) => b.toString('base64');
const seconds = (ms: number) => ms / 1000;
const DEFAULT_LIMIT = 100;

/** AWS key states; Keywarden's Compromised and Destroyed keys have no AWS equivalent and are Unavailable. */
function awsState(k: KeyRecord): string {
  return k.state === 'Compromised' || k.state === 'Destroyed' ? 'Unavailable' : k.state;
}

function keyMetadata(c: Ctx, k: KeyRecord) {
  const algorithms = (KEY_SPEC_USAGES[k.spec] as Record<string, readonly string[] | undefined>)[k.usage] ?? [];
  const list = k.usage === 'ENCRYPT_DECRYPT' ? 'EncryptionAlgorithms' : k.usage === 'SIGN_VERIFY' ? 'SigningAlgorithms' : 'MacAlgorithms';
  return {
    AWSAccountId: c.accountId,
    KeyId: k.id,
    Arn: c.arns.key(k.id),
    CreationDate: seconds(k.createdAt),
    Enabled: k.state === 'Enabled',
    Description: k.description,
    KeyUsage: k.usage,
    KeyState: awsState(k),
    ...(k.deletionAt !== null ? { DeletionDate: seconds(k.deletionAt) } : {}),
    Origin: k.origin === 'EXTERNAL' ? 'EXTERNAL' : 'AWS_KMS',
    ...(k.origin === 'EXTERNAL'
      ? { ExpirationModel: k.materialExpiresAt === null ? 'KEY_MATERIAL_DOES_NOT_EXPIRE' : 'KEY_MATERIAL_EXPIRES', ...(k.materialExpiresAt !== null ? { ValidTo: seconds(k.materialExpiresAt) } : {}) }
      : {}),
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: k.spec,
    KeySpec: k.spec,
    [list]: [...algorithms],
    MultiRegion: false,
  };
}

const tagsOut = (tags: Record<string, string>) => Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));

function tagsIn(tags: Array<{ TagKey: string; TagValue: string }>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags) {
    if (Object.hasOwn(out, t.TagKey)) throw errors.validation(`tag key "${t.TagKey}" is given twice`);
    out[t.TagKey] = t.TagValue;
  }
  return out;
}

/** Offset pagination over a list computed in full (aliases, tags, rotations, grants): Marker is an opaque offset. */
function page<T>(items: T[], limit: number | undefined, marker: string | undefined) {
  let start = 0;
  if (marker !== undefined) {
    start = /^o[0-9]{1,9}$/.test(marker) ? Number(marker.slice(1)) : NaN;
    if (!Number.isInteger(start) || start > items.length) throw new AwsOnlyError('InvalidMarkerException', 'Marker is not a NextMarker returned by this API');
  }
  const end = start + (limit ?? DEFAULT_LIMIT);
  return { items: items.slice(start, end), more: end < items.length ? { NextMarker: `o${end}`, Truncated: true } : { Truncated: false } };
}

function noDryRun(i: { DryRun?: boolean }): void {
  if (i.DryRun === true) throw unsupported('DryRun is not supported by Keywarden: send the request without it');
}

function symmetricOnly(field: string, alg: string | undefined): void {
  if (alg !== undefined && alg !== 'SYMMETRIC_DEFAULT') throw unsupported(`${field} ${alg} is not supported here: Keywarden re-encrypts SYMMETRIC_DEFAULT ciphertexts`);
}

/**
 * Decrypt/ReEncrypt with a KeyId: AWS refuses (IncorrectKeyException) when the ciphertext was made
 * under another key. The key id in the ciphertext header is public; the key named by an alias is
 * read through DescribeKey (so the caller's permissions apply). Unparseable ciphertexts are left
 * to decrypt, which answers InvalidCiphertextException.
 */
async function checkSourceKey(c: Ctx, keyId: string, ciphertext: Buffer): Promise<void> {
  const parsed = parseCiphertext(ciphertext);
  if (parsed === undefined) return;
  let ref = c.arns.keyRef(keyId);
  if (ref.startsWith('alias/')) ref = (await c.admin.describeKey(c.call, ref)).id;
  if (ref !== parsed.header.keyId) throw new AwsOnlyError('IncorrectKeyException', 'The key ID in the request does not identify the KMS key that encrypted the ciphertext');
}

/** AWS grant operations -> Keywarden grant operations (DescribeKey comes with any grant). */
const GRANT_OPS: Record<string, string | null> = {
  Encrypt: 'encrypt',
  Decrypt: 'decrypt',
  GenerateDataKey: 'generate-data-key',
  GenerateDataKeyWithoutPlaintext: 'generate-data-key',
  ReEncryptFrom: 're-encrypt',
  ReEncryptTo: 're-encrypt',
  Sign: 'sign',
  Verify: 'verify',
  GenerateMac: 'mac',
  VerifyMac: 'verify-mac',
  DescribeKey: null,
  GetPublicKey: null,
};
const AWS_OPS_OF: Record<string, string[]> = {
  encrypt: ['Encrypt'],
  decrypt: ['Decrypt'],
  'generate-data-key': ['GenerateDataKey', 'GenerateDataKeyWithoutPlaintext'],
  're-encrypt': ['ReEncryptFrom', 'ReEncryptTo'],
  sign: ['Sign'],
  verify: ['Verify'],
  mac: ['GenerateMac'],
  'verify-mac': ['VerifyMac'],
};

/** A grantee or retiring principal: a Keywarden principal name, or an ARN whose last path segment is one. */
const principalName = (v: string) => (v.startsWith('arn:') ? (v.split(/[/:]/).pop() ?? v) : v);

/** An IAM-style ARN for a Keywarden principal name (how AWS shows grantees and retiring principals). */
const principalArn = (c: Ctx, name: string) => `arn:aws:iam::${c.accountId}:user/${name}`;

function grantOut(c: Ctx, g: GrantRecord, names: Map<string, string>, retirees: Map<string, string> = new Map()) {
  const constraints = {
    ...(g.conditions.contextIncludes ? { EncryptionContextSubset: g.conditions.contextIncludes } : {}),
    ...(g.conditions.contextEquals ? { EncryptionContextEquals: g.conditions.contextEquals } : {}),
  };
  return {
    KeyId: g.keyId === null ? undefined : c.arns.key(g.keyId),
    GrantId: g.id,
    CreationDate: seconds(g.createdAt),
    GranteePrincipal: principalArn(c, names.get(g.principalId) ?? g.principalId),
    ...(retirees.has(g.id) ? { RetiringPrincipal: principalArn(c, names.get(retirees.get(g.id) as string) ?? (retirees.get(g.id) as string)) } : {}),
    IssuingAccount: `arn:aws:iam::${c.accountId}:root`,
    Operations: g.operations.flatMap((o) => AWS_OPS_OF[o] ?? []),
    ...(Object.keys(constraints).length > 0 ? { Constraints: constraints } : {}),
  };
}

export const AWS_OPERATIONS = {
  // ---- key management ------------------------------------------------------------------------
  CreateKey: op('CreateKey', async (c, i) => {
    if (i.Policy !== undefined) throw unsupported('Policy is not supported on CreateKey: create the key, then PutKeyPolicy (docs/aws-compatibility.md)');
    if (i.MultiRegion === true) throw unsupported('multi-Region keys are not supported');
    if (i.KeySpec !== undefined && i.CustomerMasterKeySpec !== undefined) throw errors.validation('give KeySpec or CustomerMasterKeySpec, not both');
    const spec = i.KeySpec ?? i.CustomerMasterKeySpec;
    if (spec !== undefined && !isKeySpec(spec)) throw unsupported(`KeySpec ${spec} is not supported (supported: ${Object.keys(KEY_SPEC_USAGES).join(', ')})`);
    if (i.Origin !== undefined && i.Origin !== 'AWS_KMS' && i.Origin !== 'EXTERNAL') throw unsupported(`Origin ${i.Origin} is not supported (AWS_KMS or EXTERNAL)`);
    const key = await c.admin.createKey(c.call, {
      ...(i.Description !== undefined ? { description: i.Description } : {}),
      ...(spec !== undefined ? { spec } : {}),
      ...(i.KeyUsage !== undefined ? { usage: i.KeyUsage as KeyRecord['usage'] } : {}),
      ...(i.Origin === 'EXTERNAL' ? { origin: 'EXTERNAL' as const } : {}),
      ...(i.Tags !== undefined ? { tags: tagsIn(i.Tags) } : {}),
    });
    return { KeyMetadata: keyMetadata(c, key) };
  }),
  DescribeKey: op('DescribeKey', async (c, i) => ({ KeyMetadata: keyMetadata(c, await c.admin.describeKey(c.call, c.arns.keyRef(i.KeyId))) })),
  ListKeys: op('ListKeys', async (c, i) => {
    const r = await c.admin.listKeys(c.call, { limit: i.Limit ?? DEFAULT_LIMIT, ...(i.Marker !== undefined ? { cursor: i.Marker } : {}) });
    return { Keys: r.keys.map((k) => ({ KeyId: k.id, KeyArn: c.arns.key(k.id) })), ...(r.nextCursor !== null ? { NextMarker: r.nextCursor, Truncated: true } : { Truncated: false }) };
  }),
  UpdateKeyDescription: op('UpdateKeyDescription', async (c, i) => {
    await c.admin.update(c.call, c.arns.keyRef(i.KeyId), { description: i.Description });
    return {};
  }),
  EnableKey: op('KeyOnly', async (c, i) => {
    await c.admin.enable(c.call, c.arns.keyRef(i.KeyId));
    return {};
  }),
  DisableKey: op('KeyOnly', async (c, i) => {
    await c.admin.disable(c.call, c.arns.keyRef(i.KeyId));
    return {};
  }),
  ScheduleKeyDeletion: op('ScheduleKeyDeletion', async (c, i) => {
    const k = await c.admin.scheduleDeletion(c.call, c.arns.keyRef(i.KeyId), i.PendingWindowInDays);
    return {
      KeyId: c.arns.key(k.id),
      DeletionDate: seconds(k.deletionAt ?? 0),
      KeyState: awsState(k),
      PendingWindowInDays: Math.round(((k.deletionAt ?? 0) - k.updatedAt) / 86_400_000),
    };
  }),
  CancelKeyDeletion: op('KeyOnly', async (c, i) => ({ KeyId: c.arns.key((await c.admin.cancelDeletion(c.call, c.arns.keyRef(i.KeyId))).id) })),

  // ---- aliases and tags -------------------------------------------------------------------------
  CreateAlias: op('Alias', async (c, i) => {
    await c.admin.createAlias(c.call, c.arns.aliasName(i.AliasName), c.arns.keyRef(i.TargetKeyId));
    return {};
  }),
  UpdateAlias: op('Alias', async (c, i) => {
    await c.admin.updateAlias(c.call, c.arns.aliasName(i.AliasName), c.arns.keyRef(i.TargetKeyId));
    return {};
  }),
  DeleteAlias: op('DeleteAlias', async (c, i) => {
    await c.admin.deleteAlias(c.call, c.arns.aliasName(i.AliasName));
    return {};
  }),
  ListAliases: op('ListAliases', async (c, i) => {
    let aliases = await c.admin.listAliases(c.call);
    if (i.KeyId !== undefined) {
      const ref = c.arns.keyRef(i.KeyId);
      if (ref.startsWith('alias/')) throw errors.validation('KeyId must be a key id or key ARN');
      aliases = aliases.filter((a) => a.keyId === ref);
    }
    aliases = [...aliases].sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
    const p = page(aliases, i.Limit, i.Marker);
    return { Aliases: p.items.map((a) => ({ AliasName: a.alias, AliasArn: c.arns.alias(a.alias), TargetKeyId: a.keyId })), ...p.more };
  }),
  TagResource: op('TagResource', async (c, i) => {
    await c.admin.tag(c.call, c.arns.keyRef(i.KeyId), tagsIn(i.Tags));
    return {};
  }),
  UntagResource: op('UntagResource', async (c, i) => {
    await c.admin.untag(c.call, c.arns.keyRef(i.KeyId), i.TagKeys);
    return {};
  }),
  ListResourceTags: op('ListResourceTags', async (c, i) => {
    const k = await c.admin.describeKey(c.call, c.arns.keyRef(i.KeyId));
    const p = page(tagsOut(k.tags).sort((a, b) => (a.TagKey < b.TagKey ? -1 : 1)), i.Limit ?? 50, i.Marker);
    return { Tags: p.items, ...p.more };
  }),

  // ---- cryptographic operations -------------------------------------------------------------------
  Encrypt: op('Encrypt', async (c, i) => {
    noDryRun(i);
    const pt = decodeBase64('Plaintext', i.Plaintext);
    try {
      const r = await c.ops.encrypt(c.call, c.arns.keyRef(i.KeyId), pt, i.EncryptionContext, i.EncryptionAlgorithm);
      return { CiphertextBlob: b64(r.ciphertext), KeyId: c.arns.key(r.keyId), EncryptionAlgorithm: i.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT' };
    } finally {
      zeroize(pt);
    }
  }),
  Decrypt: op('Decrypt', async (c, i) => {
    noDryRun(i);
    const ct = decodeBase64('CiphertextBlob', i.CiphertextBlob);
    const alg = i.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT';
    let r;
    if (alg !== 'SYMMETRIC_DEFAULT') {
      if (i.KeyId === undefined) throw errors.validation('KeyId is required to decrypt with an asymmetric EncryptionAlgorithm');
      if (i.EncryptionContext !== undefined) throw errors.validation('an encryption context is only supported with SYMMETRIC_DEFAULT');
      r = await c.ops.decrypt(c.call, ct, undefined, { key: c.arns.keyRef(i.KeyId), algorithm: alg });
    } else {
      if (i.KeyId !== undefined) await checkSourceKey(c, i.KeyId, ct);
      r = await c.ops.decrypt(c.call, ct, i.EncryptionContext);
    }
    try {
      return { KeyId: c.arns.key(r.keyId), Plaintext: b64(r.plaintext), EncryptionAlgorithm: alg };
    } finally {
      zeroize(r.plaintext);
    }
  }),
  ReEncrypt: op('ReEncrypt', async (c, i) => {
    noDryRun(i);
    symmetricOnly('SourceEncryptionAlgorithm', i.SourceEncryptionAlgorithm);
    symmetricOnly('DestinationEncryptionAlgorithm', i.DestinationEncryptionAlgorithm);
    const ct = decodeBase64('CiphertextBlob', i.CiphertextBlob);
    if (i.SourceKeyId !== undefined) await checkSourceKey(c, i.SourceKeyId, ct);
    const r = await c.ops.reEncrypt(c.call, {
      ciphertext: ct,
      destinationKey: c.arns.keyRef(i.DestinationKeyId),
      ...(i.SourceEncryptionContext ? { context: i.SourceEncryptionContext } : {}),
      ...(i.DestinationEncryptionContext ? { destinationContext: i.DestinationEncryptionContext } : {}),
    });
    return {
      CiphertextBlob: b64(r.ciphertext),
      SourceKeyId: c.arns.key(r.sourceKeyId),
      KeyId: c.arns.key(r.keyId),
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }),
  GenerateDataKey: op('GenerateDataKey', async (c, i) => {
    noDryRun(i);
    const r = await generateDataKey(c, i, true);
    try {
      return { CiphertextBlob: b64(r.ciphertext), Plaintext: b64(r.plaintext as Buffer), KeyId: c.arns.key(r.keyId) };
    } finally {
      zeroize(r.plaintext);
    }
  }),
  GenerateDataKeyWithoutPlaintext: op('GenerateDataKey', async (c, i) => {
    noDryRun(i);
    const r = await generateDataKey(c, i, false);
    return { CiphertextBlob: b64(r.ciphertext), KeyId: c.arns.key(r.keyId) };
  }),
  GenerateDataKeyPair: op('GenerateDataKeyPair', async (c, i) => {
    noDryRun(i);
    const r = await generateDataKeyPair(c, i, true);
    try {
      return { ...dataKeyPairOut(c, r), PrivateKeyPlaintext: b64(r.privateKey as Buffer) };
    } finally {
      zeroize(r.privateKey);
    }
  }),
  GenerateDataKeyPairWithoutPlaintext: op('GenerateDataKeyPair', async (c, i) => {
    noDryRun(i);
    return dataKeyPairOut(c, await generateDataKeyPair(c, i, false));
  }),
  GenerateRandom: op('GenerateRandom', async (c, i) => {
    if (i.NumberOfBytes === undefined) throw errors.validation('NumberOfBytes is required (1 to 1024)');
    const r = await c.ops.random(c.call, i.NumberOfBytes);
    try {
      return { Plaintext: b64(r) };
    } finally {
      zeroize(r);
    }
  }),
  Sign: op('Sign', async (c, i) => {
    noDryRun(i);
    const r = await c.ops.sign(c.call, c.arns.keyRef(i.KeyId), decodeBase64('Message', i.Message), i.SigningAlgorithm, i.MessageType);
    return { KeyId: c.arns.key(r.keyId), Signature: b64(r.signature), SigningAlgorithm: r.algorithm };
  }),
  Verify: op('Verify', async (c, i) => {
    noDryRun(i);
    const r = await c.ops.verify(c.call, c.arns.keyRef(i.KeyId), decodeBase64('Message', i.Message), i.SigningAlgorithm, decodeBase64('Signature', i.Signature), i.MessageType);
    // AWS answers an invalid signature with an error, never SignatureValid: false.
    if (!r.valid) throw new AwsOnlyError('KMSInvalidSignatureException', 'The signature is not valid for this message, key and signing algorithm');
    return { KeyId: c.arns.key(r.keyId), SignatureValid: true, SigningAlgorithm: i.SigningAlgorithm };
  }),
  GetPublicKey: op('GetPublicKey', async (c, i) => {
    const r = await c.ops.publicKey(c.call, c.arns.keyRef(i.KeyId));
    const algorithms = (KEY_SPEC_USAGES[r.spec] as Record<string, readonly string[] | undefined>)[r.usage] ?? [];
    return {
      KeyId: c.arns.key(r.keyId),
      PublicKey: b64(r.publicKey),
      CustomerMasterKeySpec: r.spec,
      KeySpec: r.spec,
      KeyUsage: r.usage,
      [r.usage === 'SIGN_VERIFY' ? 'SigningAlgorithms' : 'EncryptionAlgorithms']: [...algorithms],
    };
  }),
  GenerateMac: op('GenerateMac', async (c, i) => {
    noDryRun(i);
    const r = await c.ops.mac(c.call, c.arns.keyRef(i.KeyId), decodeBase64('Message', i.Message), i.MacAlgorithm);
    return { Mac: b64(r.mac), MacAlgorithm: r.algorithm, KeyId: c.arns.key(r.keyId) };
  }),
  VerifyMac: op('VerifyMac', async (c, i) => {
    noDryRun(i);
    const r = await c.ops.verifyMac(c.call, c.arns.keyRef(i.KeyId), decodeBase64('Message', i.Message), i.MacAlgorithm, decodeBase64('Mac', i.Mac));
    if (!r.valid) throw new AwsOnlyError('KMSInvalidMacException', 'The MAC is not valid for this message, key and MAC algorithm');
    return { KeyId: c.arns.key(r.keyId), MacValid: true, MacAlgorithm: i.MacAlgorithm };
  }),

  // ---- rotation -----------------------------------------------------------------------------------
  EnableKeyRotation: op('EnableKeyRotation', async (c, i) => {
    await c.admin.update(c.call, c.arns.keyRef(i.KeyId), { rotationPeriodDays: i.RotationPeriodInDays ?? 365 });
    return {};
  }),
  DisableKeyRotation: op('KeyOnly', async (c, i) => {
    await c.admin.update(c.call, c.arns.keyRef(i.KeyId), { rotationPeriodDays: null });
    return {};
  }),
  GetKeyRotationStatus: op('KeyOnly', async (c, i) => {
    const k = await c.admin.describeKey(c.call, c.arns.keyRef(i.KeyId));
    return {
      KeyRotationEnabled: k.rotationPeriodMs !== null,
      KeyId: c.arns.key(k.id),
      ...(k.rotationPeriodMs !== null ? { RotationPeriodInDays: Math.round(k.rotationPeriodMs / 86_400_000) } : {}),
      ...(k.nextRotationAt !== null ? { NextRotationDate: seconds(k.nextRotationAt) } : {}),
    };
  }),
  RotateKeyOnDemand: op('KeyOnly', async (c, i) => ({ KeyId: c.arns.key((await c.admin.rotate(c.call, c.arns.keyRef(i.KeyId))).id) })),
  ListKeyRotations: op('ListKeyRotations', async (c, i) => {
    const { key, versions } = await c.admin.versions(c.call, c.arns.keyRef(i.KeyId));
    // Every version after the first came from a rotation; Keywarden does not record which kind.
    const rotations = versions.filter((v) => v.version > 1).sort((a, b) => a.version - b.version);
    const p = page(rotations, i.Limit, i.Marker);
    return {
      Rotations: p.items.map((v) => ({ KeyId: c.arns.key(key.id), RotationDate: seconds(v.createdAt), RotationType: key.rotationPeriodMs !== null ? 'AUTOMATIC' : 'ON_DEMAND' })),
      ...p.more,
    };
  }),

  // ---- grants -------------------------------------------------------------------------------------
  CreateGrant: op('CreateGrant', async (c, i) => {
    noDryRun(i);
    const operations = new Set<string>();
    for (const o of i.Operations) {
      const mapped = GRANT_OPS[o];
      if (mapped === undefined) throw unsupported(`grant operation ${o} is not supported (supported: ${Object.keys(GRANT_OPS).join(', ')})`);
      if (mapped !== null) operations.add(mapped);
    }
    if (operations.size === 0) throw errors.validation('Operations must include a cryptographic operation (DescribeKey and GetPublicKey come with any grant)');
    const k = i.Constraints;
    const g = await c.grantOps.create(c.call, {
      key: c.arns.keyRef(i.KeyId),
      principal: principalName(i.GranteePrincipal),
      operations: [...operations],
      ...(i.RetiringPrincipal !== undefined ? { retiringPrincipal: principalName(i.RetiringPrincipal) } : {}),
      ...(k && (k.EncryptionContextEquals || k.EncryptionContextSubset)
        ? { conditions: { ...(k.EncryptionContextEquals ? { contextEquals: k.EncryptionContextEquals } : {}), ...(k.EncryptionContextSubset ? { contextIncludes: k.EncryptionContextSubset } : {}) } }
        : {}),
    });
    // Keywarden grants take effect at once: the grant token is the grant id, accepted where AWS takes one.
    return { GrantId: g.id, GrantToken: g.id };
  }),
  ListGrants: op('ListGrants', async (c, i) => {
    const filter = { key: c.arns.keyRef(i.KeyId), ...(i.GranteePrincipal !== undefined ? { principal: principalName(i.GranteePrincipal) } : {}) };
    const r = await c.grantOps.listNamed(c.call, filter);
    const grants = i.GrantId !== undefined ? r.grants.filter((g) => g.id === i.GrantId) : r.grants;
    const p = page(grants, i.Limit, i.Marker);
    return { Grants: p.items.map((g) => grantOut(c, g, r.names, r.retirees)), ...p.more };
  }),
  ListRetirableGrants: op('ListRetirableGrants', async (c, i) => {
    const r = await c.grantOps.listRetirable(c.call, principalName(i.RetiringPrincipal));
    const p = page(r.grants, i.Limit, i.Marker);
    return { Grants: p.items.map((g) => grantOut(c, g, r.names, r.retirees)), ...p.more };
  }),
  RevokeGrant: op('RevokeGrant', async (c, i) => {
    noDryRun(i);
    await revokeOnKey(c, i.KeyId, i.GrantId);
    return {};
  }),
  RetireGrant: op('RetireGrant', async (c, i) => {
    noDryRun(i);
    if (i.GrantToken !== undefined) {
      if (i.KeyId !== undefined || i.GrantId !== undefined) throw errors.validation('give GrantToken, or KeyId and GrantId');
      await c.grantOps.retire(c.call, grantIdOfToken(i.GrantToken));
    } else {
      if (i.KeyId === undefined || i.GrantId === undefined) throw errors.validation('give GrantToken, or KeyId and GrantId');
      const ref = c.arns.keyRef(i.KeyId);
      if (ref.startsWith('alias/')) throw errors.validation('KeyId must be a key id or key ARN');
      await c.grantOps.retire(c.call, i.GrantId, ref);
    }
    return {};
  }),

  // ---- key policies: stored per key; their explicit Denies are enforced (src/auth/key-policy.ts) ----
  ListKeyPolicies: op('ListKeyPolicies', async (c, i) => {
    await c.admin.describeKey(c.call, c.arns.keyRef(i.KeyId));
    return { PolicyNames: [KEY_POLICY_NAME], Truncated: false };
  }),
  GetKeyPolicy: op('GetKeyPolicy', async (c, i) => {
    if (i.PolicyName !== undefined && i.PolicyName !== KEY_POLICY_NAME) throw errors.notFound(`key policy ${i.PolicyName}`);
    const r = await c.admin.getKeyPolicy(c.call, c.arns.keyRef(i.KeyId));
    return { Policy: r.policy?.document ?? JSON.stringify(defaultPolicy(c, r.key)), PolicyName: KEY_POLICY_NAME };
  }),
  PutKeyPolicy: op('PutKeyPolicy', async (c, i) => {
    if (i.PolicyName !== undefined && i.PolicyName !== KEY_POLICY_NAME) throw errors.validation(`PolicyName must be ${KEY_POLICY_NAME}`);
    // BypassPolicyLockoutSafetyCheck changes nothing: a key policy never refuses the root identity, so it cannot lock a key out.
    await c.admin.putKeyPolicy(c.call, c.arns.keyRef(i.KeyId), i.Policy);
    return {};
  }),
  DeleteImportedKeyMaterial: op('KeyOnly', async (c, i) => {
    await c.admin.deleteImportedMaterial(c.call, c.arns.keyRef(i.KeyId));
    return {};
  }),

  // ---- import -----------------------------------------------------------------------------------------
  GetParametersForImport: op('GetParametersForImport', async (c, i) => {
    if (i.WrappingKeySpec !== 'RSA_4096') throw unsupported('WrappingKeySpec must be RSA_4096');
    const r = await c.admin.importParameters(c.call, c.arns.keyRef(i.KeyId), i.WrappingAlgorithm);
    return { KeyId: c.arns.key(r.keyId), ImportToken: b64(Buffer.from(r.importToken, 'utf8')), PublicKey: b64(r.publicKey), ParametersValidTo: seconds(r.expiresAt) };
  }),
  ImportKeyMaterial: op('ImportKeyMaterial', async (c, i) => {
    if (i.ExpirationModel === 'KEY_MATERIAL_EXPIRES' && i.ValidTo === undefined) throw errors.validation('ValidTo is required with KEY_MATERIAL_EXPIRES');
    if (i.ExpirationModel !== 'KEY_MATERIAL_EXPIRES' && i.ValidTo !== undefined) throw errors.validation('ValidTo needs ExpirationModel KEY_MATERIAL_EXPIRES');
    const token = decodeBase64('ImportToken', i.ImportToken).toString('utf8');
    await c.admin.importMaterial(c.call, c.arns.keyRef(i.KeyId), token, decodeBase64('EncryptedKeyMaterial', i.EncryptedKeyMaterial), i.ValidTo === undefined ? undefined : Math.round(i.ValidTo * 1000));
    return {};
  }),
} as const;

export type AwsOperationName = keyof typeof AWS_OPERATIONS;

async function generateDataKey(c: Ctx, i: In<'GenerateDataKey'>, includePlaintext: boolean) {
  // AWS requires exactly one of KeySpec and NumberOfBytes.
  if ((i.KeySpec === undefined) === (i.NumberOfBytes === undefined)) throw errors.validation('specify either KeySpec or NumberOfBytes (exactly one)');
  return c.ops.generateDataKey(c.call, c.arns.keyRef(i.KeyId), {
    ...(i.KeySpec !== undefined ? { spec: i.KeySpec } : {}),
    ...(i.NumberOfBytes !== undefined ? { bytes: i.NumberOfBytes } : {}),
    includePlaintext,
    ...(i.EncryptionContext !== undefined ? { context: i.EncryptionContext } : {}),
  });
}

/** Grant tokens Keywarden issues are grant ids (UUIDs). */
function grantIdOfToken(token: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(token)) throw new AwsOnlyError('InvalidGrantTokenException', 'The grant token is not one this server issued');
  return token;
}

/** Revokes a grant of the named key: the grant must be on that key (NotFound otherwise, as AWS). */
async function revokeOnKey(c: Ctx, keyId: string, grantId: string): Promise<void> {
  const grants = await c.grantOps.list(c.call, { key: c.arns.keyRef(keyId) });
  if (!grants.some((g) => g.id === grantId)) throw errors.notFound(`grant ${grantId.slice(0, 128)} on key ${keyId.slice(0, 300)}`);
  await c.grantOps.revoke(c.call, grantId);
}

/** Data key pair specs AWS names that Keywarden does not generate (the others fail validation). */
const UNSUPPORTED_PAIR_SPECS = new Set(['ECC_NIST_P521', 'ECC_SECG_P256K1', 'SM2']);

async function generateDataKeyPair(c: Ctx, i: In<'GenerateDataKeyPair'>, withPlaintext: boolean) {
  if (UNSUPPORTED_PAIR_SPECS.has(i.KeyPairSpec)) throw unsupported(`KeyPairSpec ${i.KeyPairSpec} is not supported (supported: ${DATA_KEY_PAIR_SPECS.join(', ')})`);
  return c.ops.generateDataKeyPair(c.call, c.arns.keyRef(i.KeyId), i.KeyPairSpec, i.EncryptionContext, withPlaintext);
}

function dataKeyPairOut(c: Ctx, r: { ciphertext: Buffer; publicKey: Buffer; keyId: string; pairSpec: string }) {
  return { PrivateKeyCiphertextBlob: b64(r.ciphertext), PublicKey: b64(r.publicKey), KeyId: c.arns.key(r.keyId), KeyPairSpec: r.pairSpec };
}

/** The document GetKeyPolicy returns for a key without a policy: descriptive (Keywarden's roles and grants decide). */
function defaultPolicy(c: Ctx, k: KeyRecord) {
  return {
    Version: '2012-10-17',
    Id: 'keywarden-default',
    Statement: [
      {
        Sid: 'KeywardenRolesAndGrants',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${c.accountId}:root` },
        Action: 'kms:*',
        Resource: c.arns.key(k.id),
        Condition: { 'keywarden:authorization': 'roles and grants (docs/access-control.md) decide; PutKeyPolicy Deny statements can only take away (docs/aws-compatibility.md)' },
      },
    ],
  };
}
