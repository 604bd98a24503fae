/**
 * The envelope message format, version 1 (docs/sdk.md has the byte-by-byte layout). Pure functions
 * and small stateful frame sealers/openers: no I/O here, so the known-answer vectors
 * (test/vectors/sdk-envelope-v1.json) exercise exactly the code the SDK runs.
 *
 * Integers are big-endian. The per-message key and the key commitment come from one
 * HKDF-SHA-512(dataKey, salt = messageId, info = "KWENC v1" || suite) of 64 bytes, so a data key
 * reused from the cache never repeats a (key, nonce) pair: frame nonces are a counter under a
 * key no other message has.
 */
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES, constantTimeEqual, gcmOpen, gcmSeal, hkdf } from './crypto.js';
import { InvalidMessageError } from './errors.js';
import type { EncryptionContext } from './types.js';

export const FORMAT_VERSION = 0x01;
/** AES-256-GCM frames, HKDF-SHA-512 key derivation, key commitment. */
export const SUITE_AES256GCM_HKDF_SHA512_COMMIT = 0x0001;
export const MESSAGE_ID_BYTES = 32;
export const COMMITMENT_BYTES = 32;
export const DEFAULT_FRAME_LENGTH = 65_536;
/** Bounds what decryptStream buffers for one frame. */
export const MAX_FRAME_LENGTH = 4 * 1024 * 1024;
export const MAX_WRAPPED_KEYS = 16;
/** A header larger than this is refused before it is buffered any further. */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** seq (4) | final flag (1) | content length (4). */
export const FRAME_PREFIX_BYTES = 9;
export const MAX_FRAMES = 0xffff_ffff;

const KDF_INFO = Buffer.concat([Buffer.from('KWENC v1', 'ascii'), u16(SUITE_AES256GCM_HKDF_SHA512_COMMIT)]);
const HEADER_NONCE = Buffer.alloc(NONCE_BYTES);

export interface WrappedKey {
  /** Id of the Keywarden key that wrapped the data key. */
  keyId: string;
  /** The data key as a Keywarden ciphertext (bound to the encryption context). */
  ciphertext: Buffer;
}

export interface Header {
  messageId: Buffer;
  context: EncryptionContext;
  wrappedKeys: WrappedKey[];
  frameLength: number;
  commitment: Buffer;
  /** The bytes the header tag authenticates (version through commitment). */
  authenticated: Buffer;
  tag: Buffer;
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}
function lv16(data: Buffer): Buffer[] {
  if (data.length > 0xffff) throw new RangeError('a header field is longer than 65535 bytes');
  return [u16(data.length), data];
}

/** Context pairs in canonical order: by the UTF-8 bytes of the key. */
export function canonicalPairs(context: EncryptionContext): Array<[Buffer, Buffer]> {
  return Object.entries(context)
    .map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as [Buffer, Buffer])
    .sort((a, b) => Buffer.compare(a[0], b[0]));
}

/** Message key (32 bytes) and key commitment (32 bytes) of a data key for one message. */
export function deriveKeys(dataKey: Buffer, messageId: Buffer): { messageKey: Buffer; commitment: Buffer } {
  if (dataKey.length !== KEY_BYTES) throw new RangeError('a data key is 32 bytes');
  const okm = hkdf(dataKey, messageId, KDF_INFO, KEY_BYTES + COMMITMENT_BYTES);
  return { messageKey: okm.subarray(0, KEY_BYTES), commitment: okm.subarray(KEY_BYTES) };
}

/** The complete header: authenticated fields, then the header tag under the message key. */
export function encodeHeader(
  f: { messageId: Buffer; context: EncryptionContext; wrappedKeys: WrappedKey[]; frameLength: number; commitment: Buffer },
  messageKey: Buffer,
): Buffer {
  if (f.wrappedKeys.length < 1 || f.wrappedKeys.length > MAX_WRAPPED_KEYS) throw new RangeError(`1 to ${MAX_WRAPPED_KEYS} wrapping keys`);
  if (f.frameLength < 1 || f.frameLength > MAX_FRAME_LENGTH) throw new RangeError(`the frame length is 1 to ${MAX_FRAME_LENGTH} bytes`);
  const pairs = canonicalPairs(f.context);
  const parts: Buffer[] = [Buffer.from([FORMAT_VERSION]), u16(SUITE_AES256GCM_HKDF_SHA512_COMMIT), f.messageId, u16(pairs.length)];
  for (const [k, v] of pairs) parts.push(...lv16(k), ...lv16(v));
  parts.push(Buffer.from([f.wrappedKeys.length]));
  for (const w of f.wrappedKeys) parts.push(...lv16(Buffer.from(w.keyId, 'utf8')), ...lv16(w.ciphertext));
  parts.push(u32(f.frameLength), f.commitment);
  const authenticated = Buffer.concat(parts);
  const { tag } = gcmSeal(messageKey, HEADER_NONCE, Buffer.alloc(0), authenticated);
  return Buffer.concat([authenticated, tag]);
}

