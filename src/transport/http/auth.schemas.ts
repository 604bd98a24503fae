/** TypeBox schemas of the access-control REST routes (principals, grants, OAuth token endpoint). */
import { Type, type TLiteral } from '@sinclair/typebox';
import { GRANT_OPERATIONS, PRINCIPAL_KINDS, PRINCIPAL_NAME_PATTERN, ROLES } from '../../auth/principal.model.js';

const Lit = <T extends readonly string[]>(xs: T) => Type.Union(xs.map((x) => Type.Literal(x)) as Array<TLiteral<T[number]>>);
const Name = Type.String({ pattern: PRINCIPAL_NAME_PATTERN, description: 'Principal name' });
const RoleList = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 5, description: `Roles: ${ROLES.join(', ')}` });

export const PrincipalOut = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Lit(PRINCIPAL_KINDS),
  roles: Type.Array(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  disabled: Type.Boolean(),
});
export const PrincipalEnvelope = Type.Object({ principal: PrincipalOut });
export const PrincipalListOut = Type.Object({ principals: Type.Array(PrincipalOut) });
export const CreatePrincipalBody = Type.Object(
  { name: Name, kind: Type.Optional(Type.Literal('service-account')), roles: RoleList },
  { additionalProperties: false },
);
export const CredentialsOut = Type.Object({
  principal: PrincipalOut,
  clientId: Type.String(),
  clientSecret: Type.String({ description: 'Shown once; only its SHA-256 is stored' }),
});
export const RolesBody = Type.Object({ roles: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 5 }) }, { additionalProperties: false });
export const NameParams = Type.Object({ name: Type.String({ maxLength: 200 }) });
export const NameRoleParams = Type.Object({ name: Type.String({ maxLength: 200 }), role: Type.String({ maxLength: 64 }) });

export const GrantOut = Type.Object({
  id: Type.String(),
  keyId: Type.String(),
  principalId: Type.String(),
  operations: Type.Array(Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export const GrantEnvelope = Type.Object({ grant: GrantOut });
export const GrantListOut = Type.Object({ grants: Type.Array(GrantOut) });
export const CreateGrantBody = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 300, description: 'Key id or alias' }),
    principal: Name,
    operations: Type.Array(Type.String({ maxLength: 40 }), { minItems: 1, maxItems: GRANT_OPERATIONS.length, description: `Any of ${GRANT_OPERATIONS.join(', ')}` }),
  },
  { additionalProperties: false },
);
export const GrantQuery = Type.Object({ key: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })) }, { additionalProperties: false });
export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** RFC 6749 §4.4.2 access token request (JSON or application/x-www-form-urlencoded). */
export const TokenBody = Type.Object(
  {
    grant_type: Type.String({ maxLength: 64 }),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
    client_secret: Type.Optional(Type.String({ maxLength: 256 })),
    scope: Type.Optional(Type.String({ maxLength: 256 })),
    expires_in: Type.Optional(Type.Union([Type.Integer(), Type.String({ pattern: '^[0-9]{1,6}$' })], { description: 'Requested lifetime in seconds (60–3600)' })),
  },
  { additionalProperties: false },
);
/** RFC 6749 §5.1 successful response. */
export const TokenOut = Type.Object({ access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() });
/** RFC 7009 §2.1 revocation request. */
export const RevokeTokenBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 4096 }), token_type_hint: Type.Optional(Type.String({ maxLength: 32 })) },
  { additionalProperties: false },
);
export const RevokeTokenOut = Type.Object({ revoked: Type.Boolean() });
