/**
 * Offline verification of a ledger export (issue 4/10 §4). Checks, with no server and no secret:
 *
 * 1. every leaf: its index is its position, its data decode as a canonical v1 event whose `seq`
 *    is that index, and hash to the stored leaf hash (naive edits are named exactly);
 * 2. the Merkle tree rebuilt from the data: every checkpoint's Ed25519 signature (with the trusted
 *    public key when a trusted checkpoint is given) and that its root is the tree's root at its size;
 * 3. a trusted checkpoint saved earlier: the ledger must still contain it, i.e. the tree at its size
 *    has its root — equivalent to an RFC 9162 consistency proof, since every leaf is at hand.
 *
 * It names the FIRST bad index. An edit that rewrote a row consistently (data, seq and leaf hash)
 * can only be caught by the signed roots, which fix the events only as a whole: the verifier then
 * names the first index of the smallest signed range that fails (between the last checkpoint that
 * still matches and the first that does not). Events after the last checkpoint are vouched for by
 * nothing but the file, which `coveredSize` reports.
 */
import { checkpointFromJson, checkpointKeyId, verifyCheckpoint, type TrustedCheckpoint } from './checkpoint.js';
import { decodeLeaf } from './event.js';
import type { LedgerExport } from './export.js';
import { MerkleTree, leafHash } from './merkle.js';

export type VerifyReason = 'modified' | 'missing' | 'reordered' | 'truncated' | 'bad-signature' | 'inconsistent';

export interface VerifyResult {
  ok: boolean;
  /** Events in the export. */
  size: number;
  /** Checkpoints whose signature verified. */
  checkpoints: number;
  /** Events [0, coveredSize) are fixed by a valid checkpoint (or the trusted one). */
  coveredSize: number;
  firstBadIndex?: number;
  reason?: VerifyReason;
  message: string;
}

interface Finding {
  reason: VerifyReason;
  message: string;
  index?: number;
  /** For findings on a signed range [index, end): a leaf finding inside it explains it. */
  end?: number;
}

/** The first problem with the rows themselves, by position. */
function firstLeafFinding(exp: LedgerExport, hashes: Buffer[]): Finding | undefined {
  const seqs: Array<number | undefined> = [];
  const problems: Array<string | undefined> = [];
  exp.events.forEach((e, p) => {
    const data = Buffer.from(e.data, 'base64');
    hashes.push(leafHash(data));
    try {
      seqs.push(decodeLeaf(data).seq);
    } catch (err) {
      seqs.push(undefined);
      problems[p] = `event ${p} is not a canonical v1 audit event (${(err as Error).message})`;
    }
  });
  const present = new Set(seqs);
  for (const [p, e] of exp.events.entries()) {
    if (e.index > p) return { index: p, reason: 'missing', message: `event ${p} is missing: the next stored index is ${e.index}` };
    if (e.index < p) return { index: p, reason: 'reordered', message: `index ${e.index} appears again at position ${p}` };
    const problem = problems[p];
    if (problem !== undefined) return { index: p, reason: 'modified', message: problem };
    if (!hashes[p]!.equals(Buffer.from(e.leafHash, 'base64'))) {
      return { index: p, reason: 'modified', message: `event ${p} was modified: its data do not match its stored leaf hash` };
    }
    const seq = seqs[p]!;
    if (seq !== p) {
      return present.has(p)
        ? { index: p, reason: 'reordered', message: `event ${p} holds the event with seq ${seq}: rows were reordered` }
        : { index: p, reason: 'missing', message: `event ${p} is missing: the row at ${p} holds seq ${seq}` };
    }
  }
  return undefined;
}

/**
 * `trustedCheckpoint`: a checkpoint held outside the ledger (saved by an earlier verification, or
 * read from a witness sink) that the ledger must extend; `trustedName` names it in messages.
 */
