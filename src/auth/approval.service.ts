/**
 * Quorum approval (issue 3/10 §6): the approval gate of the ops/ pipeline and the rules of
 * approval requests. Executing an approved request is the job of src/ops/approval.ops.ts (it runs
 * the normal use-case as the requester); this service decides who may approve, counts approvals,
 * and makes every state change a conditional update so that exactly one approver reaches the quorum.
 */
import { randomUUID } from '../crypto/primitives/index.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { Call, CallGate, InternalCall } from '../ops/pipeline.js';
import type { Clock } from '../util/clock.js';
import { APPROVABLE_ACTIONS, type AccessPolicySource, type ApprovableAction } from './access-policy.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { PolicyGate } from '../policy/policy-gate.js';
import { REQUEST_FOR_ACTION, REQUEST_PIPELINE_ACTION, type ApprovalRequest, type RequestAction, type RequestParams, type RequestStatus } from './approval.model.js';
import type { ApprovalStore } from './approval.store.js';
import { permissionDenied, type Action, type Resource } from './authorize.js';
import type { PrincipalStore } from './principal.store.js';
import { ruleFor } from './roles.js';
import type { Principal } from './token.model.js';

/** A request still `approved` (executing) after this long was interrupted by a crash. */
export const STALE_EXECUTION_MS = 10 * 60_000;
/** Most requests one list answers (newest first). */
export const MAX_LISTED_REQUESTS = 1000;
/** Conditional updates retried this often when another approver changed the request first. */
const MAX_ATTEMPTS = 5;

const DONE: Promise<void> = Promise.resolve();

export interface NewRequest {
  action: RequestAction;
  keyId: string | null;
  keyRef: string | null;
  params: RequestParams;
  reason: string;
}

export type Outcome = { status: 'executed'; result: Record<string, unknown> } | { status: 'failed'; result: { error: { code: string; message: string } } };

/**
 * The ApprovalRequired answer: how many approvals, and the command that asks for them; `rule` is
 * the policy rule that asked for them, when the policy document (not the access policy) did.
 */
export function approvalRequired(action: ApprovableAction, m: number, r: Resource, rule: string | null = null): KeywardenError {
  const target = r.ref ?? r.keyId;
  const args =
    action === 'principal:bind' ? ' --principal NAME --role ROLE' : action === 'policy:edit' ? ' --policy-file FILE' : ` --key ${target ?? 'KEY'}`;
  return new KeywardenError(
    'ApprovalRequired',
    `${action} needs ${m} approval${m === 1 ? '' : 's'} (quorum approval${rule !== null ? `, policy rule ${rule}` : ''}): request it with ` +
      `\`keywarden request create --action ${REQUEST_FOR_ACTION[action]}${args} --reason TEXT\` (POST /v1/requests) and have it approved`,
    { requiredApprovals: m, ...(rule !== null ? { rule } : {}) },
  );
}

const isApprovable = (a: Action): a is ApprovableAction => (APPROVABLE_ACTIONS as readonly string[]).includes(a);

export class ApprovalService implements CallGate {
  /** Requests executing in this process, by id: the gate lets exactly these internal calls through. */
  readonly #executing = new Map<string, InternalCall>();

  constructor(
    private readonly d: {
      store: ApprovalStore;
      principals: Pick<PrincipalStore, 'getPrincipalById'>;
      policy: AccessPolicySource;
      /** The policy document's approvals per action on keys of a scope (max with the access policy's M). */
      keyPolicy?: Pick<PolicyGate, 'requiredApprovals' | 'noteRule'>;
      clock: Clock;
    },
  ) {}

