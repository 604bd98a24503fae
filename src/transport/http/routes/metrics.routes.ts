/**
 * Monitoring (issue 10 §1, §2): liveness and readiness probes (unauthenticated, like
 * GET /v1/sys/health, for load balancers and orchestrators) and the Prometheus scrape (a token with
 * `sys:metrics`). Thin (rule 1): the checks live in ops/sys.ops.ts, the metrics in ops/metrics.ts.
 * Status codes: docs/operations.md.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { MetricsOps } from '../../../ops/metrics.ops.js';
import { ClusterOut, HsmHealthOut, withErrors } from '../schemas.js';
import type { HttpDeps } from '../server.js';
import { call } from '../wire.js';

declare module '../server.js' {
  interface HttpDeps {
    /** The authorized scrape; absent = no /v1/sys/metrics route. */
    metrics?: MetricsOps;
    /** Told of every answered request (route template, never the raw URL). */
    observeHttp?: (method: string, route: string, status: number, seconds: number) => void;
  }
}

const tags = ['sys'];
const Check = { ok: Type.Boolean(), error: Type.Optional(Type.String()) };
const LiveOut = Type.Object({ alive: Type.Boolean() });
const ReadyOut = Type.Object({
  ready: Type.Boolean(),
  initialized: Type.Boolean(),
  sealed: Type.Boolean(),
  leader: Type.Boolean({ description: 'Holds the leader lock (runs the scheduled jobs); always true on SQLite (one node)' }),
  cluster: Type.Optional(ClusterOut),
  degraded: Type.Boolean({ description: 'An audit sink is dropping records (the node still serves)' }),
  checks: Type.Object({
    store: Type.Object({ ...Check, latencyMs: Type.Union([Type.Number(), Type.Null()]) }),
    seal: Type.Object(Check),
    hsm: Type.Optional(HsmHealthOut),
    auditLedger: Type.Object({ ...Check, queued: Type.Integer(), failedBatches: Type.Integer() }),
    auditSinks: Type.Object({ ...Check, sinks: Type.Integer(), dropping: Type.Integer() }),
  }),
});

/** Registered before every other route, so that the response hook sees them all. */
export function registerMonitorRoutes(app: FastifyInstance, { sys, metrics, observeHttp }: HttpDeps): void {
  if (observeHttp !== undefined) {
    // Callback-style hook on every request; unmatched URLs share one label value (bounded cardinality).
    app.addHook('onResponse', (req, reply, done) => {
      observeHttp(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  app.get('/v1/sys/health/live', { schema: { tags, security: [], response: { 200: LiveOut } } }, async () => ({ alive: true }));
  app.get('/v1/sys/health/ready', { schema: { tags, security: [], response: { 200: ReadyOut, 429: ReadyOut, 472: ReadyOut, 501: ReadyOut, 503: ReadyOut } } }, async (_req, reply) => {
    const { status, ...r } = await sys.ready();
    reply.code(status);
    return r;
  });
  if (metrics !== undefined) {
    app.get('/v1/sys/metrics', { schema: { tags, response: withErrors({ 200: Type.String({ description: 'Prometheus text exposition format 0.0.4' }) }) } }, async (req, reply) => {
      const m = await metrics.scrape(call(req));
      reply.type(m.contentType);
      return m.body;
    });
  }
}
