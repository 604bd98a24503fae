/**
 * The cluster seam (issue 10 §2, docs/ha.md, ADR 0012): what several Keywarden nodes sharing one
 * database need from each other, behind two small interfaces every Store provides (`store.cluster`).
 *
 * - ChangeFeed: "this entity changed" announcements, so that every node drops what it caches about
 *   it. A change names a topic and, when known, an id; it NEVER carries a value, a secret or a
 *   token (only ids that are already public: key ids, principal ids, access key ids, JWT ids).
 *   Delivery is at most once and may be lost; a feed that may have missed changes (reconnect)
 *   delivers `{ topic: 'all' }`, and caches keep their TTL as the backstop.
 * - LeaderLock: at most one node holds it; the scheduler runs jobs only while it does.
 *
 * SQLite is one node: a loop-back feed and a lock that is always held (sqlite-cluster.ts).
 * PostgreSQL: LISTEN/NOTIFY and a session advisory lock (src/storage/postgres/pg-cluster.ts).
 */
import { hostname } from 'node:os';
import { randomBytes } from '../crypto/primitives/index.js';

export const CHANGE_TOPICS = ['key', 'alias', 'token', 'principal', 'grant', 'session', 'policy', 'access-policy', 'key-policy', 'access-key'] as const;
export type ChangeTopic = (typeof CHANGE_TOPICS)[number];

export interface Change {
  /** 'all': changes may have been missed (the feed reconnected): drop everything. */
  topic: ChangeTopic | 'all';
  /** The entity (key id, principal id, JWT id, ...); absent = every entity of the topic. */
  id?: string;
  /** The node that made the change (set by the feed). */
  origin?: string;
}

export type ChangeListener = (change: Change) => void;

export interface ChangeFeed {
  /** Announces a committed change to every node (this one included). Never rejects. */
  publish(change: Omit<Change, 'origin'>): Promise<void>;
  /** Returns the unsubscribe function. A listener MUST NOT throw (it is isolated if it does). */
  subscribe(listener: ChangeListener): () => void;
}

export interface LeaderLock {
  /**
   * Takes the lock when it is free, or confirms that this node still holds it (a live check on
   * its connection). false: another node leads, or the lock could not be checked (fail closed).
   */
  tryAcquire(): Promise<boolean>;
  /** The last known state: false from the moment the lock's connection is lost. */
  isLeader(): boolean;
  /** Gives the lock up (shutdown), so that another node takes over at once. */
  release(): Promise<void>;
}

/** Connection events worth a log line (never with a URL or a payload). */
export type ClusterEvent = 'feed-lost' | 'feed-restored' | 'leader-acquired' | 'leader-lost';

export interface Cluster {
  /** This node's name in health, logs and job leases: `host:pid:random` (unique per process and store). */
  readonly node: string;
  readonly backend: 'sqlite' | 'postgres';
  readonly feed: ChangeFeed;
  readonly leader: LeaderLock;
  /** Connects the feed (PostgreSQL: LISTEN). Rejects when the database cannot be reached. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Set by the composition root to log connection events. */
  onEvent?: (event: ClusterEvent) => void;
}

/** What health reports about the cluster. */
export interface ClusterStatus {
  node: string;
  role: 'leader' | 'follower';
  backend: 'sqlite' | 'postgres';
}

export const clusterStatus = (c: Cluster): ClusterStatus => ({ node: c.node, role: c.leader.isLeader() ? 'leader' : 'follower', backend: c.backend });

/** A node name unique among the processes (and the stores within one process) sharing a database. */
export function newNodeName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** Local fan-out shared by the feeds: each listener runs on its own (one failing does not stop the others). */
export class Listeners {
  readonly #set = new Set<ChangeListener>();

  add(l: ChangeListener): () => void {
    this.#set.add(l);
    return () => this.#set.delete(l);
  }

  emit(change: Change): void {
    for (const l of this.#set) {
      try {
        l(change);
      } catch {
        // a cache that cannot drop an entry still expires it (TTL backstop)
      }
    }
  }
}