/** Thrown by the reader when the buffer ends before the structure does (streaming: read more). */
export class NeedMore extends Error {}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  take(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new NeedMore();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8 = () => this.take(1).readUInt8(0);
  u16 = () => this.take(2).readUInt16BE(0);
  u32 = () => this.take(4).readUInt32BE(0);
  lv16 = () => this.take(this.u16());
}

const fatal = (ok: boolean): void => {
  if (!ok) throw new InvalidMessageError('format');
};

/** Parses a header at the start of `buf`: the header and its length, or NeedMore. Checks structure only. */
export function parseHeader(buf: Buffer): { header: Header; length: number } {
  const r = new Reader(buf);
  fatal(buf.length === 0 || buf[0] === FORMAT_VERSION);
  r.u8();
  if (buf.length >= 3) fatal(buf.readUInt16BE(1) === SUITE_AES256GCM_HKDF_SHA512_COMMIT);
  r.u16();
  const messageId = r.take(MESSAGE_ID_BYTES);
  const context: EncryptionContext = {};
  let previous: Buffer | undefined;
  for (let i = 0, n = r.u16(); i < n; i++) {
    const k = r.lv16();
    const v = r.lv16();
    fatal(previous === undefined || Buffer.compare(previous, k) < 0); // canonical: sorted, no duplicates
    previous = k;
    const key = k.toString('utf8');
    const value = v.toString('utf8');
    fatal(Buffer.from(key, 'utf8').equals(k) && Buffer.from(value, 'utf8').equals(v)); // well-formed UTF-8
    context[key] = value;
  }
  const count = r.u8();
  fatal(count >= 1 && count <= MAX_WRAPPED_KEYS);
  const wrappedKeys: WrappedKey[] = [];
  for (let i = 0; i < count; i++) {
    const keyId = r.lv16().toString('utf8');
    wrappedKeys.push({ keyId, ciphertext: Buffer.from(r.lv16()) });
  }
  const frameLength = r.u32();
  fatal(frameLength >= 1 && frameLength <= MAX_FRAME_LENGTH);
  const commitment = Buffer.from(r.take(COMMITMENT_BYTES));
  const authenticated = Buffer.from(buf.subarray(0, r.pos));
  const tag = Buffer.from(r.take(TAG_BYTES));
  return { header: { messageId: Buffer.from(messageId), context, wrappedKeys, frameLength, commitment, authenticated, tag }, length: r.pos };
}

/**
 * Checks the key commitment (before anything is decrypted), then the header tag. Returns the
 * message key; throws InvalidMessageError('commitment' | 'header').
 */
export function openHeader(header: Header, dataKey: Buffer): Buffer {
  const { messageKey, commitment } = deriveKeys(dataKey, header.messageId);
  if (!constantTimeEqual(commitment, header.commitment)) {
    messageKey.fill(0);
    throw new InvalidMessageError('commitment');
  }
  if (gcmOpen(messageKey, HEADER_NONCE, Buffer.alloc(0), header.tag, header.authenticated) === undefined) {
    messageKey.fill(0);
    throw new InvalidMessageError('header');
  }
  return messageKey;
}

function frameNonce(seq: number): Buffer {
  const n = Buffer.alloc(NONCE_BYTES);
  n.writeUInt32BE(seq, NONCE_BYTES - 4);
  return n;
}
function frameAad(messageId: Buffer, prefix: Buffer): Buffer {
  return Buffer.concat([messageId, prefix]);
}

/** Seals frames 1, 2, ... of one message; the last one is sealed with final = true. */
export class FrameSealer {
  private seq = 0;
  constructor(
    private readonly messageKey: Buffer,
    private readonly messageId: Buffer,
    readonly frameLength: number,
  ) {}

  seal(content: Buffer, final: boolean): Buffer {
    return Buffer.concat(this.sealParts(content, final));
  }

