/**
 * The audit ledger's hot path after the fourth performance round (docs/performance.md): the leaf
 * encoder with its memo of quoted values, the batch encoder (one scratch buffer, leaf hashes
 * written in place), SHA-256 into a buffer, node hashing with memoized subtrees in an arena, and
 * the one-statement batch insert. Every output is compared with an independent computation:
 * canonicalBytes (the generic RFC 8785 encoder), node:crypto, and the RFC 9162 definitions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { canonicalBytes } from '../../src/audit/canonical.js';
import { auditHmac, buildEvent, encodeLeaf, hasEventShape, type AuditEvent, type AuditEventInput } from '../../src/audit/event.js';
import { MerkleTree, leafHash, nodeHash, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { sha256Into } from '../../src/crypto/primitives/index.js';
import { applyMigrations } from '../../src/storage/sqlite/sqlite-store.js';
import { SqliteAuditStore, batchInserter, encodeBatch } from '../../src/storage/sqlite/sqlite-audit-store.js';

const H = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

/** Deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

// Strings that stress JSON escaping and UTF-8: quotes, backslashes, control characters, U+2028,
// 2-, 3- and 4-byte characters, and plenty of distinct values (the quote memo is bounded at 1024).
const SPECIAL = ['', 'a', '"', '\\', '\u0000', '\u001f', '\t\n\r\b\f', '\u007f', '\u2028\u2029', 'é', 'ünï', '€', '中文', '😀', '𝄞x', 'Zebra', 'apple'];
function randomString(r: ReturnType<typeof prng>): string {
  if (r.next() < 0.3) return r.pick(SPECIAL);
  let s = '';
  for (let i = r.int(12); i > 0; i--) s += r.next() < 0.2 ? r.pick(SPECIAL) : String.fromCharCode(0x20 + r.int(95));
  return r.next() < 0.5 ? s : `${s}-${r.int(5000)}`;
}

function randomInput(r: ReturnType<typeof prng>): AuditEventInput {
  const s = () => randomString(r);
  const maybe = <T>(v: T): T | null => (r.next() < 0.5 ? v : null);
  const context: Record<string, string> = {};
  for (let i = r.int(4); i > 0; i--) context[s()] = s();
  const details: Record<string, string | number | boolean | null> = {};
  for (let i = r.int(5); i > 0; i--) details[s().slice(0, 60)] = r.pick([s(), r.int(1e6) - 5e5, r.next() < 0.5, null]);
  return {
    requestId: r.next() < 0.5 ? crypto.randomUUID() : s(),
    principal: maybe({ id: s(), name: s(), kind: r.pick(['root', 'user', 'service-account', s()]) }),
    authMethod: r.pick(['root-token', 'access-token', 'session', 'client-credentials', 'internal', 'none'] as const),
    sourceIp: maybe(r.pick(['127.0.0.1', '::1', '10.0.0.' + r.int(256), s()])),
    operation: r.pick(['key:encrypt', 'key:decrypt', 'key:create', s()]),
    keyId: maybe(r.next() < 0.5 ? crypto.randomUUID() : s()),
    keyVersion: maybe(r.int(2 ** 20)),
    outcome: r.pick(['allow', 'deny', 'error'] as const),
    errorCode: maybe(r.pick(['PermissionDenied', 'NotFound', s()])),
    policy: maybe({ decision: r.pick(['allow', 'deny']), rule: maybe(s()) }),
    approvalIds: r.next() < 0.7 ? [] : Array.from({ length: 1 + r.int(3) }, s),
    encryptionContext: context,
    tokenId: maybe(s()),
    ...(r.next() < 0.3 ? { details } : {}),
  };
}

function generated(count: number, seed: number): AuditEvent[] {
  const r = prng(seed);
  const hmac = auditHmac(Buffer.alloc(32, 7));
  const t0 = Date.UTC(2026, 10, 29, 12);
  // Several events per millisecond (the time string is reused), as under load.
  return Array.from({ length: count }, (_, n) => buildEvent(randomInput(r), t0 + Math.floor(n / 3) * 17, n % 7 ? hmac : undefined));
}

test('the hot-path leaf encoder (quoted-value memo included) gives the canonical bytes for 5000 generated events, twice', () => {
  const events = generated(5000, 1);
  // The second pass meets the memo warm (and cleared more than once: far more than 1024 distinct values).
  for (const pass of [1, 2]) {
    events.forEach((e, n) => {
      assert.ok(hasEventShape(e));
      const index = pass === 1 ? n : 2 ** 45 + n;
      assert.deepEqual(encodeLeaf(e, index), canonicalBytes({ ...e, seq: index } as never), `event ${n}, pass ${pass}`);
    });
  }
});

test('encodeBatch: each leaf is 0x00 || its canonical bytes, with its RFC 9162 leaf hash, for batches of 1..1000 (scratch growth included)', () => {
  const events = generated(4000, 2);
  const r = prng(3);
  let first = 0;
  let sizes: number[] = [1, 1000, 2, 999]; // 1000 events of ~0.5-1 KiB outgrow the 64 KiB scratch
  for (let i = 0; i < 8; i++) sizes.push(1 + r.int(300));
  sizes = sizes.filter((n, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0) + n <= events.length);
  for (const n of sizes) {
    const batch = events.slice(first, first + n);
    const b = encodeBatch(batch, 1000 + first);
    assert.equal(b.first, 1000 + first);
    assert.equal(b.lengths.length, n);
    assert.equal(b.hashes.length, 32 * n);
    let off = 0;
    batch.forEach((e, i) => {
      const leaf = encodeLeaf(e, 1000 + first + i);
      assert.equal(b.lengths[i], leaf.length);
      assert.equal(b.data[off], 0, 'the leaf prefix');
      assert.deepEqual(b.data.subarray(off + 1, off + 1 + leaf.length), leaf, `leaf ${first + i}`);
      assert.deepEqual(b.hashes.subarray(32 * i, 32 * i + 32), H(Buffer.from([0]), leaf), `leaf hash ${first + i}`);
      off += 1 + leaf.length;
    });
    assert.equal(b.data.length, off, 'the batch buffer holds exactly its leaves');
    assert.equal(b.data.byteOffset, 0);
    assert.equal(b.data.buffer.byteLength, off, 'it owns its whole ArrayBuffer (transferable)');
    first += n;
  }
});

test('sha256Into and nodeHash equal node:crypto, at any offset, and leave the rest of the buffer alone', () => {
  const r = prng(4);
  for (let i = 0; i < 200; i++) {
    const data = Buffer.from(Array.from({ length: r.int(600) }, () => r.int(256)));
    const out = Buffer.alloc(100, 0xaa);
    const at = r.int(69);
    sha256Into(data, out, at);
    assert.deepEqual(out.subarray(at, at + 32), H(data));
    assert.ok(out.subarray(0, at).every((x) => x === 0xaa) && out.subarray(at + 32).every((x) => x === 0xaa));
    const a = H(data.subarray(0, 10));
    const b = H(data);
    assert.deepEqual(nodeHash(a, b), H(Buffer.from([1]), a, b));
  }
});

// ---- the Merkle tree against the RFC definitions, at sizes where the memo and the bit arithmetic matter ----
const refMth = (d: Buffer[], from = 0, to = d.length): Buffer => {
  if (to - from === 0) return H();
  if (to - from === 1) return d[from]!;
  let k = 1;
  while (k * 2 < to - from) k *= 2;
  return H(Buffer.from([1]), refMth(d, from, from + k), refMth(d, from + k, to));
};
const refPath = (m: number, d: Buffer[], from: number, to: number): Buffer[] => {
  if (to - from <= 1) return [];
  let k = 1;
  while (k * 2 < to - from) k *= 2;
  return m < k ? [...refPath(m, d, from, from + k), refMth(d, from + k, to)] : [...refPath(m - k, d, from + k, to), refMth(d, from, from + k)];
};
const refSubproof = (m: number, d: Buffer[], from: number, to: number, b: boolean): Buffer[] => {
  if (m === to - from) return b ? [] : [refMth(d, from, to)];
  let k = 1;
  while (k * 2 < to - from) k *= 2;
  return m <= k ? [...refSubproof(m, d, from, from + k, b), refMth(d, from + k, to)] : [...refSubproof(m - k, d, from + k, to, false), refMth(d, from, from + k)];
};
const hex = (xs: Buffer[]) => xs.map((x) => x.toString('hex'));

test('tree heads and proofs equal the RFC 9162 definitions at random sizes up to 2100, on one long-lived growing tree', async () => {
  const r = prng(5);
  const leaves = Array.from({ length: 2100 }, (_, i) => leafHash(Buffer.from(`event ${i}`)));
  let known = 0; // leaves "appended" so far: the source serves only those, like the ledger's
  const tree = new MerkleTree({
    leafHash: async (i) => {
      assert.ok(i < known, `leaf ${i} asked before it exists`);
      return leaves[i]!;
    },
    leafHashNow: (i) => (i < known && i >= known - 300 ? leaves[i] : undefined), // only the recent tail is "cached"
  });
  const sizes = [1, 2, 3, 15, 16, 17, 31, 32, 33, 255, 256, 257, 1023, 1024, 1025, 2047, 2048, 2049, 2100];
  for (let i = 0; i < 25; i++) sizes.push(1 + r.int(2100));
  sizes.sort((a, b) => a - b);
  for (const n of sizes) {
    known = Math.max(known, n);
    const root = await tree.root(n);
    assert.deepEqual(root, refMth(leaves, 0, n), `root ${n}`);
    for (const m of [0, n - 1, r.int(n)]) {
      const path = await tree.inclusionProof(m, n);
      assert.deepEqual(hex(path), hex(refPath(m, leaves, 0, n)), `PATH(${m}, ${n})`);
      assert.ok(verifyInclusion(m, n, leaves[m]!, path, root));
    }
    for (const m of [1, n, 1 + r.int(n)]) {
      const proof = await tree.consistencyProof(m, n);
      assert.deepEqual(hex(proof), hex(m === n ? [] : refSubproof(m, leaves, 0, n, true)), `PROOF(${m}, ${n})`);
      assert.ok(verifyConsistency(m, n, refMth(leaves, 0, m), root, proof));
    }
  }
  // Earlier sizes still answer the same after the tree grew (memoized subtrees are never stale).
  for (const n of [17, 1000, 2049]) assert.deepEqual(await tree.root(n), refMth(leaves, 0, n));
});

test('the one-statement batch insert: exact rows; a batch at the wrong index or with a bad row writes nothing', async () => {
  const db = new Database(':memory:');
  applyMigrations(db);
  const store = new SqliteAuditStore(db);
  const events = generated(1200, 6);
  const a = await store.append(events.slice(0, 1000));
  const b = await store.append(events.slice(1000));
  assert.equal(a.first, 0);
  assert.equal(b.first, 1000);
  const rows = await store.read(0, 1200);
  assert.equal(rows.length, 1200);
  rows.forEach((row, i) => {
    const leaf = encodeLeaf(events[i]!, i);
    assert.equal(row.index, i);
    assert.deepEqual(row.data, leaf, `row ${i}`);
    assert.deepEqual(row.leafHash, leafHash(leaf));
    assert.deepEqual(row.leafHash, [...a.leafHashes, ...b.leafHashes][i]);
  });
  const insert = batchInserter(db);
  assert.throws(() => insert(encodeBatch(events.slice(0, 3), 1199)), /starts at index 1199 but the ledger is at 1200/);
  assert.throws(() => insert(encodeBatch(events.slice(0, 3), 1201)), /starts at index 1201/);
  // A batch whose second row breaks a constraint (a leaf hash of the wrong size) is refused as a whole.
  const bad = encodeBatch(events.slice(0, 3), 1200);
  assert.throws(() => insert({ ...bad, hashes: bad.hashes.subarray(0, 40) }));
  assert.equal(await store.size(), 1200);
  db.close();
});
