/**
 * The MFA gate of the ops/ pipeline (CallGate): for people only (service accounts and the root
 * token are not gated; neither are the server's own internal calls, already checked when requested).
 * - A session of a user who must enrol MFA (policy.mfaRequiredRoles) but has not may only act on
 *   itself (`principal:self`: enrol, confirm, change password, refresh, log out).
 * - Actions in policy.mfaGatedActions need a second factor proven within stepUpMaxAgeSeconds;
 *   otherwise a valid one-time password sent with the call (X-Keywarden-OTP) proves it now.
 */
import type { Action, Resource } from './authorize.js';
import type { AccessPolicySource } from './access-policy.js';
import type { Principal } from './token.model.js';
import { enrolFirst, mfaRequired, type UserService } from './user.service.js';
import type { Call, CallGate } from '../ops/pipeline.js';
import type { Clock } from '../util/clock.js';
import type { PolicyGate } from '../policy/policy-gate.js';

export class MfaGate implements CallGate {
  constructor(private readonly d: { users: UserService; policy: AccessPolicySource; clock: Clock; keyPolicy?: Pick<PolicyGate, 'mfaRule' | 'noteRule'> }) {}

  /** Gated: by the access policy's mfaGatedActions, or by the policy document's mfaActions of the key's scope. */
  async check(principal: Principal, action: Action, call: Call, resource: Resource): Promise<void> {
    if (principal.kind !== 'user' || call.internal !== undefined) return;
    const s = principal.session;
    if (s === undefined) throw mfaRequired('a user must act through a login session'); // fail closed
    if (s.mfaEnrollmentRequired && action !== 'principal:self') throw mfaRequired(enrolFirst(principal.name));
    const policy = this.d.policy.current();
    let rule: string | undefined;
    if (!policy.mfaGatedActions.includes(action)) {
      rule = resource.key !== undefined ? this.d.keyPolicy?.mfaRule(resource.key, action) : undefined;
      if (rule === undefined) return;
    }
    if (s.mfaVerifiedAt !== null && this.d.clock.now() - s.mfaVerifiedAt <= policy.stepUpMaxAgeSeconds * 1000) return;
    if (call.otp !== undefined && call.otp !== '') {
      await this.d.users.stepUp(principal, call.otp);
      return;
    }
    if (rule !== undefined) this.d.keyPolicy?.noteRule(call, rule);
    throw mfaRequired(
      `${action} requires a fresh one-time password (verified within ${policy.stepUpMaxAgeSeconds} s${rule !== undefined ? `; policy rule ${rule}` : ''}): ` +
        'send a TOTP code in the X-Keywarden-OTP header (CLI: --otp CODE) or step up first with POST /v1/auth/step-up',
      rule,
    );
  }
}
