/**
 * The policy document use-cases (issue 5/10 §1): read the version in force and the stored versions
 * (policy:read), and store a new version (policy:edit: under quorum, when the access policy's
 * approvals for policy:edit is above 0, only as an approved policy-document-change request).
 * Audited like every use-case (src/ops/audited.ts).
 */
import { effectivePolicy, keyFacts, type EffectivePolicy } from '../policy/engine.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { PolicyDocument, PolicyVersion } from '../policy/policy.model.js';
import type { PolicyService } from '../policy/policy.service.js';
import type { Call, Pipeline } from './pipeline.js';

/** The document as JSON, or as YAML (or JSON) text. */
export type PolicyInput = { document: unknown } | { yaml: string };

export class PolicyOps {
  constructor(private readonly d: { pipeline: Pipeline; policies: PolicyService }) {}

  async getPolicy(call: Call): Promise<PolicyVersion> {
    await this.d.pipeline.begin(call, 'policy:read');
    return this.d.policies.current();
  }

  async listVersions(call: Call): Promise<PolicyVersion[]> {
    await this.d.pipeline.begin(call, 'policy:read');
    return this.d.policies.versions();
  }

  async getVersion(call: Call, version: number): Promise<PolicyVersion> {
    await this.d.pipeline.begin(call, 'policy:read');
    return this.d.policies.version(version);
  }

  /** Validates, then appends a version (the approval gate of policy:edit runs in begin). */
  async setPolicy(call: Call, input: PolicyInput): Promise<PolicyVersion> {
    const by = await this.d.pipeline.begin(call, 'policy:edit');
    return this.d.policies.set(this.d.policies.parse(input), by);
  }

  /**
   * What the policy in force means for one key (key:describe): the layers that apply to its scope,
   * its limits (with the rule that sets each; `dataKeyMaxLifetimeSeconds` is the hint SDK data-key
   * caches follow) and the rules its properties break now.
   */
  async keyPolicy(call: Call, keyRef: string): Promise<EffectivePolicy & { key: KeyRecord; policy: PolicyVersion }> {
    const { key } = await this.d.pipeline.beginKey(call, 'key:describe', keyRef);
    const policy = this.d.policies.current();
    return { key, policy, ...effectivePolicy(policy.document, keyFacts(key)) };
  }

  /** Validation only (for approval requests that carry a document). */
  parse(input: PolicyInput): PolicyDocument {
    return this.d.policies.parse(input);
  }
}
