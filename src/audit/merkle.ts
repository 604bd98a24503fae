/**
 * RFC 9162 (Certificate Transparency v2) Merkle tree over the audit ledger: leaf and node hashing
 * with domain separation (0x00 leaf, 0x01 node), tree heads, inclusion and consistency proofs, and
 * their verification (§2.1.3.2, §2.1.4.2). Written from the RFC; no code is copied.
 *
 * Proof generation works over a `LeafSource` (the stored leaf hashes) and memoizes the hash of
 * every complete, aligned subtree it computes: such a subtree never changes once its last leaf is
 * appended, so a long-lived tree answers heads and proofs in O(log n) hashes after the first call.
 */
import { sha256, sha256Into } from '../crypto/primitives/index.js';

export const HASH_BYTES = 32;
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH({d}) = SHA-256(0x00 || d). */
export function leafHash(data: Buffer): Buffer {
  return sha256(Buffer.concat([LEAF_PREFIX, data]));
}

/** 0x01 || left || right, reused: node hashing is synchronous, so one scratch buffer serves every call. */
const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_BYTES, NODE_PREFIX[0]);

/** SHA-256(0x01 || left || right), in a fresh (pooled) buffer. */
export function nodeHash(left: Buffer, right: Buffer): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) return sha256(Buffer.concat([NODE_PREFIX, left, right]));
  left.copy(NODE_INPUT, 1);
  right.copy(NODE_INPUT, 1 + HASH_BYTES);
  const out = Buffer.allocUnsafe(HASH_BYTES);
  sha256Into(NODE_INPUT, out, 0);
  return out;
}

/** The hash of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT = sha256(Buffer.alloc(0));

/** The largest power of two strictly smaller than n (n >= 2). Bit arithmetic below 2^31 (hot: once per node). */
function split(n: number): number {
  if (n <= 0x80000000) return 2 ** (31 - Math.clz32(n - 1));
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  if (n < 0x80000000) return (n & (n - 1)) === 0;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/**
 * Memoized subtree hashes live for the tree's lifetime: they are packed into chunks of their own
 * rather than kept as pooled buffers, each of which would pin an 8 KiB pool slab.
 */
class HashArena {
  #chunk = Buffer.alloc(0);
  #offset = 0;

  keep(h: Buffer): Buffer {
    if (this.#offset + HASH_BYTES > this.#chunk.length) {
      this.#chunk = Buffer.allocUnsafeSlow(HASH_BYTES * 256);
      this.#offset = 0;
    }
    h.copy(this.#chunk, this.#offset);
    return this.#chunk.subarray(this.#offset, (this.#offset += HASH_BYTES));
  }
}
const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/**
 * Complete subtrees smaller than this are recomputed from their leaves when needed (at most 15
 * hashes) instead of memoized: the memo then holds about one entry per 16 leaves, not one per leaf.
 */
const MEMO_MIN_SIZE = 16;

export interface LeafSource {
  /** The leaf hash at `index` (0-based); must exist. */
  leafHash(index: number): Promise<Buffer>;
  /** The leaf hash at `index` when it is at hand without I/O (cached), else undefined. */
  leafHashNow?(index: number): Buffer | undefined;
}

export class MerkleTree {
  /** `${start}:${size}` of complete aligned subtrees -> hash. */
  readonly #memo = new Map<string, Buffer>();
  readonly #arena = new HashArena();

  constructor(private readonly leaves: LeafSource) {}

  /** MTH(D[0:n]): the tree head of the first n leaves. */
  root(n: number): Promise<Buffer> {
    if (n === 0) return Promise.resolve(EMPTY_ROOT);
    return this.#hash(0, n);
  }

  /** PATH(m, D[0:n]) (RFC 9162 §2.1.3.1): sibling hashes from the leaf up. */
  async inclusionProof(m: number, n: number): Promise<Buffer[]> {
    if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m >= n) throw new RangeError('leaf index outside the tree');
    const path: Buffer[] = [];
    let start = 0;
    let size = n;
    // Walk down from the root; collect the sibling at each level, then reverse (leaf first).
    while (size > 1) {
      const k = split(size);
      if (m - start < k) {
        path.push(await this.#hash(start + k, size - k));
        size = k;
      } else {
        path.push(await this.#hash(start, k));
        start += k;
        size -= k;
      }
    }
    return path.reverse();
  }

  /** PROOF(m, D[0:n]) (RFC 9162 §2.1.4.1) for 0 < m <= n. */
  async consistencyProof(m: number, n: number): Promise<Buffer[]> {
    if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m <= 0 || m > n) throw new RangeError('tree sizes out of order');
    const out: Buffer[] = [];
    // SUBPROOF(m, D[start:start+size], b), unrolled; nodes are collected top-down, emitted bottom-up.
    let start = 0;
    let size = n;
    let b = true;
    let mm = m;
    while (mm !== size) {
      const k = split(size);
      if (mm <= k) {
        out.push(await this.#hash(start + k, size - k));
        size = k;
      } else {
        out.push(await this.#hash(start, k));
        start += k;
        size -= k;
        mm -= k;
        b = false;
      }
    }
    if (!b) out.push(await this.#hash(start, size));
    return out.reverse();
  }

  /**
   * #hash without awaiting, while every leaf it needs is at hand (the common case: heads over
   * leaves just appended). Undefined as soon as one is not; the subtrees hashed so far stay memoized.
   */
  #hashNow(start: number, size: number): Buffer | undefined {
    if (size === 1) return this.leaves.leafHashNow?.(start);
    const complete = size >= MEMO_MIN_SIZE && isPowerOfTwo(size) && start % size === 0;
    const key = complete ? `${start}:${size}` : '';
    if (complete) {
      const hit = this.#memo.get(key);
      if (hit !== undefined) return hit;
    }
    const k = split(size);
    const left = this.#hashNow(start, k);
    if (left === undefined) return undefined;
    const right = this.#hashNow(start + k, size - k);
    if (right === undefined) return undefined;
    const h = nodeHash(left, right);
    if (complete) this.#memo.set(key, this.#arena.keep(h));
    return h;
  }

  async #hash(start: number, size: number): Promise<Buffer> {
    const now = this.#hashNow(start, size);
    if (now !== undefined) return now;
    if (size === 1) return this.leaves.leafHash(start);
    const complete = size >= MEMO_MIN_SIZE && isPowerOfTwo(size) && start % size === 0;
    const key = complete ? `${start}:${size}` : '';
    if (complete) {
      const hit = this.#memo.get(key);
      if (hit !== undefined) return hit;
    }
    const k = split(size);
    const h = nodeHash(await this.#hash(start, k), await this.#hash(start + k, size - k));
    if (complete) this.#memo.set(key, this.#arena.keep(h));
    return h;
  }
}

/** RFC 9162 §2.1.3.2: does `path` prove leaf `hash` at `index` in the tree of `size` with head `root`? */
export function verifyInclusion(index: number, size: number, hash: Buffer, path: readonly Buffer[], root: Buffer): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = hash;
  for (const p of path) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: is the tree (size2, root2) an append-only extension of (size1, root1)? */
export function verifyConsistency(size1: number, size2: number, root1: Buffer, root2: Buffer, proof: readonly Buffer[]): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 === 0) return proof.length === 0; // the empty tree is a prefix of every tree
  if (proof.length === 0) return false;
  const c = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = c[0]!;
  let sr = c[0]!;
  for (const p of c.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(p, fr);
      sr = nodeHash(p, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return fr.equals(root1) && sr.equals(root2) && sn === 0;
}
