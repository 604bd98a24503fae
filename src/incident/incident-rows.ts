/** Row <-> record mapping of incidents, shared by the SQLite and PostgreSQL stores (same columns). */
import { KeywardenError } from '../errors/catalog.js';
import type { IncidentRecord, IncidentResult } from './incident.model.js';

type Row = Record<string, unknown>;

export const INCIDENT_COLUMNS = [
  'id', 'kind', 'key_id', 'drill', 'reason', 'window_start', 'created_at', 'created_by', 'successor_id', 'request_id', 'result', 'report', 'notification',
] as const;

/** Column values in INCIDENT_COLUMNS order; `drill` as the backend wants its flag. */
export function incidentValues(r: IncidentRecord, flag: (b: boolean) => unknown): unknown[] {
  return [
    r.id, r.kind, r.keyId, flag(r.drill), r.reason, r.windowStart, r.createdAt, JSON.stringify(r.createdBy), r.successorId, r.requestId,
    JSON.stringify(r.result), r.report, r.notification,
  ];
}

export function incidentFromRow(row: Row): IncidentRecord {
  return {
    id: row.id as string,
    kind: row.kind as IncidentRecord['kind'],
    keyId: row.key_id as string,
    drill: row.drill === true || row.drill === 1,
    reason: row.reason as string,
    windowStart: Number(row.window_start),
    createdAt: Number(row.created_at),
    createdBy: JSON.parse(row.created_by as string) as IncidentRecord['createdBy'],
    successorId: (row.successor_id as string | null) ?? null,
    requestId: row.request_id as string,
    result: JSON.parse(row.result as string) as IncidentResult,
    report: row.report as string,
    notification: row.notification as string,
  };
}

export const incidentExists = (r: IncidentRecord) =>
  new KeywardenError('AlreadyExists', r.drill ? `incident ${r.id} already exists` : `key ${r.keyId} already has an incident: a key is handled as compromised once`);
