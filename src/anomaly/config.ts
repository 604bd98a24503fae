/**
 * The `anomaly` section of the server config (docs/operations.md, "Anomaly detection and alerts"):
 * detector thresholds, network zones, alert dedup and delivery limits, webhooks and automatic
 * responses. Every field is optional; `resolveAnomalySettings` fills the documented defaults.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { cidrProblem } from '../auth/grant-conditions.js';
import { errors } from '../errors/catalog.js';
import { ANOMALY_DETECTORS, type DetectorName } from './model.js';

export const RESPONSE_KINDS = ['reauthenticate', 'suspend-token', 'disable-key'] as const;
export type ResponseKind = (typeof RESPONSE_KINDS)[number];

/** The documented defaults (docs/operations.md alert reference). */
export const ANOMALY_DEFAULTS = {
  enabled: true,
  timezoneOffsetMinutes: 0,
  /** Subjects (keys, principals, addresses) each detector tracks; the least recently seen is forgotten first. */
  maxSubjects: 10_000,
  detectors: {
    'rate-spike': { enabled: true, sensitivity: 6, minCount: 100, alpha: 0.05, hourlyAlpha: 0.02, warmupMinutes: 60 },
    'new-zone': { enabled: true, learningHours: 24 },
    'unusual-hours': { enabled: true, minHistoryDays: 7, minDayFraction: 0.2 },
    probing: { enabled: true, windowSeconds: 60, threshold: 20 },
    'inactive-key-use': { enabled: true },
    'mass-data-key': { enabled: true, windowMinutes: 10, minCount: 500, ratio: 10, alpha: 0.1 },
  },
  alerts: { dedupWindowMinutes: 60, maxDeliveriesPerMinute: 30 },
} as const;

const strict = { additionalProperties: false } as const;
const on = { enabled: Type.Optional(Type.Boolean()) };
const int = (minimum: number, maximum: number, description: string) => Type.Optional(Type.Integer({ minimum, maximum, description }));
const num = (minimum: number, maximum: number, description: string) => Type.Optional(Type.Number({ minimum, maximum, description }));

export const AnomalyConfigSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'anomaly detection on this node (default true)' })),
    timezoneOffsetMinutes: int(-720, 840, 'offset from UTC of the hours unusual-hours learns (default 0 = UTC)'),
    maxSubjects: int(100, 1_000_000, 'subjects tracked per detector (default 10000)'),
    zones: Type.Optional(
      Type.Array(
        Type.Object(
          {
            cidr: Type.String({ minLength: 1, maxLength: 64 }),
            zone: Type.String({ minLength: 1, maxLength: 64 }),
            country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166 alpha-2' })),
          },
          strict,
        ),
        { maxItems: 10_000 },
      ),
    ),
    detectors: Type.Optional(
      Type.Object(
        {
          'rate-spike': Type.Optional(Type.Object({ ...on, sensitivity: num(1, 100, 'k: sigmas above the baseline'), minCount: int(1, 10_000_000, 'calls per minute never flagged below'), alpha: num(0.001, 1, 'EWMA weight of the newest minute'), hourlyAlpha: num(0.001, 1, 'EWMA weight of the newest minute in its hour-of-day baseline'), warmupMinutes: int(1, 100_000, 'minutes of history before it flags') }, strict)),
          'new-zone': Type.Optional(Type.Object({ ...on, learningHours: int(0, 24 * 365, 'hours after a subject is first seen during which new zones are learnt silently') }, strict)),
          'unusual-hours': Type.Optional(Type.Object({ ...on, minHistoryDays: int(1, 365, 'days of history before it flags'), minDayFraction: num(0, 1, 'an hour of day (±1) used on at least this fraction of active days is usual') }, strict)),
          probing: Type.Optional(Type.Object({ ...on, windowSeconds: int(1, 86_400, 'sliding window'), threshold: int(2, 1_000_000, 'denied calls or failed decrypts in the window') }, strict)),
          'inactive-key-use': Type.Optional(Type.Object(on, strict)),
          'mass-data-key': Type.Optional(Type.Object({ ...on, windowMinutes: int(1, 1440, 'window'), minCount: int(1, 100_000_000, 'data keys per window never flagged below'), ratio: num(1, 1_000_000, 'times the baseline'), alpha: num(0.001, 1, 'EWMA weight of the newest window') }, strict)),
        },
        strict,
      ),
    ),
    alerts: Type.Optional(
      Type.Object({ dedupWindowMinutes: int(1, 7 * 1440, 'a repeat within this time folds into the open alert'), maxDeliveriesPerMinute: int(1, 100_000, 'webhook deliveries per minute, all alerts together') }, strict),
    ),
    webhooks: Type.Optional(
      Type.Array(
        Type.Object(
          {
            url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
            secret: Type.String({ minLength: 16, maxLength: 1024, description: 'HMAC-SHA256 key for X-Keywarden-Signature' }),
            timeoutMs: int(100, 300_000, 'per-request timeout'),
            maxQueue: int(1, 1_000_000, 'alerts waiting before the oldest is dropped'),
          },
          strict,
        ),
        { maxItems: 8 },
      ),
    ),
    /** Automatic responses per detector (off unless listed). */
    responses: Type.Optional(
      Type.Object(
        Object.fromEntries(ANOMALY_DETECTORS.map((d) => [d, Type.Optional(Type.Array(Type.Union(RESPONSE_KINDS.map((r) => Type.Literal(r))), { maxItems: 3, uniqueItems: true }))])),
        strict,
      ),
    ),
    respondAs: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'service account that files disable-key approval requests' })),
  },
  strict,
);
export type AnomalyConfig = Static<typeof AnomalyConfigSchema>;

