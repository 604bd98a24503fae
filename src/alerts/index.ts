/**
 * Wiring of anomaly detection and alerts, called by the composition root (src/main.ts): the
 * engine listens to the ledger's committed events, its findings go to the alert service, which
 * stores, audits, counts, delivers and responds. Disabled (`anomaly.enabled: false`): alerts can
 * still be read, nothing new is detected.
 */
import type { LedgerService } from '../audit/ledger.service.js';
import type { QueueOptions } from '../audit/sinks/sink.js';
import { AnomalyEngine } from '../anomaly/engine.js';
import type { AnomalySettings } from '../anomaly/config.js';
import type { Clock } from '../util/clock.js';
import { AlertService } from './alert.service.js';
import type { AlertStore } from './alert.store.js';
import { AlertDelivery } from './delivery.js';
import { Responder, type ResponderDeps } from './responder.js';

export interface AnomalyDetection {
  alerts: AlertService;
  /** Undefined when anomaly detection is disabled. */
  engine: AnomalyEngine | undefined;
  delivery: AlertDelivery;
  /** Waits until every committed event so far has been analysed and its alerts written. */
  settle(): Promise<void>;
  /** Gives the webhooks up to `timeoutMs` to deliver, then stops them. */
  close(timeoutMs?: number): Promise<void>;
}

export function startAnomalyDetection(d: {
  settings: AnomalySettings;
  store: AlertStore;
  ledger: Pick<LedgerService, 'append' | 'onEvent'>;
  clock: Clock;
  metrics: { anomalyAlert(detector: string): void };
  responder: Omit<ResponderDeps, 'respondAs' | 'clock'>;
  onError: (e: unknown) => void;
  /** Webhook back-off settings (tests use short ones). */
  webhookQueue?: QueueOptions;
}): AnomalyDetection {
  const s = d.settings;
  const delivery = new AlertDelivery({ webhooks: s.webhooks, maxDeliveriesPerMinute: s.alerts.maxDeliveriesPerMinute, clock: d.clock, ...(d.webhookQueue && { queue: d.webhookQueue }) });
  const responder = new Responder({ ...d.responder, clock: d.clock, ...(s.respondAs !== undefined && { respondAs: s.respondAs }) });
  const alerts = new AlertService({ store: d.store, clock: d.clock, ledger: d.ledger, settings: s, metrics: d.metrics, delivery, responder, onError: d.onError });
  let engine: AnomalyEngine | undefined;
  if (s.enabled) {
    engine = new AnomalyEngine({
      settings: s,
      keyState: async (keyId) => (await d.responder.keys.findById(keyId))?.state,
      onFinding: alerts.onFinding,
      onError: d.onError,
    });
    d.ledger.onEvent(engine.push);
  }
  return {
    alerts,
    engine,
    delivery,
    async settle() {
      await engine?.settle();
      await alerts.settle();
    },
    close: (timeoutMs) => delivery.close(timeoutMs),
  };
}
