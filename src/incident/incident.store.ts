import type { IncidentRecord } from './incident.model.js';

/**
 * Persistence of incidents. Implemented in src/storage/*; conformance:
 * test/conformance/incident-store.conformance.ts.
 * Contracts:
 * - Append-only: an incident, once written, is never updated or deleted (the backends' triggers
 *   refuse it too).
 * - createIncident is atomic and durable before it resolves; a second real (non-drill) incident
 *   for the same key, or a taken id, rejects with KeywardenError AlreadyExists and writes nothing.
 * - listIncidents is newest first by (createdAt, id), strictly before `before` when given.
 */
export interface IncidentStore {
  createIncident(r: IncidentRecord): Promise<void>;
  getIncident(id: string): Promise<IncidentRecord | undefined>;
  listIncidents(opts: { limit: number; keyId?: string; before?: { createdAt: number; id: string } }): Promise<IncidentRecord[]>;
  /** The real (non-drill) incident of a key, if any. */
  findRealIncident(keyId: string): Promise<IncidentRecord | undefined>;
}
