import type { Alert, AlertFilter } from './alert.model.js';

/** Persistence of alerts (migration 16; SQLite and PostgreSQL; test/conformance/alert-store.conformance.ts). */
export interface AlertStore {
  /** Inserts a new alert; false when the id exists. */
  createAlert(a: Alert): Promise<boolean>;
  getAlert(id: string): Promise<Alert | undefined>;
  /** The newest unresolved alert of `detector` for `subjectKey` last seen at or after `since`. */
  findActiveAlert(detector: string, subjectKey: string, since: number): Promise<Alert | undefined>;
  /** Replaces the alert if its stored version is `expectedVersion` (the new one carries version + 1); false otherwise. */
  updateAlert(next: Alert, expectedVersion: number): Promise<boolean>;
  /** Alerts matching every filter, newest first (createdAt, then id, descending). */
  listAlerts(filter: AlertFilter): Promise<Alert[]>;
}

type Row = Record<string, unknown>;

/** The column values of an alert (both backends use the same columns; JSON members as text). */
export function alertToRow(a: Alert): Record<string, string | number | null> {
  return {
    id: a.id,
    detector: a.detector,
    severity: a.severity,
    status: a.status,
    subject_key: a.subjectKey,
    key_id: a.keyId,
    principal_id: a.principalId,
    principal_name: a.principalName,
    source_ip: a.sourceIp,
    summary: a.summary,
    evidence: JSON.stringify(a.evidence),
    events: JSON.stringify(a.events),
    count: a.count,
    first_seen: a.firstSeen,
    last_seen: a.lastSeen,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
    acknowledged_at: a.acknowledgedAt,
    acknowledged_by: a.acknowledgedBy,
    resolved_at: a.resolvedAt,
    resolved_by: a.resolvedBy,
    resolution_note: a.resolutionNote,
    responses: JSON.stringify(a.responses),
    version: a.version,
  };
}

export const ALERT_COLUMNS = Object.keys(alertToRow({ evidence: {}, events: [], responses: [] } as unknown as Alert));

export function alertFromRow(r: Row): Alert {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: r.id as string,
    detector: r.detector as Alert['detector'],
    severity: r.severity as Alert['severity'],
    status: r.status as Alert['status'],
    subjectKey: r.subject_key as string,
    keyId: s(r.key_id),
    principalId: s(r.principal_id),
    principalName: s(r.principal_name),
    sourceIp: s(r.source_ip),
    summary: r.summary as string,
    evidence: JSON.parse(r.evidence as string) as Alert['evidence'],
    events: JSON.parse(r.events as string) as number[],
    count: Number(r.count),
    firstSeen: Number(r.first_seen),
    lastSeen: Number(r.last_seen),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    acknowledgedAt: n(r.acknowledged_at),
    acknowledgedBy: s(r.acknowledged_by),
    resolvedAt: n(r.resolved_at),
    resolvedBy: s(r.resolved_by),
    resolutionNote: s(r.resolution_note),
    responses: JSON.parse(r.responses as string) as Alert['responses'],
    version: Number(r.version),
  };
}

/** WHERE clauses and arguments of a list filter; `p(i)` renders the i-th placeholder (? or $i). */
export function alertWhere(f: AlertFilter, p: (i: number) => string): { where: string; args: unknown[] } {
  const c: string[] = [];
  const args: unknown[] = [];
  const add = (sql: (ph: () => string) => string, ...vals: unknown[]) => {
    let k = 0;
    c.push(sql(() => p(args.length + ++k)));
    args.push(...vals);
  };
  if (f.status !== undefined) add((ph) => `status = ${ph()}`, f.status);
  if (f.detector !== undefined) add((ph) => `detector = ${ph()}`, f.detector);
  if (f.severity !== undefined) add((ph) => `severity = ${ph()}`, f.severity);
  if (f.keyId !== undefined) add((ph) => `key_id = ${ph()}`, f.keyId);
  if (f.principal !== undefined) add((ph) => `(principal_id = ${ph()} OR principal_name = ${ph()})`, f.principal, f.principal);
  if (f.since !== undefined) add((ph) => `last_seen >= ${ph()}`, f.since);
  if (f.before !== undefined) add((ph) => `(created_at < ${ph()} OR (created_at = ${ph()} AND id < ${ph()}))`, f.before.createdAt, f.before.createdAt, f.before.id);
  return { where: c.length > 0 ? ` WHERE ${c.join(' AND ')}` : '', args };
}
