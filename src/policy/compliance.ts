/**
 * The compliance report (issue 5/10 §4): every key checked against the current policy document,
 * with each violation named by kind and by the rule that produced it, plus summary counts. Pure:
 * the caller (src/ops/compliance.ops.ts) passes the keys, their grants, the policy and the time.
 *
 * Contracts:
 * - Destroyed keys are skipped. PendingDeletion keys are listed (they still exist) with no
 *   violations: they are on their way out and counting them would hide what needs action.
 * - A `weak-algorithm` violation names the spec to re-key to (`replacementSpec`, null when the
 *   scope allows no spec of the key's usage); a `rotation-period` one names the scope's maximum
 *   (`maxRotationDays`). `keywarden compliance remediate` acts on exactly these facts.
 */
import { containsPairs } from '../auth/grant-conditions.js';
import { KEY_SPEC_USAGES, type KeySpec, type KeyUsage } from '../crypto/keyspecs.js';
import type { KeyRecord } from '../keys/key.model.js';
import { checkGrant, checkKey, keyFacts, layersFor, strictestMax, type Scope } from './engine.js';
import { CLASSIFICATIONS, ENVIRONMENTS, PROTECTIONS, type Classification, type Environment, type KeyFacts, type PolicyDocument, type Protection, type RuleId } from './policy.model.js';

const DAY_MS = 86_400_000;

