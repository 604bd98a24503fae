/**
 * The audit ledger (issue 4/10 §2–3): appends events to the store with GROUP COMMIT, keeps the
 * RFC 9162 Merkle tree over them, and issues Ed25519-signed checkpoints every N events or T
 * milliseconds.
 *
 * Group commit: `append` builds the event and queues it (one promise per call, nothing else). One
 * batch is in flight at a time; every event queued meanwhile goes into the next one, written by ONE
 * store transaction (the store encodes and hashes the batch — for a SQLite file on its writer
 * thread, so the fsync never stalls the event loop). The first write after an idle period waits
 * for setImmediate, so that all requests of the current loop turn share it. Each caller's promise
 * resolves after its batch committed (durable) and REJECTS if the write failed: the pipeline then
 * refuses the operation (fail closed, ARCHITECTURE rule 8).
 *
 * Keys: the checkpoint signing key (Ed25519) and the HMAC key for sensitive values are generated
 * once, stored barrier-wrapped under the root key, unwrapped on first use and zeroized on seal.
 * While sealed, events are still recorded (denials must be), with sensitive values as null, and
 * checkpoints wait until the next trigger after unseal.
 */
import { barrierUnwrap, barrierWrap } from '../crypto/aead.js';
import { generateKeyPair } from '../crypto/primitives/asymmetric.js';
import { randomBytes, randomUUID } from '../crypto/primitives/index.js';
import { SecretBytes, zeroize } from '../crypto/secret-bytes.js';
import { KeywardenError, errors } from '../errors/catalog.js';
import type { SealService } from '../seal/seal.service.js';
import type { Clock } from '../util/clock.js';
import type { AuditAppend, AuditStore } from './audit.store.js';
import { checkpointKeyId, checkpointSigner, type Checkpoint } from './checkpoint.js';
import { exportLedger, type LedgerExport } from './export.js';
import { auditHmac, buildEvent, type AuditEvent, type AuditEventInput, type AuditHmac } from './event.js';
import { MerkleTree, type LeafSource } from './merkle.js';

export interface LedgerOptions {
  /** Issue a checkpoint once this many events are not covered by one (default 1000). */
  checkpointEvery?: number;
  /** ...or once this long (ms) has passed since the last checkpoint and new events exist (default 10 000). */
  checkpointIntervalMs?: number;
  /** Largest number of events written in one transaction (default 1000). */
  maxBatch?: number;
  /** Receives errors of automatic checkpoints and listeners (they never reach an appender). */
  onError?: (e: unknown) => void;
}

export const LEDGER_DEFAULTS = { checkpointEvery: 1000, checkpointIntervalMs: 10_000, maxBatch: 1000 } as const;

export interface LedgerDeps {
  store: AuditStore;
  seal: Pick<SealService, 'sealed' | 'rootKey' | 'onSeal'>;
  clock: Clock;
}

export interface InclusionProof {
  index: number;
  /** The tree size the proof is for (by default the latest checkpoint's, if it covers the event). */
  size: number;
  leafHash: Buffer;
  rootHash: Buffer;
  /** RFC 9162 §2.1.3.1 audit path, leaf first. */
  path: Buffer[];
}

export interface ConsistencyProof {
  from: number;
  to: number;
  fromRoot: Buffer;
  toRoot: Buffer;
  /** RFC 9162 §2.1.4.1 consistency proof (empty when from is 0 or from = to). */
  proof: Buffer[];
}

export interface LedgerStats {
  size: number;
  transactions: number;
  events: number;
  failedBatches: number;
  queued: number;
}

/** An event as committed: its index, the event as recorded (HMACs in place) and its leaf hash. */
export interface CommittedEvent {
  index: number;
  event: AuditEvent;
  leafHash: Buffer;
}

interface Waiter {
  event: AuditEvent;
  resolve(v: { index: number }): void;
  reject(e: unknown): void;
}

const PAGE = 256;
const MAX_PAGES = 64;

