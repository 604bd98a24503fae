/**
 * The AWS KMS-compatible API (issue 8): AWS JSON 1.1 on the native listener, `POST /` with
 * `X-Amz-Target: TrentService.<Operation>`, authenticated with SigV4. Thin like every transport:
 * it decodes (schema per operation), builds the Call (the SigV4 credential is checked by the
 * pipeline's authentication, src/auth/access-key.service.ts), calls ops/ and encodes AWS's shapes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { encodeSigV4Token, sigv4Credential } from '../../auth/access-key-sigv4.js';
import { errors } from '../../errors/catalog.js';
import type { Call } from '../../ops/pipeline.js';
import { Arns, type AwsSettings } from './arn.js';
import { AwsOnlyError, toAwsError } from './errors.js';
import { AWS_OPERATIONS, type AwsOpsDeps } from './operations.js';
import { S } from './schemas.js';

const CONTENT_TYPES = ['application/x-amz-json-1.1', 'application/x-amz-json-1.0'];
const TARGET_PREFIX = 'TrentService.';

const compiled = new Map<string, TypeCheck<TSchema>>();
function checker(name: keyof typeof S): TypeCheck<TSchema> {
  let c = compiled.get(name);
  if (c === undefined) {
    c = TypeCompiler.Compile(S[name]);
    compiled.set(name, c);
  }
  return c;
}

/** The first schema violation, worded like the native API's validation errors. */
function validationMessage(c: TypeCheck<TSchema>, input: unknown): string {
  const e = c.Errors(input).First();
  if (e === undefined) return 'the request is invalid';
  const field = e.path.replace(/^\//, '').replace(/\//g, '.') || 'the request';
  if (e.schema && (e.schema as { additionalProperties?: unknown }).additionalProperties === false && e.type === 42 /* ObjectAdditionalProperties */) {
    return `${field} has a field this operation does not take`;
  }
  return `${field}: ${e.message}`;
}

declare module '../http/server.js' {
  interface HttpDeps {
    /** The AWS API's ARN region and account (config `aws`). */
    aws: AwsSettings;
  }
}

export function registerAwsRoutes(app: FastifyInstance, deps: AwsOpsDeps & { aws: AwsSettings }): void {
  const arns = new Arns(deps.aws);
  const names = new Set(Object.keys(AWS_OPERATIONS));

  void app.register(async (scope) => {
    // The payload hash of SigV4 needs the exact bytes, so the body is kept raw and parsed here.
    scope.addContentTypeParser(CONTENT_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err, req, reply) => send(reply, req, toAwsError(err, req.log, req.id)));

    scope.post('/', async (req, reply) => {
      const target = req.headers['x-amz-target'];
      const op = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
      if (!names.has(op)) {
        throw new AwsOnlyError('UnsupportedOperationException', `${typeof target === 'string' ? target.slice(0, 128) : 'X-Amz-Target (missing)'} is not an operation Keywarden supports (docs/aws-compatibility.md)`);
      }
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let input: unknown;
      try {
        input = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch {
        throw new AwsOnlyError('SerializationException', 'the request body is not valid JSON');
      }
      const handler = AWS_OPERATIONS[op as keyof typeof AWS_OPERATIONS];
      const check = checker(handler.schema);
      if (!check.Check(input)) throw errors.validation(validationMessage(check, input));
      const cred = sigv4Credential({ method: req.method, url: req.url, rawHeaders: req.raw.rawHeaders, body: raw });
      const call: Call = { token: cred === undefined ? undefined : encodeSigV4Token(cred), requestId: req.id, sourceIp: req.ip };
      const out = await (handler.run as (c: object, i: unknown) => Promise<object>)({ ...deps, call, arns, accountId: deps.aws.accountId }, input);
      return send(reply, req, { status: 200, body: out });
    });
  });
}

function send(reply: FastifyReply, req: FastifyRequest, r: { status: number; body: unknown }): FastifyReply {
  return reply.code(r.status).header('content-type', 'application/x-amz-json-1.1').header('x-amzn-requestid', req.id).send(Buffer.from(JSON.stringify(r.body)));
}