  /** The frame as [prefix, ciphertext, tag], so a whole message is copied together only once. */
  sealParts(content: Buffer, final: boolean): Buffer[] {
    if (content.length > this.frameLength || (!final && content.length !== this.frameLength)) throw new RangeError('frame content length');
    if (this.seq >= MAX_FRAMES) throw new RangeError('too many frames for one message');
    this.seq++;
    const prefix = Buffer.allocUnsafe(FRAME_PREFIX_BYTES);
    prefix.writeUInt32BE(this.seq, 0);
    prefix.writeUInt8(final ? 1 : 0, 4);
    prefix.writeUInt32BE(content.length, 5);
    const { ciphertext, tag } = gcmSeal(this.messageKey, frameNonce(this.seq), content, frameAad(this.messageId, prefix));
    return [prefix, ciphertext, tag];
  }

  dispose(): void {
    this.messageKey.fill(0);
  }
}

/** Opens frames in order; refuses a frame out of sequence, after the final frame, or modified. */
export class FrameOpener {
  private seq = 0;
  done = false;
  constructor(
    private readonly messageKey: Buffer,
    private readonly messageId: Buffer,
    private readonly frameLength: number,
  ) {}

  /** One frame at the start of `buf`: its plaintext and length, or NeedMore. */
  open(buf: Buffer): { plaintext: Buffer; length: number; final: boolean } {
    if (this.done) throw new InvalidMessageError('format'); // bytes after the final frame
    const r = new Reader(buf);
    const prefix = r.take(FRAME_PREFIX_BYTES);
    const seq = prefix.readUInt32BE(0);
    const flag = prefix.readUInt8(4);
    const len = prefix.readUInt32BE(5);
    if (seq !== this.seq + 1) throw new InvalidMessageError('frame'); // reordered, repeated or dropped
    if (flag > 1 || len > this.frameLength || (flag === 0 && len !== this.frameLength)) throw new InvalidMessageError('format');
    const ciphertext = r.take(len);
    const tag = r.take(TAG_BYTES);
    const plaintext = gcmOpen(this.messageKey, frameNonce(seq), ciphertext, tag, frameAad(this.messageId, prefix));
    if (plaintext === undefined) throw new InvalidMessageError('frame');
    this.seq = seq;
    if (flag === 1) this.done = true;
    return { plaintext, length: r.pos, final: flag === 1 };
  }

  dispose(): void {
    this.messageKey.fill(0);
  }
}

/** Encrypts a whole message under a data key (the deterministic core; the SDK supplies a random messageId). */
export function sealMessage(
  p: { dataKey: Buffer; messageId: Buffer; context: EncryptionContext; wrappedKeys: WrappedKey[]; frameLength?: number },
  plaintext: Buffer,
): Buffer {
  const frameLength = p.frameLength ?? DEFAULT_FRAME_LENGTH;
  const { messageKey, commitment } = deriveKeys(p.dataKey, p.messageId);
  const parts = [encodeHeader({ messageId: p.messageId, context: p.context, wrappedKeys: p.wrappedKeys, frameLength, commitment }, messageKey)];
  const sealer = new FrameSealer(messageKey, p.messageId, frameLength);
  try {
    // A regular frame only while more content follows: the final frame holds 1..frameLength bytes (0 for an empty message).
    let off = 0;
    while (plaintext.length - off > frameLength) {
      parts.push(...sealer.sealParts(plaintext.subarray(off, off + frameLength), false));
      off += frameLength;
    }
    parts.push(...sealer.sealParts(plaintext.subarray(off), true));
  } finally {
    sealer.dispose();
  }
  return Buffer.concat(parts);
}

/** Decrypts a whole message given its (already unwrapped) data key. */
export function openMessage(message: Buffer, header: Header, headerLength: number, dataKey: Buffer): Buffer {
  const opener = new FrameOpener(openHeader(header, dataKey), header.messageId, header.frameLength);
  const out: Buffer[] = [];
  try {
    let off = headerLength;
    while (!opener.done) {
      try {
        const f = opener.open(message.subarray(off));
        out.push(f.plaintext);
        off += f.length;
      } catch (e) {
        if (e instanceof NeedMore) throw new InvalidMessageError('truncated');
        throw e;
      }
    }
    if (off !== message.length) throw new InvalidMessageError('format');
    return Buffer.concat(out);
  } catch (e) {
    for (const b of out) b.fill(0);
    throw e;
  } finally {
    opener.dispose();
  }
}

/** parseHeader for a complete message: a short buffer is truncation, not "read more". */
export function parseCompleteHeader(message: Buffer): { header: Header; length: number } {
  try {
    return parseHeader(message);
  } catch (e) {
    if (e instanceof NeedMore) throw new InvalidMessageError('truncated');
    throw e;
  }
}
