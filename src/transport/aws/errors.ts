/**
 * Errors of the AWS KMS-compatible API: `{"__type": "<AwsName>", "message": "..."}`. Keywarden
 * errors map through the one catalog (ERROR_CATALOG[code].aws); a few AWS names have no catalog
 * code of their own and exist only here (AwsOnlyError), raised by this transport's translation.
 */
import type { FastifyError } from 'fastify';
import { ERROR_CATALOG, errors, isKeywardenError, type KeywardenError } from '../../errors/catalog.js';
import { BODY_LIMIT } from '../http/server.js';

/** AWS names the catalog does not produce from a code. */
export type AwsOnlyName =
  | 'UnsupportedOperationException'
  | 'IncorrectKeyException'
  | 'InvalidGrantTokenException'
  | 'KMSInvalidSignatureException'
  | 'KMSInvalidMacException'
  | 'InvalidAliasNameException'
  | 'InvalidMarkerException'
  | 'SerializationException';

export class AwsOnlyError extends Error {
  constructor(readonly type: AwsOnlyName, message: string) {
    super(message);
  }
}

export const unsupported = (what: string) => new AwsOnlyError('UnsupportedOperationException', what);

/** HTTP status: AWS answers every client error with 400; server-side failures keep ours (500, 503). */
function status(e: KeywardenError): number {
  const s = ERROR_CATALOG[e.code].status;
  return s >= 500 ? s : 400;
}

export function toAwsError(err: unknown, log?: { error(o: object, msg: string): void }, requestId?: string): { status: number; body: { __type: string; message: string } } {
  if (err instanceof AwsOnlyError) return { status: 400, body: { __type: err.type, message: err.message } };
  let e: KeywardenError;
  if (isKeywardenError(err)) e = err;
  else {
    const f = err as FastifyError;
    if (f.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, body: { __type: 'LimitExceededException', message: `the request body is larger than ${BODY_LIMIT} bytes` } };
    if (typeof f.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500) {
      return { status: 400, body: { __type: 'ValidationException', message: 'the request is malformed: send a JSON body with Content-Type application/x-amz-json-1.1' } };
    }
    log?.error({ err, reqId: requestId }, 'unhandled error');
    e = errors.internal();
  }
  const override = e.details?.awsType;
  return { status: status(e), body: { __type: typeof override === 'string' ? override : ERROR_CATALOG[e.code].aws, message: e.message } };
}
