import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { HttpDeps } from '../server.js';
import * as S from '../schemas.js';
import { b64, call, decodeBase64, iso, keyView, parseIso, versionView } from '../wire.js';

const tags = ['keys'];
type KeyParams = { keyRef: string };

export function registerKeyRoutes(app: FastifyInstance, { admin }: HttpDeps): void {
  const keyOut = { schema: { tags, params: S.KeyRefParams, response: S.withErrors({ 200: S.KeyEnvelope }) } };
  /** POST /v1/keys/{key}/<action> with an optional body schema, answering {key}. */
  const keyAction = <B>(action: string, body: object | undefined, run: (c: ReturnType<typeof call>, keyRef: string, b: B) => Promise<Parameters<typeof keyView>[0]>) =>
    app.post(`/v1/keys/:keyRef/${action}`, { schema: { ...keyOut.schema, ...(body ? { body } : {}) } }, async (req) => ({
      key: keyView(await run(call(req), (req.params as KeyParams).keyRef, (req.body ?? {}) as B)),
    }));

  app.post('/v1/keys', { schema: { tags, body: S.CreateKeyBody, response: S.withErrors({ 201: S.KeyEnvelope }) } }, async (req, reply) => {
    const { alias, ...rest } = req.body as S.CreateKeyBodyT;
    const key = await admin.createKey(call(req), { ...rest, aliases: alias === undefined ? [] : Array.isArray(alias) ? alias : [alias] });
    reply.code(201);
    return { key: keyView(key) };
  });

  app.get('/v1/keys', { schema: { tags, querystring: S.KeyListQuery, response: S.withErrors({ 200: S.KeyListOut }) } }, async (req) => {
    const q = req.query as Static<typeof S.KeyListQuery>;
    const res = await admin.listKeys(call(req), {
      ...(q.limit !== undefined ? { limit: Number(q.limit) } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      ...(q.classification !== undefined ? { classification: q.classification } : {}),
      ...(q.environment !== undefined ? { environment: q.environment } : {}),
    });
    return { keys: res.keys.map(keyView), nextCursor: res.nextCursor };
  });

  app.get('/v1/keys/:keyRef', keyOut, async (req) => ({ key: keyView(await admin.describeKey(call(req), (req.params as KeyParams).keyRef)) }));
  app.patch('/v1/keys/:keyRef', { schema: { ...keyOut.schema, body: S.UpdateKeyBody } }, async (req) => ({
    key: keyView(await admin.update(call(req), (req.params as KeyParams).keyRef, req.body as S.UpdateKeyBodyT)),
  }));

  keyAction('rotate', undefined, (c, k) => admin.rotate(c, k));
  keyAction('enable', undefined, (c, k) => admin.enable(c, k));
  keyAction('disable', undefined, (c, k) => admin.disable(c, k));
  keyAction<{ days?: number }>('schedule-deletion', S.ScheduleDeletionBody, (c, k, b) => admin.scheduleDeletion(c, k, b.days));
  keyAction('cancel-deletion', undefined, (c, k) => admin.cancelDeletion(c, k));
  keyAction<{ reason: 'compromised' | 'superseded'; compromisedAt?: string }>('revoke', S.RevokeBody, (c, k, b) =>
    admin.revoke(c, k, b.reason, parseIso('compromisedAt', b.compromisedAt)),
  );
  keyAction<{ tags: Record<string, string> }>('tags', S.TagBody, (c, k, b) => admin.tag(c, k, b.tags));
  keyAction<{ tagKeys: string[] }>('untag', S.UntagBody, (c, k, b) => admin.untag(c, k, b.tagKeys));
  keyAction<{ importToken: string; encryptedMaterial: string; validTo?: string }>('import', S.ImportBody, (c, k, b) =>
    admin.importMaterial(c, k, b.importToken, decodeBase64('encryptedMaterial', b.encryptedMaterial), parseIso('validTo', b.validTo)),
  );

  app.get('/v1/keys/:keyRef/versions', { schema: { tags, params: S.KeyRefParams, response: S.withErrors({ 200: S.VersionsOut }) } }, async (req) => {
    const { key, versions } = await admin.versions(call(req), (req.params as KeyParams).keyRef);
    return { keyId: key.id, versions: versions.map((v) => versionView(v, key.primaryVersion)) };
  });
  for (const action of ['enable', 'disable', 'destroy'] as const) {
    app.post(`/v1/keys/:keyRef/versions/:version/${action}`, { schema: { tags, params: S.VersionParams, response: S.withErrors({ 200: S.VersionEnvelope }) } }, async (req) => {
      const p = req.params as { keyRef: string; version: string };
      const { key, version } = await admin.setVersionState(call(req), p.keyRef, Number(p.version), action);
      return { keyId: key.id, version: versionView(version, key.primaryVersion) };
    });
  }

  app.post('/v1/keys/:keyRef/import-parameters', { schema: { tags, params: S.KeyRefParams, body: S.ImportParamsBody, response: S.withErrors({ 200: S.ImportParamsOut }) } }, async (req) => {
    const b = (req.body ?? {}) as { wrappingAlgorithm?: string };
    const r = await admin.importParameters(call(req), (req.params as KeyParams).keyRef, b.wrappingAlgorithm);
    return { importToken: r.importToken, publicKey: b64(r.publicKey), wrappingAlgorithm: r.wrappingAlgorithm, keyId: r.keyId, expiresAt: iso(r.expiresAt) };
  });
  app.post('/v1/keys/:keyRef/export', { schema: { tags, params: S.KeyRefParams, body: S.ExportBody, response: S.withErrors({ 200: S.ExportOut }) } }, async (req) => {
    const r = await admin.exportKey(call(req), (req.params as KeyParams).keyRef, decodeBase64('publicKey', (req.body as { publicKey: string }).publicKey));
    return { ...r, wrappedMaterial: b64(r.wrappedMaterial) };
  });

  app.get('/v1/aliases', { schema: { tags, response: S.withErrors({ 200: S.AliasListOut }) } }, async (req) => ({ aliases: await admin.listAliases(call(req)) }));
  app.post('/v1/aliases', { schema: { tags, body: S.AliasBody, response: S.withErrors({ 201: S.AliasOut }) } }, async (req, reply) => {
    const b = req.body as { alias: string; key: string };
    reply.code(201);
    return admin.createAlias(call(req), b.alias, b.key);
  });
  app.put('/v1/aliases', { schema: { tags, body: S.AliasBody, response: S.withErrors({ 200: S.AliasOut }) } }, async (req) => {
    const b = req.body as { alias: string; key: string };
    return admin.updateAlias(call(req), b.alias, b.key);
  });
  app.delete('/v1/aliases', { schema: { tags, querystring: S.AliasQuery, response: S.withErrors({ 200: S.AliasDeletedOut }) } }, async (req) =>
    admin.deleteAlias(call(req), (req.query as { alias: string }).alias),
  );

  app.get('/v1/reports/unused-keys', { schema: { tags, querystring: S.UnusedQuery, response: S.withErrors({ 200: S.UnusedOut }) } }, async (req) => {
    const days = Number((req.query as { unusedForDays: string }).unusedForDays);
    return { keys: (await admin.unusedKeys(call(req), days)).map(keyView), unusedForDays: days };
  });
  app.post('/v1/reports/unused-keys/purge', { schema: { tags, body: S.PurgeBody, response: S.withErrors({ 200: S.PurgeOut }) } }, async (req) => {
    const b = req.body as { unusedForDays: number; pendingWindowDays?: number };
    return { scheduled: (await admin.purgeUnused(call(req), b.unusedForDays, b.pendingWindowDays)).map(keyView) };
  });
}
