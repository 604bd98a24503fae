/**
 * Approval requests (quorum approval, just-in-time grants) and the access policy: the use-cases
 * behind /v1/requests and /v1/access-policy. Same pipeline as every other use-case.
 *
 * Creating a request authorizes the requester for the underlying action NOW (roles, grants,
 * separation of duties; the approval gate is what the request satisfies). On the M-th approval the
 * action executes through its normal use-case as the requester, re-read from the store, with an
 * internal call that the approval gate admits for exactly this request, action and key.
 */
import type { AccessPolicyService, AccessPolicyView } from '../auth/access-policy.service.js';
import { validateAccessPolicy } from '../auth/access-policy.service.js';
import { KEY_REQUEST_ACTIONS, REQUEST_ACTIONS, REQUEST_STATUSES, type ApprovalRequest, type RequestAction, type RequestParams, type RequestStatus } from '../auth/approval.model.js';
import type { ApprovalService, Outcome } from '../auth/approval.service.js';
import { authorize, needsGrant, noGrant, permissionDenied, roleDenied, type Action, type GrantLookup } from '../auth/authorize.js';
import type { GrantService } from '../auth/grant.service.js';
import { GRANT_OPERATIONS, PRINCIPAL_NAME_RE, type GrantOperation, type PrincipalRecord } from '../auth/principal.model.js';
import type { PrincipalStore } from '../auth/principal.store.js';
import { isRole, roleConflict, ruleFor } from '../auth/roles.js';
import type { Principal } from '../auth/token.model.js';
import { rsaModulusBytes } from '../crypto/primitives/asymmetric.js';
import { KeywardenError, errors, isKeywardenError } from '../errors/catalog.js';
import type { KeyRecord } from '../keys/key.model.js';
import { DELETION_WINDOW_DAYS, type KeyService } from '../keys/key.service.js';
import type { Clock } from '../util/clock.js';
import type { AccessOps } from './access.ops.js';
import type { KeyAdminOps } from './key-admin.ops.js';
import type { Call, Pipeline } from './pipeline.js';
import type { PolicyDocument } from '../policy/policy.model.js';

/** What the transport passes in for POST /v1/requests (shape already checked by its schema). */
export interface RequestInput {
  action: RequestAction;
  key?: string;
  reason: string;
  /** jit-grant: how long the grant lasts once approved, seconds. */
  duration?: number;
  params?: Omit<RequestParams, 'durationSeconds'>;
}

export interface ApprovalOpsDeps {
  pipeline: Pipeline;
  approvals: ApprovalService;
  policy: AccessPolicyService;
  admin: KeyAdminOps;
  access: Pick<AccessOps, 'bindRoles' | 'unbindRole'>;
  keys: KeyService;
  grants: Pick<GrantService, 'create'> & GrantLookup;
  principals: Pick<PrincipalStore, 'getPrincipalById' | 'getPrincipalByName'>;
  /** Whether the root token with this accessor still exists (a root requester's request fails once it is revoked). */
  rootTokenExists: (accessor: string) => Promise<boolean>;
  /** The policy document: validation of a policy-document-change, and its execution (src/ops/policy.ops.ts). */
  policyDocuments?: { parse(input: { document: unknown }): PolicyDocument; setPolicy(call: Call, input: { document: unknown }): Promise<{ version: number }> };
  clock: Clock;
}

/** The params each action takes (anything else is refused). */
const PARAMS_OF: Record<RequestAction, ReadonlyArray<keyof RequestParams>> = {
  'schedule-deletion': ['pendingWindowDays'],
  disable: [],
  revoke: ['reason'],
  export: ['publicKey'],
  'policy-change': ['policy'],
  'policy-document-change': ['document'],
  'role-bind': ['principal', 'role'],
  'role-unbind': ['principal', 'role'],
  'jit-grant': ['operations'],
};

