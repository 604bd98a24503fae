/**
 * Alerts (issue 10/10 §4): turns detector findings into stored alerts, deduplicated — a finding
 * for the same detector and subject as an unresolved alert last seen within `dedupWindowMinutes`
 * increments that alert's count and last-seen time instead of raising a new one — and, for each
 * NEW alert: records `alert:raised` in the audit ledger, counts it in
 * keywarden_anomaly_alerts_total, queues it for the webhooks (rate-limited), and runs the
 * configured automatic responses (each recorded on the alert and as `alert:response`).
 *
 * Findings are processed one at a time, in order (one promise chain), so two findings for the
 * same subject cannot both create an alert on this node. Acknowledge and resolve are recorded as
 * `alert:acknowledged` / `alert:resolved` (besides the audited use-case's own `alert:manage` event).
 * The detectors ignore every `alert:*` event, so none of this feeds back into them.
 */
import type { AuditEventInput } from '../audit/event.js';
import { SYSTEM_PRINCIPAL_KIND } from '../anomaly/engine.js';
import type { AnomalySettings } from '../anomaly/config.js';
import { subjectKey, type Finding } from '../anomaly/model.js';
import type { Principal } from '../auth/token.model.js';
import { randomUUID } from '../crypto/primitives/index.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { Clock } from '../util/clock.js';
import { MAX_ALERT_EVENTS, type Alert, type AlertFilter } from './alert.model.js';
import type { AlertStore } from './alert.store.js';
import type { AlertDelivery, DeliveryStats } from './delivery.js';
import type { Responder } from './responder.js';

/** The principal alert-system events are recorded under. */
export const ALERT_SYSTEM = { id: 'system:anomaly-detection', name: 'anomaly-detection', kind: SYSTEM_PRINCIPAL_KIND } as const;

export const ALERT_LIMITS = { defaultList: 100, maxList: 1000, maxNote: 1000 } as const;

/** Conditional updates retried this often when another writer changed the alert first. */
const MAX_ATTEMPTS = 5;

export interface AlertServiceDeps {
  store: AlertStore;
  clock: Clock;
  ledger: { append(input: AuditEventInput): Promise<{ index: number }> };
  settings: Pick<AnomalySettings, 'alerts' | 'responses'>;
  metrics?: { anomalyAlert(detector: string): void };
  delivery?: AlertDelivery;
  responder?: Responder;
  onError?: (e: unknown) => void;
}

export interface AlertStats {
  raised: number;
  folded: number;
  failed: number;
}

export class AlertService {
  readonly #d: AlertServiceDeps;
  #chain: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #stats: AlertStats = { raised: 0, folded: 0, failed: 0 };

  constructor(d: AlertServiceDeps) {
    this.#d = d;
  }

