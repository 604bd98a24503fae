/**
 * The anomaly engine: fed with every event the ledger commits (LedgerService.onEvent), it turns
 * each into an Observation, runs the detectors and hands their findings on (to the alert service).
 *
 * Off the commit path: the listener only pushes the event onto a bounded queue (the oldest is
 * dropped and counted when full) and processing runs on a later turn, so a slow alert store or a
 * key-state lookup never slows an audited call. Events of the alert system itself (operations
 * `alert:*`, and anything a `system` principal records) are ignored: no feedback loop.
 *
 * Multi-node: each node sees only the events IT commits, so each analyses its own share of the
 * traffic (docs/operations.md says what that means for thresholds).
 */
import type { CommittedEvent } from '../audit/ledger.service.js';
import type { AuditEvent } from '../audit/event.js';
import type { AnomalySettings } from './config.js';
import { buildDetectors, needsKeyState, type Detector } from './detectors.js';
import type { Finding, Observation } from './model.js';
import { ZoneMap } from './zones.js';

export const MAX_QUEUED_EVENTS = 100_000;

/** The principal kind alert-system events are recorded under. */
export const SYSTEM_PRINCIPAL_KIND = 'system';

export interface AnomalyEngineDeps {
  settings: AnomalySettings;
  /** The key's current lifecycle state (for the inactive-key detector); undefined when unknown. */
  keyState?: (keyId: string) => Promise<string | undefined>;
  onFinding: (f: Finding) => void;
  onError?: (e: unknown) => void;
}

export interface AnomalyEngineStats {
  observed: number;
  ignored: number;
  findings: number;
  dropped: number;
  queued: number;
}

/** True for events the alert system records itself (raised, responses, acks): never analysed. */
export function isAlertEvent(e: Pick<AuditEvent, 'operation' | 'principal'>): boolean {
  return e.operation.startsWith('alert:') || e.principal?.kind === SYSTEM_PRINCIPAL_KIND;
}

/** `time` of an event as epoch ms; `parse` may remember the last one (events of one group commit mostly share their millisecond). */
export function observationOf(index: number, e: AuditEvent, parse: (iso: string) => number = Date.parse): Observation {
  const items = e.details?.items;
  return {
    index,
    time: parse(e.time),
    principalId: e.principal?.id ?? null,
    principalName: e.principal?.name ?? null,
    principalKind: e.principal?.kind ?? null,
    sourceIp: e.sourceIp,
    operation: e.operation,
    keyId: e.keyId,
    outcome: e.outcome,
    errorCode: e.errorCode,
    items: typeof items === 'number' && items > 0 ? items : 1,
  };
}

export class AnomalyEngine {
  readonly #d: AnomalyEngineDeps;
  readonly #detectors: Detector[];
  #queue: CommittedEvent[] = [];
  #running: Promise<void> | undefined;
  #stats = { observed: 0, ignored: 0, findings: 0, dropped: 0 };
  #lastTime = { iso: '', ms: NaN };
  readonly #timeOf = (iso: string): number => {
    if (iso !== this.#lastTime.iso) this.#lastTime = { iso, ms: Date.parse(iso) };
    return this.#lastTime.ms;
  };

  constructor(d: AnomalyEngineDeps) {
    this.#d = d;
    this.#detectors = buildDetectors(d.settings, new ZoneMap(d.settings.zones));
  }

  get detectors(): readonly string[] {
    return this.#detectors.map((x) => x.name);
  }

  /** The ledger listener: O(1), never throws, never waits. */
  readonly push = (e: CommittedEvent): void => {
    if (this.#queue.length >= MAX_QUEUED_EVENTS) {
      this.#queue.shift();
      this.#stats.dropped++;
    }
    this.#queue.push(e);
    this.#running ??= new Promise<void>((r) => setImmediate(r)).then(() => this.#drain());
  };

  /** Runs every detector on one observation and returns the findings (synchronous; replay tests use it directly). */
  observe(o: Observation): Finding[] {
    const out: Finding[] = [];
    this.#stats.observed++;
    for (const d of this.#detectors) {
      try {
        d.observe(o, (f) => out.push(f));
      } catch (e) {
        this.#d.onError?.(e);
      }
    }
    this.#stats.findings += out.length;
    return out;
  }

  /** Resolves once every event pushed so far has been analysed and its findings handed on. */
  async settle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  stats(): AnomalyEngineStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        for (const { index, event } of batch) {
          if (isAlertEvent(event)) {
            this.#stats.ignored++;
            continue;
          }
          const o = observationOf(index, event, this.#timeOf);
          if (needsKeyState(o) && this.#d.keyState !== undefined) {
            o.keyState = await this.#d.keyState(o.keyId as string).catch((e: unknown) => {
              this.#d.onError?.(e);
              return undefined;
            });
          }
          for (const f of this.observe(o)) {
            try {
              this.#d.onFinding(f);
            } catch (e) {
              this.#d.onError?.(e);
            }
          }
        }
      }
    } finally {
      this.#running = undefined;
    }
  }
}
