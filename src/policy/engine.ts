/**
 * The policy engine (issue 5/10): pure functions over a policy document (src/policy/policy.model.ts).
 * No I/O and no clock: callers pass every fact, so the server (ops pipeline), the compliance report
 * and the offline CI gate (`keywarden policy check`) reach the same verdicts from the same code.
 *
 * Every layer that applies to a key's scope is enforced ("strictest wins"); a finding names the
 * layer and member that produced it (`defaults.maxRotationDays`, `classifications.restricted.allowedKeySpecs`,
 * `environments.prod.principalEnvironments`, `rules.<id>.requiredProtection`).
 */
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { errors } from '../errors/catalog.js';
import { addressInCidr, cidrProblem } from '../auth/grant-conditions.js';
import type { ApprovableAction } from '../auth/access-policy.js';
import type { Action } from '../auth/authorize.js';
import type { KeyRecord } from '../keys/key.model.js';
import {
  DATA_PLANE_ACTIONS,
  PolicyDocumentSchema,
  ManifestSchema,
  type Classification,
  type Environment,
  type KeyFacts,
  type Manifest,
  type PolicyDocument,
  type RuleField,
  type RuleId,
  type RuleSet,
  type Violation,
} from './policy.model.js';

const DAY_MS = 86_400_000;

/** One layer of the document that applies to a scope, with the id findings cite. */
export interface AppliedLayer {
  /** `defaults`, `classifications.<c>`, `environments.<e>` or `rules.<id>`. */
  id: string;
  rules: RuleSet;
}

export interface Scope {
  classification: Classification | null;
  environment: Environment | null;
}

/** The layers that apply to keys of `scope`, in document order (defaults first). */
export function layersFor(doc: PolicyDocument, scope: Scope): AppliedLayer[] {
  const out: AppliedLayer[] = [];
  if (doc.defaults) out.push({ id: 'defaults', rules: doc.defaults });
  const c = scope.classification !== null ? doc.classifications?.[scope.classification] : undefined;
  if (c) out.push({ id: `classifications.${scope.classification}`, rules: c });
  const e = scope.environment !== null ? doc.environments?.[scope.environment] : undefined;
  if (e) out.push({ id: `environments.${scope.environment}`, rules: e });
  for (const r of doc.rules ?? []) {
    const cm = r.match.classification === undefined || (scope.classification !== null && r.match.classification.includes(scope.classification));
    const em = r.match.environment === undefined || (scope.environment !== null && r.match.environment.includes(scope.environment));
    if (cm && em) {
      const { id, description: _d, match: _m, ...rules } = r;
      out.push({ id: `rules.${id}`, rules });
    }
  }
  return out;
}

/** Each applying layer's value of `field`, with its rule id. */
function values<F extends RuleField>(doc: PolicyDocument, scope: Scope, field: F): Array<{ rule: RuleId; value: NonNullable<RuleSet[F]> }> {
  const out: Array<{ rule: RuleId; value: NonNullable<RuleSet[F]> }> = [];
  for (const l of layersFor(doc, scope)) {
    const v = l.rules[field];
    if (v !== undefined && v !== null) out.push({ rule: `${l.id}.${field}`, value: v as NonNullable<RuleSet[F]> });
  }
  return out;
}

/** The smallest value of a numeric member across the applying layers (the strictest maximum). */
export function strictestMax(doc: PolicyDocument, scope: Scope, field: RuleField & ('maxRotationDays' | 'maxJitGrantSeconds' | 'maxGrantDays' | 'unusedDays' | 'dataKeyMaxLifetimeSeconds')): { value: number; rule: RuleId } | undefined {
  let best: { value: number; rule: RuleId } | undefined;
  for (const v of values(doc, scope, field)) if (best === undefined || (v.value as number) < best.value) best = { value: v.value as number, rule: v.rule };
  return best;
}

/** The largest minimum deletion window across the applying layers. */
export function minDeletionWindowDays(doc: PolicyDocument, scope: Scope): { value: number; rule: RuleId } | undefined {
  let best: { value: number; rule: RuleId } | undefined;
  for (const v of values(doc, scope, 'minDeletionWindowDays')) if (best === undefined || v.value > best.value) best = { value: v.value, rule: v.rule };
  return best;
}

/** The policy facts of a stored key. */
export function keyFacts(k: KeyRecord): KeyFacts {
  return {
    spec: k.spec,
    usage: k.usage,
    origin: k.origin,
    classification: k.classification,
    environment: k.environment,
    protection: k.protection,
    exportable: k.exportable,
    rotationPeriodMs: k.rotationPeriodMs,
  };
}

/** What the policy in force means for one key: the layers that apply, its limits, and what it breaks now. */
export interface EffectivePolicy {
  layers: string[];
  limits: Partial<Record<'maxRotationDays' | 'minDeletionWindowDays' | 'maxJitGrantSeconds' | 'maxGrantDays' | 'unusedDays' | 'dataKeyMaxLifetimeSeconds', { value: number; rule: RuleId }>>;
  violations: Violation[];
}