const MIN_JIT_SECONDS = 60;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class ApprovalOps {
  constructor(private readonly d: ApprovalOpsDeps) {}

  async createRequest(call: Call, input: RequestInput): Promise<ApprovalRequest> {
    const requester = await this.d.pipeline.begin(call, 'request:create');
    const { action } = input;
    if (!(REQUEST_ACTIONS as readonly string[]).includes(action)) {
      throw errors.validation(`unknown action "${String(action).slice(0, 32)}"; actions: ${REQUEST_ACTIONS.join(', ')}`);
    }
    const p = input.params ?? {};
    const extra = Object.keys(p).find((k) => !(PARAMS_OF[action] as readonly string[]).includes(k));
    if (extra !== undefined) throw errors.validation(`params.${extra} does not apply to a ${action} request`);
    if (KEY_REQUEST_ACTIONS.has(action) && input.key === undefined) throw errors.validation(`a ${action} request needs key`);
    if (!KEY_REQUEST_ACTIONS.has(action) && input.key !== undefined) throw errors.validation(`a ${action} request takes no key`);
    if (action !== 'jit-grant' && input.duration !== undefined) throw errors.validation('duration applies only to jit-grant requests');
    const keyRef = input.key ?? null;
    let key: KeyRecord | undefined;
    const params: RequestParams = {};

    switch (action) {
      case 'schedule-deletion':
        if (p.pendingWindowDays !== undefined) params.pendingWindowDays = whole('params.pendingWindowDays', p.pendingWindowDays, DELETION_WINDOW_DAYS);
        key = await this.#authorizeKey(requester, call, 'key:schedule-deletion', keyRef as string);
        break;
      case 'disable':
        key = await this.#authorizeKey(requester, call, 'key:disable', keyRef as string);
        break;
      case 'revoke':
        if (p.reason !== 'compromised' && p.reason !== 'superseded') throw errors.validation('a revoke request needs params.reason: compromised or superseded');
        params.reason = p.reason;
        key = await this.#authorizeKey(requester, call, 'key:revoke', keyRef as string);
        break;
      case 'export':
        params.publicKey = checkWrappingKey(p.publicKey);
        key = await this.#authorizeKey(requester, call, 'key:export', keyRef as string);
        if (!key.exportable) throw new KeywardenError('InvalidKeyUsage', `key ${key.id} was not created exportable: its material never leaves Keywarden`);
        break;
      case 'policy-change':
        if (p.policy === undefined) throw errors.validation('a policy-change request needs params.policy: the complete new access policy');
        params.policy = validateAccessPolicy(p.policy);
        await authorize(requester, 'policy:edit');
        break;
      case 'policy-document-change':
        if (p.document === undefined || this.d.policyDocuments === undefined) throw errors.validation('a policy-document-change request needs params.document: the complete new policy document');
        params.document = this.d.policyDocuments.parse({ document: p.document });
        await authorize(requester, 'policy:edit');
        break;
      case 'role-bind':
      case 'role-unbind':
        Object.assign(params, await this.#checkBinding(requester, action, p));
        break;
      case 'jit-grant': {
        params.operations = this.#checkJitOperations(requester, p.operations);
        params.durationSeconds = this.#checkJitDuration(input.duration);
        key = await this.d.keys.resolve(keyRef as string).catch((e: unknown) => {
          // An unknown key must not answer differently from a known one (no existence oracle): the
          // request is recorded with the name only and fails, once approved, if it names no key.
          if (isKeywardenError(e) && e.code === 'NotFound') return undefined;
          throw e;
        });
        if (key?.createdBy === requester.id) {
          throw new KeywardenError('PermissionDenied', `separation of duties: ${requester.name} created key ${keyRef} and cannot be granted use of it`);
        }
        // The policy of the key's scope may cap just-in-time grants below the access policy's maximum.
        const cap = key === undefined ? undefined : this.d.pipeline.policy?.maxJitSeconds(key);
        if (cap !== undefined && params.durationSeconds > cap.value) {
          throw this.d.pipeline.policy!.deny(call, {
            rule: cap.rule,
            field: 'maxJitGrantSeconds',
            message: `just-in-time grants on ${key!.classification ?? 'unclassified'} keys${key!.environment !== null ? ` in ${key!.environment}` : ''} last at most ${cap.value} seconds (asked: ${params.durationSeconds})`,
          });
        }
        break;
      }
    }
    return this.d.approvals.create(requester, { action, keyId: key?.id ?? null, keyRef, params, reason: input.reason }, key);
  }

  /** Every request for holders of request:read; otherwise the caller's own. Pending requests past their time show as expired. */
  async listRequests(call: Call, status?: RequestStatus): Promise<ApprovalRequest[]> {
    if (status !== undefined && !(REQUEST_STATUSES as readonly string[]).includes(status)) {
      throw errors.validation(`unknown status "${String(status).slice(0, 16)}"; statuses: ${REQUEST_STATUSES.join(', ')}`);
    }
    const viewer = await this.d.pipeline.begin(call, 'principal:self');
    const all = await may(viewer, 'request:read');
    const rs = await this.d.approvals.list({ ...(status !== undefined ? { status } : {}), ...(all ? {} : { requesterId: viewer.id }) });
    return rs.map((r) => visible(r, viewer));
  }

  async getRequest(call: Call, id: string): Promise<ApprovalRequest> {
    const viewer = await this.d.pipeline.begin(call, 'principal:self');
    const r = await this.d.approvals.get(id);
    if (r.requesterId !== viewer.id && !(await may(viewer, 'request:read'))) {
      throw permissionDenied(viewer, 'request:read', `only the requester and holders of request:read may read request ${r.id}`);
    }
    return visible(r, viewer);
  }

  /** Approves; the M-th approval executes the action (as the requester) before answering. */
  async approve(call: Call, id: string): Promise<ApprovalRequest> {
    const approver = await this.d.pipeline.begin(call, 'request:approve');
    let r = await this.d.approvals.approve(approver, id);
    if (r.status === 'approved') r = await this.d.approvals.finish(r, await this.#execute(r, approver, call.requestId));
    return visible(r, approver);
  }

  async deny(call: Call, id: string, reason?: string): Promise<ApprovalRequest> {
    const approver = await this.d.pipeline.begin(call, 'request:approve');
    return visible(await this.d.approvals.deny(approver, id, reason), approver);
  }

  async cancel(call: Call, id: string): Promise<ApprovalRequest> {
    const principal = await this.d.pipeline.begin(call, 'principal:self');
    return visible(await this.d.approvals.cancel(principal, id), principal);
  }

  async getPolicy(call: Call): Promise<AccessPolicyView> {
    await this.d.pipeline.begin(call, 'policy:read');
    return this.d.policy.view();
  }

  /** Replaces the access policy; under quorum (approvals['policy:edit'] > 0) only as an approved policy-change request. */
  async setPolicy(call: Call, policy: unknown): Promise<AccessPolicyView> {
    const by = await this.d.pipeline.begin(call, 'policy:edit');
    return this.d.policy.update(by, policy);
  }

  /** Runs an approved request; any error becomes a `failed` outcome with its code and message. */
  async #execute(r: ApprovalRequest, lastApprover: Principal, requestId: string): Promise<Outcome> {
    try {
      return { status: 'executed', result: await this.#run(r, lastApprover, requestId) };
    } catch (e) {
      const err = isKeywardenError(e) ? e : errors.internal();
      return { status: 'failed', result: { error: { code: err.code, message: err.message } } };
    }
  }

  async #run(r: ApprovalRequest, lastApprover: Principal, requestId: string): Promise<Record<string, unknown>> {
    const p = r.params;
    if (r.action === 'jit-grant') {
      // The grant is made by the last approver to the requester (a security officer cannot hold
      // grant:manage, so this is not a pipeline use-case: the approvals are the authorization).
      const grantee = await this.#requesterRecord(r);
      const keyId = r.keyId ?? (await this.d.keys.resolve(r.keyRef as string)).id;
      const notAfter = this.d.clock.now() + (p.durationSeconds as number) * 1000;
      const g = await this.d.grants.create(lastApprover, { keyId }, grantee, p.operations as GrantOperation[], { notAfter }, { approvalRequestId: r.id });
      return { grantId: g.id, keyId, operations: g.operations, notAfter: iso(notAfter) };
    }
    const call = this.d.approvals.beginExecution(r, await this.#requester(r), requestId);
    try {
      const keyId = r.keyId as string;
      switch (r.action) {
        case 'schedule-deletion': {
          const k = await this.d.admin.scheduleDeletion(call, keyId, p.pendingWindowDays);
          return { keyId: k.id, state: k.state, deletionAt: iso(k.deletionAt) };
        }
        case 'disable': {
          const k = await this.d.admin.disable(call, keyId);
          return { keyId: k.id, state: k.state };
        }
        case 'revoke': {
          const k = await this.d.admin.revoke(call, keyId, p.reason as 'compromised' | 'superseded');
          return { keyId: k.id, state: k.state, revocationReason: k.revocationReason };
        }
        case 'export': {
          const e = await this.d.admin.exportKey(call, keyId, Buffer.from(p.publicKey as string, 'base64'));
          return { keyId: e.keyId, keyVersion: e.keyVersion, wrappingAlgorithm: e.wrappingAlgorithm, wrappedMaterial: e.wrappedMaterial.toString('base64') };
        }
        case 'policy-change':
          return { policyVersion: (await this.setPolicy(call, p.policy)).version };
        case 'policy-document-change': {
          if (this.d.policyDocuments === undefined) throw errors.internal();
          return { policyDocumentVersion: (await this.d.policyDocuments.setPolicy(call, { document: p.document })).version };
        }
        case 'role-bind': {
          const b = await this.d.access.bindRoles(call, p.principal as string, [p.role as string]);
          return { principal: b.name, roles: b.roles };
        }
        case 'role-unbind': {
          const b = await this.d.access.unbindRole(call, p.principal as string, p.role as string);
          return { principal: b.name, roles: b.roles };
        }
      }
    } finally {
      this.d.approvals.endExecution(r.id);
    }
  }

  /** The requester as it is NOW: it must still exist and be enabled (a root token: not revoked); its current roles apply. */
  async #requester(r: ApprovalRequest): Promise<Principal> {
    if (r.requesterKind === 'root') {
      if (!(await this.d.rootTokenExists(r.requesterId))) throw requesterGone(r);
      return { kind: 'root', id: r.requesterId, name: r.requesterName, roles: [], accessor: r.requesterId, displayName: r.requesterName, environment: null };
    }
    const p = await this.#requesterRecord(r);
    return { kind: p.kind, id: p.id, name: p.name, roles: p.roles, accessor: `request:${r.id}`, displayName: p.name, environment: p.environment };
  }

  async #requesterRecord(r: ApprovalRequest): Promise<PrincipalRecord> {
    const p = r.requesterKind === 'root' ? undefined : await this.d.principals.getPrincipalById(r.requesterId);
    if (p === undefined || p.disabled) throw requesterGone(r);
    return p;
  }

  /** Roles, grants and separation of duties for `action` on a key, as beginKey does (same deny whether or not an ungranted key exists). */
  async #authorizeKey(requester: Principal, call: Call, action: Action, keyRef: string): Promise<KeyRecord> {
    if (requester.kind !== 'root' && ruleFor(requester.roles, action) === undefined) throw roleDenied(requester, action);
    let key: KeyRecord;
    try {
      key = await this.d.keys.resolve(keyRef);
    } catch (e) {
      if (needsGrant(requester, action) && isKeywardenError(e) && (e.code === 'NotFound' || e.code === 'ValidationError')) throw noGrant(requester, action, keyRef);
      throw e;
    }
    await authorize(requester, action, { keyId: key.id, ref: keyRef, context: this.d.pipeline.grantContext(call) }, this.d.grants);
    return key;
  }

  async #checkBinding(requester: Principal, action: 'role-bind' | 'role-unbind', p: Omit<RequestParams, 'durationSeconds'>): Promise<RequestParams> {
    if (p.principal === undefined || p.role === undefined) throw errors.validation(`a ${action} request needs params.principal and params.role`);
    if (!isRole(p.role)) throw errors.validation(`unknown role "${String(p.role).slice(0, 40)}"; roles are admin, key-administrator, security-officer, application, auditor`);
    await authorize(requester, 'principal:manage');
    await authorize(requester, 'principal:bind');
    const target = PRINCIPAL_NAME_RE.test(p.principal) ? await this.d.principals.getPrincipalByName(p.principal) : undefined;
    if (target === undefined) throw new KeywardenError('NotFound', `principal ${p.principal.slice(0, 128)} was not found`);
    if (target.id === requester.id) throw new KeywardenError('PermissionDenied', `separation of duties: ${requester.name} cannot change its own role bindings or status`);
    if (action === 'role-bind') {
      if (target.roles.includes(p.role)) throw errors.validation(`principal ${target.name} already holds the role ${p.role}`);
      const c = roleConflict([...target.roles, p.role]);
      if (c !== undefined) throw new KeywardenError('PermissionDenied', `separation of duties: ${target.name} cannot hold both ${c}`);
    } else if (!target.roles.includes(p.role)) {
      throw new KeywardenError('NotFound', `principal ${target.name} does not hold the role ${p.role}`);
    }
    return { principal: target.name, role: p.role };
  }

  /** A JIT grant is for a principal that uses keys through grants: every operation must be grant-scoped for its roles. */
  #checkJitOperations(requester: Principal, operations: readonly string[] | undefined): GrantOperation[] {
    if (requester.kind === 'root') throw errors.validation('the root token holds every permission and cannot receive grants');
    if (operations === undefined || operations.length === 0) throw errors.validation('a jit-grant request needs params.operations (at least one)');
    const ops = [...new Set(operations)];
    for (const op of ops) {
      if (!(GRANT_OPERATIONS as readonly string[]).includes(op)) {
        throw errors.validation(`unknown grant operation "${op.slice(0, 40)}"; allowed: ${GRANT_OPERATIONS.join(', ')}`);
      }
      const action = `key:${op}` as Action;
      const rule = ruleFor(requester.roles, action);
      if (rule === undefined || rule === 'allow') {
        throw permissionDenied(requester, action, 'just-in-time grants are for principals whose roles use keys through grants (the application role)');
      }
    }
    return ops as GrantOperation[];
  }

  #checkJitDuration(duration: number | undefined): number {
    const max = this.d.policy.current().jitMaxDurationSeconds;
    if (duration === undefined) throw errors.validation('a jit-grant request needs duration (seconds)');
    if (!Number.isInteger(duration) || duration < MIN_JIT_SECONDS || duration > max) {
      throw errors.validation(`duration must be from ${MIN_JIT_SECONDS} seconds to the policy maximum of ${max} seconds (jitMaxDurationSeconds)`);
    }
    return duration;
  }
}

