/**
 * Baseline for `npm run bench`: the cheapest honest "encrypt over HTTP" server we can write with
 * Node's standard library alone. Keywarden is compared against this, measured in the same run on
 * the same machine, so the benchmark reports a ratio instead of machine-dependent absolutes.
 *
 * POST /encrypt  {"plaintext": "<base64>"}  ->  200 {"ciphertext": "<base64 of nonce || ct || tag>"}
 *
 * One AES-256-GCM encryption per request with node:crypto, a fixed key and a random 12-byte nonce.
 * No auth, no routing framework, no schema validation, no storage: that is the point.
 *
 * Prints `Listening on http://127.0.0.1:PORT` once bound (default port 0 = any free port).
 * Usage: node --import tsx bench/baseline-server.ts [--listen 127.0.0.1:0] [--exit-with-parent]
 * --exit-with-parent: exit when stdin closes, so the server never outlives a benchmark that was
 * killed with SIGKILL (the bench spawns it with a stdin pipe).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createCipheriv, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

const KEY = randomBytes(32);
const MAX_BODY = 1024 * 1024;

function parseListen(argv: readonly string[]): { host: string; port: number } {
  const i = argv.indexOf('--listen');
  const spec = i >= 0 ? argv[i + 1] : undefined;
  if (spec === undefined) return { host: '127.0.0.1', port: 0 };
  const colon = spec.lastIndexOf(':');
  return { host: spec.slice(0, colon), port: Number(spec.slice(colon + 1)) };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function encrypt(plaintext: Buffer): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', KEY, nonce);
  const ct = cipher.update(plaintext);
  const final = cipher.final();
  const tag = cipher.getAuthTag();
  return Buffer.concat([nonce, ct, final, tag]).toString('base64');
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'POST' || req.url !== '/encrypt') {
    send(res, 404, { error: 'not found' });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      send(res, 413, { error: 'body too large' });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    let plaintextB64: unknown;
    try {
      const body: unknown = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
      plaintextB64 = (body as { plaintext?: unknown } | null)?.plaintext;
    } catch {
      send(res, 400, { error: 'invalid JSON' });
      return;
    }
    if (typeof plaintextB64 !== 'string') {
      send(res, 400, { error: 'plaintext must be a base64 string' });
      return;
    }
    send(res, 200, { ciphertext: encrypt(Buffer.from(plaintextB64, 'base64')) });
  });
}

const { host, port } = parseListen(process.argv.slice(2));
const server = createServer(handle);
server.keepAliveTimeout = 65_000;
server.listen(port, host, () => {
  const addr = server.address() as AddressInfo;
  process.stdout.write(`Listening on http://${addr.address}:${addr.port}\n`);
});

if (process.argv.includes('--exit-with-parent')) {
  process.stdin.on('close', () => process.exit(0));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
