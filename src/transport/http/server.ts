/**
 * Native REST API (/v1) on fastify. Thin by contract (ARCHITECTURE rule 1): it decodes the wire
 * format, calls ops/, encodes the result and maps errors through the one catalog. No business
 * rule, permission check or audit write lives here.
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { ERROR_CATALOG, KeywardenError, errors, isKeywardenError } from '../../errors/catalog.js';
import { randomUUID } from '../../crypto/primitives/index.js';
import type { Ops } from '../../ops/ops.js';
import type { KeyAdminOps } from '../../ops/key-admin.ops.js';
import { registerCryptoRoutes } from './routes/crypto.routes.js';
import { registerKeyRoutes } from './routes/keys.routes.js';
import { registerSysRoutes } from './routes/sys.routes.js';
import { registerMonitorRoutes } from './routes/metrics.routes.js';
import { registerAuthRoutes } from './routes/auth.routes.js';
import { registerUserRoutes } from './routes/user.routes.js';
import { registerGrantRoutes } from './routes/grants.routes.js';
import { registerApprovalRoutes } from './routes/approval.routes.js';
import { registerAuditRoutes } from './routes/audit.routes.js';
import { registerPolicyRoutes } from './routes/policy.routes.js';
import { registerComplianceRoutes } from './routes/compliance.routes.js';
import { registerAccessKeyRoutes } from './routes/access-key.routes.js';
import { registerAlertRoutes } from './alert.routes.js';
import { registerIncidentRoutes } from './incident.routes.js';
import { registerAwsRoutes } from '../aws/aws.routes.js';
import type { SysOps } from '../../ops/sys.ops.js';
import type { Logger } from 'pino';

export const VERSION = '0.1.0';
export const BODY_LIMIT = 8 * 1024 * 1024;

/** Sub-resources of /v1/keys/{key}; used to split alias names that contain '/' from the action. */
const KEY_ACTIONS = new Set([
  'encrypt', 'data-key', 're-wrap', 'rotate', 'enable', 'disable', 'schedule-deletion', 'cancel-deletion', 'revoke',
  'versions', 'tags', 'untag', 'sign', 'verify', 'public-key', 'mac', 'verify-mac', 'import-parameters', 'import', 'export', 'policy',
]);

/** An alias path that decodeURIComponent leaves unchanged and encodeURIComponent changes only by escaping '/'. */
const PLAIN_ALIAS = /^[A-Za-z0-9\-_.!~*'()/]*$/;

export interface HttpDeps {
  ops: Ops;
  admin: KeyAdminOps;
  sys: SysOps;
  logger: Logger | false;
}





/**
 * Alias names may contain '/', so /v1/keys/alias/team/app/encrypt is rewritten to
 * /v1/keys/alias%2Fteam%2Fapp/encrypt before routing. Trailing segments that name a key action
 * (encrypt, rotate, versions, versions/N/destroy, ...) are the action; the rest is the alias. An
 * alias whose last segment is itself an action name must be sent percent-encoded.
 */
export function rewriteKeyUrl(url: string): string {
  if (!url.startsWith('/v1/keys/alias/')) return url;
  const q = url.indexOf('?');
  // Fast path for the common shape, /v1/keys/alias/<name>/<action> without a query, where <name>
  // holds only characters that encodeURIComponent keeps (and '/'): the general algorithm below
  // then reduces to escaping the slashes. enable/disable may end versions/N/enable, so they take
  // the general path.
  if (q === -1) {
    const slash = url.lastIndexOf('/');
    const action = url.slice(slash + 1);
    const alias = url.slice('/v1/keys/'.length, slash);
    if (slash > '/v1/keys/alias'.length && action !== 'enable' && action !== 'disable' && KEY_ACTIONS.has(action) && PLAIN_ALIAS.test(alias)) {
      return `/v1/keys/${alias.replaceAll('/', '%2F')}/${action}`;
    }
  }
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  const rest = path.slice('/v1/keys/'.length).split('/');
  let suffix = 0;
  const n = rest.length;
  if (n > 4 && rest[n - 3] === 'versions' && /^\d+$/.test(rest[n - 2] as string) && ['enable', 'disable', 'destroy'].includes(rest[n - 1] as string)) {
    suffix = 3;
  } else if (n > 2 && KEY_ACTIONS.has(rest[n - 1] as string)) {
    suffix = 1;
  }
  const action = suffix ? '/' + rest.splice(n - suffix).join('/') : '';
  let alias: string;
  try {
    alias = decodeURIComponent(rest.join('/'));
  } catch {
    return url; // malformed percent-encoding: let the router answer NotFound
  }
  return `/v1/keys/${encodeURIComponent(alias)}${action}${query}`;
}

export function toErrorResponse(err: unknown, requestId: string, log?: FastifyRequest['log']): { status: number; body: unknown } {
  let e: KeywardenError;
  if (isKeywardenError(err)) {
    e = err;
  } else {
    e = fromFastifyError(err as FastifyError);
    if (e.code === 'Internal') log?.error({ err, reqId: requestId }, 'unhandled error');
  }
  // Catalog messages never carry secrets (src/errors/catalog.ts contract; test/e2e/log-secrets.test.ts checks).
  if (log !== undefined && (log.level === 'debug' || log.level === 'trace')) log.debug({ reqId: requestId, code: e.code, message: e.message }, 'request refused');
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
    if (v.keyword === 'const') {
      // A union of literals (an enum): name the allowed values instead of "must be equal to constant".
      const all = err.validation as Array<{ keyword: string; instancePath: string; params: Record<string, unknown> }>;
      const allowed = all.filter((x) => x.keyword === 'const' && x.instancePath === v.instancePath).map((x) => String(x.params.allowedValue));
      return errors.validation(`${field} must be one of: ${allowed.join(', ')}`);
    }
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


export async function buildHttpServer(deps: HttpDeps, opts: { https?: { cert: Buffer; key: Buffer } } = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger === false ? undefined : deps.logger,
    logger: deps.logger === false ? false : undefined,
    // Request logs (method, URL, status, timing; never headers or bodies) only at debug level and
    // below: at info they would cost more than the cryptography on the hot path.
    logController: new LogController({ disableRequestLogging: deps.logger === false || !deps.logger.isLevelEnabled('debug') }),
    // No per-request child logger (it costs more than the AES work per request); error logs carry
    // the request id explicitly instead.
    childLoggerFactory: (logger: Logger) => logger,
    bodyLimit: BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    rewriteUrl: (req: { url?: string }) => rewriteKeyUrl(req.url ?? '/'),
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
    // RFC 9110 §10.2.3: tell a locked-out (or otherwise throttled) client when to come back.
    const retryAfter = isKeywardenError(err) ? err.details?.retryAfterSeconds : undefined;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = toErrorResponse(new KeywardenError('NotFound', `no route for ${req.method} ${req.url.split('?')[0]}`), req.id, req.log);
    reply.code(status).send(body);
  });

  registerMonitorRoutes(app, deps);
  registerSysRoutes(app, deps);
  registerKeyRoutes(app, deps);
  registerCryptoRoutes(app, deps);
  registerAuthRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerGrantRoutes(app, deps);
  registerApprovalRoutes(app, deps);
  registerAuditRoutes(app, deps);
  registerPolicyRoutes(app, deps);
  registerComplianceRoutes(app, deps);
  registerAccessKeyRoutes(app, deps);
  registerAlertRoutes(app, deps);
  registerIncidentRoutes(app, deps);
  // The AWS KMS-compatible API (AWS JSON 1.1, SigV4) on the same listener: POST / with X-Amz-Target.
  registerAwsRoutes(app, deps);

  return app;
}