/** Leaf hashes for the tree: pages read from the store, the tail fed by fresh appends. */
class LeafPages implements LeafSource {
  readonly #pages = new Map<number, Buffer[]>();

  constructor(private readonly store: AuditStore) {}

  async leafHash(i: number): Promise<Buffer> {
    const p = Math.floor(i / PAGE);
    let page = this.#pages.get(p);
    if (page === undefined || page.length <= i - p * PAGE) page = this.#put(p, await this.store.leafHashes(p * PAGE, (p + 1) * PAGE));
    const h = page[i - p * PAGE];
    if (h === undefined) throw new Error(`audit leaf ${i} is not in the store`);
    return h;
  }

  leafHashNow(i: number): Buffer | undefined {
    const p = Math.floor(i / PAGE);
    return this.#pages.get(p)?.[i - p * PAGE];
  }

  /** Leaf hashes just committed from index `first` on: extend the cached page they continue (or start one). */
  add(first: number, hashes: readonly Buffer[]): void {
    let p = -1;
    let page: Buffer[] | undefined;
    for (let i = 0; i < hashes.length; i++) {
      const index = first + i;
      if (p !== Math.floor(index / PAGE)) {
        p = Math.floor(index / PAGE);
        page = this.#pages.get(p) ?? (index % PAGE === 0 ? this.#put(p, []) : undefined);
      }
      if (page !== undefined && page.length === index % PAGE) page.push(hashes[i]!);
    }
  }

  #put(p: number, page: Buffer[]): Buffer[] {
    this.#pages.delete(p);
    this.#pages.set(p, page);
    if (this.#pages.size > MAX_PAGES) this.#pages.delete(this.#pages.keys().next().value as number);
    return page;
  }
}

function ledgerFailure(cause: unknown): KeywardenError {
  const e = new KeywardenError('Internal', 'The audit ledger could not record the operation, so it was not performed');
  e.cause = cause;
  return e;
}

/**
 * Token ids and context values repeat (one client, many calls), so their digests are cached: a
 * map lookup instead of an HMAC per event. Bounded; dropped with the key on seal.
 */
function cached(h: AuditHmac): AuditHmac {
  const cache = new Map<string, string>();
  return (purpose, value) => {
    if (value.length > 256) return h(purpose, value);
    const k = `${purpose}:${value}`;
    let d = cache.get(k);
    if (d === undefined) {
      if (cache.size >= 4096) cache.clear();
      d = h(purpose, value);
      cache.set(k, d);
    }
    return d;
  };
}

const needsHmac = (i: AuditEventInput) =>
  i.tokenId != null || (i.encryptionContext !== undefined && Object.keys(i.encryptionContext).length > 0);

export class LedgerService {
  readonly #d: LedgerDeps;
  readonly #every: number;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #onError: (e: unknown) => void;
  readonly #leaves: LeafPages;
  readonly #tree: MerkleTree;
  readonly #listeners: Array<(c: Checkpoint) => void> = [];
  readonly #eventListeners: Array<(e: CommittedEvent) => void> = [];

  /** Committed size known to this process. */
  #size = 0;
  #opening: Promise<void> | undefined;
  #last: Checkpoint | undefined;
  #lastAt = 0;
  #queue: Waiter[] = [];
  #scheduled = false;
  #writing = false;
  #stats = { transactions: 0, events: 0, failedBatches: 0 };
  #checkpoints: Promise<unknown> = Promise.resolve();
  #autoPending = false;
  #timer: NodeJS.Timeout | undefined;
  #hmacKey: Buffer | undefined;
  #hmac: AuditHmac | undefined;
  #hmacLoad: Promise<void> | undefined;
  #signer: Promise<{ keyId: string; publicKey: Buffer; pkcs8: SecretBytes; sign: ReturnType<typeof checkpointSigner> }> | undefined;

