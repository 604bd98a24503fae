/**
 * The envelope message format, version 1 (docs/sdk.md has the byte-by-byte layout). Pure functions
 * and small stateful frame sealers/openers: no I/O here, so the known-answer vectors
 * (test/vectors/sdk-envelope-v1.json) exercise exactly the code the SDK runs.
 *
 * Integers are big-endian. Keys: PRK = HKDF-Extract(salt = "KWENC v1" || suite, data key), once
 * per data key (the data-key cache keeps it); then per message one HKDF-Expand of 64 bytes with
 * info = the authenticated header (version through context, so it includes the random message
 * id) gives the message key and the key commitment. So a data key reused from the cache never
 * repeats a (key, nonce) pair (frame nonces are a counter under a key no other message has), and
 * the commitment, checked in constant time before anything is decrypted, is at once the key
 * commitment and the header's MAC: no separate GCM pass over the header. The wrapped keys are not
 * in the info on purpose: a wrapped key that unwraps to another data key fails the commitment,
 * and leaving them out lets rewrap replace them without touching the commitment or the frames.
 */
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES, constantTimeEqual, gcmOpen, gcmSealInto, hkdfExpand64, hkdfExtract } from '../crypto/primitives/envelope-crypto.js';
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
/** version (1) | suite (2) | message id (32) | frame length (4) | context pair count (2). */
const FIXED_HEADER_BYTES = 1 + 2 + MESSAGE_ID_BYTES + 4 + 2;

const EXTRACT_SALT = Buffer.from([...Buffer.from('KWENC v1', 'ascii'), SUITE_AES256GCM_HKDF_SHA512_COMMIT >> 8, SUITE_AES256GCM_HKDF_SHA512_COMMIT & 0xff]);

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
  /** The header bytes the commitment covers (version through the context): the HKDF info. */
  authenticated: Buffer;
}

/** Context pairs in canonical order: by the UTF-8 bytes of the key. */
export function canonicalPairs(context: EncryptionContext): Array<[Buffer, Buffer]> {
  return Object.entries(context)
    .map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as [Buffer, Buffer])
    .sort((a, b) => Buffer.compare(a[0], b[0]));
}

/** The data key's HKDF-Extract (64 bytes): computed once per data key, zeroized with it. */
export function extractKey(dataKey: Buffer): Buffer {
  if (dataKey.length !== KEY_BYTES) throw new RangeError('a data key is 32 bytes');
  return hkdfExtract(EXTRACT_SALT, dataKey);
}

/** Message key (32 bytes, the caller zeroizes it) and key commitment (32 bytes) of one message's header. */
export function deriveKeys(prk: Buffer, authenticated: Buffer): { messageKey: Buffer; commitment: Buffer } {
  const okm = hkdfExpand64(prk, authenticated);
  return { messageKey: okm.subarray(0, KEY_BYTES), commitment: okm.subarray(KEY_BYTES) };
}

/** Appends to a buffer sized in advance. */
class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u8(n: number): void {
    this.buf[this.pos++] = n;
  }
  u16(n: number): void {
    this.pos = this.buf.writeUInt16BE(n, this.pos);
  }
  u32(n: number): void {
    this.pos = this.buf.writeUInt32BE(n, this.pos);
  }
  bytes(b: Buffer): void {
    this.pos += b.copy(this.buf, this.pos);
  }
  /** Length-prefixed field (layout checked that it fits). */
  lv16(b: Buffer): void {
    this.u16(b.length);
    this.bytes(b);
  }
}

interface HeaderFields {
  messageId: Buffer;
  context: EncryptionContext;
  wrappedKeys: WrappedKey[];
  frameLength: number;
}

function lv16Length(b: Buffer): number {
  if (b.length > 0xffff) throw new RangeError('a header field is longer than 65535 bytes');
  return b.length;
}

/** A header laid out: its fields encoded and the lengths of its parts, before anything is written. */
function layout(f: HeaderFields) {
  if (f.wrappedKeys.length < 1 || f.wrappedKeys.length > MAX_WRAPPED_KEYS) throw new RangeError(`1 to ${MAX_WRAPPED_KEYS} wrapping keys`);
  if (f.frameLength < 1 || f.frameLength > MAX_FRAME_LENGTH) throw new RangeError(`the frame length is 1 to ${MAX_FRAME_LENGTH} bytes`);
  if (f.messageId.length !== MESSAGE_ID_BYTES) throw new RangeError(`a message id is ${MESSAGE_ID_BYTES} bytes`);
  const pairs = canonicalPairs(f.context);
  if (pairs.length > 0xffff) throw new RangeError('at most 65535 context pairs');
  // Every field is checked here, so that writing (after the message key is derived) cannot throw.
  let authenticatedLength = FIXED_HEADER_BYTES;
  for (const [k, v] of pairs) authenticatedLength += 4 + lv16Length(k) + lv16Length(v);
  const keyIds = f.wrappedKeys.map((w) => Buffer.from(w.keyId, 'utf8'));
  let wrappedLength = 1;
  for (let i = 0; i < keyIds.length; i++) wrappedLength += 4 + lv16Length(keyIds[i] as Buffer) + lv16Length((f.wrappedKeys[i] as WrappedKey).ciphertext);
  return { pairs, keyIds, authenticatedLength, length: authenticatedLength + wrappedLength + COMMITMENT_BYTES };
}

