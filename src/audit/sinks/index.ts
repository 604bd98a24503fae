/**
 * Sink configuration and wiring: `createSinks(config)` validates a sinks config (TypeBox, unknown
 * members rejected) and builds the sinks; `attachSinks(ledger, sinks)` copies every committed event
 * and every checkpoint to each of them. See docs/audit-format.md, "Sinks and witnessing".
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { errors } from '../../errors/catalog.js';
import { systemClock, type Clock } from '../../util/clock.js';
import type { LedgerService } from '../ledger.service.js';
import { fileSink } from './file-sink.js';
import { checkpointRecord, eventRecord, type AuditSink, type QueueOptions, type SinkStats } from './sink.js';
import { SYSLOG_FACILITIES, syslogSink, type SyslogFacility } from './syslog-sink.js';
import { webhookSink } from './webhook-sink.js';

export type { AuditSink, SinkRecord, SinkStats, QueueOptions } from './sink.js';

const strict = { additionalProperties: false } as const;
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
/** Optional per sink: most records waiting before the oldest are dropped. */
const MaxQueue = Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 }));

export const SinksConfigSchema = Type.Object(
  {
    file: Type.Optional(
      Type.Object(
        {
          path: Type.String({ minLength: 1 }),
          maxBytes: Type.Integer({ minimum: 1024, description: 'rotate before the file would exceed this size' }),
          keep: Type.Integer({ minimum: 1, maximum: 1000, description: 'rotated files kept (path.1 … path.<keep>)' }),
          maxQueue: MaxQueue,
        },
        strict,
      ),
    ),
    syslog: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, maxLength: 255 }),
          port: Port,
          protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]),
          appName: Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,48}$' })),
          facility: Type.Optional(
            Type.Union([Type.Integer({ minimum: 0, maximum: 23 }), ...Object.keys(SYSLOG_FACILITIES).map((f) => Type.Literal(f))]),
          ),
          maxQueue: MaxQueue,
        },
        strict,
      ),
    ),
    webhook: Type.Optional(
      Type.Object(
        {
          url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
          secret: Type.String({ minLength: 16, maxLength: 1024, description: 'HMAC-SHA256 key for X-Keywarden-Signature' }),
          batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 300_000 })),
          maxQueue: MaxQueue,
        },
        strict,
      ),
    ),
  },
  strict,
);
export type SinksConfig = Static<typeof SinksConfigSchema>;

export interface CreateSinksOptions {
  /** Time for the webhook timestamp (default: the system clock). */
  clock?: Clock;
  /** Queue and back-off settings for every sink (tests use short back-offs). */
  queue?: QueueOptions;
}

/** Validates `config` (throws ValidationError naming the first problem) and builds its sinks. */
export function createSinks(config: unknown, opts: CreateSinksOptions = {}): AuditSink[] {
  if (!Value.Check(SinksConfigSchema, config)) {
    const e = [...Value.Errors(SinksConfigSchema, config)][0];
    // The message names the member, never its value (a webhook secret must not reach a log).
    throw errors.validation(`invalid audit sinks config at ${e?.path || '/'}: ${e?.message ?? 'invalid'}`);
  }
  if (config.webhook && !URL.canParse(config.webhook.url)) throw errors.validation('invalid audit sinks config at /webhook/url: not a URL');
  const q = (maxQueue: number | undefined): QueueOptions => ({ ...opts.queue, ...(maxQueue !== undefined && { maxQueue }) });
  const sinks: AuditSink[] = [];
  const { file, syslog, webhook } = config;
  if (file) sinks.push(fileSink({ path: file.path, maxBytes: file.maxBytes, keep: file.keep }, q(file.maxQueue)));
  if (syslog) {
    const facility = syslog.facility as SyslogFacility | number | undefined;
    sinks.push(syslogSink({ host: syslog.host, port: syslog.port, protocol: syslog.protocol, appName: syslog.appName, facility }, q(syslog.maxQueue)));
  }
  if (webhook) {
    sinks.push(webhookSink({ url: webhook.url, secret: webhook.secret, batchSize: webhook.batchSize, timeoutMs: webhook.timeoutMs }, q(webhook.maxQueue), opts.clock ?? systemClock));
  }
  return sinks;
}

/**
 * Copies every event the ledger commits (in index order) and every checkpoint it issues to each
 * sink. One record object is built per event and shared; each sink only queues it, so the
 * ledger's commit path pays a few object allocations per event, whatever the sinks' state.
 */
export function attachSinks(ledger: Pick<LedgerService, 'onEvent' | 'onCheckpoint'>, sinks: readonly AuditSink[]): void {
  if (sinks.length === 0) return;
  ledger.onEvent(({ index, event, leafHash }) => {
    const r = eventRecord(index, event, leafHash);
    for (const s of sinks) s.publish(r);
  });
  ledger.onCheckpoint((c) => {
    const r = checkpointRecord(c);
    for (const s of sinks) s.publish(r);
  });
}

/** Per-sink counters, by sink name (for metrics). */
export function sinkStats(sinks: readonly AuditSink[]): Record<string, SinkStats> {
  return Object.fromEntries(sinks.map((s) => [s.name, s.stats()]));
}

/** Gives each sink up to `timeoutMs` to deliver what it holds, then closes it. */
export async function closeSinks(sinks: readonly AuditSink[], timeoutMs?: number): Promise<void> {
  await Promise.all(sinks.map((s) => s.close(timeoutMs)));
}
