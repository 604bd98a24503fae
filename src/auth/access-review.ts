/**
 * Access review (issue 3/10 §8): who can do what on which key, and the findings a reviewer acts
 * on. Read-only; assembled from the same records authorization uses:
 * - per key, the role-wide powers (src/auth/roles.ts: key-administrators administer every key,
 *   security officers may revoke it, auditors read its metadata) and every grant in force on it:
 *   key grants and tag-selector grants resolved against the key's CURRENT tags;
 * - grants unused for N days (never used and created more than N days ago counts), grants whose
 *   notAfter falls within M days, and people (users) without MFA; service accounts authenticate
 *   with client credentials, so MFA does not apply to them and they are listed separately.
 * Destroyed keys are left out (nobody can do anything with them).
 */
import type { KeyRecord } from '../keys/key.model.js';
import type { KeyService } from '../keys/key.service.js';
import { errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { containsPairs } from './grant-conditions.js';
import type { GrantService } from './grant.service.js';
import type { GrantConditions, GrantOperation, GrantRecord, PrincipalRecord, Role } from './principal.model.js';
import type { PrincipalStore } from './principal.store.js';

const DAY_MS = 86_400_000;
const KEY_PAGE = 500;

export const ACCESS_REVIEW_DEFAULTS = { unusedDays: 30, expiringWithinDays: 7, maxDays: 3650 } as const;

/** Roles whose powers reach every key, and what each one may do there. */
export const ROLE_WIDE_POWERS = {
  administer: { role: 'key-administrator', what: 'create, rotate, enable/disable, schedule deletion, tag, alias, import, manage grants' },
  revoke: { role: 'security-officer', what: 'revoke as compromised, revoke grants, read metadata' },
  read: { role: 'auditor', what: 'read metadata' },
} as const satisfies Record<string, { role: Role; what: string }>;

export interface PrincipalRef {
  id: string;
  name: string;
}

export interface ReviewedGrant {
  id: string;
  principal: PrincipalRef;
  via: 'key' | 'tag-selector';
  tagSelector: Record<string, string> | null;
  operations: GrantOperation[];
  conditions: GrantConditions;
  /** conditions.notAfter, or null when the grant does not expire. */
  expiresAt: number | null;
  createdAt: number;
  createdBy: PrincipalRef;
  lastUsedAt: number | null;
  approvalRequestId: string | null;
  /** False when authorization would not honour the grant now; `notInEffect` says why. */
  inEffect: boolean;
  notInEffect?: string;
}

export interface ReviewedKey {
  keyId: string;
  aliases: string[];
  state: string;
  tags: Record<string, string>;
  createdBy: PrincipalRef | null;
  roleAccess: Record<keyof typeof ROLE_WIDE_POWERS, PrincipalRef[]>;
  grants: ReviewedGrant[];
}

export interface GrantFinding {
  grantId: string;
  principal: PrincipalRef;
  keyId: string | null;
  tagSelector: Record<string, string> | null;
  operations: GrantOperation[];
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
}

export interface AccessReview {
  generatedAt: number;
  unusedDays: number;
  expiringWithinDays: number;
  keys: ReviewedKey[];
  findings: {
    unusedGrants: GrantFinding[];
    expiringGrants: GrantFinding[];
    /** Enabled users without MFA enabled. */
    principalsWithoutMfa: Array<PrincipalRef & { roles: Role[] }>;
    /** Enabled service accounts: MFA does not apply (client credentials / assertions). */
    mfaNotApplicable: Array<PrincipalRef & { kind: 'service-account'; roles: Role[] }>;
  };
}

export interface AccessReviewDeps {
  grants: GrantService;
  keys: KeyService;
  principals: PrincipalStore;
  /** principal id -> MFA enabled, for users (UserService.mfaStatus). */
  mfaStatus: () => Promise<Map<string, boolean>>;
  clock: Clock;
}

export class AccessReviewer {
  constructor(private readonly d: AccessReviewDeps) {}

  async review(opts: { unusedDays?: number; expiringWithinDays?: number } = {}): Promise<AccessReview> {
    const unusedDays = checkDays('unusedDays', opts.unusedDays ?? ACCESS_REVIEW_DEFAULTS.unusedDays, 1);
    const expiringWithinDays = checkDays('expiringWithinDays', opts.expiringWithinDays ?? ACCESS_REVIEW_DEFAULTS.expiringWithinDays, 0);
    const now = this.d.clock.now();
    const [principals, allGrants, keys, mfa] = await Promise.all([this.d.principals.listPrincipals(), this.d.grants.list({}), this.#allKeys(), this.d.mfaStatus()]);

    const byId = new Map(principals.map((p) => [p.id, p]));
    // Grant creators and key creators may be the root token (its accessor), not a principal.
    const ref = (id: string): PrincipalRef => ({ id, name: byId.get(id)?.name ?? (id.startsWith('acc_') ? 'root token' : id) });
    const enabled = principals.filter((p) => !p.disabled);
    const holders = (role: Role) => enabled.filter((p) => p.roles.includes(role)).map((p) => ({ id: p.id, name: p.name }));
    const roleAccess = {
      administer: holders(ROLE_WIDE_POWERS.administer.role),
      revoke: holders(ROLE_WIDE_POWERS.revoke.role),
      read: holders(ROLE_WIDE_POWERS.read.role),
    };
    // Grants past their notAfter no longer exist for authorization; they are not "in force".
    const grants = allGrants.filter((g) => g.conditions.notAfter === undefined || g.conditions.notAfter > now);

    const reviewed: ReviewedKey[] = keys.map((k) => ({
      keyId: k.id,
      aliases: k.aliases,
      state: k.state,
      tags: k.tags,
      createdBy: k.createdBy === null ? null : ref(k.createdBy),
      roleAccess,
      grants: grants
        .filter((g) => (g.keyId !== null ? g.keyId === k.id : g.tagSelector !== null && containsPairs(k.tags, g.tagSelector)))
        .map((g) => reviewGrant(g, k, byId.get(g.principalId), ref, now)),
    }));

    const finding = (g: GrantRecord): GrantFinding => ({
      grantId: g.id,
      principal: ref(g.principalId),
      keyId: g.keyId,
      tagSelector: g.tagSelector,
      operations: g.operations,
      createdAt: g.createdAt,
      lastUsedAt: g.lastUsedAt,
      expiresAt: g.conditions.notAfter ?? null,
    });
    const unusedSince = now - unusedDays * DAY_MS;
    const expiringBy = now + expiringWithinDays * DAY_MS;
    return {
      generatedAt: now,
      unusedDays,
      expiringWithinDays,
      keys: reviewed,
      findings: {
        unusedGrants: grants.filter((g) => (g.lastUsedAt ?? g.createdAt) <= unusedSince).map(finding),
        expiringGrants: grants.filter((g) => g.conditions.notAfter !== undefined && g.conditions.notAfter <= expiringBy).map(finding),
        principalsWithoutMfa: enabled.filter((p) => p.kind === 'user' && mfa.get(p.id) !== true).map((p) => ({ id: p.id, name: p.name, roles: p.roles })),
        mfaNotApplicable: enabled.filter((p) => p.kind === 'service-account').map((p) => ({ id: p.id, name: p.name, kind: 'service-account' as const, roles: p.roles })),
      },
    };
  }

  async #allKeys(): Promise<KeyRecord[]> {
    const out: KeyRecord[] = [];
    for (let page = await this.d.keys.list(KEY_PAGE); page.length > 0; ) {
      out.push(...page.filter((k) => k.state !== 'Destroyed'));
      if (page.length < KEY_PAGE) break;
      const last = page[page.length - 1] as KeyRecord;
      page = await this.d.keys.list(KEY_PAGE, { createdAt: last.createdAt, id: last.id });
    }
    return out;
  }
}

function reviewGrant(g: GrantRecord, key: KeyRecord, holder: PrincipalRecord | undefined, ref: (id: string) => PrincipalRef, now: number): ReviewedGrant {
  // The same rules authorization applies (src/auth/grant.service.ts), in the order a reviewer needs them.
  const notInEffect =
    holder === undefined || holder.disabled ? 'the principal is disabled'
    : !holder.roles.includes('application') ? 'the principal no longer holds the application role'
    : key.createdBy === g.principalId ? 'the principal created the key (separation of duties)'
    : g.conditions.notBefore !== undefined && g.conditions.notBefore > now ? 'not valid yet (notBefore)'
    : undefined;
  return {
    id: g.id,
    principal: ref(g.principalId),
    via: g.keyId !== null ? 'key' : 'tag-selector',
    tagSelector: g.tagSelector,
    operations: g.operations,
    conditions: g.conditions,
    expiresAt: g.conditions.notAfter ?? null,
    createdAt: g.createdAt,
    createdBy: ref(g.createdBy),
    lastUsedAt: g.lastUsedAt,
    approvalRequestId: g.approvalRequestId,
    inEffect: notInEffect === undefined,
    ...(notInEffect !== undefined ? { notInEffect } : {}),
  };
}

function checkDays(name: string, n: number, min: number): number {
  if (!Number.isInteger(n) || n < min || n > ACCESS_REVIEW_DEFAULTS.maxDays) {
    throw errors.validation(`${name} must be a whole number of days from ${min} to ${ACCESS_REVIEW_DEFAULTS.maxDays}`);
  }
  return n;
}
