/**
 * TypeBox schemas of the native REST API. The same objects validate requests (fastify/ajv),
 * serialize responses (fast-json-stringify) and generate GET /v1/openapi.json (@fastify/swagger).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ALIAS_PATTERN, KEY_SPECS, KEY_STATES, KEY_USAGES } from '../../keys/key.model.js';

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
  }),
});

export const ItemErrorSchema = Type.Object({ code: Str(), message: Str() });

export const KeyOut = Type.Object({
  id: Str({ description: 'Key id (UUID)' }),
  aliases: Type.Array(Str()),
  description: Str(),
  spec: Type.Union(KEY_SPECS.map((s) => Type.Literal(s))),
  usage: Type.Union(KEY_USAGES.map((s) => Type.Literal(s))),
  state: Type.Union(KEY_STATES.map((s) => Type.Literal(s))),
  origin: Str(),
  tags: Type.Record(Type.String(), Type.String()),
  createdAt: Str({ format: 'date-time' }),
  updatedAt: Str({ format: 'date-time' }),
  primaryVersion: Type.Integer(),
});

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
    spec: Type.Optional(Type.Union(KEY_SPECS.map((s) => Type.Literal(s)))),
  },
  { additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    limit: Type.Optional(Str({ pattern: '^[0-9]{1,6}$', description: 'Page size, 1-1000 (default 100)' })),
    cursor: Type.Optional(Str({ maxLength: 512 })),
  },
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
    items: Type.Optional(Type.Array(EncryptItem, { maxItems: 1000, description: 'Batch form: up to 1000 items, each with its own result' })),
  },
  { additionalProperties: false, description: 'Either plaintext (single) or items (batch)' },
);

export const DecryptBody = Type.Object(
  {
    ciphertext: Type.Optional(B64('Ciphertext')),
    context: Type.Optional(Context),
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
});
export const HealthOut = Type.Object({
  initialized: Type.Boolean(),
  sealed: Type.Boolean(),
  sealType: Type.Union([Str(), Type.Null()]),
  version: Str(),
  serverTime: Str({ format: 'date-time' }),
});
export const SealedOut = Type.Object({ sealed: Type.Boolean() });
export const InitBody = Type.Object(
  { shares: Type.Integer({ minimum: 1, maximum: 255 }), threshold: Type.Integer({ minimum: 1, maximum: 255 }) },
  { additionalProperties: false },
);
export const InitOut = Type.Object({ shares: Type.Array(Str()), rootToken: Str(), threshold: Type.Integer() });
export const UnsealBody = Type.Object(
  { share: Type.Optional(Str({ maxLength: 1024 })), reset: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export type CreateKeyBodyT = Static<typeof CreateKeyBody>;
export type EncryptBodyT = Static<typeof EncryptBody>;
export type DecryptBodyT = Static<typeof DecryptBody>;
export type DataKeyBodyT = Static<typeof DataKeyBody>;
export type ReEncryptBodyT = Static<typeof ReEncryptBody>;

/** Standard error responses attached to every route for the OpenAPI document. */
export function withErrors(ok: Record<number, TSchema>): Record<number, TSchema> {
  return { ...ok, '4xx': ErrorBody, '5xx': ErrorBody } as Record<number, TSchema>;
}
