/** TypeBox schemas of the access-control REST routes (principals, OAuth token endpoint; grants: grants.schemas.ts). */
import { Type, type TLiteral } from '@sinclair/typebox';
import { PRINCIPAL_KINDS, PRINCIPAL_NAME_PATTERN, ROLES } from '../../auth/principal.model.js';
import { ENVIRONMENTS } from '../../policy/policy.model.js';

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
  environment: Type.Union([Lit(ENVIRONMENTS), Type.Null()], { description: 'Environment the principal works in (policy principalEnvironments); null = none' }),
});
export const PrincipalEnvelope = Type.Object({ principal: PrincipalOut });
export const PrincipalListOut = Type.Object({ principals: Type.Array(PrincipalOut) });
const PublicKeyPem = Type.String({ minLength: 1, maxLength: 16384, description: 'SPKI PEM public key for signed JWT client assertions: Ed25519 (EdDSA), P-256 (ES256) or RSA ≥ 2048 bits (RS256)' });
export const CreatePrincipalBody = Type.Object(
  { name: Name, kind: Type.Optional(Type.Literal('service-account')), roles: RoleList, publicKey: Type.Optional(PublicKeyPem), environment: Type.Optional(Lit(ENVIRONMENTS)) },
  { additionalProperties: false },
);
/** PATCH /v1/principals/{name}: the principal's environment (null clears it). */
export const UpdatePrincipalBody = Type.Object({ environment: Type.Union([Lit(ENVIRONMENTS), Type.Null()]) }, { additionalProperties: false });
/** A registered client-assertion public key (RFC 7523); `id` is the JWS `kid` a client may send. */
export const ClientKeyOut = Type.Object({
  id: Type.String(),
  alg: Type.String(),
  fingerprint: Type.String({ description: 'SHA-256 of the SPKI DER, base64url' }),
  createdAt: Type.String({ format: 'date-time' }),
});
export const CredentialsOut = Type.Object({
  principal: PrincipalOut,
  clientId: Type.String(),
  clientSecret: Type.String({ description: 'Shown once; only its SHA-256 is stored' }),
  key: Type.Optional(ClientKeyOut),
});
export const ClientKeyBody = Type.Object({ publicKey: PublicKeyPem }, { additionalProperties: false });
export const ClientKeyEnvelope = Type.Object({ key: ClientKeyOut });
export const ClientKeyListOut = Type.Object({ keys: Type.Array(ClientKeyOut) });
export const NameKeyParams = Type.Object({ name: Type.String({ maxLength: 200 }), id: Type.String({ maxLength: 64 }) });
export const DeletedOut = Type.Object({ deleted: Type.Boolean() });
export const RolesBody = Type.Object({ roles: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 5 }) }, { additionalProperties: false });
export const NameParams = Type.Object({ name: Type.String({ maxLength: 200 }) });
export const NameRoleParams = Type.Object({ name: Type.String({ maxLength: 200 }), role: Type.String({ maxLength: 64 }) });


/** RFC 6749 §4.4.2 access token request (JSON or application/x-www-form-urlencoded). */
export const TokenBody = Type.Object(
  {
    grant_type: Type.String({ maxLength: 64 }),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
    client_secret: Type.Optional(Type.String({ maxLength: 256 })),
    client_assertion_type: Type.Optional(Type.String({ maxLength: 128, description: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer (RFC 7523 §2.2)' })),
    client_assertion: Type.Optional(Type.String({ minLength: 1, maxLength: 8192, description: 'Signed JWT client assertion (RFC 7523 §3)' })),
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

/** GET /v1/access-review (issue 3/10 §8). Day counts are query strings (no type coercion). */
export const AccessReviewQuery = Type.Object(
  {
    unusedDays: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'Grants unused for this many days are reported (default 30)' })),
    expiringWithinDays: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'Grants whose notAfter falls within this many days are reported (default 7)' })),
  },
  { additionalProperties: false },
);
const Iso = Type.String({ format: 'date-time' });
const IsoOrNull = Type.Union([Iso, Type.Null()]);
const Pairs = Type.Record(Type.String(), Type.String());
const PrincipalRef = Type.Object({ id: Type.String(), name: Type.String() });
const ReviewConditions = Type.Object({
  contextEquals: Type.Optional(Pairs),
  contextIncludes: Type.Optional(Pairs),
  sourceCidrs: Type.Optional(Type.Array(Type.String())),
  notBefore: Type.Optional(Iso),
  notAfter: Type.Optional(Iso),
});
const ReviewedGrantOut = Type.Object({
  id: Type.String(),
  principal: PrincipalRef,
  via: Type.Union([Type.Literal('key'), Type.Literal('tag-selector')]),
  tagSelector: Type.Union([Pairs, Type.Null()]),
  operations: Type.Array(Type.String()),
  conditions: ReviewConditions,
  expiresAt: IsoOrNull,
  createdAt: Iso,
  createdBy: PrincipalRef,
  lastUsedAt: IsoOrNull,
  approvalRequestId: Type.Union([Type.String(), Type.Null()]),
  inEffect: Type.Boolean(),
  notInEffect: Type.Optional(Type.String()),
});
const GrantFindingOut = Type.Object({
  grantId: Type.String(),
  principal: PrincipalRef,
  keyId: Type.Union([Type.String(), Type.Null()]),
  tagSelector: Type.Union([Pairs, Type.Null()]),
  operations: Type.Array(Type.String()),
  createdAt: Iso,
  lastUsedAt: IsoOrNull,
  expiresAt: IsoOrNull,
});
const RolePower = Type.Object({ role: Type.String(), what: Type.String() });
export const AccessReviewOut = Type.Object({
  generatedAt: Iso,
  unusedDays: Type.Integer(),
  expiringWithinDays: Type.Integer(),
  roleWidePowers: Type.Object({ administer: RolePower, revoke: RolePower, read: RolePower }),
  keys: Type.Array(
    Type.Object({
      keyId: Type.String(),
      aliases: Type.Array(Type.String()),
      state: Type.String(),
      tags: Pairs,
      createdBy: Type.Union([PrincipalRef, Type.Null()]),
      roleAccess: Type.Object({ administer: Type.Array(PrincipalRef), revoke: Type.Array(PrincipalRef), read: Type.Array(PrincipalRef) }),
      grants: Type.Array(ReviewedGrantOut),
    }),
  ),
  findings: Type.Object({
    unusedGrants: Type.Array(GrantFindingOut),
    expiringGrants: Type.Array(GrantFindingOut),
    principalsWithoutMfa: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), roles: Type.Array(Type.String()) })),
    mfaNotApplicable: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), kind: Type.Literal('service-account'), roles: Type.Array(Type.String()) })),
  }),
});
