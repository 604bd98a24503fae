/**
 * Alerts (issue 10/10 §4): a finding of an anomaly detector, stored, deduplicated (a repeat for
 * the same detector and subject while the alert is open folds into it), acknowledged and resolved
 * by security officers, delivered to webhooks and recorded in the audit ledger.
 */
import type { ResponseKind } from '../anomaly/config.js';
import type { DetectorName, Evidence, Severity } from '../anomaly/model.js';

export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** What an automatic response did (recorded on the alert and audited). */
export interface AlertResponse {
  kind: ResponseKind;
  status: 'done' | 'approval-requested' | 'skipped' | 'failed';
  detail: string;
  at: number;
  /** disable-key under quorum: the approval request filed instead. */
  approvalRequestId?: string;
}

export interface Alert {
  id: string;
  detector: DetectorName;
  severity: Severity;
  status: AlertStatus;
  /** Dedup identity of the subject (src/anomaly/model.ts subjectKey). */
  subjectKey: string;
  keyId: string | null;
  principalId: string | null;
  principalName: string | null;
  sourceIp: string | null;
  summary: string;
  /** The numbers of the latest finding. */
  evidence: Evidence;
  /** Ledger indexes of the events involved (first finding's, then repeats'; at most MAX_ALERT_EVENTS, oldest dropped). */
  events: number[];
  /** Findings folded into this alert (1 = just the first). */
  count: number;
  firstSeen: number;
  lastSeen: number;
  createdAt: number;
  updatedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  resolvedAt: number | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
  responses: AlertResponse[];
  /** Optimistic concurrency: every update names the version it read. */
  version: number;
}

export const MAX_ALERT_EVENTS = 100;

export interface AlertFilter {
  status?: AlertStatus;
  detector?: DetectorName;
  severity?: Severity;
  keyId?: string;
  /** Principal id or name. */
  principal?: string;
  /** Alerts last seen at or after this time (epoch ms). */
  since?: number;
  /** Pagination: alerts strictly older than this (createdAt, id) position, newest first. */
  before?: { createdAt: number; id: string };
  limit: number;
}
