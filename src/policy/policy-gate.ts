/**
 * The policy stage of the ops pipeline (issue 5/10 §3): evaluates the policy version in force
 * (src/policy/policy.service.ts) with the pure engine (src/policy/engine.ts) at every enforcement
 * point, records the decision on the call's audit facts (`policy: {decision, rule}`) and refuses
 * with PolicyViolation naming the rule.
 *
 * Hot path (checkCall, on every key-scoped call): when no layer of the key's scope has a per-call
 * rule the check is two array lookups and a constant, without allocation; the per-scope table is
 * rebuilt once per policy version.
 */
import type { ApprovableAction } from '../auth/access-policy.js';
import type { Action } from '../auth/authorize.js';
import type { Principal } from '../auth/token.model.js';
import { defaultUsage } from '../crypto/keyspecs.js';
import { errors } from '../errors/catalog.js';
import type { KeyRecord } from '../keys/key.model.js';
import { DAY_MS, ROTATION_PERIOD_DAYS, checkScopeChange, type CreateKeyInput, type UpdateKeyInput } from '../keys/key.service.js';
import type { Call } from '../ops/pipeline.js';
import * as engine from './engine.js';
import { CLASSIFICATIONS, ENVIRONMENTS, type KeyFacts, type RuleId, type Violation } from './policy.model.js';
import type { CurrentPolicy } from './policy.service.js';

type Decision = { decision: 'allow' | 'deny'; rule: RuleId | null };
const ALLOW: Decision = Object.freeze({ decision: 'allow', rule: null }) as Decision;
type Scope = Pick<KeyFacts, 'classification' | 'environment'>;

/** Index of a scope in the per-version table: (classification | none) x (environment | none). */
const scopeIndex = (s: Scope) => (CLASSIFICATIONS.indexOf(s.classification as never) + 1) * (ENVIRONMENTS.length + 1) + ENVIRONMENTS.indexOf(s.environment as never) + 1;

export class PolicyGate {
  #table: { for: CurrentPolicy; callRules: boolean[] } | undefined;

  constructor(private readonly policy: { current(): CurrentPolicy }) {}

  /** Records an allow unless the call already holds a decision. */
  allow(call: Call): void {
    if (call.audit !== undefined && call.audit.policy === undefined) call.audit.policy = ALLOW;
  }

  /** Records the deny and returns the PolicyViolation to throw. */
  deny(call: Call, v: Violation): Error {
    if (call.audit !== undefined) call.audit.policy = { decision: 'deny', rule: v.rule };
    return errors.policyViolation(v);
  }

  /** Records a refusal by another gate (MFA, approvals) that a policy rule caused. */
  noteRule(call: Call, rule: RuleId): void {
    if (call.audit !== undefined) call.audit.policy = { decision: 'deny', rule };
  }

  /** Per-call rules on a key: source networks, the principal's environment, the algorithm named. */
  checkCall(principal: Principal, action: Action, call: Call, key: KeyRecord, algorithm?: string): void {
    const p = this.policy.current();
    if (p.callRules && this.#callRules(p)[scopeIndex(key)]) {
      const v = engine.checkCall(p.document, key, { action, principal, sourceIp: call.sourceIp, algorithm });
      if (v !== undefined) throw this.deny(call, v);
    }
    this.allow(call);
  }

  /** Whether checkCall on `key` evaluates anything (the pipeline skips a key lookup otherwise). */
  hasCallRules(key?: Scope): boolean {
    const p = this.policy.current();
    return p.callRules && (key === undefined || this.#callRules(p)[scopeIndex(key)] === true);
  }

  hasMfaRules(): boolean {
    return this.policy.current().mfaRules;
  }

  #callRules(p: CurrentPolicy): boolean[] {
    if (this.#table?.for !== p) {
      const callRules: boolean[] = [];
      for (const c of [null, ...CLASSIFICATIONS]) {
        for (const e of [null, ...ENVIRONMENTS]) {
          const s = { classification: c, environment: e };
          callRules[scopeIndex(s)] = engine
            .layersFor(p.document, s)
            .some((l) => l.rules.allowedNetworks !== undefined || l.rules.principalEnvironments !== undefined || l.rules.allowedAlgorithms !== undefined);
        }
      }
      this.#table = { for: p, callRules };
    }
    return this.#table.callRules;
  }

