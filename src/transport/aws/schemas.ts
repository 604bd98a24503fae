/**
 * Request shapes of the AWS KMS operations Keywarden serves (AWS names, PascalCase; blobs are
 * base64 strings as in AWS JSON 1.1). Limits follow the AWS API reference. Unknown fields are
 * refused (additionalProperties: false), so a parameter Keywarden does not implement is never
 * silently ignored.
 */
import { Type as T, type Static, type TSchema } from '@sinclair/typebox';
import { DELETION_WINDOW_DAYS } from '../../keys/key.service.js';

const obj = <P extends Record<string, TSchema>>(props: P) => T.Object(props, { additionalProperties: false });
const opt = T.Optional;

export const KeyId = T.String({ minLength: 1, maxLength: 2048 });
export const Blob = T.String({ maxLength: 16384 });
export const Context = T.Record(T.String({ minLength: 1, maxLength: 2048 }), T.String({ maxLength: 2048 }));
export const GrantTokens = T.Array(T.String({ minLength: 1, maxLength: 8192 }), { maxItems: 10 });
const Limit = T.Integer({ minimum: 1, maximum: 1000 });
const Marker = T.String({ minLength: 1, maxLength: 1024 });
const Tag = obj({ TagKey: T.String({ minLength: 1, maxLength: 128 }), TagValue: T.String({ maxLength: 256 }) });
const AliasName = T.String({ minLength: 1, maxLength: 256 });
const DataKeySpec = T.Union([T.Literal('AES_256'), T.Literal('AES_128')]);
const MessageType = T.Union([T.Literal('RAW'), T.Literal('DIGEST')]);
const Algorithm = T.String({ minLength: 1, maxLength: 64 });

