/**
 * TypeBox schemas of the native REST API. The same objects validate requests (fastify/ajv),
 * serialize responses (fast-json-stringify) and generate GET /v1/openapi.json (@fastify/swagger).
 */
import { Type, type Static, type TLiteral, type TSchema } from '@sinclair/typebox';
import { ALIAS_PATTERN, KEY_ORIGINS, KEY_SPECS, KEY_STATES, KEY_USAGES } from '../../keys/key.model.js';
import { WRAPPING_ALGORITHMS } from '../../crypto/keyspecs.js';
import { CLASSIFICATIONS, ENVIRONMENTS, PROTECTIONS } from '../../policy/policy.model.js';

const Str = (o: Parameters<typeof Type.String>[0] = {}) => Type.String(o);
/** Base64 strings are length-bounded here; the transport decodes them strictly (decodeBase64). */
export const B64 = (description: string, maxLength = 8192) => Str({ description: `${description} (standard base64)`, maxLength });

export const Context = Type.Record(Type.String({ maxLength: 2048 }), Type.String({ maxLength: 8192 }), {
  description: 'Encryption context: a string map bound to the ciphertext as additional authenticated data',
  maxProperties: 64,
});

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Str({ description: 'Stable error code from the error catalog' }),
    message: Str(),
    requestId: Str(),
    retryAfterSeconds: Type.Optional(Type.Integer({ description: 'LockedOut: seconds until another attempt is allowed (also the Retry-After header)' })),
    requiredApprovals: Type.Optional(Type.Integer({ description: 'ApprovalRequired: how many approvals the action needs' })),
    rule: Type.Optional(Str({ description: 'PolicyViolation (and ApprovalRequired / MfaRequired caused by the policy): the rule id, e.g. classifications.restricted.allowedKeySpecs' })),
    field: Type.Optional(Str({ description: 'PolicyViolation: the rule member that refused, e.g. allowedKeySpecs' })),
  }),
});

export const ItemErrorSchema = Type.Object({ code: Str(), message: Str() });

const IsoOrNull = Type.Union([Str({ format: 'date-time' }), Type.Null()]);
const Lit = <T extends readonly string[]>(xs: T, description?: string) =>
  Type.Union(xs.map((x) => Type.Literal(x)) as Array<TLiteral<T[number]>>, description !== undefined ? { description } : {});

export const KeyOut = Type.Object({
  id: Str({ description: 'Key id (UUID)' }),
  aliases: Type.Array(Str()),
  description: Str(),
  spec: Lit(KEY_SPECS),
  usage: Lit(KEY_USAGES),
  state: Lit(KEY_STATES),
  origin: Lit(KEY_ORIGINS),
  exportable: Type.Boolean(),
  tags: Type.Record(Type.String(), Type.String()),
  createdAt: Str({ format: 'date-time' }),
  updatedAt: Str({ format: 'date-time' }),
  primaryVersion: Type.Integer({ description: '0 while an EXTERNAL key waits for its material' }),
  minDecryptionVersion: Type.Integer(),
  rotationPeriodDays: Type.Union([Type.Integer(), Type.Null()]),
  nextRotationAt: IsoOrNull,
  usageLimit: Type.Union([Type.Number({ description: 'Encryptions per version before automatic rotation' }), Type.Null()]),
  deletionAt: IsoOrNull,
  compromisedAt: IsoOrNull,
  revocationReason: Type.Union([Str(), Type.Null()]),
  materialExpiresAt: IsoOrNull,
  lastUsedAt: IsoOrNull,
  classification: Type.Union([Lit(CLASSIFICATIONS), Type.Null()], { description: 'Data classification (policy scope); null = unclassified' }),
  environment: Type.Union([Lit(ENVIRONMENTS), Type.Null()], { description: 'Environment (policy scope); null = none' }),
  protection: Lit(PROTECTIONS),
});