  /**
   * A new key: fills in the rotation period (the scope's maxRotationDays, when the caller gave
   * none and the material is Keywarden's), then refuses any broken rule.
   */
  prepareCreate(call: Call, input: CreateKeyInput): CreateKeyInput {
    const doc = this.policy.current().document;
    const spec = input.spec ?? 'SYMMETRIC_DEFAULT';
    const origin = input.origin ?? 'KEYWARDEN';
    const scope: Scope = { classification: input.classification ?? null, environment: input.environment ?? null };
    let rotationPeriodDays = input.rotationPeriodDays;
    if (rotationPeriodDays === undefined && origin !== 'EXTERNAL') {
      const max = engine.strictestMax(doc, scope, 'maxRotationDays');
      if (max !== undefined) rotationPeriodDays = Math.min(max.value, ROTATION_PERIOD_DAYS.max);
    }
    const facts: KeyFacts = {
      spec,
      origin,
      usage: input.usage ?? defaultUsage(spec),
      ...scope,
      protection: input.protection ?? 'software',
      exportable: input.exportable ?? false,
      rotationPeriodMs: rotationPeriodDays === undefined ? null : rotationPeriodDays * DAY_MS,
    };
    this.#refuse(call, engine.checkKey(doc, facts));
    return rotationPeriodDays === undefined ? input : { ...input, rotationPeriodDays };
  }

  /**
   * A change of a key: a stricter scope re-applies its rules (a rotation period longer than the
   * new maximum, or none, is set to it), and the change may not break a rule the key kept before
   * (a key already out of line with a newer policy can still be fixed; compliance reports it).
   */
  prepareUpdate(call: Call, key: KeyRecord, input: UpdateKeyInput): UpdateKeyInput {
    checkScopeChange(key, input);
    const doc = this.policy.current().document;
    const scope: Scope = { classification: input.classification ?? key.classification, environment: input.environment ?? key.environment };
    let out = input;
    if (input.rotationPeriodDays === undefined && key.origin !== 'EXTERNAL') {
      const max = engine.strictestMax(doc, scope, 'maxRotationDays');
      const days = key.rotationPeriodMs === null ? null : key.rotationPeriodMs / DAY_MS;
      if (max !== undefined && (days === null || days > max.value)) out = { ...input, rotationPeriodDays: Math.min(max.value, ROTATION_PERIOD_DAYS.max) };
    }
    const rotationPeriodMs = out.rotationPeriodDays === undefined ? key.rotationPeriodMs : out.rotationPeriodDays === null ? null : out.rotationPeriodDays * DAY_MS;
    const before = new Set(engine.checkKey(doc, key).map((v) => v.rule));
    this.#refuse(call, engine.checkKey(doc, { ...key, ...scope, rotationPeriodMs }).filter((v) => !before.has(v.rule)));
    return out;
  }

  /** Key properties as they are (rotation, import): every broken rule refuses. */
  checkKey(call: Call, key: KeyFacts): void {
    this.#refuse(call, engine.checkKey(this.policy.current().document, key));
  }

  checkDeletionWindow(call: Call, key: KeyFacts, days: number): void {
    const v = engine.checkDeletionWindow(this.policy.current().document, key, days);
    if (v !== undefined) throw this.deny(call, v);
    this.allow(call);
  }

  /** Approvals (M) the policy asks for `action` on a key of this scope, with the rule (0 = none). */
  requiredApprovals(key: Scope, action: ApprovableAction): { m: number; rule: RuleId | null } {
    const p = this.policy.current();
    return p.approvalRules ? engine.requiredApprovals(p.document, key, action) : { m: 0, rule: null };
  }

  /** The rule that puts `action` on keys of this scope under MFA step-up, if any. */
  mfaRule(key: Scope, action: Action): RuleId | undefined {
    const p = this.policy.current();
    return p.mfaRules ? engine.mfaRule(p.document, key, action) : undefined;
  }

  /** The longest just-in-time grant on keys of this scope (undefined: no policy limit). */
  maxJitSeconds(key: Scope): { value: number; rule: RuleId } | undefined {
    return engine.strictestMax(this.policy.current().document, key, 'maxJitGrantSeconds');
  }

  checkGrant(call: Call, key: KeyFacts, grant: { createdAt: number; expiresAt: number | null }): void {
    const v = engine.checkGrant(this.policy.current().document, key, grant);
    if (v !== undefined) throw this.deny(call, v);
    this.allow(call);
  }

  #refuse(call: Call, violations: Violation[]): void {
    const first = violations[0];
    if (first !== undefined) throw this.deny(call, first);
    this.allow(call);
  }
}