/** Writes the authenticated header (version through context). */
function writeAuthenticated(w: Writer, f: HeaderFields, l: ReturnType<typeof layout>): void {
  w.u8(FORMAT_VERSION);
  w.u16(SUITE_AES256GCM_HKDF_SHA512_COMMIT);
  w.bytes(f.messageId);
  w.u32(f.frameLength);
  w.u16(l.pairs.length);
  for (const [k, v] of l.pairs) w.lv16(k), w.lv16(v);
}

function writeWrappedKeys(w: Writer, wrappedKeys: WrappedKey[], keyIds: Buffer[]): void {
  w.u8(wrappedKeys.length);
  for (let i = 0; i < wrappedKeys.length; i++) w.lv16(keyIds[i] as Buffer), w.lv16((wrappedKeys[i] as WrappedKey).ciphertext);
}

/** The complete header, and the message key for its frames (the caller zeroizes it). */
export function encodeHeader(f: HeaderFields, prk: Buffer): { header: Buffer; messageKey: Buffer } {
  const l = layout(f);
  const w = new Writer(Buffer.alloc(l.length));
  writeAuthenticated(w, f, l);
  const { messageKey, commitment } = deriveKeys(prk, w.buf.subarray(0, w.pos));
  writeWrappedKeys(w, f.wrappedKeys, l.keyIds);
  w.bytes(commitment);
  return { header: w.buf, messageKey };
}

/**
 * The header bytes that are the same for every message of one data key, context and frame length:
 * the authenticated part with a zero message id, and the wrapped-key section. Public bytes only;
 * the SDK builds one per data-key cache entry, so a cached message does not encode its header again.
 */
export interface HeaderTemplate {
  readonly authenticated: Buffer;
  readonly wrapped: Buffer;
  readonly frameLength: number;
}

export function headerTemplate(f: Omit<HeaderFields, 'messageId'>): HeaderTemplate {
  const h = { ...f, messageId: Buffer.alloc(MESSAGE_ID_BYTES) };
  const l = layout(h);
  const w = new Writer(Buffer.alloc(l.length - COMMITMENT_BYTES));
  writeAuthenticated(w, h, l);
  const authenticatedLength = w.pos;
  writeWrappedKeys(w, h.wrappedKeys, l.keyIds);
  return { authenticated: w.buf.subarray(0, authenticatedLength), wrapped: w.buf.subarray(authenticatedLength), frameLength: f.frameLength };
}
/** Offset of the message id in the header (after version and suite). */
const MESSAGE_ID_OFFSET = 3;

/** A verified header with other wrapped keys: the authenticated part and the commitment stay as they are. */
export function rewrapHeader(header: Header, wrappedKeys: WrappedKey[]): Buffer {
  const l = layout({ ...header, wrappedKeys });
  const w = new Writer(Buffer.alloc(header.authenticated.length + (l.length - l.authenticatedLength)));
  w.bytes(header.authenticated);
  writeWrappedKeys(w, wrappedKeys, l.keyIds);
  w.bytes(header.commitment);
  return w.buf;
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
  const messageId = Buffer.from(r.take(MESSAGE_ID_BYTES));
  const frameLength = r.u32();
  fatal(frameLength >= 1 && frameLength <= MAX_FRAME_LENGTH);
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
  const authenticated = Buffer.from(buf.subarray(0, r.pos));
  const count = r.u8();
  fatal(count >= 1 && count <= MAX_WRAPPED_KEYS);
  const wrappedKeys: WrappedKey[] = [];
  for (let i = 0; i < count; i++) {
    const keyId = r.lv16().toString('utf8');
    wrappedKeys.push({ keyId, ciphertext: Buffer.from(r.lv16()) });
  }
  const commitment = Buffer.from(r.take(COMMITMENT_BYTES));
  return { header: { messageId, context, wrappedKeys, frameLength, commitment, authenticated }, length: r.pos };
}

/**
 * Checks the key commitment, which also authenticates the header, before anything is decrypted.
 * Returns the message key (the caller zeroizes it); throws InvalidMessageError('commitment').
 */
export function openHeader(header: Header, prk: Buffer): Buffer {
  const { messageKey, commitment } = deriveKeys(prk, header.authenticated);
  if (!constantTimeEqual(commitment, header.commitment)) {
    messageKey.fill(0);
    throw new InvalidMessageError('commitment');
  }
  return messageKey;
}

