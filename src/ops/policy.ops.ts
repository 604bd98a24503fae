/**
 * The policy document use-cases (issue 5/10 §1): read the version in force and the stored versions
 * (policy:read), and store a new version (policy:edit: under quorum, when the access policy's
 * approvals for policy:edit is above 0, only as an approved policy-document-change request).
 * Audited like every use-case (src/ops/audited.ts).
 */
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

  /** Validation only (for approval requests that carry a document). */
  parse(input: PolicyInput): PolicyDocument {
    return this.d.policies.parse(input);
  }
}
