/**
 * Reading the audit ledger (issue 4/10 §2, §4, §7): the latest signed checkpoint and its public
 * key, inclusion and consistency proofs, the export file for offline verification, and event
 * search. Every one needs `audit:read` (security officers and auditors) and, like every other
 * use-case, is itself audited.
 */
import type { AuditSearch } from '../audit/audit.store.js';
import { checkpointToJson, type CheckpointJson } from '../audit/checkpoint.js';
import { decodeLeaf, type AuditLeaf, type Outcome } from '../audit/event.js';
import type { LedgerExport } from '../audit/export.js';
import type { ConsistencyProof, InclusionProof, LedgerService } from '../audit/ledger.service.js';
import type { Call, Pipeline } from './pipeline.js';

export interface AuditOpsDeps {
  pipeline: Pipeline;
  ledger: LedgerService;
  search: AuditSearch;
}

export interface EventFilter {
  key?: string;
  principal?: string;
  operation?: string;
  outcome?: Outcome;
  since?: number;
  until?: number;
  /** The index the previous page stopped at (events below it come next). */
  cursor?: number;
  limit?: number;
}

export const AUDIT_LIMITS = { defaultEvents: 100, maxEvents: 1000 } as const;

export class AuditOps {
  constructor(private readonly d: AuditOpsDeps) {}

  /** The latest checkpoint (null before the first) and the key that verifies it. */
  async checkpoint(call: Call): Promise<{ checkpoint: CheckpointJson | null; publicKey: { keyId: string; spki: string } }> {
    await this.d.pipeline.begin(call, 'audit:read');
    const c = await this.d.ledger.latestCheckpoint();
    const k = await this.d.ledger.checkpointPublicKey();
    return { checkpoint: c ? checkpointToJson(c) : null, publicKey: { keyId: k.keyId, spki: k.publicKey.toString('base64') } };
  }

  async inclusionProof(call: Call, index: number, size?: number): Promise<InclusionProof> {
    await this.d.pipeline.begin(call, 'audit:read');
    return this.d.ledger.inclusionProof(index, size);
  }

  async consistencyProof(call: Call, from: number, to: number): Promise<ConsistencyProof> {
    await this.d.pipeline.begin(call, 'audit:read');
    return this.d.ledger.consistencyProof(from, to);
  }

  async export(call: Call): Promise<LedgerExport> {
    await this.d.pipeline.begin(call, 'audit:read');
    return this.d.ledger.export();
  }

  /** Events matching every given filter, newest first; `nextCursor` is null on the last page. */
  async events(call: Call, f: EventFilter): Promise<{ events: Array<AuditLeaf & { index: number }>; nextCursor: number | null }> {
    await this.d.pipeline.begin(call, 'audit:read');
    const limit = f.limit ?? AUDIT_LIMITS.defaultEvents;
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const rows = await this.d.search.search({
      ...(f.key !== undefined ? { keyId: f.key } : {}),
      ...(f.principal !== undefined ? { principal: f.principal } : {}),
      ...(f.operation !== undefined ? { operation: f.operation } : {}),
      ...(f.outcome !== undefined ? { outcome: f.outcome } : {}),
      ...(f.since !== undefined ? { since: iso(f.since) } : {}),
      ...(f.until !== undefined ? { until: iso(f.until) } : {}),
      ...(f.cursor !== undefined ? { before: f.cursor } : {}),
      limit,
    });
    const events = rows.map((r) => ({ index: r.index, ...decodeLeaf(r.data) }));
    const last = rows.at(-1);
    return { events, nextCursor: rows.length === limit && last !== undefined && last.index > 0 ? last.index : null };
  }
}