/** Whether `p` may perform `action` (a deny is an answer, not an error). */
async function may(p: Principal, action: Action): Promise<boolean> {
  try {
    await authorize(p, action);
    return true;
  } catch (e) {
    if (isKeywardenError(e) && e.code === 'PermissionDenied') return false;
    throw e;
  }
}

/** The wrapped material of an export is for the requester only (it asked for it, under its own public key). */
function visible(r: ApprovalRequest, viewer: Principal): ApprovalRequest {
  if (r.result === null || !('wrappedMaterial' in r.result) || viewer.id === r.requesterId) return r;
  const { wrappedMaterial: _withheld, ...rest } = r.result;
  return { ...r, result: rest };
}

const requesterGone = (r: ApprovalRequest) =>
  new KeywardenError('InvalidState', `the requester ${r.requesterName} no longer exists, is disabled or was revoked: the request cannot run as it`);

function whole(field: string, x: unknown, { min, max }: { min: number; max: number }): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw errors.validation(`${field} must be a whole number from ${min} to ${max}`);
  return x;
}

/** The export's wrapping key, checked now rather than when the approvers are done. */
function checkWrappingKey(publicKey: string | undefined): string {
  if (publicKey === undefined) throw errors.validation('an export request needs params.publicKey: the RSA public key (SPKI DER, base64) to wrap the material under');
  let bytes = 0;
  try {
    bytes = B64_RE.test(publicKey) ? rsaModulusBytes(Buffer.from(publicKey, 'base64'), 'spki') : 0;
  } catch {
    // not an SPKI: reported below
  }
  if (![256, 384, 512].includes(bytes)) throw errors.validation('params.publicKey must be an SPKI DER RSA key of 2048, 3072 or 4096 bits (base64)');
  return publicKey;
}