export function effectivePolicy(doc: PolicyDocument, key: KeyFacts): EffectivePolicy {
  const scope = scopeOf(key);
  const limits: EffectivePolicy['limits'] = {};
  for (const f of ['maxRotationDays', 'maxJitGrantSeconds', 'maxGrantDays', 'unusedDays', 'dataKeyMaxLifetimeSeconds'] as const) {
    const v = strictestMax(doc, scope, f);
    if (v !== undefined) limits[f] = v;
  }
  const min = minDeletionWindowDays(doc, scope);
  if (min !== undefined) limits.minDeletionWindowDays = min;
  return { layers: layersFor(doc, scope).map((l) => l.id), limits, violations: checkKey(doc, key) };
}

const scopeOf = (k: Pick<KeyFacts, 'classification' | 'environment'>): Scope => ({ classification: k.classification, environment: k.environment });
const where = (k: Pick<KeyFacts, 'classification' | 'environment'>) =>
  `${k.classification ?? 'unclassified'} keys${k.environment !== null ? ` in ${k.environment}` : ''}`;

/**
 * Every rule a key's own properties break (for creation, update, rotation and the compliance
 * report): spec, rotation period, protection, exportability, missing classification.
 */
export function checkKey(doc: PolicyDocument, key: KeyFacts): Violation[] {
  const scope = scopeOf(key);
  const out: Violation[] = [];
  for (const v of values(doc, scope, 'requireClassification')) {
    if (v.value && key.classification === null) out.push({ rule: v.rule, field: 'classification', message: `keys${key.environment !== null ? ` in ${key.environment}` : ''} must carry a classification` });
  }
  for (const v of values(doc, scope, 'allowedKeySpecs')) {
    if (!v.value.includes(key.spec)) out.push({ rule: v.rule, field: 'allowedKeySpecs', message: `key spec ${key.spec} is not allowed for ${where(key)} (allowed: ${v.value.join(', ')})` });
  }
  // Only keys whose material Keywarden generates rotate automatically (imported material cannot).
  if (key.origin !== 'EXTERNAL') {
    for (const v of values(doc, scope, 'maxRotationDays')) {
      const days = key.rotationPeriodMs === null ? null : key.rotationPeriodMs / DAY_MS;
      if (days === null || days > v.value) {
        out.push({ rule: v.rule, field: 'maxRotationDays', message: `${where(key)} must rotate automatically at least every ${v.value} days (${days === null ? 'automatic rotation is off' : `the period is ${days} days`})` });
      }
    }
  }
  for (const v of values(doc, scope, 'requiredProtection')) {
    if (v.value === 'hsm' && key.protection !== 'hsm') out.push({ rule: v.rule, field: 'requiredProtection', message: `${where(key)} must be HSM-protected (protection: hsm)` });
  }
  for (const v of values(doc, scope, 'exportable')) {
    if (!v.value && key.exportable) out.push({ rule: v.rule, field: 'exportable', message: `${where(key)} may not be exportable` });
  }
  return out;
}

/** Refuses a pending-deletion window shorter than the scope's minimum. */
export function checkDeletionWindow(doc: PolicyDocument, key: KeyFacts, days: number): Violation | undefined {
  const min = minDeletionWindowDays(doc, scopeOf(key));
  if (min !== undefined && days < min.value) {
    return { rule: min.rule, field: 'minDeletionWindowDays', message: `${where(key)} need a deletion window of at least ${min.value} days (asked: ${days})` };
  }
  return undefined;
}

/** Facts of one call on a key, for the pipeline's policy stage. */
export interface CallFacts {
  action: Action;
  principal: { kind: 'root' | 'service-account' | 'user'; environment: Environment | null };
  sourceIp?: string | undefined;
  /** The signing, MAC or encryption algorithm the call names, when it names one. */
  algorithm?: string | undefined;
}

const isDataPlane = (a: Action): boolean => (DATA_PLANE_ACTIONS as readonly string[]).includes(a);

/**
 * The first rule a call on `key` breaks, or undefined: source networks (every call on the key),
 * the principal's environment (data-plane actions; the root token is exempt), and the algorithm
 * the call names.
 */
export function checkCall(doc: PolicyDocument, key: KeyFacts, call: CallFacts): Violation | undefined {
  const scope = scopeOf(key);
  for (const v of values(doc, scope, 'allowedNetworks')) {
    const inside = call.sourceIp !== undefined && v.value.some((c) => addressInCidr(call.sourceIp as string, c));
    if (!inside) return { rule: v.rule, field: 'allowedNetworks', message: `calls on ${where(key)} must come from ${v.value.join(', ')} (this one came from ${call.sourceIp ?? 'an unknown address'})` };
  }
  if (isDataPlane(call.action) && call.principal.kind !== 'root') {
    for (const v of values(doc, scope, 'principalEnvironments')) {
      if (call.principal.environment === null || !v.value.includes(call.principal.environment)) {
        return {
          rule: v.rule,
          field: 'principalEnvironments',
          message: `only principals of ${v.value.join(', ')} may use ${where(key)} (the caller's environment is ${call.principal.environment ?? 'not set'})`,
        };
      }
    }
  }
  if (call.algorithm !== undefined) {
    for (const v of values(doc, scope, 'allowedAlgorithms')) {
      if (!(v.value as readonly string[]).includes(call.algorithm)) {
        return { rule: v.rule, field: 'allowedAlgorithms', message: `algorithm ${call.algorithm} is not allowed for ${where(key)} (allowed: ${v.value.join(', ')})` };
      }
    }
  }
  return undefined;
}

