/**
 * The stored, versioned policy document (issue 5/10 §1). Versions are append-only in the store;
 * the newest is held in memory so that the policy stage of the pipeline reads it synchronously
 * (current() allocates nothing). No stored version = version 0 = DEFAULT_POLICY (built in).
 * Changes by other nodes are picked up by a background re-read at most once a second.
 */
import { ACTIONS } from '../auth/access-policy.service.js';
import type { Principal } from '../auth/token.model.js';
import { canonicalBytes, type CanonicalValue } from '../audit/canonical.js';
import { sha256 } from '../crypto/primitives/index.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { DEFAULT_POLICY } from './default-policy.js';
import { parsePolicy, validatePolicy } from './engine.js';
import { type PolicyDocument, type PolicyVersion, type RuleSet } from './policy.model.js';
import type { PolicyStore } from './policy.store.js';

const REFRESH_MS = 1000;

/** The version in force, with what the hot path needs to know without evaluating it. */
export interface CurrentPolicy extends PolicyVersion {
  /** Some layer has a per-call rule (allowedNetworks, principalEnvironments, allowedAlgorithms). */
  callRules: boolean;
  /** Some layer sets approvals per action. */
  approvalRules: boolean;
  /** Some layer lists MFA step-up actions. */
  mfaRules: boolean;
}

/** SHA-256 (hex) of the document's canonical JSON (RFC 8785, as audit events are encoded). */
export function policyHash(doc: PolicyDocument): string {
  return sha256(canonicalBytes(doc as unknown as CanonicalValue)).toString('hex');
}

/** Every layer of the document, whatever its scope. */
function allLayers(doc: PolicyDocument): RuleSet[] {
  const layers = [doc.defaults, ...Object.values(doc.classifications ?? {}), ...Object.values(doc.environments ?? {}), ...(doc.rules ?? [])];
  return layers.filter((l): l is RuleSet => l !== undefined);
}

function current(v: PolicyVersion): CurrentPolicy {
  const layers = allLayers(v.document);
  return {
    ...v,
    callRules: layers.some((l) => l.allowedNetworks !== undefined || l.principalEnvironments !== undefined || l.allowedAlgorithms !== undefined),
    approvalRules: layers.some((l) => l.approvals !== undefined && Object.values(l.approvals).some((m) => (m ?? 0) > 0)),
    mfaRules: layers.some((l) => (l.mfaActions?.length ?? 0) > 0),
  };
}

export const DEFAULT_POLICY_VERSION: PolicyVersion = { version: 0, document: DEFAULT_POLICY, hash: policyHash(DEFAULT_POLICY), createdAt: 0, createdBy: null };

export class PolicyService {
  #current: CurrentPolicy = current(DEFAULT_POLICY_VERSION);
  #loadedAt = -Infinity;
  #refreshing = false;

  constructor(
    private readonly store: PolicyStore,
    private readonly clock: Clock,
  ) {}

  /** Reads the newest stored version (call once at start, before serving). */
  async load(): Promise<void> {
    const v = await this.store.latestPolicyVersion();
    this.#loadedAt = this.clock.now();
    // Versions only grow; a read that raced a newer local write must not undo it.
    if (v !== undefined && v.version > this.#current.version) this.#current = current(v);
  }

  /** The version in force: synchronous, no allocation; a background re-read when over a second old. */
  current(): CurrentPolicy {
    if (!this.#refreshing && this.clock.now() - this.#loadedAt >= REFRESH_MS) {
      this.#refreshing = true;
      this.load()
        .catch(() => undefined) // keep the last version known (store closing, transient error)
        .finally(() => (this.#refreshing = false));
    }
    return this.#current;
  }

  /** Validates a document given as an object, or as YAML/JSON text. */
  parse(input: { document: unknown } | { yaml: string }): PolicyDocument {
    return 'yaml' in input ? parsePolicy(input.yaml, ACTIONS) : validatePolicy(input.document, ACTIONS);
  }

  /** Appends a new version (callers authorize policy:edit, including its quorum, first). */
  async set(document: PolicyDocument, by: Principal): Promise<CurrentPolicy> {
    const doc = validatePolicy(document, ACTIONS);
    const latest = (await this.store.latestPolicyVersion())?.version ?? 0;
    const v: PolicyVersion = { version: latest + 1, document: doc, hash: policyHash(doc), createdAt: this.clock.now(), createdBy: by.id };
    if (!(await this.store.appendPolicyVersion(v))) {
      throw new KeywardenError('InvalidState', 'the policy was changed concurrently; read it again and retry');
    }
    this.#current = current(v);
    this.#loadedAt = this.clock.now();
    return this.#current;
  }

  /** Every version, oldest first; version 0 (the built-in default) first. */
  async versions(): Promise<PolicyVersion[]> {
    return [DEFAULT_POLICY_VERSION, ...(await this.store.listPolicyVersions())];
  }

  async version(n: number): Promise<PolicyVersion> {
    if (!Number.isSafeInteger(n) || n < 0) throw errors.validation('a policy version is a whole number >= 0');
    const v = n === 0 ? DEFAULT_POLICY_VERSION : await this.store.getPolicyVersion(n);
    if (v === undefined) throw new KeywardenError('NotFound', `policy version ${n} was not found`);
    return v;
  }
}
