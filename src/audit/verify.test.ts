/**
 * verifyLedger over exports of a real ledger, tampered in the file: each kind of change is caught
 * and named at the first bad index; what only a trusted checkpoint can catch needs one.
 * (Tampering with the SQLite file itself: test/storage/audit-store.test.ts.)
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../crypto/primitives/asymmetric.js';
import { randomBytes } from '../crypto/primitives/index.js';
import { KeywardenError } from '../errors/catalog.js';
import { SealService } from '../seal/seal.service.js';
import { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import { ManualClock } from '../util/clock.js';
import { checkpointFromJson, checkpointKeyId, checkpointToJson, signCheckpoint, trustedCheckpoint, type TrustedCheckpoint } from './checkpoint.js';
import { decodeLeaf, encodeLeaf } from './event.js';
import { parseExport, type LedgerExport } from './export.js';
import { LedgerService } from './ledger.service.js';
import { MerkleTree, leafHash } from './merkle.js';
import { verifyLedger } from './verify.js';

let original: LedgerExport;
let trusted8: TrustedCheckpoint;
let foreign: TrustedCheckpoint;

/** A ledger of 14 events with checkpoints at sizes 4, 8 and 12. */
async function makeLedger(tag: string) {
  const store = new SqliteStore(':memory:');
  const clock = new ManualClock();
  const seal = new SealService(store.seal, clock);
  await seal.load();
  const k = randomBytes(32);
  await seal.initDev(k);
  seal.unsealWithKey(k);
  const ledger = new LedgerService({ store: store.audit, seal, clock });
  const trusted: TrustedCheckpoint[] = [];
  for (let i = 0; i < 14; i++) {
    await ledger.append({ requestId: `${tag}-${i}`, principal: null, authMethod: 'none', operation: 'key:decrypt', outcome: 'deny', errorCode: 'Unauthenticated' });
    clock.advance(1000);
    if ((i + 1) % 4 === 0 && i < 12) {
      const c = await ledger.checkpoint();
      trusted.push(trustedCheckpoint(c, (await ledger.checkpointPublicKey()).publicKey));
    }
  }
  const exp = await ledger.export();
  await ledger.close();
  await store.close();
  return { exp, trusted };
}

before(async () => {
  const a = await makeLedger('a');
  original = a.exp;
  trusted8 = a.trusted[1]!;
  foreign = (await makeLedger('b')).trusted[1]!;
});

const copy = (): LedgerExport => structuredClone(original);
const data = (e: LedgerExport, i: number) => Buffer.from(e.events[i]!.data, 'base64');
/** Rewrites event i as an attacker would: changed outcome, canonical, seq kept; optionally re-hashed. */
function rewrite(e: LedgerExport, i: number, rehash: boolean): void {
  const leaf = decodeLeaf(data(e, i));
  const { seq, ...event } = leaf;
  const d = encodeLeaf({ ...event, outcome: 'allow', errorCode: null }, seq);
  e.events[i]!.data = d.toString('base64');
  if (rehash) e.events[i]!.leafHash = leafHash(d).toString('base64');
}

async function expectBad(e: LedgerExport, reason: string, index: number | undefined, opts = {}) {
  const r = await verifyLedger(e, opts);
  assert.equal(r.ok, false, r.message);
  assert.equal(r.reason, reason, r.message);
  assert.equal(r.firstBadIndex, index, r.message);
  return r;
}

describe('an untouched export', () => {
  test('verifies, including after a JSON round trip, and says what is not yet covered', async () => {
    const r = await verifyLedger(parseExport(JSON.parse(JSON.stringify(original))));
    assert.deepEqual({ ok: r.ok, size: r.size, checkpoints: r.checkpoints, coveredSize: r.coveredSize }, { ok: true, size: 14, checkpoints: 3, coveredSize: 12 });
    assert.match(r.message, /last 2 events are not covered/);
    assert.equal((await verifyLedger(original, { trustedCheckpoint: trusted8 })).ok, true);
  });

  test('parseExport refuses other files', () => {
    for (const bad of [{}, { ...original, format: 'other' }, { ...original, extra: 1 }, { ...original, events: [{ index: -1, data: '', leafHash: '' }] }]) {
      assert.throws(() => parseExport(bad), (e: unknown) => e instanceof KeywardenError && e.code === 'ValidationError');
    }
  });
});

