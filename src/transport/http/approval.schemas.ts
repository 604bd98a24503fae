/** TypeBox schemas of the approval-request and access-policy routes (shapes and sizes; ops/ checks meaning). */
import { Type } from '@sinclair/typebox';
import { APPROVABLE_ACTIONS } from '../../auth/access-policy.js';
import { REQUEST_ACTIONS, REQUEST_STATUSES } from '../../auth/approval.model.js';
import { GRANT_OPERATIONS } from '../../auth/principal.model.js';

const Str = (o: Parameters<typeof Type.String>[0] = {}) => Type.String(o);
const Seconds = (description: string) => Type.Integer({ description: `${description}, seconds` });
const IsoOrNull = Type.Union([Str({ format: 'date-time' }), Type.Null()]);
const StrOrNull = Type.Union([Str(), Type.Null()]);

export const AccessPolicySchema = Type.Object(
  {
    mfaRequiredRoles: Type.Array(Str({ maxLength: 64 }), { maxItems: 20, description: 'Roles whose users must enrol MFA' }),
    mfaGatedActions: Type.Array(Str({ maxLength: 64 }), { maxItems: 100, description: 'Actions for which a user must present a fresh TOTP code' }),
    stepUpMaxAgeSeconds: Seconds('How long a TOTP verification counts as fresh (30–3600)'),
    approvals: Type.Object(Object.fromEntries(APPROVABLE_ACTIONS.map((a) => [a, Type.Optional(Type.Integer({ minimum: 0, maximum: 10 }))])), {
      additionalProperties: false,
      description: 'Approvals (M, 0–10) each sensitive action needs; 0 or absent = none',
    }),
    jitApprovals: Type.Integer({ description: 'Approvals a just-in-time grant needs (1–10)' }),
    jitMaxDurationSeconds: Seconds('Longest just-in-time grant (60–604800)'),
    requestTtlSeconds: Seconds('How long a request stays open before it expires (300–2592000)'),
  },
  { additionalProperties: false },
);

export const AccessPolicyOut = Type.Object({
  policy: AccessPolicySchema,
  version: Type.Integer({ description: '0 = the built-in defaults (never changed)' }),
  updatedAt: IsoOrNull,
  updatedBy: StrOrNull,
});
export const PutAccessPolicyBody = Type.Object({ policy: AccessPolicySchema }, { additionalProperties: false });

export const CreateRequestBody = Type.Object(
  {
    action: Str({ maxLength: 32, description: `One of ${REQUEST_ACTIONS.join(', ')}` }),
    key: Type.Optional(Str({ minLength: 1, maxLength: 300, description: 'Key id or alias (key actions and jit-grant)' })),
    reason: Str({ minLength: 1, maxLength: 1024, description: 'Why: shown to the approvers' }),
    duration: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'jit-grant: lifetime of the grant once approved, seconds' })),
    params: Type.Optional(
      Type.Object(
        {
          pendingWindowDays: Type.Optional(Type.Integer({ description: 'schedule-deletion: waiting period, 7–30 days' })),
          reason: Type.Optional(Str({ maxLength: 32, description: 'revoke: compromised or superseded' })),
          publicKey: Type.Optional(Str({ maxLength: 8192, description: 'export: RSA public key, SPKI DER (standard base64)' })),
          policy: Type.Optional(AccessPolicySchema),
          document: Type.Optional(Type.Unknown({ description: 'policy-document-change: the complete new policy document (docs/policy.md); validated by the server' })),
          principal: Type.Optional(Str({ maxLength: 200, description: 'role-bind / role-unbind: principal name' })),
          role: Type.Optional(Str({ maxLength: 64, description: 'role-bind / role-unbind: role' })),
          operations: Type.Optional(Type.Array(Str({ maxLength: 40 }), { minItems: 1, maxItems: GRANT_OPERATIONS.length, description: `jit-grant: any of ${GRANT_OPERATIONS.join(', ')}` })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const ApprovalOut = Type.Object({ principalId: Str(), name: Str(), at: Str({ format: 'date-time' }) });

export const RequestOut = Type.Object({
  id: Str(),
  action: Str(),
  key: StrOrNull,
  keyId: StrOrNull,
  params: Type.Unknown({ description: 'Action-specific parameters' }),
  requesterId: Str(),
  requesterName: Str(),
  reason: Str(),
  requiredApprovals: Type.Integer(),
  approvals: Type.Array(ApprovalOut),
  denial: Type.Union([Type.Object({ principalId: Str(), name: Str(), at: Str({ format: 'date-time' }), reason: StrOrNull }), Type.Null()]),
  status: Str({ description: REQUEST_STATUSES.join(' | ') }),
  result: Type.Unknown({ description: 'Summary of the execution, or {error: {code, message}} when it failed; null before' }),
  createdAt: Str({ format: 'date-time' }),
  expiresAt: Str({ format: 'date-time' }),
  decidedAt: IsoOrNull,
});
export const RequestEnvelope = Type.Object({ request: RequestOut });
export const RequestListOut = Type.Object({ requests: Type.Array(RequestOut) });
export const RequestQuery = Type.Object({ status: Type.Optional(Str({ maxLength: 16, description: REQUEST_STATUSES.join(' | ') })) }, { additionalProperties: false });
export const RequestIdParams = Type.Object({ id: Str({ maxLength: 64 }) });
export const DenyBody = Type.Object({ reason: Type.Optional(Str({ maxLength: 1024 })) }, { additionalProperties: false });
