/**
 * Native REST API (/v1) on fastify. Thin by contract (ARCHITECTURE rule 1): it decodes the wire
 * format, calls ops/, encodes the result and maps errors through the one catalog. No business
 * rule, permission check or audit write lives here.
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { ERROR_CATALOG, KeywardenError, errors, isKeywardenError } from '../../errors/catalog.js';
import { randomUUID } from '../../crypto/primitives/index.js';
import type { Call, Ops, BatchResult } from '../../ops/ops.js';
import type { KeyRecord } from '../../keys/key.model.js';
import type { SysOps } from '../../ops/sys.ops.js';
import * as S from './schemas.js';
import type { Logger } from 'pino';

export const VERSION = '0.1.0';
export const BODY_LIMIT = 8 * 1024 * 1024;

/** Sub-resources of /v1/keys/{key}; used to split alias names that contain '/' from the action. */
const KEY_ACTIONS = new Set(['encrypt', 'data-key']);

export interface HttpDeps {
  ops: Ops;
  sys: SysOps;
  logger: Logger | false;
}

export function keyView(k: KeyRecord) {
  return {
    id: k.id,
    aliases: k.aliases,
    description: k.description,
    spec: k.spec,
    usage: k.usage,
    state: k.state,
    origin: k.origin,
    tags: k.tags,
    createdAt: new Date(k.createdAt).toISOString(),
    updatedAt: new Date(k.updatedAt).toISOString(),
    primaryVersion: k.primaryVersion,
  };
}

/** Strict base64 decoding: Buffer.from(s, 'base64') silently skips junk, so check first. */
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export function decodeBase64(field: string, value: string): Buffer {
  if (!B64_RE.test(value)) throw errors.validation(`${field} is not valid base64`);
  return Buffer.from(value, 'base64');
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(h);
  return m ? m[1] : '';
}

const call = (req: FastifyRequest): Call => ({ token: bearer(req), requestId: req.id });

/**
 * Alias names may contain '/', so /v1/keys/alias/team/app/encrypt is rewritten to
 * /v1/keys/alias%2Fteam%2Fapp/encrypt before routing. A trailing segment that names a key action
 * (encrypt, data-key) is the action for POST; for GET the whole rest is the key reference.
 */
export function rewriteKeyUrl(method: string, url: string): string {
  if (!url.startsWith('/v1/keys/alias/')) return url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  const rest = path.slice('/v1/keys/'.length).split('/');
  let action = '';
  if (method === 'POST' && rest.length > 2 && KEY_ACTIONS.has(rest[rest.length - 1] as string)) {
    action = '/' + (rest.pop() as string);
  }
  return `/v1/keys/${encodeURIComponent(decodeURIComponent(rest.join('/')))}${action}${query}`;
}

export function toErrorResponse(err: unknown, requestId: string, log?: FastifyRequest['log']): { status: number; body: unknown } {
  let e: KeywardenError;
  if (isKeywardenError(err)) {
    e = err;
  } else {
    e = fromFastifyError(err as FastifyError);
    if (e.code === 'Internal') log?.error({ err, reqId: requestId }, 'unhandled error');
  }
  return { status: ERROR_CATALOG[e.code].status, body: { error: { code: e.code, message: e.message, requestId, ...(e.details ?? {}) } } };
}

