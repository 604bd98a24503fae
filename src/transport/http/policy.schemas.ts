/**
 * TypeBox schemas of the policy document routes. The document's own schema is
 * src/policy/policy.model.ts (PolicyDocumentSchema); the body is checked for shape here and
 * validated completely (schema and semantics) by the server, which also accepts it as YAML text.
 */
import { Type } from '@sinclair/typebox';
import { PolicyDocumentSchema } from '../../policy/policy.model.js';
export { KeyRefParams } from './schemas.js';

const Str = (o: Parameters<typeof Type.String>[0] = {}) => Type.String(o);

export const PolicyVersionOut = Type.Object({
  version: Type.Integer({ description: '0 = the built-in default policy (never changed)' }),
  hash: Str({ description: 'SHA-256 (hex) of the canonical JSON (RFC 8785) of the document' }),
  createdAt: Type.Union([Str({ format: 'date-time' }), Type.Null()], { description: 'null for version 0' }),
  createdBy: Type.Union([Str(), Type.Null()], { description: 'principal id of whoever stored it; null for version 0' }),
});
export const PolicyOut = Type.Object({ ...PolicyVersionOut.properties, document: PolicyDocumentSchema });
export const PolicyVersionListOut = Type.Object({ versions: Type.Array(PolicyVersionOut) });
export const PolicyVersionParams = Type.Object({ n: Str({ pattern: '^[0-9]{1,9}$' }) });

/** PUT /v1/policy: the document itself (JSON), or `{ "yaml": "..." }`. */
export const PutPolicyBody = Type.Union([
  Type.Object({ yaml: Str({ minLength: 1, maxLength: 1_048_576, description: 'the policy document as YAML (or JSON) text' }) }, { additionalProperties: false }),
  Type.Object({ apiVersion: Str({ maxLength: 64 }), kind: Str({ maxLength: 64 }) }, { additionalProperties: true, description: 'the policy document as JSON (docs/policy.md)' }),
]);

const Limit = Type.Object({ value: Type.Integer(), rule: Str({ description: 'the rule that sets it' }) });
/** GET /v1/keys/{keyRef}/policy: what the policy in force means for one key. */
export const KeyPolicyOut = Type.Object({
  keyId: Str(),
  classification: Type.Union([Str(), Type.Null()]),
  environment: Type.Union([Str(), Type.Null()]),
  protection: Str(),
  policyVersion: Type.Integer(),
  policyHash: Str(),
  layers: Type.Array(Str(), { description: 'the document layers that apply to the key\'s scope, in order' }),
  limits: Type.Object(
    {
      maxRotationDays: Type.Optional(Limit),
      minDeletionWindowDays: Type.Optional(Limit),
      maxJitGrantSeconds: Type.Optional(Limit),
      maxGrantDays: Type.Optional(Limit),
      unusedDays: Type.Optional(Limit),
      dataKeyMaxLifetimeSeconds: Type.Optional(Limit),
    },
    { description: 'the strictest value of each limit over the layers; dataKeyMaxLifetimeSeconds is the hint for SDK data-key caches' },
  ),
  violations: Type.Array(Type.Object({ rule: Str(), field: Str(), message: Str() }), { description: 'rules the key\'s properties break now' }),
});
