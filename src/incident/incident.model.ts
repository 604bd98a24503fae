/**
 * Key-compromise incidents (issue 10/10 §5): what the playbook did, who and what was exposed, and
 * what is left to do. Only names, counts, times, ids and addresses: never key material, tokens or
 * ciphertexts.
 */

export type IncidentKind = 'key-compromise';

export type StepName = 'revoke' | 'successor' | 'aliases' | 'grants' | 'exposure' | 'rewrap-plan';
export type StepOutcome = 'done' | 'skipped' | 'failed';

/** One step of the playbook, with what came of it and when. */
export interface IncidentStep {
  step: StepName;
  outcome: StepOutcome;
  /** Epoch ms. */
  at: number;
  detail: string;
}

/** One principal that used the key in the window, from the audit ledger. */
export interface ExposedPrincipal {
  id: string;
  name: string;
  kind: string;
  /** Allowed operations by action, e.g. { 'key:encrypt': 12 }. */
  operations: Record<string, number>;
  /** Refused or failed calls on the key (probing shows up here). */
  refused: number;
  sourceAddresses: string[];
  firstSeen: number;
  lastSeen: number;
  /** Ledger indexes of its events (evidence; the first EVIDENCE_PER_PRINCIPAL, oldest first). */
  evidence: number[];
}

export interface Exposure {
  windowStart: number;
  windowEnd: number;
  /** Ledger events on the key in the window that were read. */
  events: number;
  /** True when more events matched than MAX_EXPOSURE_EVENTS (the oldest were not read). */
  truncated: boolean;
  principals: ExposedPrincipal[];
  /** Every source address with its number of events. */
  sourceAddresses: Array<{ address: string; events: number }>;
}

export interface PlanVersion {
  version: number;
  state: string;
  createdAt: number;
  /** Ciphertexts and data keys produced under this version in the window (from the ledger). */
  produced: number;
}

/** How the data protected by the compromised key moves to its successor. */
export interface RewrapPlan {
  from: string;
  /** null when no successor could be made (nothing to re-wrap to). */
  to: string | null;
  versions: PlanVersion[];
  /** Allowed encrypt, re-encrypt (into this key) and re-wrap results in the window. */
  ciphertexts: number;
  /** Data keys and data key pairs generated under the key in the window. */
  dataKeys: number;
  /** The command that re-wraps a file of ciphertexts / wrapped data keys (one base64 per line). */
  command: string | null;
  /** What the counts mean, or what to do instead when there is no command. */
  note: string;
}

export interface IncidentResult {
  steps: IncidentStep[];
  exposure: Exposure;
  plan: RewrapPlan;
  /** Aliases that now point to the successor. */
  aliasesMoved: string[];
  /** Grants copied to the successor (principal names), and those that could not be. */
  grantsCopied: Array<{ principal: string; operations: string[] }>;
  grantsNotCopied: Array<{ principal: string; reason: string }>;
  key: { id: string; spec: string; usage: string; classification: string | null; environment: string | null; protection: string; stateBefore: string; stateAfter: string };
}

export interface IncidentRecord {
  id: string;
  kind: IncidentKind;
  keyId: string;
  /** A drill ran on a scratch copy: production keys, aliases and grants were not touched. */
  drill: boolean;
  reason: string;
  /** Start of the exposure window (the compromise date). Epoch ms. */
  windowStart: number;
  createdAt: number;
  createdBy: { id: string; name: string; kind: string };
  successorId: string | null;
  /** The request that ran the playbook: its audit event carries the same request id. */
  requestId: string;
  result: IncidentResult;
  /** Markdown. */
  report: string;
  /** Markdown template with {{PLACEHOLDERS}} for the operator to fill. */
  notification: string;
}

/** Ledger events read per incident at most (newest first; the report says when it stopped). */
export const MAX_EXPOSURE_EVENTS = 100_000;
export const EVIDENCE_PER_PRINCIPAL = 20;
export const MAX_REASON = 1024;