  constructor(d: LedgerDeps, opts: LedgerOptions = {}) {
    this.#d = d;
    this.#every = opts.checkpointEvery ?? LEDGER_DEFAULTS.checkpointEvery;
    this.#intervalMs = opts.checkpointIntervalMs ?? LEDGER_DEFAULTS.checkpointIntervalMs;
    this.#maxBatch = opts.maxBatch ?? LEDGER_DEFAULTS.maxBatch;
    this.#onError = opts.onError ?? (() => {});
    for (const [k, v] of Object.entries({ checkpointEvery: this.#every, checkpointIntervalMs: this.#intervalMs, maxBatch: this.#maxBatch })) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`ledger option ${k} must be a positive integer`);
    }
    this.#leaves = new LeafPages(d.store);
    this.#tree = new MerkleTree(this.#leaves);
    d.seal.onSeal(() => this.#dropKeys());
  }

  /** Loads the size and the latest checkpoint. Called by the first write or read if not before. */
  open(): Promise<void> {
    this.#opening ??= (async () => {
      this.#size = Math.max(this.#size, await this.#d.store.size());
      this.#last = await this.#d.store.latestCheckpoint();
      this.#lastAt = this.#last?.time ?? this.#d.clock.now();
    })().catch((e: unknown) => {
      this.#opening = undefined;
      throw e;
    });
    return this.#opening;
  }

  /**
   * Opens the ledger and checks the time trigger every min(T, 1 s) of real time (unref'd: never
   * keeps the process alive), so events left uncovered by a restart get a checkpoint too.
   */
  start(): void {
    this.open().catch((e: unknown) => this.#onError(e));
    this.#timer ??= setInterval(() => this.tick(), Math.min(this.#intervalMs, 1000)).unref();
  }

  /** Stops the timer and waits until queued events are written and running checkpoints finish. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0 || this.#writing || this.#scheduled || this.#autoPending) await new Promise((r) => setImmediate(r));
    await this.#checkpoints;
  }

  // ---- appending ---------------------------------------------------------------------------

  /**
   * Records one event; resolves with its index once it is durably committed, rejects (Internal)
   * if it could not be — the caller MUST then fail the operation and return no result.
   */
  append(input: AuditEventInput): Promise<{ index: number }> {
    if (this.#hmac === undefined && !this.#d.seal.sealed && needsHmac(input)) {
      return this.#loadHmac().then(
        () => this.#enqueue(input),
        // Sealed meanwhile: record without HMACs, like any event while sealed.
        (e: unknown) => (this.#d.seal.sealed ? this.#enqueue(input) : Promise.reject(ledgerFailure(e))),
      );
    }
    return this.#enqueue(input);
  }

  #enqueue(input: AuditEventInput): Promise<{ index: number }> {
    let event: AuditEvent;
    try {
      event = buildEvent(input, this.#d.clock.now(), this.#hmac);
    } catch (e) {
      return Promise.reject(ledgerFailure(e));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      if (!this.#scheduled && !this.#writing) {
        this.#scheduled = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    this.#scheduled = false;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) await this.#write(this.#queue.splice(0, this.#maxBatch));
    } finally {
      this.#writing = false;
    }
  }

  /** Writes one batch in one transaction and settles every waiter. Never throws. */
  async #write(batch: Waiter[]): Promise<void> {
    let result: AuditAppend;
    try {
      await this.open();
      const events = new Array<AuditEvent>(batch.length);
      for (let i = 0; i < batch.length; i++) events[i] = batch[i]!.event;
      result = await this.#d.store.append(events);
    } catch (e) {
      this.#stats.failedBatches++;
      const err = ledgerFailure(e);
      for (const w of batch) w.reject(err);
      return;
    }
    const { first, leafHashes } = result;
    this.#stats.transactions++;
    this.#stats.events += batch.length;
    this.#leaves.add(first, leafHashes);
    this.#size = Math.max(this.#size, first + batch.length);
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve({ index: first + i });
    for (const l of this.#eventListeners) {
      for (let i = 0; i < batch.length; i++) {
        try {
          l({ index: first + i, event: batch[i]!.event, leafHash: leafHashes[i] as Buffer });
        } catch (e) {
          this.#onError(e);
        }
      }
    }
    this.#maybeCheckpoint();
  }

  // ---- checkpoints -------------------------------------------------------------------------

  /** Issues a checkpoint if N events or T ms have passed (the timer calls this; so may a job). */
  tick(): void {
    this.#maybeCheckpoint();
  }

  #maybeCheckpoint(): void {
    if (this.#opening === undefined) return; // nothing appended or read yet
    const uncovered = this.#size - (this.#last?.size ?? 0);
    if (uncovered <= 0 || this.#autoPending || this.#d.seal.sealed) return;
    if (uncovered < this.#every && this.#d.clock.now() - this.#lastAt < this.#intervalMs) return;
    this.#autoPending = true;
    this.checkpoint().then(
      () => {
        this.#autoPending = false;
        this.#maybeCheckpoint(); // N more may have arrived meanwhile
      },
      (e: unknown) => {
        this.#autoPending = false; // retried at the next trigger
        this.#onError(e);
      },
    );
  }

  /** Forces a checkpoint of everything committed so far. Throws Sealed while sealed. */
  checkpoint(): Promise<Checkpoint> {
    const run = this.#checkpoints.then(() => this.#issue());
    this.#checkpoints = run.catch(() => undefined);
    return run;
  }

  async #issue(): Promise<Checkpoint> {
    const key = await this.#signingKey();
    await this.open();
    const size = await this.#currentSize();
    const rootHash = await this.#tree.root(size);
    const time = this.#d.clock.now();
    const c: Checkpoint = { size, rootHash, time, keyId: key.keyId, signature: key.sign({ size, rootHash, time }) };
    await this.#d.store.putCheckpoint(c);
    this.#last = c;
    this.#lastAt = time;
    for (const l of this.#listeners) {
      try {
        l(c);
      } catch (e) {
        this.#onError(e);
      }
    }
    return c;
  }

  /** Called with every new checkpoint (sinks witness them). Listeners must not throw or block. */
  onCheckpoint(listener: (c: Checkpoint) => void): void {
    this.#listeners.push(listener);
  }

  /** Called with every event once committed, in index order (sinks copy them). Listeners must not throw or block. */
  onEvent(listener: (e: CommittedEvent) => void): void {
    this.#eventListeners.push(listener);
  }

  async latestCheckpoint(): Promise<Checkpoint | undefined> {
    await this.open();
    const c = await this.#d.store.latestCheckpoint();
    if (c !== undefined && c.size >= (this.#last?.size ?? 0)) this.#last = c;
    return c;
  }

  /** The checkpoint verification key (SPKI DER) and its id; creates the key pair on first use. */
  async checkpointPublicKey(): Promise<{ keyId: string; publicKey: Buffer }> {
    const rec = await this.#d.store.getSigningKey();
    if (rec?.publicKey) return { keyId: rec.keyId, publicKey: rec.publicKey };
    const k = await this.#signingKey();
    return { keyId: k.keyId, publicKey: k.publicKey };
  }

  // ---- proofs ------------------------------------------------------------------------------

  /**
   * Inclusion proof of event `index` in the tree of `size` events (default: the latest
   * checkpoint's size when it covers the event, else the current size).
   */
  async inclusionProof(index: number, size?: number): Promise<InclusionProof> {
    await this.open();
    const current = await this.#currentSize();
    if (!Number.isSafeInteger(index) || index < 0) throw errors.validation('index must be a non-negative integer');
    if (index >= current) throw errors.notFound(`audit event ${index}`);
    const last = this.#last;
    const n = size ?? (last !== undefined && index < last.size ? last.size : current);
    if (!Number.isSafeInteger(n) || n <= index || n > current) throw errors.validation(`size must be an integer with ${index} < size <= ${current}`);
    return { index, size: n, leafHash: await this.#leaves.leafHash(index), rootHash: await this.#tree.root(n), path: await this.#tree.inclusionProof(index, n) };
  }

  /** Consistency proof between the trees of `from` and `to` events (0 <= from <= to <= size). */
  async consistencyProof(from: number, to: number): Promise<ConsistencyProof> {
    await this.open();
    const current = await this.#currentSize();
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to || to > current) {
      throw errors.validation(`sizes must be integers with 0 <= from <= to <= ${current}`);
    }
    const proof = from === 0 || from === to ? [] : await this.#tree.consistencyProof(from, to);
    return { from, to, fromRoot: await this.#tree.root(from), toRoot: await this.#tree.root(to), proof };
  }

  /**
   * The HMAC the ledger records for `value` (an encryption-context value or a credential id), so a
   * query can match events without the value being stored. Throws Sealed while sealed.
   */
  async hmacOf(purpose: 'context' | 'token', value: string): Promise<string> {
    if (this.#hmac === undefined) await this.#loadHmac();
    if (this.#hmac === undefined) throw errors.sealed();
    return this.#hmac(purpose, value);
  }

  /** The whole ledger as an export file for the offline verifier (src/audit/verify.ts). */
  async export(): Promise<LedgerExport> {
    return exportLedger(this.#d.store, this.#d.clock.now());
  }

  stats(): LedgerStats {
    return { size: this.#size, ...this.#stats, queued: this.#queue.length };
  }

  /** The size in the store (another process may have appended), never below what we committed. */
  async #currentSize(): Promise<number> {
    this.#size = Math.max(this.#size, await this.#d.store.size());
    return this.#size;
  }

  // ---- keys --------------------------------------------------------------------------------

  #loadHmac(): Promise<void> {
    this.#hmacLoad ??= (async () => {
      const root = this.#d.seal.rootKey(); // throws Sealed
      let rec = await this.#d.store.getHmacKey();
      if (rec === undefined) {
        const fresh = randomBytes(32);
        const keyId = randomUUID();
        try {
          rec = await this.#d.store.putHmacKeyIfAbsent({ keyId, wrappedKey: barrierWrap(root, `audit-hmac-key:${keyId}`, fresh), publicKey: null, createdAt: this.#d.clock.now() });
        } finally {
          zeroize(fresh);
        }
      }
      const key = barrierUnwrap(root, `audit-hmac-key:${rec.keyId}`, rec.wrappedKey);
      if (key === undefined) throw errors.internal();
      if (this.#d.seal.sealed) {
        zeroize(key); // sealed while loading
        return;
      }
      this.#hmacKey = key;
      this.#hmac = cached(auditHmac(key));
    })().finally(() => {
      this.#hmacLoad = undefined;
    });
    return this.#hmacLoad;
  }

  #signingKey() {
    this.#signer ??= this.#loadSigner().catch((e: unknown) => {
      this.#signer = undefined;
      throw e;
    });
    return this.#signer;
  }

  async #loadSigner() {
    const root = this.#d.seal.rootKey(); // throws Sealed
    let rec = await this.#d.store.getSigningKey();
    if (rec === undefined) {
      const pair = generateKeyPair({ type: 'ed25519' });
      const keyId = checkpointKeyId(pair.publicSpki);
      try {
        rec = await this.#d.store.putSigningKeyIfAbsent({
          keyId,
          wrappedKey: barrierWrap(root, `audit-checkpoint-key:${keyId}`, pair.privatePkcs8),
          publicKey: pair.publicSpki,
          createdAt: this.#d.clock.now(),
        });
      } finally {
        zeroize(pair.privatePkcs8);
      }
    }
    const pkcs8 = barrierUnwrap(root, `audit-checkpoint-key:${rec.keyId}`, rec.wrappedKey);
    if (pkcs8 === undefined || rec.publicKey === null) throw errors.internal();
    return { keyId: rec.keyId, publicKey: rec.publicKey, pkcs8: SecretBytes.adopt(pkcs8), sign: checkpointSigner(pkcs8) };
  }

  #dropKeys(): void {
    zeroize(this.#hmacKey);
    this.#hmacKey = undefined;
    this.#hmac = undefined;
    const signer = this.#signer;
    this.#signer = undefined;
    // A load still running is disposed when it lands.
    signer?.then((k) => k.pkcs8.dispose(), () => {});
  }
}
