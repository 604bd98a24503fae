/**
 * Anomaly detection on key usage (issue 10/10 §3): what the detectors see (an Observation, made from
 * one committed audit event) and what they report (a Finding). Detectors are pure: the same
 * observations in the same order give the same findings, whatever the wall clock says.
 */
import { GRANTED_ACTIONS } from '../auth/roles.js';
import { ANOMALY_DETECTORS } from '../ops/metrics.js';

export type DetectorName = (typeof ANOMALY_DETECTORS)[number];
export { ANOMALY_DETECTORS };

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One committed audit event, as the detectors need it. */
export interface Observation {
  /** The event's ledger index (findings link to the events involved). */
  index: number;
  /** The event's time, epoch ms (the ledger's injected clock). */
  time: number;
  principalId: string | null;
  principalName: string | null;
  principalKind: string | null;
  sourceIp: string | null;
  operation: string;
  keyId: string | null;
  outcome: 'allow' | 'deny' | 'error';
  errorCode: string | null;
  /** Items of the call (a batch counts its items; 1 otherwise). */
  items: number;
  /** The key's lifecycle state, looked up only for refused uses that may be inactive-key use. */
  keyState?: string;
}

export interface Subject {
  keyId?: string;
  principalId?: string;
  principalName?: string;
  sourceIp?: string;
}

export type Evidence = Record<string, number | string | boolean | null>;

export interface Finding {
  detector: DetectorName;
  severity: Severity;
  subject: Subject;
  /** One sentence for people. */
  summary: string;
  /** The numbers behind it: baseline, observed, threshold, ... */
  evidence: Evidence;
  /** Ledger indexes of the events involved (most recent last, at most MAX_FINDING_EVENTS). */
  events: number[];
  /** Time of the last event involved. */
  time: number;
}

export const MAX_FINDING_EVENTS = 20;

/** The dedup identity of a subject: equal subjects give equal strings. */
export function subjectKey(s: Subject): string {
  return [s.keyId && `key=${s.keyId}`, s.principalId && `principal=${s.principalId}`, s.sourceIp && `ip=${s.sourceIp}`].filter(Boolean).join(' ');
}

/** Crypto uses of a key (the grant-scoped actions): what the inactive-key detector watches. */
export const KEY_USE_OPERATIONS: ReadonlySet<string> = new Set(Object.keys(GRANTED_ACTIONS));
