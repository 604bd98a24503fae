/**
 * The compliance report use-case (issue 5/10 §4) behind GET /v1/compliance: every key and its
 * grants checked against the current policy version. Needs `key:report` (key administrators,
 * security officers, auditors); audited like every other use-case.
 */
import type { GrantService } from '../auth/grant.service.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { KeyService } from '../keys/key.service.js';
import { complianceReport, type ComplianceKey, type ComplianceReport, type ReportFilter } from '../policy/compliance.js';
import type { PolicyDocument } from '../policy/policy.model.js';
import type { Clock } from '../util/clock.js';
import type { Call, Pipeline } from './pipeline.js';

/** The current stored policy version (src/policy/policy.service.ts). */
export interface CurrentPolicy {
  current(): { version: number; document: PolicyDocument; hash: string };
}

export interface ComplianceOpsDeps {
  pipeline: Pipeline;
  keys: KeyService;
  grants: Pick<GrantService, 'list'>;
  policy: CurrentPolicy;
  clock: Clock;
}

const PAGE = 500;

export class ComplianceOps {
  constructor(private readonly d: ComplianceOpsDeps) {}

  async report(call: Call, filter: ReportFilter = {}): Promise<ComplianceReport> {
    await this.d.pipeline.begin(call, 'key:report');
    const { version, document, hash } = this.d.policy.current();
    const keys: ComplianceKey[] = [];
    let after: { createdAt: number; id: string } | undefined;
    for (;;) {
      const page: KeyRecord[] = await this.d.keys.list(PAGE, after);
      for (const k of page) {
        if (k.state === 'Destroyed' || k.primaryVersion < 1) {
          keys.push(k);
          continue;
        }
        // The primary version's creation dates the last rotation (for `rotation-overdue`).
        const primary = (await this.d.keys.versions(k)).find((v) => v.version === k.primaryVersion);
        keys.push({ ...k, primaryVersionCreatedAt: primary?.createdAt ?? null });
      }
      const last = page[page.length - 1];
      if (page.length < PAGE || last === undefined) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
    const grants = await this.d.grants.list({});
    return complianceReport(document, { version, hash }, keys, grants, this.d.clock.now(), filter);
  }
}
