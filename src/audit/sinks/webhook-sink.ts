/**
 * Webhook sink: each batch is one HTTP(S) POST of
 *
 *   {"format":"keywarden-audit-sink/v1","id":"<batch id>","sentAt":<epoch ms>,"records":[...]}
 *
 * with headers
 *
 *   Content-Type: application/json
 *   X-Keywarden-Delivery: <batch id>          (the same on every retry of a batch: dedupe on it)
 *   X-Keywarden-Timestamp: <sentAt>           (equal to the signed `sentAt`: check freshness)
 *   X-Keywarden-Signature: sha256=<hex HMAC-SHA256(secret, body bytes)>
 *
 * Any 2xx is success. Anything else — a network error, a timeout, 3xx, 4xx, 5xx — is retried with
 * exponential back-off (a 401 after a secret rotation or a 413 fixed by the operator recovers; the
 * bounded queue limits what an endless failure costs). Redirects are not followed.
 *
 * The secret is held as SecretBytes, used only to sign, zeroized on close, and never appears in a
 * log, a stat or an error message (nor does the URL, which may hold credentials).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { hmacSha256 } from '../../crypto/primitives/index.js';
import { SecretBytes } from '../../crypto/secret-bytes.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { QueuedSink, type QueueOptions, type SinkBatch, type SinkTransport } from './sink.js';

export const WEBHOOK_FORMAT = 'keywarden-audit-sink/v1';
export const SIGNATURE_HEADER = 'x-keywarden-signature';
export const TIMESTAMP_HEADER = 'x-keywarden-timestamp';
export const DELIVERY_HEADER = 'x-keywarden-delivery';

export interface WebhookSinkOptions {
  url: string;
  secret: string;
  /** Records per POST (default 100). */
  batchSize?: number;
  /** Per-request timeout in ms (default 10 000). */
  timeoutMs?: number;
}

/** `sha256=<hex>` over the exact body bytes (what the receiver recomputes and compares in constant time). */
export function webhookSignature(secret: Buffer, body: Buffer): string {
  return `sha256=${hmacSha256(secret, body).toString('hex')}`;
}

class WebhookTransport implements SinkTransport {
  readonly #url: URL;
  readonly #secret: SecretBytes;
  readonly #timeoutMs: number;
  readonly #clock: Clock;

  constructor(o: WebhookSinkOptions, clock: Clock) {
    this.#url = new URL(o.url);
    if (this.#url.protocol !== 'http:' && this.#url.protocol !== 'https:') throw new RangeError('webhook url must be http: or https:');
    this.#secret = SecretBytes.adopt(Buffer.from(o.secret, 'utf8'));
    this.#timeoutMs = o.timeoutMs ?? 10_000;
    this.#clock = clock;
  }

  async send(batch: SinkBatch): Promise<void> {
    const sentAt = this.#clock.now();
    const body = Buffer.from(JSON.stringify({ format: WEBHOOK_FORMAT, id: batch.id, sentAt, records: batch.records }), 'utf8');
    const headers = {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'user-agent': 'keywarden-audit-sink/1',
      [DELIVERY_HEADER]: batch.id,
      [TIMESTAMP_HEADER]: String(sentAt),
      [SIGNATURE_HEADER]: webhookSignature(this.#secret.expose(), body),
    };
    const status = await this.#post(body, headers);
    if (status < 200 || status > 299) throw new Error(`webhook: HTTP ${status}`);
  }

  async close(): Promise<void> {
    this.#secret.dispose();
  }

  #post(body: Buffer, headers: Record<string, string>): Promise<number> {
    const request = this.#url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      // agent: false — one connection per batch; no pooled socket outlives the sink.
      const req = request(this.#url, { method: 'POST', headers, agent: false, timeout: this.#timeoutMs }, (res: IncomingMessage) => {
        res.resume(); // the answer's body is not used
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', () => reject(new Error('webhook: response aborted')));
      });
      req.once('timeout', () => req.destroy(new Error(`webhook: no response within ${this.#timeoutMs} ms`)));
      // Node's messages name only the peer address (e.g. "connect ECONNREFUSED 127.0.0.1:8443").
      req.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`webhook: ${e.code ?? e.message}`)));
      req.end(body);
    });
  }
}

export function webhookSink(o: WebhookSinkOptions, queue: QueueOptions = {}, clock: Clock = systemClock): QueuedSink {
  return new QueuedSink('webhook', new WebhookTransport(o, clock), { ...queue, batchSize: o.batchSize ?? queue.batchSize });
}
