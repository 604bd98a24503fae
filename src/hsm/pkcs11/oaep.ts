/**
 * EME-OAEP decoding with SHA-256 and MGF1-SHA-256, empty label (RFC 8017 §7.1.2 step 3), for
 * modules that decrypt raw RSA (CKM_RSA_X_509) but only offer OAEP with SHA-1 (SoftHSM2 2.6).
 * The checks are combined without early exits so that the time does not say which one failed.
 */
import { sha256 } from '../../crypto/primitives/index.js';

const H = 32;
const EMPTY_LABEL_HASH = sha256(Buffer.alloc(0));

function mgf1(seed: Buffer, length: number): Buffer {
  const out = Buffer.alloc(Math.ceil(length / H) * H);
  const counter = Buffer.alloc(4);
  for (let i = 0; i * H < length; i++) {
    counter.writeUInt32BE(i);
    sha256(Buffer.concat([seed, counter])).copy(out, i * H);
  }
  return out.subarray(0, length);
}

/** The message from an encoded block `em` of the modulus size `k`, or undefined when it does not check. */
export function oaepDecodeSha256(em: Buffer, k: number): Buffer | undefined {
  if (em.length > k || k < 2 * H + 2) return undefined;
  const block = Buffer.alloc(k);
  em.copy(block, k - em.length); // a raw RSA result may come without its leading zero bytes
  const maskedSeed = block.subarray(1, 1 + H);
  const maskedDb = block.subarray(1 + H);
  const seedMask = mgf1(maskedDb, H);
  const seed = Buffer.alloc(H);
  for (let i = 0; i < H; i++) seed[i] = (maskedSeed[i] as number) ^ (seedMask[i] as number);
  const dbMask = mgf1(seed, maskedDb.length);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = (maskedDb[i] as number) ^ (dbMask[i] as number);
  let bad = block[0] as number;
  for (let i = 0; i < H; i++) bad |= (db[i] as number) ^ (EMPTY_LABEL_HASH[i] as number);
  // Find the 0x01 separator after the zero padding, touching every byte.
  let found = 0;
  let index = 0;
  for (let i = H; i < db.length; i++) {
    const b = db[i] as number;
    const isOne = b === 1 ? 1 : 0;
    const isZero = b === 0 ? 1 : 0;
    if (!found && isOne) index = i;
    if (!found && !isOne && !isZero) bad |= 1;
    found |= isOne;
  }
  bad |= found ^ 1;
  seed.fill(0);
  if (bad !== 0) {
    db.fill(0);
    block.fill(0);
    return undefined;
  }
  const message = Buffer.from(db.subarray(index + 1));
  db.fill(0);
  block.fill(0);
  return message;
}
