/**
 * The SDK's HTTP layer: JSON over fetch with a timeout per attempt, retries with jittered
 * exponential back-off on 429, 503 and network failures (never on other 4xx/5xx), a request id per
 * call, typed errors, and bearer authentication by a fixed token or by service-account
 * credentials (OAuth 2.0 client_credentials, RFC 6749 §4.4) refreshed before they expire.
 */
import { randomBytes } from '../crypto/primitives/envelope-crypto.js';
import { KeywardenError, type SdkErrorCode } from './errors.js';
import type { TokenResult } from './types.js';

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface HttpOptions {
  /** Base URL, e.g. http://127.0.0.1:8200 */
  address: string;
  /** A bearer token (or give clientId and clientSecret). */
  token?: string;
  /** Service-account credentials: tokens come from POST /v1/auth/token and are refreshed automatically. */
  clientId?: string;
  clientSecret?: string;
  /** Lifetime to ask for (expires_in, 60–3600 s); the server's default when absent. */
  tokenLifetimeSeconds?: number;
  /** Refresh this long before the token expires (default 30 s, at most half its lifetime). */
  refreshMarginSeconds?: number;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  /** Retries after the first attempt for retryable failures (default 3). */
  retries?: number;
  /** Back-off: attempt n waits a random time in [0, min(maxMs, baseMs * 2^n)] ("full jitter"). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Time source for token expiry (default the system clock; tests pass a ManualClock). */
  clock?: Clock;
}

export interface HttpStats {
  /** HTTP requests sent (every attempt, including token requests). */
  requests: number;
  retries: number;
  tokenRefreshes: number;
}

interface RawError {
  code?: unknown;
  message?: unknown;
  requestId?: unknown;
  [k: string]: unknown;
}

const systemClock: Clock = { now: () => Date.now() };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class HttpClient {
  readonly stats: HttpStats = { requests: 0, retries: 0, tokenRefreshes: 0 };
  private readonly base: string;
  private readonly clock: Clock;
  private token: { value: string; refreshAt: number } | undefined;
  private pendingToken: Promise<string> | undefined;

  constructor(private readonly o: HttpOptions) {
    let url: URL;
    try {
      url = new URL(o.address);
    } catch {
      throw new KeywardenError('ValidationError', `invalid address ${JSON.stringify(o.address)}: expected a URL such as http://127.0.0.1:8200`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new KeywardenError('ValidationError', 'the address must be http:// or https://');
    const credentials = o.clientId !== undefined || o.clientSecret !== undefined;
    if (credentials && (o.clientId === undefined || o.clientSecret === undefined)) throw new KeywardenError('ValidationError', 'give both clientId and clientSecret');
    if (credentials && o.token !== undefined) throw new KeywardenError('ValidationError', 'give either a token or clientId/clientSecret, not both');
    this.base = url.href.replace(/\/$/, '');
    this.clock = o.clock ?? systemClock;
    if (o.token !== undefined) this.token = { value: o.token, refreshAt: Infinity };
  }

  private get usesCredentials(): boolean {
    return this.o.clientId !== undefined;
  }

  /** A JSON call with retries; `auth: false` sends no bearer token. */
  async call<T>(method: string, path: string, body?: unknown, { auth = true } = {}): Promise<T> {
    const requestId = randomBytes(16).toString('hex');
    const max = this.o.retries ?? 3;
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const bearer = auth ? await this.bearer() : undefined;
        return await this.once<T>(method, path, body, requestId, bearer);
      } catch (err) {
        if (!(err instanceof KeywardenError)) throw err;
        // A revoked or expired-early token: fetch a new one once (credentials only).
        if (auth && err.code === 'Unauthenticated' && this.usesCredentials && !reauthenticated) {
          reauthenticated = true;
          this.token = undefined;
          continue;
        }
        if (!err.retryable || attempt >= max) throw err;
        this.stats.retries++;
        await sleep(this.delay(attempt, err));
      }
    }
  }

  private delay(attempt: number, err: KeywardenError): number {
    const { baseMs = 100, maxMs = 5_000 } = this.o.backoff ?? {};
    const retryAfter = typeof err.details.retryAfterSeconds === 'number' ? err.details.retryAfterSeconds * 1000 : 0;
    const cap = Math.min(maxMs, baseMs * 2 ** attempt);
    return Math.min(maxMs, Math.max(retryAfter, Math.random() * cap));
  }

  private async once<T>(method: string, path: string, body: unknown, requestId: string, bearer: string | undefined): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', 'x-request-id': requestId };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
    this.stats.requests++;
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      if (e.name === 'TimeoutError') throw new KeywardenError('Timeout', `no answer from Keywarden within ${this.o.timeoutMs ?? 10_000} ms (${method} ${path})`);
      throw new KeywardenError('NetworkError', `cannot reach Keywarden at ${this.o.address}: ${e.cause?.code ?? e.message}`);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok) return json as T;
    const serverId = res.headers.get('x-request-id') ?? undefined;
    const e = (json as { error?: RawError } | undefined)?.error;
    if (typeof e?.code !== 'string') {
      const code: SdkErrorCode = res.status === 503 ? 'Sealed' : res.status === 429 ? 'LimitExceeded' : 'Internal';
      throw new KeywardenError(code, `unexpected HTTP ${res.status} from Keywarden`, res.status, serverId);
    }
    const { code, message, requestId: rid, ...details } = e;
    throw new KeywardenError(code as SdkErrorCode, String(message ?? ''), res.status, typeof rid === 'string' ? rid : serverId, details);
  }

  /** The current bearer token, fetching a new one (once, shared by concurrent calls) when due. */
  private async bearer(): Promise<string | undefined> {
    if (this.token !== undefined && this.clock.now() < this.token.refreshAt) return this.token.value;
    if (!this.usesCredentials) return this.token?.value;
    this.pendingToken ??= this.fetchToken().finally(() => (this.pendingToken = undefined));
    return this.pendingToken;
  }

  private async fetchToken(): Promise<string> {
    const issuedAt = this.clock.now();
    const body = {
      grant_type: 'client_credentials',
      client_id: this.o.clientId,
      client_secret: this.o.clientSecret,
      ...(this.o.tokenLifetimeSeconds !== undefined ? { expires_in: this.o.tokenLifetimeSeconds } : {}),
    };
    const t = await this.call<TokenResult>('POST', '/v1/auth/token', body, { auth: false });
    const margin = Math.min(this.o.refreshMarginSeconds ?? 30, t.expires_in / 2);
    this.token = { value: t.access_token, refreshAt: issuedAt + (t.expires_in - margin) * 1000 };
    this.stats.tokenRefreshes++;
    return t.access_token;
  }
}