export const VIOLATION_KINDS = [
  'rotation-overdue',
  'rotation-period',
  'weak-algorithm',
  'missing-classification',
  'missing-hsm',
  'exportable',
  'unused',
  'grant-beyond-maximum',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export interface ComplianceViolation {
  kind: ViolationKind;
  rule: RuleId;
  message: string;
  /** rotation-period: the longest period the scope allows. */
  maxRotationDays?: number;
  /** weak-algorithm: the strongest allowed spec of the key's usage (null: none is allowed). */
  replacementSpec?: KeySpec | null;
  /** grant-beyond-maximum: the grant. */
  grantId?: string;
}

/** A key as the report reads it; `primaryVersionCreatedAt` dates the last rotation (else createdAt). */
export type ComplianceKey = KeyRecord & { primaryVersionCreatedAt?: number | null };

/** What the report needs of a grant (GrantRecord has it): expiry is `conditions.notAfter`. */
export interface ComplianceGrant {
  id: string;
  keyId: string | null;
  tagSelector: Record<string, string> | null;
  createdAt: number;
  revokedAt?: number | null;
  conditions: { notAfter?: number };
}

export interface KeyCompliance {
  id: string;
  aliases: string[];
  spec: KeySpec;
  classification: Classification | null;
  environment: Environment | null;
  state: KeyRecord['state'];
  violations: ComplianceViolation[];
}

export interface ComplianceReport {
  generatedAt: number;
  policy: { version: number; hash: string };
  summary: { keys: number; compliant: number; pendingDeletion: number; violations: number; byKind: Record<ViolationKind, number> };
  keys: KeyCompliance[];
}

export interface ReportFilter {
  classification?: Classification;
  environment?: Environment;
  kind?: ViolationKind;
}


/** Rough security strength in bits (NIST SP 800-57 Part 1 Table 2), to pick the strongest replacement. */
const STRENGTH: Record<KeySpec, number> = {
  SYMMETRIC_DEFAULT: 256, HMAC_256: 256, HMAC_384: 384, HMAC_512: 512,
  RSA_2048: 112, RSA_3072: 128, RSA_4096: 152,
  ECC_NIST_P256: 128, ECC_NIST_P384: 192, ECC_ED25519: 128,
};
const family = (s: KeySpec): string => s.split('_')[0] as string;

/** Specs every applying layer allows for `scope` (undefined: no layer restricts specs). */
export function allowedSpecs(doc: PolicyDocument, scope: Scope): KeySpec[] | undefined {
  let allowed: KeySpec[] | undefined;
  for (const l of layersFor(doc, scope)) {
    const a = l.rules.allowedKeySpecs;
    if (a !== undefined) allowed = (allowed ?? a).filter((s) => a.includes(s));
  }
  return allowed;
}

/**
 * The spec to re-key a key of `spec`/`usage` to: the strongest allowed spec that offers the usage,
 * preferring the same family (RSA stays RSA, so verifiers and wrapping code keep working).
 */
export function replacementSpec(doc: PolicyDocument, scope: Scope, spec: KeySpec, usage: KeyUsage): KeySpec | null {
  const allowed = allowedSpecs(doc, scope);
  const candidates = (allowed ?? []).filter((s) => usage in KEY_SPEC_USAGES[s]);
  const rank = (s: KeySpec) => (family(s) === family(spec) ? 10_000 : 0) + STRENGTH[s];
  return candidates.sort((a, b) => rank(b) - rank(a))[0] ?? null;
}

const KIND_OF_FIELD: Record<string, ViolationKind | undefined> = {
  maxRotationDays: 'rotation-period',
  allowedKeySpecs: 'weak-algorithm',
  classification: 'missing-classification',
  requiredProtection: 'missing-hsm',
  exportable: 'exportable',
};

/** Every violation of one key at `now` (for a key that is not PendingDeletion or Destroyed). */
export function keyViolations(doc: PolicyDocument, key: ComplianceKey, grants: readonly ComplianceGrant[], now: number): ComplianceViolation[] {
  const facts = keyFacts(key);
  const scope: Scope = { classification: facts.classification, environment: facts.environment };
  const out: ComplianceViolation[] = [];
  // Rotation overdue: the schedule's time has passed, or the primary version is older than the maximum.
  const canRotate = key.origin !== 'EXTERNAL' && key.primaryVersion > 0;
  const maxRot = strictestMax(doc, scope, 'maxRotationDays');
  const lastRotation = key.primaryVersionCreatedAt ?? key.createdAt;
  if (canRotate && key.nextRotationAt !== null && key.nextRotationAt < now) {
    out.push({ kind: 'rotation-overdue', rule: maxRot?.rule ?? 'key.rotationPeriod', message: `automatic rotation was due at ${new Date(key.nextRotationAt).toISOString()}` });
  } else if (canRotate && maxRot !== undefined && now - lastRotation > maxRot.value * DAY_MS) {
    const days = Math.floor((now - lastRotation) / DAY_MS);
    out.push({ kind: 'rotation-overdue', rule: maxRot.rule, message: `not rotated for ${days} days (at most ${maxRot.value} days allowed)` });
  }
  for (const v of checkKey(doc, facts)) {
    const kind = KIND_OF_FIELD[v.field];
    if (kind === undefined) continue;
    const extra: Partial<ComplianceViolation> =
      kind === 'rotation-period' ? { maxRotationDays: maxRot?.value as number }
      : kind === 'weak-algorithm' ? { replacementSpec: replacementSpec(doc, scope, key.spec, key.usage) }
      : {};
    // Several layers can refuse the same thing; the report lists each kind once per key, citing the first rule.
    if (!out.some((o) => o.kind === kind)) out.push({ kind, rule: v.rule, message: v.message, ...extra });
  }
  const unused = strictestMax(doc, scope, 'unusedDays');
  const lastUse = key.lastUsedAt ?? key.createdAt;
  if (unused !== undefined && now - lastUse > unused.value * DAY_MS) {
    out.push({ kind: 'unused', rule: unused.rule, message: `${key.lastUsedAt === null ? 'never used' : `not used since ${new Date(key.lastUsedAt).toISOString()}`} (the limit is ${unused.value} days)` });
  }
  for (const g of grants) {
    if (g.revokedAt != null) continue;
    const applies = g.keyId === key.id || (g.keyId === null && g.tagSelector !== null && containsPairs(key.tags, g.tagSelector));
    if (!applies) continue;
    const v = checkGrant(doc, facts, { createdAt: g.createdAt, expiresAt: g.conditions.notAfter ?? null });
    if (v !== undefined) out.push({ kind: 'grant-beyond-maximum', rule: v.rule, message: `grant ${g.id}: ${v.message}`, grantId: g.id });
  }
  return out;
}

export function complianceReport(
  doc: PolicyDocument,
  policy: { version: number; hash: string },
  keys: readonly ComplianceKey[],
  grants: readonly ComplianceGrant[],
  now: number,
  filter: ReportFilter = {},
): ComplianceReport {
  const byKind = Object.fromEntries(VIOLATION_KINDS.map((k) => [k, 0])) as Record<ViolationKind, number>;
  const listed: KeyCompliance[] = [];
  for (const k of keys) {
    if (k.state === 'Destroyed') continue;
    const f = keyFacts(k);
    if (filter.classification !== undefined && f.classification !== filter.classification) continue;
    if (filter.environment !== undefined && f.environment !== filter.environment) continue;
    const violations = k.state === 'PendingDeletion' ? [] : keyViolations(doc, k, grants, now);
    if (filter.kind !== undefined && !violations.some((v) => v.kind === filter.kind)) continue;
    listed.push({ id: k.id, aliases: k.aliases, spec: k.spec, classification: f.classification, environment: f.environment, state: k.state, violations });
  }
  let violations = 0;
  for (const k of listed) {
    for (const v of k.violations) byKind[v.kind]++;
    violations += k.violations.length;
  }
  return {
    generatedAt: now,
    policy,
    summary: {
      keys: listed.length,
      compliant: listed.filter((k) => k.state !== 'PendingDeletion' && k.violations.length === 0).length,
      pendingDeletion: listed.filter((k) => k.state === 'PendingDeletion').length,
      violations,
      byKind,
    },
    keys: listed,
  };
}