  /** M for `action` (on `key`): the larger of the access policy's and the key scope's policy rule. */
  #required(action: Action, key: KeyRecord | undefined): { m: number; rule: string | null } {
    const m = this.d.policy.current().approvals[action as ApprovableAction] ?? 0;
    if (key !== undefined && this.d.keyPolicy !== undefined && isApprovable(action)) {
      const p = this.d.keyPolicy.requiredApprovals(key, action);
      if (p.m > m) return p;
    }
    return { m, rule: null };
  }

  /**
   * The pipeline gate: an action whose policy M is above 0 runs only as the execution of an
   * approved request (for the root token too). The common path (M = 0) allocates nothing.
   */
  check(_principal: Principal, action: Action, call: Call, resource: Resource): Promise<void> {
    const am = this.d.policy.current().approvals[action as ApprovableAction];
    if ((am === undefined || am <= 0) && (resource.key === undefined || this.d.keyPolicy === undefined || !isApprovable(action))) return DONE;
    const { m, rule } = this.#required(action, resource.key);
    if (m <= 0) return DONE;
    const i = call.internal;
    if (i !== undefined && i.action === action && i.keyId === resource.keyId && this.#executing.get(i.approvalRequestId) === i) return DONE;
    if (rule !== null) this.d.keyPolicy?.noteRule(call, rule);
    return Promise.reject(approvalRequired(action as ApprovableAction, m, resource, rule));
  }

  /** M for a new request of `action` (on `key`) under the current policies (a JIT grant always needs at least one). */
  requiredApprovals(action: RequestAction, key?: KeyRecord): number {
    const p = this.d.policy.current();
    const pipelineAction = REQUEST_PIPELINE_ACTION[action];
    return pipelineAction === undefined ? Math.max(1, p.jitApprovals) : this.#required(pipelineAction, key).m;
  }

  /** Records a request (the caller has validated it and authorized the requester for the underlying action). */
  async create(requester: Principal, input: NewRequest, key?: KeyRecord): Promise<ApprovalRequest> {
    const m = this.requiredApprovals(input.action, key);
    const pipelineAction = REQUEST_PIPELINE_ACTION[input.action];
    if (m === 0) throw errors.validation(`${pipelineAction} needs no approval under the current access policy: perform it directly`);
    const reason = input.reason.trim();
    if (reason.length === 0) throw errors.validation('reason must say why the request is made');
    const now = this.d.clock.now();
    const r: ApprovalRequest = {
      id: randomUUID(),
      ...input,
      reason,
      requesterId: requester.id,
      requesterName: requester.name,
      requesterKind: requester.kind,
      requiredApprovals: m,
      approvals: [],
      denial: null,
      status: 'pending',
      result: null,
      createdAt: now,
      expiresAt: now + this.d.policy.current().requestTtlSeconds * 1000,
      decidedAt: null,
      version: 1,
    };
    await this.d.store.createRequest(r);
    return r;
  }

  /** The request, expired first if its time is up. */
  async get(id: string): Promise<ApprovalRequest> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const r = await this.d.store.getRequest(id);
      if (r === undefined) throw new KeywardenError('NotFound', `request ${id.slice(0, 64)} was not found`);
      const now = this.d.clock.now();
      if (r.status !== 'pending' || now < r.expiresAt) return r;
      const next: ApprovalRequest = { ...r, status: 'expired', decidedAt: now, version: r.version + 1 };
      if (await this.d.store.updateRequest(next, r.version)) return next;
    }
    throw conflict(id);
  }

  async list(filter: { status?: RequestStatus; requesterId?: string }): Promise<ApprovalRequest[]> {
    await this.d.store.expirePending(this.d.clock.now());
    return this.d.store.listRequests({ ...filter, limit: MAX_LISTED_REQUESTS });
  }

  /**
   * Adds `approver`'s approval. On the M-th the request moves to `approved` in the same
   * conditional update, so of two concurrent last approvals exactly one wins; the caller then
   * executes it and records the outcome with finish().
   */
  approve(approver: Principal, id: string): Promise<ApprovalRequest> {
    return this.#change(id, 'approved', async (r, now) => {
      await this.#eligible(approver, r, 'approve');
      if (r.approvals.some((a) => a.principalId === approver.id)) {
        throw new KeywardenError('InvalidState', `${approver.name} has already approved request ${r.id}: the approvals must come from ${r.requiredApprovals} distinct approvers`);
      }
      const approvals = [...r.approvals, { principalId: approver.id, name: approver.name, at: now }];
      const reached = approvals.length >= r.requiredApprovals;
      return { approvals, ...(reached ? { status: 'approved' as const, decidedAt: now } : {}) };
    });
  }

  /** Any one eligible approver's deny ends the request. */
  deny(approver: Principal, id: string, reason: string | undefined): Promise<ApprovalRequest> {
    return this.#change(id, 'denied', async (r, now) => {
      await this.#eligible(approver, r, 'deny');
      return { status: 'denied', decidedAt: now, denial: { principalId: approver.id, name: approver.name, at: now, reason: reason?.trim() || null } };
    });
  }

  /** The requester withdraws a pending request. */
  cancel(principal: Principal, id: string): Promise<ApprovalRequest> {
    return this.#change(id, 'cancelled', async (r, now) => {
      if (r.requesterId !== principal.id) throw permissionDenied(principal, 'request:create', `only the requester (${r.requesterName}) may cancel request ${r.id}`);
      return { status: 'cancelled', decidedAt: now };
    });
  }

  /** Expires pending requests past their time and fails executions interrupted by a crash (the approval-expiry job). */
  async expireDue(now: number): Promise<number> {
    const expired = await this.d.store.expirePending(now);
    const stale = await this.d.store.failStaleApproved(now - STALE_EXECUTION_MS, now, {
      error: { code: 'Internal', message: 'the execution was interrupted before it finished; check the target and create a new request if needed' },
    });
    return expired + stale;
  }

  /** The call that executes an approved request as `principal`; the gate admits it until endExecution. */
  beginExecution(r: ApprovalRequest, principal: Principal, requestId: string): Call {
    const action = REQUEST_PIPELINE_ACTION[r.action];
    if (r.status !== 'approved' || action === undefined) throw errors.internal();
    const internal: InternalCall = { principal, approvalRequestId: r.id, action, ...(r.keyId !== null ? { keyId: r.keyId } : {}) };
    this.#executing.set(r.id, internal);
    return { token: undefined, requestId, internal };
  }

  endExecution(id: string): void {
    this.#executing.delete(id);
  }

  /** Records how the execution of an approved request ended. */
  async finish(r: ApprovalRequest, outcome: Outcome): Promise<ApprovalRequest> {
    const next: ApprovalRequest = { ...r, status: outcome.status, result: outcome.result, decidedAt: this.d.clock.now(), version: r.version + 1 };
    return (await this.d.store.updateRequest(next, r.version)) ? next : this.get(r.id);
  }

  /** Approvers: enabled principals whose roles allow request:approve, never the requester, never the root token. */
  async #eligible(p: Principal, r: ApprovalRequest, verb: 'approve' | 'deny'): Promise<void> {
    if (p.id === r.requesterId) {
      throw new KeywardenError('PermissionDenied', `separation of duties: ${p.name} cannot ${verb} its own request ${r.id}`);
    }
    if (p.kind === 'root') {
      throw permissionDenied(p, 'request:approve', `the root token cannot ${verb} requests; approvers are principals holding request:approve (the security-officer role)`);
    }
    const rec = await this.d.principals.getPrincipalById(p.id);
    if (rec === undefined || rec.disabled || ruleFor(rec.roles, 'request:approve') !== 'allow') {
      throw permissionDenied(p, 'request:approve', 'approvers must be enabled principals holding request:approve (the security-officer role)');
    }
    if ((r.action === 'role-bind' || r.action === 'role-unbind') && r.params.principal === rec.name) {
      throw new KeywardenError('PermissionDenied', `separation of duties: ${p.name} cannot ${verb} a change of its own role bindings`);
    }
  }

  /** Reads the pending request, applies `f` and writes it back conditionally, re-reading after a lost race. */
  async #change(id: string, verb: 'approved' | 'denied' | 'cancelled', f: (r: ApprovalRequest, now: number) => Promise<Partial<ApprovalRequest>>): Promise<ApprovalRequest> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const r = await this.get(id);
      if (r.status !== 'pending') {
        throw new KeywardenError('InvalidState', `request ${r.id} is ${r.status}: only a pending request can be ${verb}`);
      }
      const now = this.d.clock.now();
      const next: ApprovalRequest = { ...r, ...(await f(r, now)), version: r.version + 1 };
      if (await this.d.store.updateRequest(next, r.version)) return next;
    }
    throw conflict(id);
  }
}

const conflict = (id: string) => new KeywardenError('InvalidState', `request ${id.slice(0, 64)} is being changed concurrently; retry`);
