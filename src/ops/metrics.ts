/**
 * Prometheus metrics (issue 10 §2). One prom-client Registry per Keywarden instance, built at the
 * composition root (never prom-client's global default registry: two instances in one process,
 * as in tests, must not share counters). Reference of every metric: docs/operations.md.
 *
 * Counters of use-cases are fed by the audit stage (src/ops/audited.ts observer), HTTP counters by
 * the transport's onResponse hook; everything else is read from the services at scrape time. The
 * key gauges walk the key store, so they are cached for KEY_STATS_TTL_MS of the injected clock.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import type { LedgerStats } from '../audit/ledger.service.js';
import type { Outcome } from '../audit/event.js';
import type { SinkStats } from '../audit/sinks/sink.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { Clock } from '../util/clock.js';

/** How long the key gauges (a walk over every key record) are reused between scrapes. */
export const KEY_STATS_TTL_MS = 5_000;
/** A rotation due for longer than this has been missed by the rotation-due job (it runs every minute). */
export const ROTATION_OVERDUE_MS = 60 * 60_000;
/** Pending approval requests counted at most (the gauge saturates there). */
export const MAX_PENDING_COUNTED = 10_000;
/** The detectors of issue 10 §3 (src/anomaly/detectors.ts); each has a series from the start, at 0 until it raises an alert. */
export const ANOMALY_DETECTORS = ['rate-spike', 'new-zone', 'unusual-hours', 'probing', 'inactive-key-use', 'mass-data-key'] as const;

const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const KEY_PAGE = 1000;

/** What the metrics read at scrape time; every source is optional, so tests and tools can build a subset. */
export interface MetricsSources {
  clock: Clock;
  version: string;
  /** Pages of key records, oldest first (KeyService.list). */
  listKeys?: (limit: number, after?: { createdAt: number; id: string }) => Promise<KeyRecord[]>;
  keyCache?: () => { material: { hits: number; misses: number }; records: { hits: number; misses: number } };
  /** How many approval requests are pending (capped by the caller). */
  pendingApprovals?: () => Promise<number>;
  ledger?: () => LedgerStats;
  sinks?: () => Record<string, SinkStats>;
  /** The PKCS#11 adapter's counters, when an HSM is configured. */
  hsm?: () => { calls: number; errors: number; latencyMsSum: number; reconnects: number };
  /** Whether this node holds the cluster's leader lock (src/cluster/cluster.ts). */
  leader?: () => boolean;
}

interface KeyStats {
  byStateAndClass: Map<string, { state: string; classification: string; n: number }>;
  rotationsDue: number;
  rotationsOverdue: number;
}