export const S = {
  CreateKey: obj({
    Description: opt(T.String({ maxLength: 8192 })),
    KeyUsage: opt(T.String({ maxLength: 64 })),
    KeySpec: opt(T.String({ maxLength: 64 })),
    CustomerMasterKeySpec: opt(T.String({ maxLength: 64 })),
    Origin: opt(T.String({ maxLength: 64 })),
    Tags: opt(T.Array(Tag, { maxItems: 50 })),
    Policy: opt(T.String({ maxLength: 32768 })),
    BypassPolicyLockoutSafetyCheck: opt(T.Boolean()),
    MultiRegion: opt(T.Boolean()),
  }),
  DescribeKey: obj({ KeyId, GrantTokens: opt(GrantTokens) }),
  ListKeys: obj({ Limit: opt(Limit), Marker: opt(Marker) }),
  UpdateKeyDescription: obj({ KeyId, Description: T.String({ maxLength: 8192 }) }),
  KeyOnly: obj({ KeyId }),
  // AWS's window: 7 to 30 days (the policy may require a longer minimum).
  ScheduleKeyDeletion: obj({ KeyId, PendingWindowInDays: opt(T.Integer({ minimum: DELETION_WINDOW_DAYS.min, maximum: DELETION_WINDOW_DAYS.max })) }),
  Alias: obj({ AliasName, TargetKeyId: KeyId }),
  DeleteAlias: obj({ AliasName }),
  ListAliases: obj({ KeyId: opt(KeyId), Limit: opt(Limit), Marker: opt(Marker) }),
  TagResource: obj({ KeyId, Tags: T.Array(Tag, { maxItems: 50 }) }),
  UntagResource: obj({ KeyId, TagKeys: T.Array(T.String({ minLength: 1, maxLength: 128 }), { maxItems: 50 }) }),
  ListResourceTags: obj({ KeyId, Limit: opt(T.Integer({ minimum: 1, maximum: 50 })), Marker: opt(Marker) }),
  Encrypt: obj({ KeyId, Plaintext: Blob, EncryptionContext: opt(Context), GrantTokens: opt(GrantTokens), EncryptionAlgorithm: opt(Algorithm), DryRun: opt(T.Boolean()) }),
  Decrypt: obj({
    CiphertextBlob: Blob,
    EncryptionContext: opt(Context),
    GrantTokens: opt(GrantTokens),
    KeyId: opt(KeyId),
    EncryptionAlgorithm: opt(Algorithm),
    DryRun: opt(T.Boolean()),
  }),
  ReEncrypt: obj({
    CiphertextBlob: Blob,
    SourceEncryptionContext: opt(Context),
    SourceKeyId: opt(KeyId),
    DestinationKeyId: KeyId,
    DestinationEncryptionContext: opt(Context),
    SourceEncryptionAlgorithm: opt(Algorithm),
    DestinationEncryptionAlgorithm: opt(Algorithm),
    GrantTokens: opt(GrantTokens),
    DryRun: opt(T.Boolean()),
  }),
  GenerateDataKey: obj({
    KeyId,
    EncryptionContext: opt(Context),
    NumberOfBytes: opt(T.Integer({ minimum: 1, maximum: 1024 })),
    KeySpec: opt(DataKeySpec),
    GrantTokens: opt(GrantTokens),
    DryRun: opt(T.Boolean()),
  }),
  GenerateDataKeyPair: obj({
    KeyId,
    KeyPairSpec: T.String({ minLength: 1, maxLength: 64 }),
    EncryptionContext: opt(Context),
    GrantTokens: opt(GrantTokens),
    DryRun: opt(T.Boolean()),
  }),
  ListRetirableGrants: obj({ RetiringPrincipal: T.String({ minLength: 1, maxLength: 256 }), Limit: opt(Limit), Marker: opt(Marker) }),
  GenerateRandom: obj({ NumberOfBytes: opt(T.Integer({ minimum: 1, maximum: 1024 })) }),
  EnableKeyRotation: obj({ KeyId, RotationPeriodInDays: opt(T.Integer()) }),
  ListKeyRotations: obj({ KeyId, Limit: opt(Limit), Marker: opt(Marker) }),
  Sign: obj({ KeyId, Message: Blob, MessageType: opt(MessageType), SigningAlgorithm: Algorithm, GrantTokens: opt(GrantTokens), DryRun: opt(T.Boolean()) }),
  Verify: obj({
    KeyId,
    Message: Blob,
    MessageType: opt(MessageType),
    Signature: Blob,
    SigningAlgorithm: Algorithm,
    GrantTokens: opt(GrantTokens),
    DryRun: opt(T.Boolean()),
  }),
  GetPublicKey: obj({ KeyId, GrantTokens: opt(GrantTokens) }),
  GenerateMac: obj({ KeyId, Message: Blob, MacAlgorithm: Algorithm, GrantTokens: opt(GrantTokens), DryRun: opt(T.Boolean()) }),
  VerifyMac: obj({ KeyId, Message: Blob, MacAlgorithm: Algorithm, Mac: Blob, GrantTokens: opt(GrantTokens), DryRun: opt(T.Boolean()) }),
  CreateGrant: obj({
    KeyId,
    GranteePrincipal: T.String({ minLength: 1, maxLength: 256 }),
    RetiringPrincipal: opt(T.String({ minLength: 1, maxLength: 256 })),
    Operations: T.Array(T.String({ maxLength: 64 }), { minItems: 1, maxItems: 20 }),
    Constraints: opt(obj({ EncryptionContextSubset: opt(Context), EncryptionContextEquals: opt(Context) })),
    GrantTokens: opt(GrantTokens),
    Name: opt(T.String({ minLength: 1, maxLength: 256 })),
    DryRun: opt(T.Boolean()),
  }),
  ListGrants: obj({
    KeyId,
    Limit: opt(Limit),
    Marker: opt(Marker),
    GrantId: opt(T.String({ minLength: 1, maxLength: 128 })),
    GranteePrincipal: opt(T.String({ minLength: 1, maxLength: 256 })),
  }),
  RevokeGrant: obj({ KeyId, GrantId: T.String({ minLength: 1, maxLength: 128 }), DryRun: opt(T.Boolean()) }),
  RetireGrant: obj({
    GrantToken: opt(T.String({ minLength: 1, maxLength: 8192 })),
    KeyId: opt(KeyId),
    GrantId: opt(T.String({ minLength: 1, maxLength: 128 })),
    DryRun: opt(T.Boolean()),
  }),
  GetParametersForImport: obj({ KeyId, WrappingAlgorithm: T.String({ maxLength: 64 }), WrappingKeySpec: T.String({ maxLength: 64 }) }),
  ImportKeyMaterial: obj({
    KeyId,
    ImportToken: Blob,
    EncryptedKeyMaterial: Blob,
    ValidTo: opt(T.Number()),
    ExpirationModel: opt(T.Union([T.Literal('KEY_MATERIAL_EXPIRES'), T.Literal('KEY_MATERIAL_DOES_NOT_EXPIRE')])),
  }),
  GetKeyPolicy: obj({ KeyId, PolicyName: opt(T.String({ minLength: 1, maxLength: 128 })) }),
  ListKeyPolicies: obj({ KeyId, Limit: opt(Limit), Marker: opt(Marker) }),
  PutKeyPolicy: obj({
    KeyId,
    PolicyName: opt(T.String({ minLength: 1, maxLength: 128 })),
    Policy: T.String({ minLength: 1, maxLength: 32768 }),
    BypassPolicyLockoutSafetyCheck: opt(T.Boolean()),
  }),
} as const;

export type In<K extends keyof typeof S> = Static<(typeof S)[K]>;
