import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8200 */
  address: string;
  /** Bearer token; never included in any message. */
  token?: string | undefined;
  /** Path of a PEM file with the CA certificate(s) to trust for https. */
  caCert?: string | undefined;
  /** One-time password sent as X-Keywarden-OTP for MFA step-up. */
  otp?: string | undefined;
}

/** An error response of the Keywarden API: `{"error": {"code", "message", "requestId"}}`. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly status: number,
    readonly requestId: string | undefined,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'ApiError';
  }
}

export interface RawResponse {
  status: number;
  body: unknown;
}

const CONNECT_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
};

const UNTRUSTED_CERT = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** Minimal JSON client for the Keywarden REST API. */
export class KeywardenClient {
  private readonly base: URL;
  private readonly ca: Buffer | undefined;

  constructor(private readonly opts: ClientOptions) {
    try {
      this.base = new URL(opts.address);
    } catch {
      throw new Error(`invalid address ${JSON.stringify(opts.address)}: expected a URL such as http://127.0.0.1:8200`);
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new Error(`invalid address ${JSON.stringify(opts.address)}: only http:// and https:// are supported`);
    }
    this.ca = opts.caCert === undefined ? undefined : readCaFile(opts.caCert);
  }

  get hasToken(): boolean {
    return Boolean(this.opts.token);
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: object = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  /** Sends a request and returns the parsed body; any non-2xx status becomes an ApiError. */
  async call<T>(method: string, path: string, body?: object): Promise<T> {
    const res = await this.send(method, path, body);
    if (res.status >= 200 && res.status < 300) return res.body as T;
    throw this.errorFrom(res);
  }

  /** Sends a request and returns status and parsed body without interpreting the status. */
  send(method: string, path: string, body?: object): Promise<RawResponse> {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (this.opts.otp) headers['x-keywarden-otp'] = this.opts.otp;
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;

    return new Promise<RawResponse>((resolve, reject) => {
      const req = request(url, { method, headers, ...(this.ca ? { ca: this.ca } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          try {
            resolve({ status, body: text === '' ? undefined : JSON.parse(text) });
          } catch {
            reject(new Error(`unexpected non-JSON response from Keywarden at ${this.opts.address} (HTTP ${status})`));
          }
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        let reason = (err.code && CONNECT_ERRORS[err.code]) ?? err.message;
        if (err.code && UNTRUSTED_CERT.has(err.code)) reason += ' (pass the CA certificate with --ca-cert FILE)';
        reject(new Error(`cannot reach Keywarden at ${this.opts.address}: ${reason}`));
      });
      req.end(payload);
    });
  }

  /** The error to report for a failed response. */
  errorFrom(res: RawResponse): Error {
    const e = (res.body as { error?: { code?: unknown; message?: unknown; requestId?: unknown } } | undefined)?.error;
    if (typeof e?.code !== 'string') {
      return new Error(`unexpected response from Keywarden at ${this.opts.address} (HTTP ${res.status})`);
    }
    const requestId = typeof e.requestId === 'string' ? e.requestId : undefined;
    return new ApiError(e.code, String(e.message ?? ''), res.status, requestId);
  }
}

function readCaFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read CA certificate file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
