/**
 * The front half of every use-case (ARCHITECTURE rule 2): seal check -> authenticate -> authorize
 * (roles, grants with their conditions, separation of duties: src/auth/; then the key's AWS key
 * policy, whose explicit Denies can only take away: src/auth/key-policy.ts) -> policy (the key's
 * per-call rules: src/policy/policy-gate.ts) -> gates (MFA step-up, quorum approval, both also
 * driven by the key's policy scope). Audit (4/10) records what they decided; metrics (10/10) join here.
 */
import { authorize, needsGrant, noGrant, roleDenied, type Action, type GrantContext, type GrantLookup, type Resource } from '../auth/authorize.js';
import { ruleFor } from '../auth/roles.js';
import type { Principal } from '../auth/token.model.js';
import type { TokenService } from '../auth/token.service.js';
import type { EncryptionContext } from '../crypto/encryption-context.js';
import type { ContextForGrants } from '../auth/grant-conditions.js';
import { isKeywardenError } from '../errors/catalog.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { KeyService } from '../keys/key.service.js';
import type { SealService } from '../seal/seal.service.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { AuditFacts } from './audited.js';
import type { PolicyGate } from '../policy/policy-gate.js';

/**
 * A use-case run by the server itself on behalf of a principal it has already authenticated and
 * re-checked (an approved request executing). Transports never build one: src/transport builds
 * calls only from the token, request id, source address and one-time password of a request.
 */
export interface InternalCall {
  principal: Principal;
  /** The approval request being executed; the approval gate lets exactly this action through. */
  approvalRequestId: string;
  action: Action;
  keyId?: string;
}

/** Who is calling, as the transport saw it. */
export interface Call {
  token: string | undefined;
  requestId: string;
  /** The caller's network address (grant CIDR conditions, audit). */
  sourceIp?: string;
  /** A fresh TOTP code sent with the request for MFA step-up (header X-Keywarden-OTP). */
  otp?: string;
  internal?: InternalCall;
  /** Facts for the audit event, written by the pipeline as it learns them (set by src/ops/audited.ts). */
  audit?: AuditFacts;
}

/**
 * A check that runs after authorization (MFA step-up, quorum approval). Throws to refuse.
 * `resource.keyId` is set for key-scoped actions once the key is known.
 */
export interface CallGate {
  check(principal: Principal, action: Action, call: Call, resource: Resource): Promise<void>;
}

export interface PipelineDeps {
  seal: SealService;
  tokens: TokenService;
  /** Resolves key references for key-scoped authorization (beginKey). */
  keys?: KeyService;
  /**
   * Grant lookup for grant-scoped actions. Without it every grant-scoped action is denied (fail
   * closed): only the root token and role-wide permissions work.
   */
  grants?: GrantLookup;
  /** MFA step-up for people (src/auth/mfa-gate.ts); absent = no MFA requirement. */
  mfa?: CallGate;
  /** Quorum approval of sensitive actions (src/auth/approval.service.ts); absent = none needed. */
  approvals?: CallGate;
  /** The policy stage (per-call rules of the key's scope); absent = no policy. */
  policy?: PolicyGate;
  /** Key policies (AWS PutKeyPolicy): an explicit Deny naming the principal refuses (src/auth/key-policy.service.ts). */
  keyPolicy?: KeyPolicyCheck;
  clock?: Clock;
}

/** Runs after authorization on every key-scoped call; throws PermissionDenied to refuse. */
export interface KeyPolicyCheck {
  check(principal: Principal, action: Action, keyId: string): Promise<void>;
}

/** The first action, key and context a use-case names are the ones its audit event records. */
function noteAction(call: Call, action: Action, keyId?: string, context?: ContextForGrants): void {
  const a = call.audit;
  if (a === undefined) return;
  a.action ??= action;
  if (keyId !== undefined) a.keyId ??= keyId;
  if (typeof context === 'object' && a.context === undefined && Object.keys(context).length > 0) a.context = context;
}

export class Pipeline {
  readonly #clock: Clock;

  constructor(private readonly d: PipelineDeps) {
    this.#clock = d.clock ?? systemClock;
  }

  /** Late wiring of the gates (they depend on services built after the pipeline). */
  setGates(g: { mfa?: CallGate; approvals?: CallGate; policy?: PolicyGate; keyPolicy?: KeyPolicyCheck }): void {
    if (g.keyPolicy !== undefined) this.d.keyPolicy = g.keyPolicy;
    if (g.mfa !== undefined) this.d.mfa = g.mfa;
    if (g.approvals !== undefined) this.d.approvals = g.approvals;
    if (g.policy !== undefined) this.d.policy = g.policy;
  }

  /** The policy stage, for use-cases that enforce key rules (key properties, deletion windows, grants). */
  get policy(): PolicyGate | undefined {
    return this.d.policy;
  }

  /** Throws Sealed or NotInitialized unless unsealed (for unauthenticated use-cases such as the token endpoint). */
  requireUnsealed(): void {
    if (this.d.seal.sealed) this.d.seal.rootKey();
  }

