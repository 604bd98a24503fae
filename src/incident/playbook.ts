/**
 * The key-compromise playbook (issue 10/10 §5), run against one set of services: production, or a
 * scratch copy in a drill (drill.ts). Authorization, validation and the policy pre-check happen in
 * src/ops/incident.ops.ts before this runs; here each step is carried out and recorded with its
 * outcome and time. A step that fails is recorded and the next steps still run (the key is
 * contained first; the rest is bookkeeping that an operator can finish by hand).
 */
import type { Principal } from '../auth/token.model.js';
import type { GrantService } from '../auth/grant.service.js';
import type { PrincipalStore } from '../auth/principal.store.js';
import type { AuditSearch } from '../audit/audit.store.js';
import type { CreateKeyInput, KeyService } from '../keys/key.service.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { Clock } from '../util/clock.js';
import { scanExposure } from './exposure.js';
import type { IncidentResult, IncidentStep, RewrapPlan, StepName, StepOutcome } from './incident.model.js';

/** The services a playbook run acts on (production, or a drill's scratch copy). */
export interface PlaybookEnv {
  keys: KeyService;
  grants: GrantService;
  principals: PrincipalStore;
  audit: AuditSearch;
  /**
   * Records one change the playbook made (production: one audit event per change, so the ledger
   * shows each revocation, key, alias move and grant as for any other call; a drill records none).
   */
  changed?: (change: { operation: 'key:revoke' | 'key:create' | 'key:alias' | 'grant:manage'; keyId: string; keyVersion?: number; details?: Record<string, string> }) => Promise<void>;
}

/** Keywarden's own tags, which stay with the old key (compliance remediation uses the same names). */
const OWN_TAG_PREFIX = 'keywarden:';
export const REPLACES_TAG = 'keywarden:replaces';

/** The successor of `key`: same spec, usage, scope, protection and (user) tags; its own fresh material. */
export function successorInput(key: KeyRecord, incidentId: string): CreateKeyInput {
  const tags = Object.fromEntries(Object.entries(key.tags).filter(([t]) => !t.startsWith(OWN_TAG_PREFIX)));
  return {
    description: `Successor of compromised key ${key.id} (incident ${incidentId})${key.description ? `: ${key.description}` : ''}`.slice(0, 8192),
    spec: key.spec,
    usage: key.usage,
    tags: { ...tags, [REPLACES_TAG]: key.id },
    ...(key.classification !== null && { classification: key.classification }),
    ...(key.environment !== null && { environment: key.environment }),
    protection: key.protection,
    ...(key.rotationPeriodMs !== null && { rotationPeriodDays: Math.round(key.rotationPeriodMs / 86_400_000) }),
  };
}