export const VersionOut = Type.Object({
  version: Type.Integer(),
  state: Lit(['Enabled', 'Disabled', 'Destroyed'] as const),
  primary: Type.Boolean(),
  createdAt: Str({ format: 'date-time' }),
  usageCount: Type.Integer(),
  lastUsedAt: IsoOrNull,
  destroyedAt: IsoOrNull,
});
export const VersionsOut = Type.Object({ keyId: Str(), versions: Type.Array(VersionOut) });
export const VersionEnvelope = Type.Object({ keyId: Str(), version: VersionOut });
export const VersionParams = Type.Object({ keyRef: Str({ minLength: 1, maxLength: 512 }), version: Str({ pattern: '^[0-9]{1,9}$' }) });

export const KeyEnvelope = Type.Object({ key: KeyOut });
export const KeyListOut = Type.Object({ keys: Type.Array(KeyOut), nextCursor: Type.Union([Str(), Type.Null()]) });

export const KeyRefParams = Type.Object({ keyRef: Str({ description: 'Key id or alias (alias/...)', minLength: 1, maxLength: 512 }) });

export const CreateKeyBody = Type.Object(
  {
    description: Type.Optional(Str({ maxLength: 8192 })),
    alias: Type.Optional(
      Type.Union([Str({ pattern: ALIAS_PATTERN, maxLength: 256 }), Type.Array(Str({ pattern: ALIAS_PATTERN, maxLength: 256 }), { maxItems: 50 })]),
    ),
    tags: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }), { maxProperties: 50 })),
    spec: Type.Optional(Lit(KEY_SPECS)),
    usage: Type.Optional(Lit(KEY_USAGES)),
    origin: Type.Optional(Lit(KEY_ORIGINS)),
    exportable: Type.Optional(Type.Boolean()),
    rotationPeriodDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'Default: the policy scope\'s maxRotationDays, if it has one' })),
    usageLimit: Type.Optional(Type.Integer({ minimum: 1 })),
    classification: Type.Optional(Lit(CLASSIFICATIONS)),
    environment: Type.Optional(Lit(ENVIRONMENTS)),
    protection: Type.Optional(Lit(PROTECTIONS)),
  },
  { additionalProperties: false },
);