  /** Request facts for grant conditions. */
  grantContext(call: Call, encryptionContext?: ContextForGrants): GrantContext {
    return { now: this.#clock.now(), sourceIp: call.sourceIp, encryptionContext };
  }

  /**
   * Seal check, authentication and authorization of `action`. Key-scoped actions of a principal
   * whose permission comes from grants MUST pass the key id (`resource.keyId`), else they are denied.
   */
  async begin(call: Call, action: Action, resource: { keyId?: string; ref?: string } = {}): Promise<Principal> {
    noteAction(call, action, resource.keyId);
    this.requireUnsealed();
    const principal = await this.#authenticate(call);
    const r: Resource = { ...resource, context: this.grantContext(call) };
    await authorize(principal, action, r, this.d.grants);
    await this.#gates(principal, action, call, r);
    return principal;
  }

  /**
   * For an action on a key named by the caller (id or alias): authenticates, checks the role
   * permits the action at all, resolves the key and authorizes on its id. For a principal that
   * may act only through grants, an unknown key gives the same PermissionDenied as a key it holds
   * no grant on, so the answer never reveals whether a key exists. `encryptionContext` is the
   * operation's context, for grants conditioned on it; `algorithm` the signing, MAC or
   * asymmetric encryption algorithm the call names (policy allowedAlgorithms).
   */
  async beginKey(call: Call, action: Action, keyRef: string, encryptionContext?: ContextForGrants, algorithm?: string): Promise<{ principal: Principal; key: KeyRecord }> {
    noteAction(call, action, undefined, encryptionContext);
    this.requireUnsealed();
    const principal = await this.#authenticate(call);
    this.#roleCheck(principal, action);
    if (this.d.keys === undefined) throw new Error('Pipeline.beginKey needs the key service');
    let key: KeyRecord;
    try {
      key = await this.d.keys.resolve(keyRef);
    } catch (e) {
      if (needsGrant(principal, action) && isKeywardenError(e) && (e.code === 'NotFound' || e.code === 'ValidationError')) {
        throw noGrant(principal, action, keyRef);
      }
      throw e;
    }
    if (call.audit !== undefined) call.audit.keyId ??= key.id;
    const r: Resource = { keyId: key.id, ref: keyRef, context: this.grantContext(call, encryptionContext), key };
    await authorize(principal, action, r, this.d.grants);
    if (this.d.keyPolicy !== undefined) await this.d.keyPolicy.check(principal, action, key.id);
    this.d.policy?.checkCall(principal, action, call, key, algorithm);
    await this.#gates(principal, action, call, r);
    return { principal, key };
  }

  /**
   * Seal check, authentication, a check that the principal's roles allow `action` at all, and the
   * MFA gate. The key-scoped check MUST follow with authorizeKey once the key is known (e.g. from
   * a ciphertext header).
   */
  async beginDeferred(call: Call, action: Action): Promise<Principal> {
    noteAction(call, action);
    this.requireUnsealed();
    const principal = await this.#authenticate(call);
    this.#roleCheck(principal, action);
    if (this.d.mfa !== undefined) await this.d.mfa.check(principal, action, call, {});
    return principal;
  }

  /** Authorizes an already authenticated principal on a key learnt later (e.g. from a ciphertext header). */
  async authorizeKey(principal: Principal, call: Call, action: Action, keyId: string, encryptionContext?: EncryptionContext): Promise<void> {
    noteAction(call, action, keyId, encryptionContext);
    const r: Resource = { keyId, context: this.grantContext(call, encryptionContext) };
    await authorize(principal, action, r, this.d.grants);
    if (this.d.keyPolicy !== undefined) await this.d.keyPolicy.check(principal, action, keyId);
    const policy = this.d.policy;
    if (policy !== undefined) {
      // The key's record is read only when the policy has per-call or MFA rules (the hot decrypt path stays a lookup-free check).
      const key = policy.hasCallRules() || policy.hasMfaRules() ? await this.d.keys?.findById(keyId) : undefined;
      if (key !== undefined) {
        r.key = key;
        policy.checkCall(principal, action, call, key);
        if (this.d.mfa !== undefined && policy.hasMfaRules()) await this.d.mfa.check(principal, action, call, r);
      } else policy.allow(call);
    }
    if (this.d.approvals !== undefined) await this.d.approvals.check(principal, action, call, r);
  }

  async #authenticate(call: Call): Promise<Principal> {
    const p = call.internal !== undefined ? call.internal.principal : await this.d.tokens.authenticate(call.token);
    if (call.audit !== undefined) call.audit.principal = p;
    return p;
  }

  /** Throws the role deny when no role of the principal allows `action` on any key. */
  #roleCheck(principal: Principal, action: Action): void {
    if (principal.kind !== 'root' && action !== 'principal:self' && ruleFor(principal.roles, action) === undefined) {
      throw roleDenied(principal, action);
    }
  }

  async #gates(principal: Principal, action: Action, call: Call, r: Resource): Promise<void> {
    if (this.d.mfa !== undefined) await this.d.mfa.check(principal, action, call, r);
    if (this.d.approvals !== undefined) await this.d.approvals.check(principal, action, call, r);
  }
}
