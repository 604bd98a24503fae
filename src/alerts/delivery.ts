/**
 * Webhook delivery of alerts (config `anomaly.webhooks`). Reuses the audit webhook sink
 * (src/audit/sinks/webhook-sink.ts) as is: the same signed envelope
 * `{"format":"keywarden-audit-sink/v1","id","sentAt","records":[...]}` with X-Keywarden-Signature
 * (HMAC-SHA256 over the body), X-Keywarden-Timestamp and X-Keywarden-Delivery, retried with
 * exponential back-off from a bounded queue, never blocking the caller. Alert records are
 * `{"v":1,"type":"alert","alert":{...}}`, so a receiver of the audit sink tells them apart by `type`.
 *
 * Rate limit: at most `maxDeliveriesPerMinute` alerts are queued per minute of the injected clock,
 * over all webhooks together; the rest are counted as suppressed (they stay in GET /v1/alerts).
 */
import type { AuditSink, SinkRecord, SinkStats } from '../audit/sinks/index.js';
import type { QueueOptions } from '../audit/sinks/sink.js';
import { webhookSink } from '../audit/sinks/webhook-sink.js';
import type { Clock } from '../util/clock.js';
import type { Alert } from './alert.model.js';

export interface AlertRecord {
  v: 1;
  type: 'alert';
  alert: ReturnType<typeof alertView>;
}

/** The JSON view of an alert (API, CLI and webhooks): times as ISO 8601. */
export function alertView(a: Alert) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: a.id,
    detector: a.detector,
    severity: a.severity,
    status: a.status,
    subject: { keyId: a.keyId, principalId: a.principalId, principalName: a.principalName, sourceIp: a.sourceIp },
    summary: a.summary,
    evidence: a.evidence,
    auditEvents: a.events,
    count: a.count,
    firstSeen: iso(a.firstSeen) as string,
    lastSeen: iso(a.lastSeen) as string,
    createdAt: iso(a.createdAt) as string,
    updatedAt: iso(a.updatedAt) as string,
    acknowledgedAt: iso(a.acknowledgedAt),
    acknowledgedBy: a.acknowledgedBy,
    resolvedAt: iso(a.resolvedAt),
    resolvedBy: a.resolvedBy,
    resolutionNote: a.resolutionNote,
    responses: a.responses.map((r) => ({ ...r, at: iso(r.at) as string })),
  };
}

export interface DeliveryStats {
  queued: number;
  suppressed: number;
  sinks: Record<string, SinkStats>;
}

export class AlertDelivery {
  readonly #sinks: AuditSink[];
  readonly #clock: Clock;
  readonly #perMinute: number;
  #minute = -1;
  #inMinute = 0;
  #queued = 0;
  #suppressed = 0;

  constructor(o: {
    webhooks: ReadonlyArray<{ url: string; secret: string; timeoutMs?: number; maxQueue?: number }>;
    maxDeliveriesPerMinute: number;
    clock: Clock;
    /** Back-off settings (tests use short ones). */
    queue?: QueueOptions;
  }) {
    this.#clock = o.clock;
    this.#perMinute = o.maxDeliveriesPerMinute;
    this.#sinks = o.webhooks.map((w) =>
      webhookSink({ url: w.url, secret: w.secret, batchSize: 1, ...(w.timeoutMs !== undefined && { timeoutMs: w.timeoutMs }) }, { ...o.queue, ...(w.maxQueue !== undefined && { maxQueue: w.maxQueue }) }, o.clock),
    );
  }

  get configured(): boolean {
    return this.#sinks.length > 0;
  }

  /** Queues the alert on every webhook unless this minute's budget is spent. Never throws, never waits. */
  deliver(a: Alert): 'queued' | 'suppressed' | 'none' {
    if (this.#sinks.length === 0) return 'none';
    const minute = Math.floor(this.#clock.now() / 60_000);
    if (minute !== this.#minute) {
      this.#minute = minute;
      this.#inMinute = 0;
    }
    if (this.#inMinute >= this.#perMinute) {
      this.#suppressed++;
      return 'suppressed';
    }
    this.#inMinute++;
    this.#queued++;
    const record: AlertRecord = { v: 1, type: 'alert', alert: alertView(a) };
    // The sink carries records opaquely (it only serializes them): an alert record rides in the same envelope.
    for (const s of this.#sinks) s.publish(record as unknown as SinkRecord);
    return 'queued';
  }

  stats(): DeliveryStats {
    return { queued: this.#queued, suppressed: this.#suppressed, sinks: Object.fromEntries(this.#sinks.map((s, i) => [`alert-webhook-${i}`, s.stats()])) };
  }

  flush(): Promise<void> {
    return Promise.all(this.#sinks.map((s) => s.flush())).then(() => undefined);
  }

  close(timeoutMs?: number): Promise<void> {
    return Promise.all(this.#sinks.map((s) => s.close(timeoutMs))).then(() => undefined);
  }
}
