/**
 * Composition root: config -> store -> seal -> services -> transports. The only place that wires
 * dependencies together; nothing else holds module-level state (ARCHITECTURE rule 3).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { TokenService } from './auth/token.service.js';
import { KeyService } from './keys/key.service.js';
import { Ops } from './ops/ops.js';
import { SysOps } from './ops/sys.ops.js';
import { SealService } from './seal/seal.service.js';
import type { SealType } from './seal/seal.model.js';
import { openStore } from './storage/index.js';
import type { Store, StorageConfig } from './storage/store.js';
import { VERSION, buildHttpServer } from './transport/http/server.js';
import { systemClock, type Clock } from './util/clock.js';

export interface KeywardenOptions {
  storage: StorageConfig;
  seal: SealType;
  logger: Logger | false;
  clock?: Clock;
  https?: { cert: Buffer; key: Buffer };
}

export interface Keywarden {
  app: FastifyInstance;
  store: Store;
  seal: SealService;
  tokens: TokenService;
  keys: KeyService;
  ops: Ops;
  sys: SysOps;
  close(): Promise<void>;
}

export async function createKeywarden(opts: KeywardenOptions): Promise<Keywarden> {
  const clock = opts.clock ?? systemClock;
  const store = openStore(opts.storage);
  try {
    const seal = new SealService(store.seal, clock);
    await seal.load();
    if (seal.initialized && seal.type !== opts.seal) {
      throw new Error(`the data was initialized with the ${seal.type} seal but the server is configured for the ${opts.seal} seal`);
    }
    const tokens = new TokenService(store.tokens, clock);
    const keys = new KeyService(store.keys, seal, clock);
    const ops = new Ops({ seal, tokens, keys });
    const sys = new SysOps({ seal, tokens, clock, version: VERSION, configuredSeal: opts.seal });
    const app = await buildHttpServer({ ops, sys, logger: opts.logger }, opts.https ? { https: opts.https } : {});
    let closed = false;
    return {
      app,
      store,
      seal,
      tokens,
      keys,
      ops,
      sys,
      async close() {
        if (closed) return;
        closed = true;
        seal.seal();
        await app.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