/** Approvals (M) `action` needs on `key`: the largest across the applying layers (0 = none). */
export function requiredApprovals(doc: PolicyDocument, key: Pick<KeyFacts, 'classification' | 'environment'>, action: ApprovableAction): { m: number; rule: RuleId | null } {
  let best: { m: number; rule: RuleId | null } = { m: 0, rule: null };
  for (const v of values(doc, scopeOf(key), 'approvals')) {
    const m = v.value[action];
    if (m !== undefined && m > best.m) best = { m, rule: `${v.rule}.${action}` };
  }
  return best;
}

/** The rule that makes `action` on `key` need a fresh TOTP from people, if any. */
export function mfaRule(doc: PolicyDocument, key: Pick<KeyFacts, 'classification' | 'environment'>, action: Action): RuleId | undefined {
  return values(doc, scopeOf(key), 'mfaActions').find((v) => v.value.includes(action))?.rule;
}

/** Refuses a grant on `key` that does not expire within the scope's maxGrantDays of its creation. */
export function checkGrant(doc: PolicyDocument, key: KeyFacts, grant: { createdAt: number; expiresAt: number | null }): Violation | undefined {
  const max = strictestMax(doc, scopeOf(key), 'maxGrantDays');
  if (max === undefined) return undefined;
  if (grant.expiresAt === null || grant.expiresAt - grant.createdAt > max.value * DAY_MS) {
    return { rule: max.rule, field: 'maxGrantDays', message: `grants on ${where(key)} must expire within ${max.value} days` };
  }
  return undefined;
}

// ---- Parsing and semantic validation -------------------------------------------------------------

function parseText(text: string, what: string): unknown {
  try {
    return parseYaml(text); // YAML 1.2 is a superset of JSON
  } catch (e) {
    throw errors.validation(`the ${what} is neither YAML nor JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

function firstSchemaError(schema: Parameters<typeof Value.Errors>[0], v: unknown, what: string): never {
  const e = [...Value.Errors(schema, v)][0];
  const at = e?.path ? e.path.slice(1).replace(/\//g, '.') : '(top level)';
  throw errors.validation(`invalid ${what} at ${at}: ${e?.message ?? 'invalid'}`);
}

/** Validates a parsed policy document: schema, then what a schema cannot say (CIDRs, unique rule ids, known actions). */
export function validatePolicy(v: unknown, knownActions: readonly string[]): PolicyDocument {
  if (!Value.Check(PolicyDocumentSchema, v)) firstSchemaError(PolicyDocumentSchema, v, 'policy');
  const doc = v;
  const layers: Array<[string, RuleSet]> = [
    ...(doc.defaults ? [['defaults', doc.defaults] as [string, RuleSet]] : []),
    ...Object.entries(doc.classifications ?? {}).map(([c, r]) => [`classifications.${c}`, r] as [string, RuleSet]),
    ...Object.entries(doc.environments ?? {}).map(([e, r]) => [`environments.${e}`, r] as [string, RuleSet]),
    ...(doc.rules ?? []).map((r) => [`rules.${r.id}`, r] as [string, RuleSet]),
  ];
  const ids = new Set<string>();
  for (const r of doc.rules ?? []) {
    if (ids.has(r.id)) throw errors.validation(`invalid policy at rules: the rule id "${r.id}" is used twice`);
    ids.add(r.id);
  }
  for (const [id, r] of layers) {
    for (const c of r.allowedNetworks ?? []) {
      const problem = cidrProblem(c);
      if (problem !== undefined) throw errors.validation(`invalid policy at ${id}.allowedNetworks: ${problem}`);
    }
    for (const a of r.mfaActions ?? []) {
      if (!knownActions.includes(a)) throw errors.validation(`invalid policy at ${id}.mfaActions: unknown action "${a}"`);
    }
  }
  return doc;
}

/** Parses and validates a policy document given as YAML or JSON text. */
export function parsePolicy(text: string, knownActions: readonly string[]): PolicyDocument {
  return validatePolicy(parseText(text, 'policy'), knownActions);
}

/** Parses and validates a key manifest given as YAML or JSON text (aliases unique, grants name manifest keys). */
export function parseManifest(text: string): Manifest {
  const v = parseText(text, 'manifest');
  if (!Value.Check(ManifestSchema, v)) firstSchemaError(ManifestSchema, v, 'manifest');
  const aliases = new Set<string>();
  for (const k of v.keys) {
    if (aliases.has(k.alias)) throw errors.validation(`invalid manifest at keys: the alias ${k.alias} is declared twice`);
    aliases.add(k.alias);
  }
  for (const [i, g] of (v.grants ?? []).entries()) {
    if (!aliases.has(g.key)) throw errors.validation(`invalid manifest at grants.${i}.key: ${g.key} is not a key of this manifest`);
  }
  return v;
}