export const UpdateKeyBody = Type.Object(
  {
    description: Type.Optional(Str({ maxLength: 8192 })),
    rotationPeriodDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 3650 }), Type.Null()])),
    minDecryptionVersion: Type.Optional(Type.Integer({ minimum: 1 })),
    usageLimit: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    classification: Type.Optional(Lit(CLASSIFICATIONS, 'Only to a stricter classification')),
    environment: Type.Optional(Lit(ENVIRONMENTS, 'Only when the key has none (set once)')),
  },
  { additionalProperties: false },
);
export const ScheduleDeletionBody = Type.Object({ days: Type.Optional(Type.Integer({ minimum: 7, maximum: 30 })) }, { additionalProperties: false });
export const RevokeBody = Type.Object(
  { reason: Lit(['compromised', 'superseded'] as const), compromisedAt: Type.Optional(Str({ format: 'date-time' })) },
  { additionalProperties: false },
);
export const TagBody = Type.Object(
  { tags: Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }), { maxProperties: 50 }) },
  { additionalProperties: false },
);
export const UntagBody = Type.Object({ tagKeys: Type.Array(Str({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 50 }) }, { additionalProperties: false });
export const AliasBody = Type.Object(
  { alias: Str({ pattern: ALIAS_PATTERN, maxLength: 256 }), key: Str({ minLength: 1, maxLength: 512, description: 'Key id or alias' }) },
  { additionalProperties: false },
);
export const AliasOut = Type.Object({ alias: Str(), keyId: Str() });
export const AliasListOut = Type.Object({ aliases: Type.Array(AliasOut) });
export const AliasQuery = Type.Object({ alias: Str({ pattern: ALIAS_PATTERN, maxLength: 256 }) }, { additionalProperties: false });

const MessageType = Type.Optional(Lit(['RAW', 'DIGEST'] as const));
const Algorithm = Str({ minLength: 1, maxLength: 64 });
export const SignBody = Type.Object({ message: B64('Message (RAW, up to 4096 bytes) or digest (DIGEST)'), messageType: MessageType, algorithm: Algorithm }, { additionalProperties: false });
export const SignOut = Type.Object({ signature: Str(), keyId: Str(), keyVersion: Type.Integer(), algorithm: Str() });
export const VerifyBody = Type.Object(
  { message: B64('Message or digest'), messageType: MessageType, algorithm: Algorithm, signature: B64('Signature'), keyVersion: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false },
);
export const ValidOut = Type.Object({ valid: Type.Boolean(), keyId: Str(), keyVersion: Type.Integer() });
export const PublicKeyQuery = Type.Object({ version: Type.Optional(Str({ pattern: '^[0-9]{1,9}$' })) }, { additionalProperties: false });
export const PublicKeyOut = Type.Object({ publicKey: Str({ description: 'SPKI DER, base64' }), pem: Str(), keyId: Str(), keyVersion: Type.Integer(), spec: Str(), usage: Str() });
export const MacBody = Type.Object({ message: B64('Message, up to 4096 bytes'), algorithm: Algorithm }, { additionalProperties: false });
export const MacOut = Type.Object({ mac: Str(), keyId: Str(), keyVersion: Type.Integer(), algorithm: Str() });
export const VerifyMacBody = Type.Object(
  { message: B64('Message'), algorithm: Algorithm, mac: B64('MAC'), keyVersion: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false },
);
export const ReWrapBody = Type.Object({ ciphertext: B64('Ciphertext of this key'), context: Type.Optional(Context) }, { additionalProperties: false });
export const ReWrapOut = Type.Object({ ciphertext: Str(), keyId: Str(), keyVersion: Type.Integer(), previousKeyVersion: Type.Integer() });
export const ImportParamsBody = Type.Object({ wrappingAlgorithm: Type.Optional(Lit(WRAPPING_ALGORITHMS)) }, { additionalProperties: false });
export const ImportParamsOut = Type.Object({ importToken: Str(), publicKey: Str(), wrappingAlgorithm: Str(), keyId: Str(), expiresAt: Str({ format: 'date-time' }) });
export const ImportBody = Type.Object(
  { importToken: Str({ minLength: 1, maxLength: 64 }), encryptedMaterial: B64('Key material wrapped under the import public key'), validTo: Type.Optional(Str({ format: 'date-time' })) },
  { additionalProperties: false },
);
export const ExportBody = Type.Object({ publicKey: B64('RSA public key (SPKI DER) to wrap the material under') }, { additionalProperties: false });
export const ExportOut = Type.Object({ wrappedMaterial: Str(), wrappingAlgorithm: Str(), keyId: Str(), keyVersion: Type.Integer() });
export const UnusedQuery = Type.Object({ unusedForDays: Str({ pattern: '^[0-9]{1,5}$' }) }, { additionalProperties: false });
export const PurgeBody = Type.Object(
  { unusedForDays: Type.Integer({ minimum: 1, maximum: 36500 }), pendingWindowDays: Type.Optional(Type.Integer({ minimum: 7, maximum: 30 })) },
  { additionalProperties: false },
);
export const UnusedOut = Type.Object({ keys: Type.Array(KeyOut), unusedForDays: Type.Integer() });
export const PurgeOut = Type.Object({ scheduled: Type.Array(KeyOut) });
export const AliasDeletedOut = Type.Object({ deleted: Str() });
export const JobsOut = Type.Object({
  jobs: Type.Array(
    Type.Object({
      name: Str(),
      intervalMs: Type.Integer(),
      nextRunAt: IsoOrNull,
      lastRunAt: IsoOrNull,
      lastStatus: Type.Union([Str(), Type.Null()]),
      lastError: Type.Union([Str(), Type.Null()]),
    }),
  ),
});

export const ListQuery = Type.Object(
  {
    limit: Type.Optional(Str({ pattern: '^[0-9]{1,6}$', description: 'Page size, 1-1000 (default 100)' })),
    cursor: Type.Optional(Str({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export const KeyListQuery = Type.Object(
  { ...ListQuery.properties, classification: Type.Optional(Lit(CLASSIFICATIONS)), environment: Type.Optional(Lit(ENVIRONMENTS)) },
  { additionalProperties: false },
);

const EncryptItem = Type.Object(
  { plaintext: B64('Plaintext, 1-4096 bytes'), context: Type.Optional(Context), ref: Type.Optional(Str({ maxLength: 256 })) },
  { additionalProperties: false },
);
const DecryptItem = Type.Object(
  { ciphertext: B64('Ciphertext'), context: Type.Optional(Context), ref: Type.Optional(Str({ maxLength: 256 })) },
  { additionalProperties: false },
);

export const EncryptBody = Type.Object(
  {
    plaintext: Type.Optional(B64('Plaintext, 1-4096 bytes')),
    context: Type.Optional(Context),
    algorithm: Type.Optional(Str({ maxLength: 64, description: 'RSAES_OAEP_SHA_256 for RSA keys; SYMMETRIC_DEFAULT (default) otherwise' })),
    items: Type.Optional(Type.Array(EncryptItem, { maxItems: 1000, description: 'Batch form: up to 1000 items, each with its own result' })),
  },
  { additionalProperties: false, description: 'Either plaintext (single) or items (batch)' },
);

export const DecryptBody = Type.Object(
  {
    ciphertext: Type.Optional(B64('Ciphertext')),
    context: Type.Optional(Context),
    key: Type.Optional(Str({ minLength: 1, maxLength: 512, description: 'RSA keys only: the key the raw OAEP ciphertext is for' })),
    algorithm: Type.Optional(Str({ maxLength: 64, description: 'RSA keys only: RSAES_OAEP_SHA_256' })),
    keyVersion: Type.Optional(Type.Integer({ minimum: 1 })),
    items: Type.Optional(Type.Array(DecryptItem, { maxItems: 1000 })),
  },
  { additionalProperties: false, description: 'Either ciphertext (single) or items (batch)' },
);

const Versioned = { keyId: Str(), keyVersion: Type.Integer() };
export const EncryptOut = Type.Object({
  ciphertext: Type.Optional(Str()),
  keyId: Type.Optional(Str()),
  keyVersion: Type.Optional(Type.Integer()),
  items: Type.Optional(
    Type.Array(
      Type.Object({
        ref: Str(),
        ciphertext: Type.Optional(Str()),
        keyId: Type.Optional(Str()),
        keyVersion: Type.Optional(Type.Integer()),
        error: Type.Optional(ItemErrorSchema),
      }),
    ),
  ),
});
export const DecryptOut = Type.Object({
  plaintext: Type.Optional(Str()),
  keyId: Type.Optional(Str()),
  keyVersion: Type.Optional(Type.Integer()),
  items: Type.Optional(
    Type.Array(
      Type.Object({
        ref: Str(),
        plaintext: Type.Optional(Str()),
        keyId: Type.Optional(Str()),
        keyVersion: Type.Optional(Type.Integer()),
        error: Type.Optional(ItemErrorSchema),
      }),
    ),
  ),
});

export const DataKeyBody = Type.Object(
  {
    spec: Type.Optional(Type.Union([Type.Literal('AES_256'), Type.Literal('AES_128')])),
    bytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    includePlaintext: Type.Optional(Type.Boolean({ default: true })),
    context: Type.Optional(Context),
  },
  { additionalProperties: false },
);
export const DataKeyOut = Type.Object({ plaintext: Type.Optional(Str()), ciphertext: Str(), ...Versioned });

export const DataKeyPairBody = Type.Object(
  {
    keyPairSpec: Type.Union(['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384'].map((s) => Type.Literal(s)), { description: 'the data key pair to generate' }),
    includePlaintext: Type.Optional(Type.Boolean({ default: true })),
    context: Type.Optional(Context),
  },
  { additionalProperties: false },
);
export const DataKeyPairOut = Type.Object({
  publicKey: Str({ description: 'SPKI DER, base64' }),
  privateKey: Type.Optional(Str({ description: 'PKCS#8 DER, base64 (once; omitted when includePlaintext is false)' })),
  ciphertext: Str({ description: 'the PKCS#8 private key encrypted under the KMS key: decrypt gives it back' }),
  keyPairSpec: Str(),
  ...Versioned,
});

export const ReEncryptBody = Type.Object(
  {
    ciphertext: B64('Ciphertext to re-encrypt'),
    context: Type.Optional(Context),
    destinationKey: Str({ minLength: 1, maxLength: 512, description: 'Destination key id or alias' }),
    destinationContext: Type.Optional(Context),
  },
  { additionalProperties: false },
);
export const ReEncryptOut = Type.Object({ ciphertext: Str(), ...Versioned, sourceKeyId: Str(), sourceKeyVersion: Type.Integer() });

export const RandomBody = Type.Object({ bytes: Type.Integer({ minimum: 1, maximum: 1024 }) }, { additionalProperties: false });
export const RandomOut = Type.Object({ random: Str() });

export const SealStatusOut = Type.Object({
  initialized: Type.Boolean(),
  sealed: Type.Boolean(),
  sealType: Type.Union([Str(), Type.Null()]),
  threshold: Type.Integer(),
  shares: Type.Integer(),
  progress: Type.Integer(),
  sealReason: Type.Optional(Str({ description: 'pkcs11 seal: why auto-unseal has not succeeded yet' })),
});
export const HsmHealthOut = Type.Object({
  ok: Type.Boolean(),
  latencyMs: Type.Union([Type.Number(), Type.Null()]),
  tokenLabel: Str(),
  error: Type.Optional(Str()),
});
/** This node in the cluster (docs/ha.md): the leader runs the scheduled jobs; every node serves requests. */
export const ClusterOut = Type.Object({
  node: Str({ description: 'host:pid:random, unique per running process' }),
  role: Type.Union([Type.Literal('leader'), Type.Literal('follower')]),
  backend: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')]),
});
export const HealthOut = Type.Object({
  initialized: Type.Boolean(),
  sealed: Type.Boolean(),
  sealType: Type.Union([Str(), Type.Null()]),
  version: Str(),
  serverTime: Str({ format: 'date-time' }),
  sealReason: Type.Optional(Str({ description: 'pkcs11 seal: why auto-unseal has not succeeded yet' })),
  hsm: Type.Optional(HsmHealthOut),
  cluster: Type.Optional(ClusterOut),
});
export const SealedOut = Type.Object({ sealed: Type.Boolean() });
export const RevokeRootOut = Type.Object({ revoked: Type.Integer({ description: 'How many root tokens were revoked' }) });
/** Root token generation (quorum of unseal shares). `rootToken` appears once, on the completing update. */
export const GenerateRootOut = Type.Object({
  started: Type.Boolean(),
  nonce: Type.Union([Type.String(), Type.Null()]),
  required: Type.Integer(),
  progress: Type.Integer(),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  complete: Type.Optional(Type.Boolean()),
  rootToken: Type.Optional(Type.String({ description: 'Shown once' })),
});
export const GenerateRootUpdateBody = Type.Object(
  { nonce: Type.String({ minLength: 1, maxLength: 64 }), share: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
/** shares and threshold: required for the shamir seal, refused for the pkcs11 seal (no shares). */
export const InitBody = Type.Object(
  { shares: Type.Optional(Type.Integer({ minimum: 1, maximum: 255 })), threshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 255 })) },
  { additionalProperties: false },
);
export const InitOut = Type.Object({ shares: Type.Array(Str()), rootToken: Str(), threshold: Type.Integer(), message: Type.Optional(Str()) });
export const UnsealBody = Type.Object(
  { share: Type.Optional(Str({ maxLength: 1024 })), reset: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export type CreateKeyBodyT = Static<typeof CreateKeyBody>;
export type UpdateKeyBodyT = Static<typeof UpdateKeyBody>;
export type EncryptBodyT = Static<typeof EncryptBody>;
export type DecryptBodyT = Static<typeof DecryptBody>;
export type DataKeyBodyT = Static<typeof DataKeyBody>;
export type ReEncryptBodyT = Static<typeof ReEncryptBody>;

/** Standard error responses attached to every route for the OpenAPI document. */
export function withErrors(ok: Record<number, TSchema>): Record<number, TSchema> {
  return { ...ok, '4xx': ErrorBody, '5xx': ErrorBody } as Record<number, TSchema>;
}