/** Sets a counter mirroring a monotonic count kept elsewhere (prom-client counters cannot be set). */
function mirror<T extends string>(c: Counter<T>, value: number, labels?: LabelValues<T>): void {
  if (labels === undefined) {
    c.reset();
    c.inc(value);
  } else {
    c.remove(labels);
    c.inc(labels, value);
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly #src: MetricsSources;
  readonly #operations: Counter<'operation' | 'outcome'>;
  readonly #operationSeconds: Histogram<'operation' | 'outcome'>;
  readonly #http: Counter<'method' | 'route' | 'status'>;
  readonly #httpSeconds: Histogram<'method' | 'route'>;
  readonly #anomalies: Counter<'detector'>;
  /** Children by operation then outcome: the hot path does two Map lookups, no label hashing. */
  readonly #opChildren = new Map<string, Map<Outcome, { count: Counter.Internal; seconds: Histogram.Internal<'operation' | 'outcome'> }>>();
  readonly #httpChildren = new Map<string, { count: Map<number, Counter.Internal>; seconds: Histogram.Internal<'method' | 'route'> }>();
  #keyStats: { at: number; value: Promise<KeyStats> } | undefined;

  constructor(src: MetricsSources) {
    this.#src = src;
    const registers = [this.registry];
    // Process metrics (CPU, memory, event loop lag, GC) under their usual names, in this registry only.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'keywarden_build_info', help: 'Always 1; the version label is the running Keywarden version', labelNames: ['version'], registers }).set({ version: src.version }, 1);

    this.#operations = new Counter({ name: 'keywarden_operations_total', help: 'Use-cases run (each one audited), by operation and outcome (allow, deny, error)', labelNames: ['operation', 'outcome'], registers });
    this.#operationSeconds = new Histogram({
      name: 'keywarden_operation_duration_seconds',
      help: 'Duration of use-cases, the audit append included, by operation and outcome',
      labelNames: ['operation', 'outcome'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.#http = new Counter({ name: 'keywarden_http_requests_total', help: 'HTTP requests answered, by method, route template and status code', labelNames: ['method', 'route', 'status'], registers });
    this.#httpSeconds = new Histogram({ name: 'keywarden_http_request_duration_seconds', help: 'HTTP request duration (fastify elapsed time), by method and route template', labelNames: ['method', 'route'], buckets: SECONDS_BUCKETS, registers });
    this.#anomalies = new Counter({ name: 'keywarden_anomaly_alerts_total', help: 'Anomaly alerts raised (new alerts; repeats folded into an open alert are not counted), by detector', labelNames: ['detector'], registers });
    for (const d of ANOMALY_DETECTORS) this.#anomalies.inc({ detector: d }, 0);

    this.#keyGauges(registers);
    this.#auditMetrics(registers);
    this.#cacheMetrics(registers);
    if (src.hsm) this.#hsmMetrics(registers, src.hsm);
    const { leader } = src;
    if (leader !== undefined) {
      new Gauge({ name: 'keywarden_cluster_leader', help: '1 while this node holds the leader lock (it runs the scheduled jobs), else 0; exactly one node of a cluster reports 1', registers, collect() { this.set(leader() ? 1 : 0); } });
    }
  }

  /** The audit stage's observer (OperationObserver of src/ops/audited.ts). */
  readonly observeOperation = (operation: string, outcome: Outcome, seconds: number): void => {
    let byOutcome = this.#opChildren.get(operation);
    if (byOutcome === undefined) this.#opChildren.set(operation, (byOutcome = new Map()));
    let c = byOutcome.get(outcome);
    if (c === undefined) {
      c = { count: this.#operations.labels(operation, outcome), seconds: this.#operationSeconds.labels(operation, outcome) };
      byOutcome.set(outcome, c);
    }
    c.count.inc();
    c.seconds.observe(seconds);
  };

  /** One answered HTTP request; `route` is the route template (never the raw URL: bounded label values). */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const k = method + ' ' + route;
    let c = this.#httpChildren.get(k);
    if (c === undefined) this.#httpChildren.set(k, (c = { count: new Map(), seconds: this.#httpSeconds.labels(method, route) }));
    let count = c.count.get(status);
    if (count === undefined) c.count.set(status, (count = this.#http.labels(method, route, String(status))));
    count.inc();
    c.seconds.observe(seconds);
  }

  /** One new alert raised (src/alerts/alert.service.ts). */
  anomalyAlert(detector: string): void {
    this.#anomalies.inc({ detector });
  }

  /** The Prometheus text exposition (format 0.0.4). */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  #keyGauges(registers: Registry[]): void {
    const { listKeys, pendingApprovals } = this.#src;
    if (listKeys !== undefined) {
      const stats = () => this.#cachedKeyStats(listKeys);
      new Gauge({
        name: 'keywarden_keys',
        help: 'KMS keys by lifecycle state and classification ("none" = unclassified); computed at scrape time, cached 5 s',
        labelNames: ['state', 'classification'],
        registers,
        async collect() {
          const s = await stats();
          this.reset();
          for (const v of s.byStateAndClass.values()) this.set({ state: v.state, classification: v.classification }, v.n);
        },
      });
      new Gauge({
        name: 'keywarden_key_rotations_due',
        help: 'Enabled keys whose automatic rotation is due (next rotation time passed); the rotation-due job rotates them within a minute',
        registers,
        async collect() {
          this.set((await stats()).rotationsDue);
        },
      });
      new Gauge({
        name: 'keywarden_key_rotations_overdue',
        help: 'Enabled keys whose rotation has been due for over an hour: the rotation-due job is not running (sealed node, failing job)',
        registers,
        async collect() {
          this.set((await stats()).rotationsOverdue);
        },
      });
    }
    if (pendingApprovals !== undefined) {
      new Gauge({
        name: 'keywarden_approvals_pending',
        help: `Approval requests waiting for approvers (counted up to ${MAX_PENDING_COUNTED})`,
        registers,
        async collect() {
          this.set(await pendingApprovals());
        },
      });
    }
  }

  #cachedKeyStats(listKeys: NonNullable<MetricsSources['listKeys']>): Promise<KeyStats> {
    const now = this.#src.clock.now();
    const c = this.#keyStats;
    if (c !== undefined && now - c.at < KEY_STATS_TTL_MS) return c.value;
    const value = computeKeyStats(listKeys, now);
    // A failed walk is not cached: the next scrape tries again.
    value.catch(() => {
      if (this.#keyStats?.value === value) this.#keyStats = undefined;
    });
    this.#keyStats = { at: now, value };
    return value;
  }

  #auditMetrics(registers: Registry[]): void {
    const { ledger, sinks } = this.#src;
    if (ledger !== undefined) {
      new Gauge({ name: 'keywarden_audit_queue_depth', help: 'Audit events waiting for the next group commit', registers, collect() { this.set(ledger().queued); } });
      new Gauge({ name: 'keywarden_audit_ledger_size', help: 'Events in the audit ledger (its Merkle tree size)', registers, collect() { this.set(ledger().size); } });
      new Counter({ name: 'keywarden_audit_events_total', help: 'Audit events committed by this process', registers, collect() { mirror(this, ledger().events); } });
      new Counter({ name: 'keywarden_audit_batches_total', help: 'Audit group commits (one store transaction each) by this process', registers, collect() { mirror(this, ledger().transactions); } });
      new Counter({ name: 'keywarden_audit_failed_batches_total', help: 'Audit group commits that failed (their use-cases failed closed)', registers, collect() { mirror(this, ledger().failedBatches); } });
    }
    if (sinks !== undefined) {
      const each = (f: (s: SinkStats) => number) => Object.entries(sinks()).map(([sink, s]) => [sink, f(s)] as const);
      new Gauge({ name: 'keywarden_audit_sink_queued', help: 'Records waiting in an audit sink (SIEM, witness) queue', labelNames: ['sink'], registers, collect() {
        this.reset();
        for (const [sink, v] of each((s) => s.queued)) this.set({ sink }, v);
      } });
      const counter = (name: string, help: string, f: (s: SinkStats) => number) =>
        new Counter({ name, help, labelNames: ['sink'], registers, collect() {
          for (const [sink, v] of each(f)) mirror(this, v, { sink });
        } });
      counter('keywarden_audit_sink_sent_total', 'Records delivered by an audit sink', (s) => s.sent);
      counter('keywarden_audit_sink_failed_attempts_total', 'Failed delivery attempts of an audit sink (each retried after a back-off)', (s) => s.failedAttempts);
      counter('keywarden_audit_sink_dropped_total', 'Records an audit sink dropped because its queue was full (the ledger still holds them)', (s) => s.dropped);
    }
  }

  #cacheMetrics(registers: Registry[]): void {
    const { keyCache } = this.#src;
    if (keyCache === undefined) return;
    const caches = ['material', 'records'] as const;
    new Counter({ name: 'keywarden_key_cache_hits_total', help: 'Key lookups answered from memory; cache: material (unwrapped key versions) or records (key metadata)', labelNames: ['cache'], registers, collect() {
      const s = keyCache();
      for (const cache of caches) mirror(this, s[cache].hits, { cache });
    } });
    new Counter({ name: 'keywarden_key_cache_misses_total', help: 'Key lookups that went to the store; cache: material or records', labelNames: ['cache'], registers, collect() {
      const s = keyCache();
      for (const cache of caches) mirror(this, s[cache].misses, { cache });
    } });
    new Gauge({ name: 'keywarden_key_cache_hit_ratio', help: 'Hits / (hits + misses) since start, per cache (0 before the first lookup)', labelNames: ['cache'], registers, collect() {
      const s = keyCache();
      for (const cache of caches) {
        const { hits, misses } = s[cache];
        this.set({ cache }, hits + misses === 0 ? 0 : hits / (hits + misses));
      }
    } });
  }

  #hsmMetrics(registers: Registry[], hsm: NonNullable<MetricsSources['hsm']>): void {
    new Counter({ name: 'keywarden_hsm_calls_total', help: 'PKCS#11 calls made', registers, collect() { mirror(this, hsm().calls); } });
    new Counter({ name: 'keywarden_hsm_errors_total', help: 'PKCS#11 calls that failed', registers, collect() { mirror(this, hsm().errors); } });
    new Counter({ name: 'keywarden_hsm_call_seconds_total', help: 'Time spent in PKCS#11 calls; rate(this) / rate(keywarden_hsm_calls_total) is the mean HSM latency', registers, collect() { mirror(this, hsm().latencyMsSum / 1000); } });
    new Counter({ name: 'keywarden_hsm_reconnects_total', help: 'Reconnections to the PKCS#11 module after a lost session or token', registers, collect() { mirror(this, hsm().reconnects); } });
  }
}

async function computeKeyStats(listKeys: NonNullable<MetricsSources['listKeys']>, now: number): Promise<KeyStats> {
  const s: KeyStats = { byStateAndClass: new Map(), rotationsDue: 0, rotationsOverdue: 0 };
  let after: { createdAt: number; id: string } | undefined;
  for (;;) {
    const page = await listKeys(KEY_PAGE, after);
    for (const k of page) {
      const classification = k.classification ?? 'none';
      const id = `${k.state}\u0000${classification}`;
      const e = s.byStateAndClass.get(id);
      if (e === undefined) s.byStateAndClass.set(id, { state: k.state, classification, n: 1 });
      else e.n++;
      if (k.state === 'Enabled' && k.nextRotationAt !== null && k.nextRotationAt <= now) {
        s.rotationsDue++;
        if (k.nextRotationAt <= now - ROTATION_OVERDUE_MS) s.rotationsOverdue++;
      }
    }
    const last = page[page.length - 1];
    if (page.length < KEY_PAGE || last === undefined) return s;
    after = { createdAt: last.createdAt, id: last.id };
  }
}
