/** TypeBox schemas of the people routes: users, login sessions, MFA enrolment, step-up. */
import { Type } from '@sinclair/typebox';
import { PRINCIPAL_NAME_PATTERN, ROLES } from '../../auth/principal.model.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../auth/user.model.js';
import { PrincipalOut } from './auth.schemas.js';
import { ENVIRONMENTS } from '../../policy/policy.model.js';

const Name = Type.String({ pattern: PRINCIPAL_NAME_PATTERN, description: 'User name' });
const Password = (description: string) => Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, description });
/** A 6-digit TOTP code or a recovery code (XXXX-XXXX-XXXX-XXXX). */
const Otp = Type.String({ minLength: 1, maxLength: 64, description: 'TOTP code (6 digits) or a recovery code' });
const Iso = Type.String({ format: 'date-time' });

export const UserOut = Type.Object({
  ...PrincipalOut.properties,
  mfaEnabled: Type.Boolean(),
  mfaEnabledAt: Type.Union([Iso, Type.Null()]),
});
export const UserEnvelope = Type.Object({ user: UserOut });
export const UserListOut = Type.Object({ users: Type.Array(UserOut) });
export const CreateUserBody = Type.Object(
  {
    name: Name,
    roles: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 5, description: `Roles: ${ROLES.join(', ')}` }),
    password: Type.Optional(Password('Initial password; when absent a random one is generated and returned once')),
    environment: Type.Optional(Type.Union(ENVIRONMENTS.map((e) => Type.Literal(e)), { description: 'Environment the user works in (policy principalEnvironments)' })),
  },
  { additionalProperties: false },
);
export const CreateUserOut = Type.Object({
  principal: PrincipalOut,
  initialPassword: Type.Optional(Type.String({ description: 'Generated password, shown once (only when none was given)' })),
});

export const LoginBody = Type.Object(
  // Lengths are checked by the service (one uniform answer), not here: a schema error would say which field was wrong.
  { username: Type.String({ maxLength: 256 }), password: Type.String({ maxLength: PASSWORD_MAX_LENGTH }), otp: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);
export const SessionOut = Type.Object({
  token: Type.String({ description: 'Session bearer token (kwu_...); only its SHA-256 is stored' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the token expires unless refreshed' }),
  session: Type.Object({ id: Type.String(), expiresAt: Iso, absoluteExpiresAt: Iso }),
  principal: Type.Object({ id: Type.String(), name: Type.String(), roles: Type.Array(Type.String()) }),
  mfaEnrollmentRequired: Type.Boolean({ description: 'True: the session may only enrol MFA (and change password, refresh, log out)' }),
});
export const OtpBody = Type.Object({ otp: Otp }, { additionalProperties: false });
export const EnrollBody = Type.Object({ otp: Type.Optional(Otp) }, { additionalProperties: false, description: 'otp: needed to re-enrol while MFA is enabled, unless the session stepped up recently' });
export const EnrollOut = Type.Object({
  otpauthUri: Type.String({ description: 'otpauth://totp/... for the authenticator app; shown once' }),
  recoveryCodes: Type.Array(Type.String(), { description: 'Single-use recovery codes; shown once' }),
});
export const StepUpOut = Type.Object({ session: Type.Object({ id: Type.String(), mfaVerifiedAt: Iso }) });
export const PasswordBody = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }), newPassword: Password('New password') },
  { additionalProperties: false },
);
export const LogoutOut = Type.Object({ revoked: Type.Boolean() });
export const RevokedCountOut = Type.Object({ revoked: Type.Integer({ description: 'How many sessions ended' }) });
export const UserNameParams = Type.Object({ name: Type.String({ maxLength: 200 }) });