type Defaults = typeof ANOMALY_DEFAULTS;
type Widen<T> = { -readonly [K in keyof T]: T[K] extends boolean ? boolean : T[K] extends number ? number : Widen<T[K]> };

export interface AnomalySettings extends Widen<Omit<Defaults, 'detectors' | 'alerts'>> {
  detectors: Widen<Defaults['detectors']>;
  alerts: Widen<Defaults['alerts']>;
  zones: Array<{ cidr: string; zone: string; country?: string }>;
  webhooks: Array<{ url: string; secret: string; timeoutMs?: number; maxQueue?: number }>;
  responses: Partial<Record<DetectorName, ResponseKind[]>>;
  respondAs?: string;
}

/** Validates `config` (throws ValidationError naming the member, never a value) and fills the defaults. */
export function resolveAnomalySettings(config: unknown = {}): AnomalySettings {
  if (!Value.Check(AnomalyConfigSchema, config)) {
    const e = [...Value.Errors(AnomalyConfigSchema, config)][0];
    throw errors.validation(`invalid anomaly config at ${e?.path || '/'}: ${e?.message ?? 'invalid'}`);
  }
  const c = config;
  c.zones?.forEach((z, i) => {
    const p = cidrProblem(z.cidr);
    if (p !== undefined) throw errors.validation(`invalid anomaly config at /zones/${i}/cidr: ${p}`);
  });
  c.webhooks?.forEach((w, i) => {
    if (!URL.canParse(w.url)) throw errors.validation(`invalid anomaly config at /webhooks/${i}/url: not a URL`);
  });
  const d = ANOMALY_DEFAULTS.detectors;
  const cd = c.detectors ?? {};
  return {
    enabled: c.enabled ?? ANOMALY_DEFAULTS.enabled,
    timezoneOffsetMinutes: c.timezoneOffsetMinutes ?? ANOMALY_DEFAULTS.timezoneOffsetMinutes,
    maxSubjects: c.maxSubjects ?? ANOMALY_DEFAULTS.maxSubjects,
    detectors: {
      'rate-spike': { ...d['rate-spike'], ...cd['rate-spike'] },
      'new-zone': { ...d['new-zone'], ...cd['new-zone'] },
      'unusual-hours': { ...d['unusual-hours'], ...cd['unusual-hours'] },
      probing: { ...d.probing, ...cd.probing },
      'inactive-key-use': { ...d['inactive-key-use'], ...cd['inactive-key-use'] },
      'mass-data-key': { ...d['mass-data-key'], ...cd['mass-data-key'] },
    },
    alerts: { ...ANOMALY_DEFAULTS.alerts, ...c.alerts },
    zones: c.zones ?? [],
    webhooks: c.webhooks ?? [],
    responses: (c.responses ?? {}) as Partial<Record<DetectorName, ResponseKind[]>>,
    ...(c.respondAs !== undefined && { respondAs: c.respondAs }),
  };
}