describe('tampering is caught at the first bad index', () => {
  test('modified data, stored hash kept: named exactly', async () => {
    const e = copy();
    rewrite(e, 5, false);
    await expectBad(e, 'modified', 5);
  });

  test('non-canonical data (even re-hashed): named exactly', async () => {
    const e = copy();
    const d = Buffer.from(data(e, 6).toString('utf8').replace('{"approvalIds"', '{ "approvalIds"'));
    e.events[6] = { index: 6, data: d.toString('base64'), leafHash: leafHash(d).toString('base64') };
    await expectBad(e, 'modified', 6);
  });

  test('consistent rewrite (canonical, seq kept, re-hashed): the smallest failing signed range', async () => {
    const e = copy();
    rewrite(e, 5, true);
    const r = await expectBad(e, 'modified', 4);
    assert.match(r.message, /\[4, 8\)/);
    // With a checkpoint per event the same rewrite is named exactly: precision is the checkpoint spacing.
    const dense = copy();
    const key = generateKeyPair({ type: 'ed25519' });
    dense.publicKey = { keyId: checkpointKeyId(key.publicSpki), spki: key.publicSpki.toString('base64') };
    const hashes = dense.events.map((_, i) => leafHash(data(dense, i)));
    const tree = new MerkleTree({ leafHash: async (i) => hashes[i]! });
    dense.checkpoints = [];
    for (let n = 1; n <= 14; n++) {
      const c = { size: n, rootHash: await tree.root(n), time: n };
      dense.checkpoints.push(checkpointToJson({ ...c, keyId: dense.publicKey.keyId, signature: signCheckpoint(key.privatePkcs8, c) }));
    }
    rewrite(dense, 5, true);
    await expectBad(dense, 'modified', 5);
  });

  test('a row deleted: missing, whether or not later rows were renumbered', async () => {
    const e = copy();
    e.events.splice(6, 1);
    await expectBad(e, 'missing', 6);
    e.events.forEach((x, i) => (x.index = i));
    await expectBad(e, 'missing', 6);
  });

  test('two rows swapped: reordered at the first of them', async () => {
    const e = copy();
    const [a, b] = [e.events[3]!, e.events[9]!];
    [e.events[3], e.events[9]] = [{ ...b, index: 3 }, { ...a, index: 9 }];
    await expectBad(e, 'reordered', 3);
  });

  test('the tail truncated: caught by a checkpoint, or by the trusted one when the checkpoints went too', async () => {
    const e = copy();
    e.events.length = 10;
    await expectBad(e, 'truncated', 10);
    e.events.length = 7;
    e.checkpoints = e.checkpoints.filter((c) => c.size <= 7);
    assert.equal((await verifyLedger(e)).ok, true, 'undetectable without an outside anchor');
    await expectBad(e, 'truncated', 7, { trustedCheckpoint: trusted8 });
  });

  test('a forged or altered checkpoint: bad signature', async () => {
    const e = copy();
    e.checkpoints[1]!.rootHash = Buffer.alloc(32, 7).toString('base64');
    await expectBad(e, 'bad-signature', undefined);
    const f = copy();
    f.checkpoints.push({ ...f.checkpoints[2]!, size: 14 });
    await expectBad(f, 'bad-signature', undefined);
    const g = copy();
    g.publicKey = null;
    await expectBad(g, 'bad-signature', undefined);
  });

  test('key replaced and everything re-signed: only a trusted checkpoint catches it', async () => {
    const e = copy();
    rewrite(e, 5, true);
    const key = generateKeyPair({ type: 'ed25519' });
    const hashes = e.events.map((_, i) => leafHash(data(e, i)));
    const tree = new MerkleTree({ leafHash: async (i) => hashes[i]! });
    e.publicKey = { keyId: checkpointKeyId(key.publicSpki), spki: key.publicSpki.toString('base64') };
    e.checkpoints = await Promise.all(
      e.checkpoints.map(checkpointFromJson).map(async (c) => {
        const s = { size: c.size, rootHash: await tree.root(c.size), time: c.time };
        return checkpointToJson({ ...s, keyId: e.publicKey!.keyId, signature: signCheckpoint(key.privatePkcs8, s) });
      }),
    );
    assert.equal((await verifyLedger(e)).ok, true, 'self-consistent without an anchor');
    await expectBad(e, 'bad-signature', undefined, { trustedCheckpoint: trusted8 });
    // The key alone replaced (history intact): bad signature.
    const k = copy();
    k.publicKey = e.publicKey;
    k.checkpoints = e.checkpoints;
    await expectBad(k, 'bad-signature', undefined, { trustedCheckpoint: trusted8 });
  });

  test('history rewritten and the checkpoints over it removed: inconsistent with the trusted checkpoint', async () => {
    const e = copy();
    rewrite(e, 5, true);
    e.checkpoints = [];
    assert.equal((await verifyLedger(e)).ok, true, 'undetectable without an outside anchor');
    const r = await expectBad(e, 'inconsistent', 0, { trustedCheckpoint: trusted8 });
    assert.match(r.message, /\[0, 8\)/);
    e.checkpoints = original.checkpoints.filter((c) => c.size === 12);
    await expectBad(e, 'inconsistent', 0, { trustedCheckpoint: trusted8 });
  });

  test('a trusted checkpoint of another ledger, or one not validly signed', async () => {
    await expectBad(copy(), 'bad-signature', undefined, { trustedCheckpoint: foreign });
    const forged = { ...trusted8, rootHash: Buffer.alloc(32).toString('base64') };
    await expectBad(copy(), 'bad-signature', undefined, { trustedCheckpoint: forged });
  });
});