export const rewrapCommand = (from: string, to: string) => `keywarden incident rewrap --from ${from} --to ${to} --in ciphertexts.txt --out rewrapped.txt`;

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function runPlaybook(
  env: PlaybookEnv,
  o: {
    clock: Clock;
    principal: Principal;
    key: KeyRecord;
    incidentId: string;
    /** Compromise date for the revocation (since, or now). */
    compromisedAt: number;
    /** Start of the exposure window (since, or the key's creation). */
    windowStart: number;
    /** The successor's properties, already checked against the policy. */
    successor: CreateKeyInput;
  },
): Promise<{ result: IncidentResult; successorId: string | null }> {
  const { clock, principal } = o;
  const steps: IncidentStep[] = [];
  const record = (step: StepName, outcome: StepOutcome, detail: string) => steps.push({ step, outcome, at: clock.now(), detail });
  const stateBefore = o.key.state;

  // a. Contain: revoke as compromised (the lifecycle rotates it, so no compromised version stays primary).
  let key = o.key;
  if (key.state === 'Compromised') {
    record('revoke', 'skipped', `already Compromised (compromise date ${new Date(key.compromisedAt ?? key.updatedAt).toISOString()})`);
  } else {
    key = await env.keys.revoke(key, 'compromised', o.compromisedAt);
    await env.changed?.({ operation: 'key:revoke', keyId: key.id, keyVersion: key.primaryVersion, details: { reason: 'compromised' } });
    record('revoke', 'done', `${stateBefore} -> Compromised, compromise date ${new Date(o.compromisedAt).toISOString()}${key.primaryVersion !== o.key.primaryVersion ? `; rotated to version ${key.primaryVersion}` : ''}; it encrypts nothing from now on and its ciphertexts only move by re-encrypt`);
  }

  // b. A clean successor, so that callers using an alias encrypt under an uncompromised key at once.
  let successor: KeyRecord | undefined;
  try {
    successor = await env.keys.create(o.successor, principal.kind === 'root' ? null : principal.id);
    await env.changed?.({ operation: 'key:create', keyId: successor.id, keyVersion: successor.primaryVersion, details: { replaces: key.id } });
    record('successor', 'done', `created ${successor.id} (${successor.spec}, ${successor.usage}, protection ${successor.protection})`);
  } catch (e) {
    record('successor', 'failed', `no successor: ${errorText(e)}`);
  }

  // c. Aliases follow the successor.
  const aliasesMoved: string[] = [];
  if (successor === undefined) {
    record('aliases', 'skipped', key.aliases.length ? `no successor: ${key.aliases.join(', ')} still point to the compromised key` : 'the key has no aliases');
  } else if (key.aliases.length === 0) {
    record('aliases', 'skipped', 'the key has no aliases');
  } else {
    const failed: string[] = [];
    for (const alias of key.aliases) {
      try {
        await env.keys.updateAlias(alias, successor);
        aliasesMoved.push(alias);
        await env.changed?.({ operation: 'key:alias', keyId: successor.id, details: { alias, from: key.id } });
      } catch (e) {
        failed.push(`${alias}: ${errorText(e)}`);
      }
    }
    record('aliases', failed.length ? 'failed' : 'done', `${aliasesMoved.length ? `moved to ${successor.id}: ${aliasesMoved.join(', ')}` : 'none moved'}${failed.length ? `; not moved: ${failed.join('; ')}` : ''}`);
  }

  // d. The applications that held grants on the key get the same grants on the successor (tag
  // selector grants reach it by its copied tags); the old grants stay, so they can re-encrypt.
  const grantsCopied: IncidentResult['grantsCopied'] = [];
  const grantsNotCopied: IncidentResult['grantsNotCopied'] = [];
  if (successor === undefined) {
    record('grants', 'skipped', 'no successor');
  } else {
    const all = await env.grants.list({ keyId: key.id });
    const now = clock.now();
    for (const g of all) {
      if (g.keyId !== key.id) continue;
      const grantee = await env.principals.getPrincipalById(g.principalId);
      const name = grantee?.name ?? g.principalId;
      if (g.conditions.notAfter !== undefined && g.conditions.notAfter <= now) continue;
      try {
        if (grantee === undefined) throw new Error('the principal no longer exists');
        const copy = await env.grants.create(principal, { keyId: successor.id }, grantee, g.operations, g.conditions, g.approvalRequestId ? { approvalRequestId: g.approvalRequestId } : {});
        grantsCopied.push({ principal: name, operations: g.operations });
        await env.changed?.({ operation: 'grant:manage', keyId: successor.id, details: { grant: copy.id, principal: grantee.id, copiedFrom: g.id } });
      } catch (e) {
        grantsNotCopied.push({ principal: name, reason: errorText(e) });
      }
    }
    const selectors = all.length - all.filter((g) => g.keyId === key.id).length;
    record(
      'grants',
      grantsNotCopied.length ? 'failed' : grantsCopied.length ? 'done' : 'skipped',
      `${grantsCopied.length} key grant(s) copied to ${successor.id}${grantsNotCopied.length ? `, ${grantsNotCopied.length} not copied` : ''}${selectors ? `; ${selectors} tag-selector grant(s) reach it through its tags` : ''}`,
    );
  }

  // e. Exposure, from the audit ledger.
  const windowEnd = clock.now();
  const { exposure, produced } = await scanExposure(env.audit, key.id, o.windowStart, windowEnd);
  record('exposure', 'done', `${exposure.events} ledger event(s) since ${new Date(o.windowStart).toISOString()}: ${exposure.principals.length} principal(s), ${exposure.sourceAddresses.length} source address(es)${exposure.truncated ? ' (truncated: the oldest were not read)' : ''}`);

  // f. The re-wrap plan: the versions that existed before the incident, what they produced.
  const versions = (await env.keys.versions(key)).filter((v) => v.version <= o.key.primaryVersion);
  const plan: RewrapPlan = {
    from: key.id,
    to: successor?.id ?? null,
    versions: versions.map((v) => {
      const p = produced.get(v.version);
      return { version: v.version, state: v.state, createdAt: v.createdAt, produced: (p?.ciphertexts ?? 0) + (p?.dataKeys ?? 0) };
    }),
    ciphertexts: [...produced.values()].reduce((n, p) => n + p.ciphertexts, 0),
    dataKeys: [...produced.values()].reduce((n, p) => n + p.dataKeys, 0),
    command: successor !== undefined && key.spec === 'SYMMETRIC_DEFAULT' ? rewrapCommand(key.id, successor.id) : null,
    note:
      key.spec !== 'SYMMETRIC_DEFAULT'
        ? `a ${key.spec} key has no Keywarden ciphertexts to re-wrap: re-sign, re-MAC or re-encrypt under the successor${key.usage === 'SIGN_VERIFY' ? ' and distribute its public key' : ''}, and stop trusting the old key`
        : successor === undefined
          ? 'no successor: create a key, then re-encrypt the ciphertexts under it'
          : 'every ciphertext and wrapped data key of the key (any version, also older than the window) must move; the counts are those the ledger shows in the window',
  };
  record('rewrap-plan', plan.command ? 'done' : 'skipped', plan.command ? `${plan.ciphertexts} ciphertext(s) and ${plan.dataKeys} data key(s) in the window; run: ${plan.command}` : plan.note);

  return {
    successorId: successor?.id ?? null,
    result: {
      steps,
      exposure,
      plan,
      aliasesMoved,
      grantsCopied,
      grantsNotCopied,
      key: {
        id: key.id, spec: key.spec, usage: key.usage, classification: key.classification, environment: key.environment, protection: key.protection,
        stateBefore, stateAfter: key.state,
      },
    },
  };
}
