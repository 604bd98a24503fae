/**
 * A real Keywarden for SDK tests: in-process (real SQLite, dev seal, ManualClock set to the real
 * time), listening on a port, behind a small counting proxy that can also inject faults (503, 429,
 * a dropped connection, no answer) to exercise the SDK's retries. The proxy counts every request
 * by `METHOD /path`, which is how tests count the server calls the data-key cache saves.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { ManualClock } from '../../src/util/clock.js';

export type Fault = '503' | '429' | 'reset' | 'hang';

export interface SdkTestServer {
  t: TestKeywarden;
  clock: ManualClock;
  /** The proxy's address: give this to the SDK. */
  address: string;
  /** Requests seen by the proxy, by `METHOD /path` (query string dropped). */
  calls: Map<string, number>;
  count(route: string): number;
  total(): number;
  resetCounts(): void;
  /** The next `n` requests get `fault` instead of reaching the server. */
  inject(fault: Fault, n?: number): void;
  /** X-Request-Id headers the proxy received, in order. */
  requestIds: string[];
  /** The bearer token of the last request that had one. */
  lastBearer(): string | undefined;
  createKey(body?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startSdkServer(): Promise<SdkTestServer> {
  const clock = new ManualClock(Date.now());
  const t = await startInProcess({ clock });
  await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
  const upstream = `http://127.0.0.1:${(t.kw.app.server.address() as AddressInfo).port}`;
  const calls = new Map<string, number>();
  const faults: Fault[] = [];
  const requestIds: string[] = [];
  const hanging = new Set<ServerResponse>();
  let bearer: string | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    calls.set(route, (calls.get(route) ?? 0) + 1);
    if (typeof req.headers['x-request-id'] === 'string') requestIds.push(req.headers['x-request-id']);
    bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? bearer;
    const fault = faults.shift();
    if (fault === 'reset') return req.socket.destroy();
    if (fault === 'hang') return void hanging.add(res);
    if (fault === '503' || fault === '429') {
      const code = fault === '503' ? 'HsmUnavailable' : 'LockedOut';
      res.writeHead(Number(fault), { 'content-type': 'application/json', 'x-request-id': 'proxy' });
      return void res.end(JSON.stringify({ error: { code, message: 'injected by the test proxy', requestId: 'proxy', ...(fault === '429' ? { retryAfterSeconds: 0 } : {}) } }));
    }
    const headers: Record<string, string> = {};
    for (const h of ['authorization', 'content-type', 'accept']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const r = await fetch(upstream + (req.url ?? ''), { method: req.method ?? 'GET', headers, ...(body ? { body } : {}) });
    const out = Buffer.from(await r.arrayBuffer());
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json', 'x-request-id': r.headers.get('x-request-id') ?? '' });
    res.end(out);
  };
  const proxy: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const address = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  return {
    t,
    clock,
    address,
    calls,
    requestIds,
    lastBearer: () => bearer,
    count: (route) => calls.get(route) ?? 0,
    total: () => [...calls.values()].reduce((a, b) => a + b, 0),
    resetCounts: () => calls.clear(),
    inject(fault, n = 1) {
      for (let i = 0; i < n; i++) faults.push(fault);
    },
    async createKey(body = {}) {
      const r = await t.req('POST', '/v1/keys', body);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json.key.id as string;
    },
    async close() {
      for (const res of hanging) res.destroy();
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      await t.close();
    },
  };
}