function fromFastifyError(err: FastifyError): KeywardenError {
  if (err.validation && err.validation.length > 0) {
    const v = err.validation[0] as { keyword: string; instancePath: string; message?: string; params: Record<string, unknown> };
    const where = err.validationContext ?? 'body';
    const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const field = path ? path : where;
    if (v.keyword === 'maxItems' && path === 'items') {
      return new KeywardenError('LimitExceeded', `a batch holds at most ${String(v.params.limit)} items`);
    }
    if (v.keyword === 'additionalProperties') return errors.validation(`${field} has an unknown field "${String(v.params.additionalProperty)}"`);
    if (v.keyword === 'required') return errors.validation(`${field} is missing the required field "${String(v.params.missingProperty)}"`);
    return errors.validation(`${field} ${v.message ?? 'is invalid'}`);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new KeywardenError('LimitExceeded', `the request body is larger than ${BODY_LIMIT} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.validation('the request body must be JSON (Content-Type: application/json)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.validation('the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.validation('the Content-Length header does not match the body');
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return errors.validation('the request body is not valid JSON');
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return errors.validation('the request is malformed');
  }
  return errors.internal();
}

function sendBatch<T>(results: BatchResult<T>, encode: (ok: T) => Record<string, unknown>) {
  return {
    items: results.map((r) => ('ok' in r ? { ref: r.ref, ...encode(r.ok) } : { ref: r.ref, error: r.error })),
  };
}

export async function buildHttpServer(deps: HttpDeps, opts: { https?: { cert: Buffer; key: Buffer } } = {}): Promise<FastifyInstance> {
  const { ops, sys } = deps;
  const app = Fastify({
    loggerInstance: deps.logger === false ? undefined : deps.logger,
    logger: deps.logger === false ? false : undefined,
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (it costs more than the AES work per request); error logs carry
    // the request id explicitly instead.
    childLoggerFactory: (logger: Logger) => logger,
    bodyLimit: BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    rewriteUrl: (req: { method?: string; url?: string }) => rewriteKeyUrl(req.method ?? 'GET', req.url ?? '/'),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    ...(opts.https ? { https: opts.https } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Keywarden REST API',
        version: VERSION,
        description: 'Native REST API of Keywarden. Binary fields are standard base64. Errors: {"error": {"code", "message", "requestId"}}.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  // JSON only: a text/plain body is refused with a clear error rather than parsed as a string.
  app.removeContentTypeParser('text/plain');

  // Callback-style (not async) hook: it runs on every request, so it avoids a promise per call.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    reply.header('cache-control', 'no-store');
    done();
  });
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toErrorResponse(err, req.id, req.log);
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = toErrorResponse(new KeywardenError('NotFound', `no route for ${req.method} ${req.url.split('?')[0]}`), req.id);
    reply.code(status).send(body);
  });

  const tag = (t: string) => ({ tags: [t] });

  // ---- sys ---------------------------------------------------------------------------------
  app.get('/v1/sys/health', { schema: { ...tag('sys'), security: [], response: { 200: S.HealthOut, 501: S.HealthOut, 503: S.HealthOut } } }, async (_req, reply) => {
    const h = sys.health();
    reply.code(!h.initialized ? 501 : h.sealed ? 503 : 200);
    return h;
  });
  app.get('/v1/sys/seal-status', { schema: { ...tag('sys'), security: [], response: S.withErrors({ 200: S.SealStatusOut }) } }, async () => sys.sealStatus());
  app.post('/v1/sys/init', { schema: { ...tag('sys'), security: [], body: S.InitBody, response: S.withErrors({ 200: S.InitOut }) } }, async (req) => {
    const b = req.body as { shares: number; threshold: number };
    return sys.init(b.shares, b.threshold);
  });
  app.post('/v1/sys/unseal', { schema: { ...tag('sys'), security: [], body: S.UnsealBody, response: S.withErrors({ 200: S.SealStatusOut }) } }, async (req) => {
    const b = req.body as { share?: string; reset?: boolean };
    if (b.reset === true) return sys.resetUnseal();
    if (b.share === undefined) throw errors.validation('body must contain "share" (or "reset": true)');
    return sys.unseal(b.share);
  });
  app.post('/v1/sys/seal', { schema: { ...tag('sys'), response: S.withErrors({ 200: S.SealedOut }) } }, async (req) => {
    await ops.sealNow(call(req));
    return { sealed: true };
  });

  // ---- keys --------------------------------------------------------------------------------
  app.post('/v1/keys', { schema: { ...tag('keys'), body: S.CreateKeyBody, response: S.withErrors({ 201: S.KeyEnvelope }) } }, async (req, reply) => {
    const b = req.body as S.CreateKeyBodyT;
    const aliases = b.alias === undefined ? [] : Array.isArray(b.alias) ? b.alias : [b.alias];
    const key = await ops.createKey(call(req), {
      aliases,
      ...(b.description !== undefined ? { description: b.description } : {}),
      ...(b.tags !== undefined ? { tags: b.tags } : {}),
      ...(b.spec !== undefined ? { spec: b.spec } : {}),
    });
    reply.code(201);
    return { key: keyView(key) };
  });

  app.get('/v1/keys', { schema: { ...tag('keys'), querystring: S.ListQuery, response: S.withErrors({ 200: S.KeyListOut }) } }, async (req) => {
    const q = req.query as { limit?: string | number; cursor?: string };
    const res = await ops.listKeys(call(req), {
      ...(q.limit !== undefined ? { limit: Number(q.limit) } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    return { keys: res.keys.map(keyView), nextCursor: res.nextCursor };
  });

  app.get('/v1/keys/:keyRef', { schema: { ...tag('keys'), params: S.KeyRefParams, response: S.withErrors({ 200: S.KeyEnvelope }) } }, async (req) => {
    const { keyRef } = req.params as { keyRef: string };
    return { key: keyView(await ops.describeKey(call(req), keyRef)) };
  });

  app.post('/v1/keys/:keyRef/encrypt', { schema: { ...tag('crypto'), params: S.KeyRefParams, body: S.EncryptBody, response: S.withErrors({ 200: S.EncryptOut }) } }, async (req) => {
    const { keyRef } = req.params as { keyRef: string };
    const b = req.body as S.EncryptBodyT;
    if (b.items !== undefined) {
      if (b.plaintext !== undefined || b.context !== undefined) throw errors.validation('send either plaintext (with context) or items, not both');
      const items = b.items.map((it, i) => ({
        ref: it.ref ?? String(i),
        plaintext: decodeBase64(`items.${i}.plaintext`, it.plaintext),
        ...(it.context ? { context: it.context } : {}),
      }));
      const res = await ops.encryptBatch(call(req), keyRef, items);
      return sendBatch(res, (r) => ({ ciphertext: r.ciphertext.toString('base64'), keyId: r.keyId, keyVersion: r.keyVersion }));
    }
    if (b.plaintext === undefined) throw errors.validation('body must contain "plaintext" (or "items" for a batch)');
    const r = await ops.encrypt(call(req), keyRef, decodeBase64('plaintext', b.plaintext), b.context);
    return { ciphertext: r.ciphertext.toString('base64'), keyId: r.keyId, keyVersion: r.keyVersion };
  });

  app.post('/v1/decrypt', { schema: { ...tag('crypto'), body: S.DecryptBody, response: S.withErrors({ 200: S.DecryptOut }) } }, async (req) => {
    const b = req.body as S.DecryptBodyT;
    if (b.items !== undefined) {
      if (b.ciphertext !== undefined || b.context !== undefined) throw errors.validation('send either ciphertext (with context) or items, not both');
      const items = b.items.map((it, i) => ({
        ref: it.ref ?? String(i),
        ciphertext: decodeBase64(`items.${i}.ciphertext`, it.ciphertext),
        ...(it.context ? { context: it.context } : {}),
      }));
      const res = await ops.decryptBatch(call(req), items);
      return sendBatch(res, (r) => ({ plaintext: r.plaintext.toString('base64'), keyId: r.keyId, keyVersion: r.keyVersion }));
    }
    if (b.ciphertext === undefined) throw errors.validation('body must contain "ciphertext" (or "items" for a batch)');
    const r = await ops.decrypt(call(req), decodeBase64('ciphertext', b.ciphertext), b.context);
    return { plaintext: r.plaintext.toString('base64'), keyId: r.keyId, keyVersion: r.keyVersion };
  });

  app.post('/v1/keys/:keyRef/data-key', { schema: { ...tag('crypto'), params: S.KeyRefParams, body: S.DataKeyBody, response: S.withErrors({ 200: S.DataKeyOut }) } }, async (req) => {
    const { keyRef } = req.params as { keyRef: string };
    const b = (req.body ?? {}) as S.DataKeyBodyT;
    const r = await ops.generateDataKey(call(req), keyRef, b);
    return {
      ...(r.plaintext ? { plaintext: r.plaintext.toString('base64') } : {}),
      ciphertext: r.ciphertext.toString('base64'),
      keyId: r.keyId,
      keyVersion: r.keyVersion,
    };
  });

  app.post('/v1/re-encrypt', { schema: { ...tag('crypto'), body: S.ReEncryptBody, response: S.withErrors({ 200: S.ReEncryptOut }) } }, async (req) => {
    const b = req.body as S.ReEncryptBodyT;
    const r = await ops.reEncrypt(call(req), {
      ciphertext: decodeBase64('ciphertext', b.ciphertext),
      destinationKey: b.destinationKey,
      ...(b.context ? { context: b.context } : {}),
      ...(b.destinationContext ? { destinationContext: b.destinationContext } : {}),
    });
    return { ciphertext: r.ciphertext.toString('base64'), keyId: r.keyId, keyVersion: r.keyVersion, sourceKeyId: r.sourceKeyId, sourceKeyVersion: r.sourceKeyVersion };
  });

  app.post('/v1/random', { schema: { ...tag('crypto'), body: S.RandomBody, response: S.withErrors({ 200: S.RandomOut }) } }, async (req) => {
    const b = req.body as { bytes: number };
    return { random: (await ops.random(call(req), b.bytes)).toString('base64') };
  });

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}