/** Bytes of a message body with `length` bytes of plaintext in frames of `frameLength`. */
function bodyLength(length: number, frameLength: number): number {
  return Math.max(1, Math.ceil(length / frameLength)) * (FRAME_PREFIX_BYTES + TAG_BYTES) + length;
}

/**
 * Seals frames 1, 2, ... of one message; the last one is sealed with final = true. The message key
 * is unique to the message, so the nonce is the frame number and the AAD the frame's 9-byte prefix.
 */
export class FrameSealer {
  private seq = 0;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  constructor(
    private readonly messageKey: Buffer,
    readonly frameLength: number,
  ) {}

  /** One frame in a buffer of its own. */
  seal(content: Buffer, final: boolean): Buffer {
    const out = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + content.length + TAG_BYTES);
    this.sealInto(out, 0, content, final);
    return out;
  }

  /** Writes the frame into `out` at `off` (every byte of it); returns the offset after it. */
  sealInto(out: Buffer, off: number, content: Buffer, final: boolean): number {
    if (content.length > this.frameLength || (!final && content.length !== this.frameLength)) throw new RangeError('frame content length');
    if (this.seq >= MAX_FRAMES) throw new RangeError('too many frames for one message');
    this.seq++;
    out.writeUInt32BE(this.seq, off);
    out[off + 4] = final ? 1 : 0;
    out.writeUInt32BE(content.length, off + 5);
    this.nonce.writeUInt32BE(this.seq, NONCE_BYTES - 4);
    return gcmSealInto(this.messageKey, this.nonce, out.subarray(off, off + FRAME_PREFIX_BYTES), content, out, off + FRAME_PREFIX_BYTES);
  }

  dispose(): void {
    this.messageKey.fill(0);
  }
}

/** Opens frames in order; refuses a frame out of sequence, after the final frame, or modified. */
export class FrameOpener {
  private seq = 0;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  done = false;
  constructor(
    private readonly messageKey: Buffer,
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
    this.nonce.writeUInt32BE(seq, NONCE_BYTES - 4);
    const plaintext = gcmOpen(this.messageKey, this.nonce, ciphertext, tag, prefix);
    if (plaintext === undefined) throw new InvalidMessageError('frame');
    this.seq = seq;
    if (flag === 1) this.done = true;
    return { plaintext, length: r.pos, final: flag === 1 };
  }

  dispose(): void {
    this.messageKey.fill(0);
  }
}

/**
 * Encrypts a whole message under a data key's PRK (extractKey), into one buffer allocated once.
 * The deterministic core: the SDK supplies a random messageId.
 */
export function sealMessage(
  p: { prk: Buffer; messageId: Buffer; context: EncryptionContext; wrappedKeys: WrappedKey[]; frameLength?: number },
  plaintext: Buffer,
): Buffer {
  const t = headerTemplate({ context: p.context, wrappedKeys: p.wrappedKeys, frameLength: p.frameLength ?? DEFAULT_FRAME_LENGTH });
  return sealWithTemplate(t, p.prk, p.messageId, plaintext);
}

/** sealMessage with the header's constant bytes prepared in advance (headerTemplate). */
export function sealWithTemplate(t: HeaderTemplate, prk: Buffer, messageId: Buffer, plaintext: Buffer): Buffer {
  if (messageId.length !== MESSAGE_ID_BYTES) throw new RangeError(`a message id is ${MESSAGE_ID_BYTES} bytes`);
  const a = t.authenticated.length;
  const headerLength = a + t.wrapped.length + COMMITMENT_BYTES;
  const total = headerLength + bodyLength(plaintext.length, t.frameLength);
  const out = Buffer.allocUnsafe(total); // every byte is written below (checked at the end)
  t.authenticated.copy(out, 0);
  messageId.copy(out, MESSAGE_ID_OFFSET);
  const { messageKey, commitment } = deriveKeys(prk, out.subarray(0, a));
  t.wrapped.copy(out, a);
  commitment.copy(out, a + t.wrapped.length);
  const sealer = new FrameSealer(messageKey, t.frameLength);
  try {
    // A regular frame only while more content follows: the final frame holds 1..frameLength bytes (0 for an empty message).
    let off = 0;
    let pos = headerLength;
    while (plaintext.length - off > t.frameLength) {
      pos = sealer.sealInto(out, pos, plaintext.subarray(off, off + t.frameLength), false);
      off += t.frameLength;
    }
    pos = sealer.sealInto(out, pos, plaintext.subarray(off), true);
    if (pos !== total) throw new Error('sealMessage: message length mismatch');
  } finally {
    sealer.dispose();
  }
  return out;
}

/** Decrypts a whole message given its data key's PRK (extractKey of the unwrapped data key). */
export function openMessage(message: Buffer, header: Header, headerLength: number, prk: Buffer): Buffer {
  const opener = new FrameOpener(openHeader(header, prk), header.frameLength);
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
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
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
