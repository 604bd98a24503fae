/**
 * SQLite is one node: changes loop back to this process's listeners and the leader lock is always
 * held (ADR 0012). Two processes on one SQLite file are not a supported deployment.
 */
import { Listeners, newNodeName, type Change, type Cluster } from '../../cluster/cluster.js';

export class SqliteCluster implements Cluster {
  readonly node = newNodeName();
  readonly backend = 'sqlite' as const;
  readonly #listeners = new Listeners();

  readonly feed = {
    publish: async (change: Omit<Change, 'origin'>): Promise<void> => {
      const c: Change = { ...change, origin: this.node };
      queueMicrotask(() => this.#listeners.emit(c));
    },
    subscribe: (l: (c: Change) => void) => this.#listeners.add(l),
  };

  readonly leader = {
    tryAcquire: async () => true,
    isLeader: () => true,
    release: async () => {},
  };

  async start(): Promise<void> {}
  async close(): Promise<void> {}
}
