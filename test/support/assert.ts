import assert from 'node:assert/strict';

export type ApiResponse = { status: number; json: any; headers?: Record<string, unknown> };

/** Checks an error response: HTTP status, catalog code, exact message (or pattern), request id, no stack trace. */
export function assertError(res: ApiResponse, status: number, code: string, message: string | RegExp): void {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json.error.code, code);
  if (typeof message === 'string') assert.equal(res.json.error.message, message);
  else assert.match(res.json.error.message, message);
  if (res.headers) assert.equal(res.json.error.requestId, res.headers['x-request-id']);
  assert.equal(JSON.stringify(res.json).includes('    at '), false, 'no stack trace in responses');
}
