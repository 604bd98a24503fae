/**
 * An in-process Keywarden on a temporary SQLite file, driven with fastify.inject (no sockets).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeywarden, type Keywarden } from '../../src/main.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import type { SealType } from '../../src/seal/seal.model.js';
import type { Clock } from '../../src/util/clock.js';

export interface TestKeywarden {
  kw: Keywarden;
  dir: string;
  dbPath: string;
  token: string;
  /** JSON request with the root token (unless `token` is given: null sends no Authorization). */
  req(method: string, url: string, body?: unknown, token?: string | null, headers?: Record<string, string>): Promise<{ status: number; json: any; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startInProcess(opts: { seal?: SealType; clock?: Clock; dir?: string } = {}): Promise<TestKeywarden> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'kw-test-')));
  const dbPath = join(dir, 'keywarden.db');
  const seal = opts.seal ?? 'dev';
  const kw = await createKeywarden({ storage: { type: 'sqlite', path: dbPath }, seal, logger: false, ...(opts.clock ? { clock: opts.clock } : {}) });
  let token = '';
  if (seal === 'dev') {
    await bootDevSeal(kw.seal, dir);
    token = await kw.tokens.createRootToken();
  }
  const t: TestKeywarden = {
    kw,
    dir,
    dbPath,
    token,
    async req(method, url, body, tok, extra) {
      const auth = tok === null ? undefined : (tok ?? t.token);
      const res = await kw.app.inject({
        method: method as 'GET',
        url,
        headers: {
          ...(auth ? { authorization: `Bearer ${auth}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...extra,
        },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      let json: unknown;
      try {
        json = res.body.length ? JSON.parse(res.body) : undefined;
      } catch {
        json = res.body;
      }
      return { status: res.statusCode, json, headers: res.headers };
    },
    async close() {
      await kw.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}