export async function verifyLedger(exp: LedgerExport, opts: { trustedCheckpoint?: TrustedCheckpoint; trustedName?: string } = {}): Promise<VerifyResult> {
  const n = exp.events.length;
  const hashes: Buffer[] = [];
  const leaf = firstLeafFinding(exp, hashes);
  const tree = new MerkleTree({ leafHash: async (i) => hashes[i]! });
  const findings: Finding[] = [];
  const trusted = opts.trustedCheckpoint;
  const trustedName = opts.trustedName ?? 'the trusted checkpoint';

  // The key that must have signed every checkpoint: the trusted one if given, else the export's.
  // A replaced key voids every signature in the export: reported before any signed range.
  let keyFinding: Finding | undefined;
  let spki = exp.publicKey ? Buffer.from(exp.publicKey.spki, 'base64') : undefined;
  if (exp.publicKey && spki && exp.publicKey.keyId !== checkpointKeyId(spki)) {
    keyFinding = { reason: 'bad-signature', message: `the export's key id ${exp.publicKey.keyId} does not belong to its public key` };
  }
  if (trusted !== undefined) {
    const trustedKey = Buffer.from(trusted.publicKey, 'base64');
    if (!verifyCheckpoint(checkpointFromJson(trusted), trustedKey)) {
      return { ok: false, size: n, checkpoints: 0, coveredSize: 0, reason: 'bad-signature', message: `${trustedName} is not validly signed by the trusted public key` };
    }
    if (spki === undefined || !spki.equals(trustedKey)) {
      keyFinding = { reason: 'bad-signature', message: 'the checkpoint key in the export is not the trusted key: it was replaced, or the export is of another ledger' };
    }
    spki = trustedKey;
  }

  // Signed checkpoints, smallest size first so that each mismatch gets the tightest range.
  const checkpoints = exp.checkpoints.map((j, pos) => ({ c: checkpointFromJson(j), pos })).sort((a, b) => a.c.size - b.c.size);
  let valid = 0;
  let covered = 0;
  for (const { c, pos } of checkpoints) {
    const name = `checkpoint #${pos} (size ${c.size})`;
    if (spki === undefined || !verifyCheckpoint(c, spki)) {
      findings.push({ reason: 'bad-signature', message: `${name} has an invalid signature: it was forged or altered` });
      continue;
    }
    valid++;
    if (c.size > n) {
      findings.push({ index: n, reason: 'truncated', message: `${name} covers ${c.size} events but only ${n} are left: the ledger was truncated at ${n}` });
    } else if (!(await tree.root(c.size)).equals(c.rootHash)) {
      findings.push({ index: covered, end: c.size, reason: 'modified', message: `an event in [${covered}, ${c.size}) was modified, inserted or removed: the tree does not match ${name}` });
    } else {
      covered = c.size;
    }
  }
  if (trusted !== undefined) {
    if (trusted.size > n) {
      findings.push({ index: n, reason: 'truncated', message: `${trustedName} covers ${trusted.size} events but only ${n} are left: the ledger was truncated at ${n}` });
    } else if (!(await tree.root(trusted.size)).equals(Buffer.from(trusted.rootHash, 'base64'))) {
      const from = Math.min(covered, trusted.size);
      findings.push({ index: from, end: trusted.size, reason: 'inconsistent', message: `the ledger is not an extension of ${trustedName} (size ${trusted.size}): history in [${from}, ${trusted.size}) was rewritten` });
    } else {
      covered = Math.max(covered, trusted.size);
    }
  }

  // An exactly named row comes first unless a signed range that fails lies wholly before it; then
  // a replaced key; then the lowest index; then signatures that fail.
  const indexed = findings.filter((f) => f.index !== undefined);
  const span = (f: Finding) => (f.end ?? f.index! + 1) - f.index!;
  const lowest = indexed.reduce<Finding | undefined>(
    (best, f) => (best === undefined || f.index! < best.index! || (f.index === best.index && span(f) < span(best)) ? f : best),
    undefined,
  );
  const rangeBefore = leaf && indexed.find((f) => f.end !== undefined && f.end <= leaf.index!);
  const first = (rangeBefore ? rangeBefore : leaf) ?? keyFinding ?? lowest ?? findings[0];
  if (first !== undefined) {
    return { ok: false, size: n, checkpoints: valid, coveredSize: covered, firstBadIndex: first.index, reason: first.reason, message: first.message };
  }
  const tail = n - covered;
  return {
    ok: true,
    size: n,
    checkpoints: valid,
    coveredSize: covered,
    message: `${n} events and ${valid} checkpoints verified` + (tail > 0 ? `; the last ${tail} events are not covered by a checkpoint yet` : ''),
  };
}
