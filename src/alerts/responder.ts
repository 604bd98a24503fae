/**
 * Automatic responses to a new alert (config `anomaly.responses`, per detector; none by default).
 * They are the operator's standing orders, run by the server itself like the lifecycle jobs, and
 * each one is recorded on the alert and in the audit ledger:
 *
 * - `reauthenticate`: ends every login session of the principal (a user must log in again, with
 *   MFA where required). Service accounts and root tokens have no sessions: skipped.
 * - `suspend-token`: disables the principal, so every access token and session it holds stops
 *   working at once on this node (within 1 s on others). Keywarden cannot list a principal's
 *   outstanding JWTs, so suspending the principal is how all of them are suspended; an admin
 *   re-enables it after review. The root token is never suspended automatically.
 * - `disable-key`: disables the key pending review. When the access policy (or the key's policy)
 *   puts key:disable under quorum approval, an approval request is filed instead, as the service
 *   account named by `anomaly.respondAs` (it must hold key:disable), and approvers decide.
 */
import type { ApprovalService } from '../auth/approval.service.js';
import { authorize } from '../auth/authorize.js';
import type { PrincipalStore } from '../auth/principal.store.js';
import type { ServiceAccountService } from '../auth/service-account.service.js';
import type { SessionService } from '../auth/session.service.js';
import type { Principal } from '../auth/token.model.js';
import type { ResponseKind } from '../anomaly/config.js';
import { isKeywardenError } from '../errors/catalog.js';
import type { KeyService } from '../keys/key.service.js';
import type { Clock } from '../util/clock.js';
import type { Alert, AlertResponse } from './alert.model.js';

export interface ResponderDeps {
  principals: Pick<PrincipalStore, 'getPrincipalById' | 'getPrincipalByName'>;
  sessions: Pick<SessionService, 'revokeAll'>;
  serviceAccounts: Pick<ServiceAccountService, 'setDisabled'>;
  keys: Pick<KeyService, 'findById' | 'disable'>;
  approvals: Pick<ApprovalService, 'requiredApprovals' | 'create'>;
  /** Service account that files disable-key approval requests (config `anomaly.respondAs`). */
  respondAs?: string;
  clock: Clock;
}

/** Who acts when the server responds by itself (never a credential: only named in records). */
export const RESPONDER: Principal = { kind: 'root', id: 'system:anomaly-response', name: 'anomaly-response', roles: [], accessor: 'system', displayName: 'automatic anomaly response', environment: null };

export class Responder {
  constructor(private readonly d: ResponderDeps) {}

  async respond(a: Alert, kind: ResponseKind): Promise<AlertResponse> {
    const r = (status: AlertResponse['status'], detail: string, extra: Partial<AlertResponse> = {}): AlertResponse => ({ kind, status, detail, at: this.d.clock.now(), ...extra });
    try {
      switch (kind) {
        case 'reauthenticate': {
          const p = await this.#principal(a);
          if (typeof p === 'string') return r('skipped', p);
          if (p.kind !== 'user') return r('skipped', `principal ${p.name} is a ${p.kind}: it has no login sessions`);
          const n = await this.d.sessions.revokeAll(p.id);
          return r('done', `ended ${n} session${n === 1 ? '' : 's'} of user ${p.name}: it must log in again`);
        }
        case 'suspend-token': {
          const p = await this.#principal(a);
          if (typeof p === 'string') return r('skipped', p);
          if (p.disabled) return r('skipped', `principal ${p.name} is already disabled`);
          await this.d.serviceAccounts.setDisabled(RESPONDER, p.name, true);
          return r('done', `disabled principal ${p.name}: its access tokens and sessions no longer work; re-enable it after review`);
        }
        case 'disable-key':
          return await this.#disableKey(a, r);
      }
    } catch (e) {
      // The message of a catalog error never holds a secret; anything else is summarized.
      return r('failed', isKeywardenError(e) ? `${e.code}: ${e.message}` : 'internal error (see the server log)');
    }
  }

  /** The alert's principal as stored, or why the response does not apply. */
  async #principal(a: Alert) {
    if (a.principalId === null) return 'the alert names no principal';
    const p = await this.d.principals.getPrincipalById(a.principalId);
    if (p === undefined) return `principal ${a.principalName ?? a.principalId} is not a stored principal (the root token is never suspended automatically)`;
    return p;
  }

  async #disableKey(a: Alert, r: (status: AlertResponse['status'], detail: string, extra?: Partial<AlertResponse>) => AlertResponse): Promise<AlertResponse> {
    if (a.keyId === null) return r('skipped', 'the alert names no key');
    const key = await this.d.keys.findById(a.keyId);
    if (key === undefined) return r('skipped', `key ${a.keyId} was not found`);
    if (key.state !== 'Enabled') return r('skipped', `key ${key.id} is ${key.state}, not Enabled`);
    if (this.d.approvals.requiredApprovals('disable', key) === 0) {
      await this.d.keys.disable(key);
      return r('done', `disabled key ${key.id} pending review (enable it with keywarden key enable)`);
    }
    // Under quorum: the request is filed by the configured service account, authorized as itself.
    if (this.d.respondAs === undefined) return r('failed', 'key:disable needs approval and anomaly.respondAs names no service account to request it');
    const rec = await this.d.principals.getPrincipalByName(this.d.respondAs);
    if (rec === undefined || rec.disabled) return r('failed', `anomaly.respondAs: principal ${this.d.respondAs} does not exist or is disabled`);
    const requester: Principal = { kind: rec.kind, id: rec.id, name: rec.name, roles: rec.roles, accessor: `alert:${a.id}`, displayName: rec.name, environment: rec.environment };
    await authorize(requester, 'key:disable', { keyId: key.id });
    const req = await this.d.approvals.create(requester, { action: 'disable', keyId: key.id, keyRef: key.id, params: {}, reason: `anomaly alert ${a.id} (${a.detector}): ${a.summary}`.slice(0, 1000) }, key);
    return r('approval-requested', `key:disable needs ${req.requiredApprovals} approval(s): request ${req.id} filed by ${rec.name}`, { approvalRequestId: req.id });
  }
}