  /** The engine's finding sink: queued behind earlier findings; errors go to onError. Never throws. */
  readonly onFinding = (f: Finding): void => {
    this.#pending++;
    this.#chain = this.#chain
      .then(() => this.raise(f))
      .catch((e: unknown) => {
        this.#stats.failed++;
        this.#d.onError?.(e);
      })
      .finally(() => this.#pending--);
  };

  /** Resolves once every finding handed to onFinding so far is processed. */
  async settle(): Promise<void> {
    while (this.#pending > 0) await this.#chain;
  }

  stats(): AlertStats {
    return { ...this.#stats };
  }

  /** Webhook delivery counters (queued, suppressed by the per-minute cap, per-webhook sink stats). */
  deliveryStats(): DeliveryStats {
    return this.#d.delivery?.stats() ?? { queued: 0, suppressed: 0, sinks: {} };
  }

  /** Stores the finding as a new alert or folds it into the active one; returns the alert and whether it is new. */
  async raise(f: Finding): Promise<{ alert: Alert; created: boolean }> {
    const now = this.#d.clock.now();
    const key = subjectKey(f.subject);
    const since = now - this.#d.settings.alerts.dedupWindowMinutes * 60_000;
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const active = await this.#d.store.findActiveAlert(f.detector, key, since);
      if (active === undefined) break;
      const events = [...active.events, ...f.events.filter((e) => !active.events.includes(e))].slice(-MAX_ALERT_EVENTS);
      const severity = SEVERITY_RANK[f.severity] > SEVERITY_RANK[active.severity] ? f.severity : active.severity;
      const next: Alert = { ...active, severity, evidence: f.evidence, events, count: active.count + 1, lastSeen: Math.max(active.lastSeen, f.time), updatedAt: now, version: active.version + 1 };
      if (await this.#d.store.updateAlert(next, active.version)) {
        this.#stats.folded++;
        return { alert: next, created: false };
      }
    }
    let alert: Alert = {
      id: randomUUID(),
      detector: f.detector,
      severity: f.severity,
      status: 'open',
      subjectKey: key,
      keyId: f.subject.keyId ?? null,
      principalId: f.subject.principalId ?? null,
      principalName: f.subject.principalName ?? null,
      sourceIp: f.subject.sourceIp ?? null,
      summary: f.summary,
      evidence: f.evidence,
      events: f.events.slice(-MAX_ALERT_EVENTS),
      count: 1,
      firstSeen: f.time,
      lastSeen: f.time,
      createdAt: now,
      updatedAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
      resolvedBy: null,
      resolutionNote: null,
      responses: [],
      version: 1,
    };
    if (!(await this.#d.store.createAlert(alert))) throw new Error(`alert id ${alert.id} already exists`);
    this.#stats.raised++;
    this.#d.metrics?.anomalyAlert(alert.detector);
    await this.#record(alert, 'alert:raised', alert.id, ALERT_SYSTEM, {
      detector: alert.detector,
      severity: alert.severity,
      summary: alert.summary.slice(0, 256),
      subjectPrincipal: alert.principalId,
      subjectSourceIp: alert.sourceIp,
      firstEvent: alert.events[0] ?? null,
      lastEvent: alert.events.at(-1) ?? null,
    });
    const delivery = this.#d.delivery?.deliver(alert) ?? 'none';
    if (delivery === 'suppressed') this.#d.onError?.(new Error(`alert ${alert.id}: webhook delivery suppressed (anomaly.alerts.maxDeliveriesPerMinute reached)`));
    alert = await this.#respond(alert);
    return { alert, created: true };
  }

  async get(id: string): Promise<Alert> {
    const a = await this.#d.store.getAlert(id);
    if (a === undefined) throw new KeywardenError('NotFound', `alert ${id.slice(0, 64)} was not found`);
    return a;
  }

  list(filter: AlertFilter): Promise<Alert[]> {
    return this.#d.store.listAlerts(filter);
  }

  /** open -> acknowledged (someone is looking at it); repeats keep folding into it. */
  acknowledge(by: Principal, id: string, requestId: string): Promise<Alert> {
    return this.#change(id, (a, now) => {
      if (a.status !== 'open') throw new KeywardenError('InvalidState', `alert ${a.id} is ${a.status}: only an open alert can be acknowledged`);
      return { status: 'acknowledged', acknowledgedAt: now, acknowledgedBy: by.name };
    }).then((a) => this.#record(a, 'alert:acknowledged', requestId, by, { alert: a.id, detector: a.detector }).then(() => a));
  }

  /** open | acknowledged -> resolved, with a note saying what was found or done. */
  resolve(by: Principal, id: string, requestId: string, note: string): Promise<Alert> {
    const n = checkNote(note);
    return this.#change(id, (a, now) => {
      if (a.status === 'resolved') throw new KeywardenError('InvalidState', `alert ${a.id} is already resolved`);
      return { status: 'resolved', resolvedAt: now, resolvedBy: by.name, resolutionNote: n };
    }).then((a) => this.#record(a, 'alert:resolved', requestId, by, { alert: a.id, detector: a.detector, note: n.slice(0, 256) }).then(() => a));
  }

  async #change(id: string, f: (a: Alert, now: number) => Partial<Alert>): Promise<Alert> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const a = await this.get(id);
      const now = this.#d.clock.now();
      const next: Alert = { ...a, ...f(a, now), updatedAt: now, version: a.version + 1 };
      if (await this.#d.store.updateAlert(next, a.version)) return next;
    }
    throw new KeywardenError('InvalidState', `alert ${id.slice(0, 64)} is changing too often; try again`);
  }

  /** Runs the responses configured for the alert's detector, recording each on the alert and in the ledger. */
  async #respond(alert: Alert): Promise<Alert> {
    const kinds = this.#d.settings.responses[alert.detector] ?? [];
    if (kinds.length === 0 || this.#d.responder === undefined) return alert;
    let a = alert;
    for (const kind of kinds) {
      const r = await this.#d.responder.respond(a, kind);
      await this.#record(a, 'alert:response', a.id, ALERT_SYSTEM, {
        alert: a.id,
        response: kind,
        status: r.status,
        detail: r.detail.slice(0, 256),
        approvalRequestId: r.approvalRequestId ?? null,
      });
      a = await this.#change(a.id, (cur) => ({ responses: [...cur.responses, r] }));
    }
    return a;
  }

  /** One alert lifecycle event in the audit ledger (awaited: durable before the caller goes on). */
  async #record(a: Alert, operation: string, requestId: string, by: { id: string; name: string; kind: string }, details: Record<string, string | number | boolean | null>): Promise<void> {
    await this.#d.ledger.append({
      requestId,
      principal: { id: by.id, name: by.name, kind: by.kind },
      authMethod: 'internal',
      operation,
      keyId: a.keyId,
      outcome: 'allow',
      details,
    });
  }
}

const SEVERITY_RANK = { low: 0, medium: 1, high: 2, critical: 3 } as const;

function checkNote(note: string): string {
  const n = note.trim();
  if (n.length === 0) throw errors.validation('note must say what was found or done');
  if (n.length > ALERT_LIMITS.maxNote) throw errors.validation(`note is longer than ${ALERT_LIMITS.maxNote} characters`);
  return n;
}
