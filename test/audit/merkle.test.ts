/**
 * The Merkle tree against RFC 9162 §2.1: tree heads of the Certificate Transparency reference
 * tree, and proofs compared with an independent, literal transcription of the RFC's recursive
 * definitions (MTH, PATH, PROOF/SUBPROOF) over explicit arrays, for every size up to 33.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EMPTY_ROOT, MerkleTree, leafHash, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';

// ---- independent reference (straight from the RFC text) ----------------------------------------
const H = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const refMth = (d: Buffer[]): Buffer => {
  if (d.length === 0) return H();
  if (d.length === 1) return H(Buffer.from([0]), d[0]!);
  let k = 1;
  while (k << 1 < d.length) k <<= 1;
  return H(Buffer.from([1]), refMth(d.slice(0, k)), refMth(d.slice(k)));
};
const refPath = (m: number, d: Buffer[]): Buffer[] => {
  if (d.length <= 1) return [];
  let k = 1;
  while (k << 1 < d.length) k <<= 1;
  return m < k ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))] : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
};
const refSubproof = (m: number, d: Buffer[], b: boolean): Buffer[] => {
  if (m === d.length) return b ? [] : [refMth(d)];
  let k = 1;
  while (k << 1 < d.length) k <<= 1;
  return m <= k ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))] : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
};

// The RFC 6962 reference tree used by Certificate Transparency implementations.
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

function treeOf(data: Buffer[]): MerkleTree {
  const hashes = data.map(leafHash);
  return new MerkleTree({ leafHash: async (i) => hashes[i]! });
}

test('tree heads of the CT reference tree, and of the empty tree', async () => {
  const t = treeOf(CT_LEAVES);
  for (let n = 1; n <= 8; n++) assert.equal((await t.root(n)).toString('hex'), CT_ROOTS[n - 1], `size ${n}`);
  assert.equal((await t.root(0)).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.ok(EMPTY_ROOT.equals(refMth([])));
});

test('heads, inclusion and consistency proofs equal the RFC definitions and verify (sizes 1..33)', async () => {
  const data = Array.from({ length: 33 }, (_, i) => Buffer.from(`event-${i}`));
  const t = treeOf(data);
  for (let n = 1; n <= data.length; n++) {
    const d = data.slice(0, n);
    const root = await t.root(n);
    assert.ok(root.equals(refMth(d)), `root ${n}`);
    for (let m = 0; m < n; m++) {
      const path = await t.inclusionProof(m, n);
      assert.deepEqual(path.map((b) => b.toString('hex')), refPath(m, d).map((b) => b.toString('hex')), `PATH(${m}, ${n})`);
      assert.ok(verifyInclusion(m, n, leafHash(d[m]!), path, root), `inclusion ${m} in ${n}`);
    }
    for (let m = 1; m <= n; m++) {
      const proof = await t.consistencyProof(m, n);
      assert.deepEqual(proof.map((b) => b.toString('hex')), refSubproof(m, d, true).map((b) => b.toString('hex')), `PROOF(${m}, ${n})`);
      assert.ok(verifyConsistency(m, n, refMth(data.slice(0, m)), root, proof), `consistency ${m} -> ${n}`);
    }
  }
});

test('verification rejects every altered proof, hash, index, size and root', async () => {
  const data = Array.from({ length: 21 }, (_, i) => Buffer.from(`e${i}`));
  const t = treeOf(data);
  const n = 21;
  const root = await t.root(n);
  const flip = (b: Buffer) => {
    const c = Buffer.from(b);
    c[0]! ^= 1;
    return c;
  };
  for (const m of [0, 5, 16, 20]) {
    const leaf = leafHash(data[m]!);
    const path = await t.inclusionProof(m, n);
    assert.equal(verifyInclusion(m, n, flip(leaf), path, root), false, 'modified leaf');
    assert.equal(verifyInclusion(m, n, leaf, path, flip(root)), false, 'other root');
    assert.equal(verifyInclusion((m + 1) % n, n, leaf, path, root), false, 'other index');
    assert.equal(verifyInclusion(m, n + 16, leaf, path, root), false, 'a size with a longer path');
    assert.equal(verifyInclusion(m, n, leaf, path.slice(0, -1), root), false, 'truncated path');
    assert.equal(verifyInclusion(m, n, leaf, [...path, path[0]!], root), false, 'extended path');
    for (let i = 0; i < path.length; i++) {
      const bad = path.map((p, j) => (j === i ? flip(p) : p));
      assert.equal(verifyInclusion(m, n, leaf, bad, root), false, `path element ${i}`);
    }
    assert.equal(verifyInclusion(n, n, leaf, path, root), false, 'index past the end');
  }
  for (const m of [1, 4, 7, 16, 20]) {
    const old = await t.root(m);
    const proof = await t.consistencyProof(m, n);
    assert.equal(verifyConsistency(m, n, flip(old), root, proof), false, 'modified old root');
    assert.equal(verifyConsistency(m, n, old, flip(root), proof), false, 'modified new root');
    assert.equal(verifyConsistency(m, n, old, root, proof.slice(1)), false, 'truncated proof');
    for (let i = 0; i < proof.length; i++) {
      assert.equal(verifyConsistency(m, n, old, root, proof.map((p, j) => (j === i ? flip(p) : p))), false, `proof element ${i}`);
    }
    // A tree that rewrote history: same size, one leaf changed.
    const forged = treeOf(data.map((d, i) => (i === 0 ? Buffer.from('forged') : d)));
    assert.equal(verifyConsistency(m, n, await forged.root(m), root, proof), false, 'rewritten prefix');
  }
  assert.equal(verifyConsistency(5, 4, root, root, []), false, 'shrinking tree');
  assert.ok(verifyConsistency(7, 7, root, root, []));
  assert.equal(verifyConsistency(7, 7, root, flip(root), []), false);
});
