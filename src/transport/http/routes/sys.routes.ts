import type { FastifyInstance } from 'fastify';
import { errors } from '../../../errors/catalog.js';
import type { HttpDeps } from '../server.js';
import * as S from '../schemas.js';
import { call, iso } from '../wire.js';

const tags = ['sys'];

export function registerSysRoutes(app: FastifyInstance, { ops, sys }: HttpDeps): void {
  app.get('/v1/sys/health', { schema: { tags, security: [], response: { 200: S.HealthOut, 501: S.HealthOut, 503: S.HealthOut } } }, async (_req, reply) => {
    const h = await sys.health();
    reply.code(!h.initialized ? 501 : h.sealed ? 503 : 200);
    return h;
  });
  app.get('/v1/sys/seal-status', { schema: { tags, security: [], response: S.withErrors({ 200: S.SealStatusOut }) } }, async () => sys.sealStatus());
  app.post('/v1/sys/init', { schema: { tags, security: [], body: S.InitBody, response: S.withErrors({ 200: S.InitOut }) } }, async (req) => {
    const b = req.body as { shares?: number; threshold?: number };
    return sys.init(b.shares, b.threshold, call(req));
  });
  app.post('/v1/sys/unseal', { schema: { tags, security: [], body: S.UnsealBody, response: S.withErrors({ 200: S.SealStatusOut }) } }, async (req) => {
    const b = req.body as { share?: string; reset?: boolean };
    if (b.reset === true) return sys.resetUnseal(call(req));
    if (b.share === undefined) throw errors.validation('body must contain "share" (or "reset": true)');
    return sys.unseal(b.share, call(req));
  });
  app.post('/v1/sys/seal', { schema: { tags, response: S.withErrors({ 200: S.SealedOut }) } }, async (req) => {
    await ops.sealNow(call(req));
    return { sealed: true };
  });
  app.post('/v1/sys/root-token/revoke', { schema: { tags, response: S.withErrors({ 200: S.RevokeRootOut }) } }, async (req) => sys.revokeRoot(call(req)));
  const attemptView = <T extends { expiresAt: number | null }>(s: T) => ({ ...s, expiresAt: iso(s.expiresAt) });
  app.get('/v1/sys/generate-root/attempt', { schema: { tags, security: [], response: S.withErrors({ 200: S.GenerateRootOut }) } }, async () => attemptView(sys.generateRootStatus()));
  app.post('/v1/sys/generate-root/attempt', { schema: { tags, security: [], response: S.withErrors({ 200: S.GenerateRootOut }) } }, async (req) => attemptView(await sys.startGenerateRoot(call(req))));
  app.delete('/v1/sys/generate-root/attempt', { schema: { tags, security: [], response: S.withErrors({ 200: S.GenerateRootOut }) } }, async (req) => attemptView(await sys.cancelGenerateRoot(call(req))));
  app.post('/v1/sys/generate-root/update', { schema: { tags, security: [], body: S.GenerateRootUpdateBody, response: S.withErrors({ 200: S.GenerateRootOut }) } }, async (req) => {
    const b = req.body as { nonce: string; share: string };
    return attemptView(await sys.updateGenerateRoot(b.nonce, b.share, call(req)));
  });
  app.get('/v1/sys/jobs', { schema: { tags, response: S.withErrors({ 200: S.JobsOut }) } }, async (req) => {
    const jobs = await sys.jobs(call(req));
    return {
      jobs: jobs.map((j) => ({ ...j, nextRunAt: iso(j.nextRunAt), lastRunAt: iso(j.lastRunAt) })),
    };
  });
  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
