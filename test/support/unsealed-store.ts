/** A SQLite store in `path` with a dev-initialized, unsealed seal and a ManualClock (ledger and sink tests). */
import { randomBytes } from '../../src/crypto/primitives/index.js';
import { SealService } from '../../src/seal/seal.service.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { ManualClock } from '../../src/util/clock.js';

export async function openUnsealedStore(path: string): Promise<{ store: SqliteStore; seal: SealService; clock: ManualClock; devKey: Buffer }> {
  const store = new SqliteStore(path);
  const clock = new ManualClock();
  const seal = new SealService(store.seal, clock);
  await seal.load();
  const devKey = randomBytes(32);
  await seal.initDev(devKey);
  seal.unsealWithKey(devKey);
  return { store, seal, clock, devKey };
}
