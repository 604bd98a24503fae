/** TypeBox schemas of the grant routes (POST/GET /v1/grants, DELETE /v1/grants/{id}). */
import { Type } from '@sinclair/typebox';
import { MAX_CONDITION_PAIRS, MAX_SELECTOR_PAIRS, MAX_SOURCE_CIDRS, MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH } from '../../auth/grant-conditions.js';
import { GRANT_OPERATIONS, PRINCIPAL_NAME_PATTERN } from '../../auth/principal.model.js';

const Iso = (description: string) => Type.String({ format: 'date-time', description });
const Pairs = (description: string) =>
  Type.Record(Type.String({ maxLength: 2048 }), Type.String({ maxLength: 8192 }), { minProperties: 1, maxProperties: MAX_CONDITION_PAIRS, description });
const Selector = Type.Record(Type.String({ minLength: 1, maxLength: MAX_TAG_KEY_LENGTH }), Type.String({ maxLength: MAX_TAG_VALUE_LENGTH }), {
  minProperties: 1,
  maxProperties: MAX_SELECTOR_PAIRS,
  description: 'Every key whose current tags contain all these pairs (evaluated at each call)',
});
const StringMap = Type.Record(Type.String(), Type.String());

export const ConditionsIn = Type.Object(
  {
    contextEquals: Type.Optional(Pairs('The operation\u2019s encryption context must equal exactly these pairs (AWS EncryptionContextEquals)')),
    contextIncludes: Type.Optional(Pairs('The operation\u2019s encryption context must contain these pairs (AWS EncryptionContextSubset)')),
    sourceCidrs: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: MAX_SOURCE_CIDRS, description: 'IPv4/IPv6 addresses or CIDR ranges the caller must come from' }),
    ),
    notBefore: Type.Optional(Iso('Valid from (inclusive)')),
    notAfter: Type.Optional(Iso('Valid until (exclusive); must be in the future')),
  },
  { additionalProperties: false },
);

export const CreateGrantBody = Type.Object(
  {
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Key id or alias (or give tagSelector)' })),
    tagSelector: Type.Optional(Selector),
    principal: Type.String({ pattern: PRINCIPAL_NAME_PATTERN, description: 'Grantee principal name (holds the application role)' }),
    operations: Type.Array(Type.String({ maxLength: 40 }), { minItems: 1, maxItems: GRANT_OPERATIONS.length, description: `Any of ${GRANT_OPERATIONS.join(', ')}` }),
    conditions: Type.Optional(ConditionsIn),
  },
  { additionalProperties: false },
);
export type CreateGrantBodyT = {
  key?: string;
  tagSelector?: Record<string, string>;
  principal: string;
  operations: string[];
  conditions?: { contextEquals?: Record<string, string>; contextIncludes?: Record<string, string>; sourceCidrs?: string[]; notBefore?: string; notAfter?: string };
};

export const GrantOut = Type.Object({
  id: Type.String(),
  keyId: Type.Union([Type.String(), Type.Null()], { description: 'The key granted; null for a tag-selector grant' }),
  tagSelector: Type.Union([StringMap, Type.Null()]),
  principalId: Type.String(),
  operations: Type.Array(Type.String()),
  conditions: Type.Object({
    contextEquals: Type.Optional(StringMap),
    contextIncludes: Type.Optional(StringMap),
    sourceCidrs: Type.Optional(Type.Array(Type.String())),
    notBefore: Type.Optional(Type.String({ format: 'date-time' })),
    notAfter: Type.Optional(Type.String({ format: 'date-time' })),
  }),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Last allowed use (recorded every few seconds)' }),
  approvalRequestId: Type.Union([Type.String(), Type.Null()], { description: 'The approval request of a just-in-time grant' }),
});
export const GrantEnvelope = Type.Object({ grant: GrantOut });
export const GrantListOut = Type.Object({ grants: Type.Array(GrantOut) });
export const GrantQuery = Type.Object(
  {
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Grants that apply to this key (naming it or selecting it by its tags)' })),
    principal: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Grants held by this principal (name)' })),
  },
  { additionalProperties: false },
);
export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
