/**
 * Envelope encryption: data is encrypted here, under data keys that Keywarden issues and wraps
 * (POST /v1/keys/{key}/data-key; more wrapping keys via POST /v1/keys/{key}/encrypt) and
 * unwraps (POST /v1/decrypt). The master keys never leave the server. Format: format.ts and docs/sdk.md.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { CachedMaterials, DataKeyCache } from './cache.js';
import { KEY_BYTES, TAG_BYTES, fillRandomPublic } from '../crypto/primitives/envelope-crypto.js';
import { InvalidMessageError, KeywardenError } from './errors.js';
import {
  DEFAULT_FRAME_LENGTH,
  FRAME_PREFIX_BYTES,
  FrameOpener,
  FrameSealer,
  MAX_HEADER_BYTES,
  MAX_WRAPPED_KEYS,
  MESSAGE_ID_BYTES,
  NeedMore,
  encodeHeader,
  extractKey,
  headerTemplate,
  openHeader,
  openMessage,
  parseCompleteHeader,
  parseHeader,
  rewrapHeader,
  sealWithTemplate,
  type Header,
  type HeaderTemplate,
  type WrappedKey,
} from './format.js';
import type { Clock } from './http.js';
import type { EncryptionContext } from './types.js';

/** What the envelope needs from the client (the Keywarden class implements it). */
export interface KeyOperations {
  generateDataKey(key: string, o: { context?: EncryptionContext }): Promise<{ plaintext?: Buffer; ciphertext: Buffer; keyId: string }>;
  encrypt(key: string, plaintext: Uint8Array, context?: EncryptionContext): Promise<{ ciphertext: Buffer; keyId: string }>;
  decrypt(ciphertext: Uint8Array, context?: EncryptionContext): Promise<{ plaintext: Buffer; keyId: string }>;
  keyPolicy(key: string): Promise<{ limits: { dataKeyMaxLifetimeSeconds?: { value: number } } }>;
  reWrap(key: string, ciphertext: Uint8Array, context?: EncryptionContext): Promise<{ ciphertext: Buffer; keyId: string }>;
}

export interface EnvelopeEncryptOptions {
  /** Key id or alias; several keys wrap the same data key (decrypt needs any one of them). */
  key: string | readonly string[];
  /** Authenticated, stored in the header in the clear, and returned by decrypt. */
  context?: EncryptionContext;
  /** Plaintext bytes per frame (default 65536). */
  frameLength?: number;
}

export interface EnvelopeDecryptOptions {
  /** Pairs the message's context must contain (a mismatch fails like any invalid message). */
  context?: EncryptionContext;
}

export interface DecryptedMessage {
  plaintext: Buffer;
  context: EncryptionContext;
  /** The key that unwrapped the data key. */
  keyId: string;
}

/** Emitted by decryptStream (event 'header') once the header is verified, before any plaintext. */
export interface StreamHeader {
  context: EncryptionContext;
  keyId: string;
}

/** How long a key's data-key lifetime hint (GET /v1/keys/{key}/policy) is reused. */
const HINT_TTL_MS = 5 * 60_000;

const toBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
/**
 * The context in a cache scope: its pairs sorted by key (any fixed order will do here; JSON keeps
 * distinct contexts distinct), so that the order in which a caller lists them does not matter.
 */
const contextScope = (c: EncryptionContext) => Object.entries(c).sort((a, b) => (a[0] < b[0] ? -1 : 1));
const newMessageId = (): Buffer => {
  const id = Buffer.allocUnsafe(MESSAGE_ID_BYTES);
  fillRandomPublic(id);
  return id;
};
/** The PRK of cached materials, or derived now (the caller zeroizes it with the data key). */
const prkOf = (m: CachedMaterials): Buffer => m.prk ?? extractKey(m.dataKey);

export class Envelope {
  private readonly hints = new Map<string, { ms: number | undefined; until: number }>();
  /**
   * Header templates of encrypt materials, by their wrapped-keys array (one per data key, kept by
   * the cache entry): a cache hit with the same scope and frame length reuses the encoded header.
   */
  private readonly templates = new WeakMap<WrappedKey[], { scope: string; template: HeaderTemplate }>();

  constructor(
    private readonly kw: KeyOperations,
    /** The data-key cache (undefined: every message gets a fresh data key). */
    readonly cache: DataKeyCache | undefined,
    private readonly clock: Clock,
  ) {}

  /** Encrypts `data` into one message (use encryptStream for large data). */
  async encrypt(data: Uint8Array, o: EnvelopeEncryptOptions): Promise<Buffer> {
    const plaintext = toBuffer(data);
    const frameLength = o.frameLength ?? DEFAULT_FRAME_LENGTH;
    const pending = this.encryptionMaterials(o, plaintext.length, true);
    const { m, scope, context } = pending instanceof Promise ? await pending : pending; // a cache hit takes no extra turn
    const prk = prkOf(m);
    try {
      // The scope holds the keys and the context: same scope, same header bytes.
      let t = this.templates.get(m.wrappedKeys);
      if (t === undefined || t.scope !== scope || t.template.frameLength !== frameLength) {
        t = { scope, template: headerTemplate({ context: Object.fromEntries(context), wrappedKeys: m.wrappedKeys, frameLength }) };
        this.templates.set(m.wrappedKeys, t);
      }
      return sealWithTemplate(t.template, prk, newMessageId(), plaintext);
    } finally {
      prk.fill(0);
      m.dataKey.fill(0);
    }
  }

  /** Decrypts a whole message: plaintext, its authenticated context and the key that unwrapped it. */
  async decrypt(message: Uint8Array, o: EnvelopeDecryptOptions = {}): Promise<DecryptedMessage> {
    const msg = toBuffer(message);
    const { header, length } = parseCompleteHeader(msg);
    checkContext(header.context, o.context);
    const m = await this.decryptionMaterials(header, msg.length - length);
    const prk = prkOf(m);
    try {
      return { plaintext: openMessage(msg, header, length, prk), context: header.context, keyId: m.keyId };
    } finally {
      prk.fill(0);
      m.dataKey.fill(0);
    }
  }

  /**
   * Re-wraps the data key of a stored message without touching its body: by default each wrapped
   * key goes under its key's current primary version (POST /v1/keys/{key}/re-wrap, after a
   * rotation); with `key`, the data key is wrapped under these keys instead. The header is
   * verified first; only its wrapped keys change (the commitment does not cover them: a wrapped key
   * that unwraps to another data key fails it), so the commitment and the frames stay byte for byte.
   */
  async rewrap(message: Uint8Array, o: { key?: string | readonly string[] } = {}): Promise<Buffer> {
    const msg = toBuffer(message);
    const { header, length } = parseCompleteHeader(msg);
    const m = await this.decryptionMaterials(header, 0);
    const prk = prkOf(m);
    try {
      openHeader(header, prk).fill(0);
      const keys = o.key === undefined ? undefined : typeof o.key === 'string' ? [o.key] : [...o.key];
      if (keys !== undefined && (keys.length < 1 || keys.length > MAX_WRAPPED_KEYS)) throw new KeywardenError('ValidationError', `give 1 to ${MAX_WRAPPED_KEYS} wrapping keys`);
      const wrappedKeys: WrappedKey[] = [];
      if (keys === undefined) {
        for (const w of header.wrappedKeys) wrappedKeys.push(await this.kw.reWrap(w.keyId, w.ciphertext, header.context));
      } else {
        for (const k of keys) wrappedKeys.push(await this.kw.encrypt(k, m.dataKey, header.context));
      }
      const fresh = wrappedKeys.map((w) => ({ keyId: w.keyId, ciphertext: w.ciphertext }));
      return Buffer.concat([rewrapHeader(header, fresh), msg.subarray(length)]);
    } finally {
      prk.fill(0);
      m.dataKey.fill(0);
    }
  }

  /**
   * A Node Transform: plaintext in, message out, in constant memory (one frame buffered). Each
   * stream gets a fresh data key (its size is unknown up front, so the cache's byte limit cannot apply).
   */
  encryptStream(o: EnvelopeEncryptOptions): Transform {
    const frameLength = o.frameLength ?? DEFAULT_FRAME_LENGTH;
    const queue = new ByteQueue();
    let sealer: FrameSealer | undefined;
    const start = async (t: Transform): Promise<FrameSealer> => {
      const { m, context } = await this.encryptionMaterials(o, 0, false);
      const prk = prkOf(m);
      try {
        const { header, messageKey } = encodeHeader({ messageId: newMessageId(), context: Object.fromEntries(context), wrappedKeys: m.wrappedKeys, frameLength }, prk);
        t.push(header);
        return new FrameSealer(messageKey, frameLength);
      } finally {
        prk.fill(0);
        m.dataKey.fill(0);
      }
    };
    return new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        (async () => {
          sealer ??= await start(this);
          queue.push(chunk);
          // Only a frame that is known not to be the last one is sealed as a regular frame.
          while (queue.length > frameLength) this.push(sealer.seal(queue.shift(frameLength), false));
        })().then(() => cb(), cb);
      },
      flush(cb: TransformCallback) {
        (async () => {
          sealer ??= await start(this);
          this.push(sealer.seal(queue.shift(queue.length), true));
          sealer.dispose();
        })().then(() => cb(), cb);
      },
    });
  }

  /**
   * A Node Transform: message in, plaintext out, frame by frame (memory bounded by the frame
   * length). Plaintext is released as each frame verifies; a truncated, reordered or modified
   * stream ends in an error, so consumers MUST discard the output of a stream that errors.
   */
  decryptStream(o: EnvelopeDecryptOptions = {}): Transform {
    const queue = new ByteQueue();
    let opener: FrameOpener | undefined;
    let frameLength = 0;
    const step = async (t: Transform): Promise<void> => {
      if (opener === undefined) {
        let parsed: { header: Header; length: number };
        try {
          parsed = parseHeader(queue.peek(queue.length));
        } catch (e) {
          if (e instanceof NeedMore && queue.length <= MAX_HEADER_BYTES) return;
          throw e instanceof NeedMore ? new InvalidMessageError('format') : e;
        }
        const { header, length } = parsed;
        checkContext(header.context, o.context);
        queue.shift(length);
        const m = await this.decryptionMaterials(header, 0);
        const prk = prkOf(m);
        try {
          opener = new FrameOpener(openHeader(header, prk), header.frameLength);
        } finally {
          prk.fill(0);
          m.dataKey.fill(0);
        }
        frameLength = header.frameLength;
        t.emit('header', { context: header.context, keyId: m.keyId } satisfies StreamHeader);
      }
      while (queue.length >= FRAME_PREFIX_BYTES) {
        if (opener.done) throw new InvalidMessageError('format'); // bytes after the final frame
        const len = queue.peek(FRAME_PREFIX_BYTES).readUInt32BE(5);
        if (len > frameLength) throw new InvalidMessageError('format');
        const size = FRAME_PREFIX_BYTES + len + TAG_BYTES;
        if (queue.length < size) return;
        const f = opener.open(queue.shift(size));
        if (f.plaintext.length > 0) t.push(f.plaintext);
      }
    };
    return new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        queue.push(chunk);
        step(this).then(() => cb(), cb);
      },
      flush(cb: TransformCallback) {
        step(this)
          .then(() => {
            if (opener === undefined || !opener.done) throw new InvalidMessageError('truncated');
            if (queue.length > 0) throw new InvalidMessageError('format');
            opener.dispose();
          })
          .then(() => cb(), cb);
      },
    });
  }

  /** A data key and its wrapped forms: from the cache (synchronously), or fresh from the server. */
  private encryptionMaterials(o: EnvelopeEncryptOptions, bytes: number, useCache: boolean): Scoped | Promise<Scoped> {
    const keys = typeof o.key === 'string' ? [o.key] : [...o.key];
    if (keys.length < 1 || keys.length > MAX_WRAPPED_KEYS) return Promise.reject(new KeywardenError('ValidationError', `give 1 to ${MAX_WRAPPED_KEYS} wrapping keys`));
    // One snapshot of the context for the scope, the server calls and the header.
    const context = contextScope(o.context ?? {});
    const cache = useCache ? this.cache : undefined;
    const scope = JSON.stringify(['encrypt', keys, context]);
    const hit = cache?.take(scope, bytes);
    return hit ? { m: hit, scope, context } : this.freshEncryptionMaterials(keys, Object.fromEntries(context), scope, bytes, cache).then((m) => ({ m, scope, context }));
  }

  private async freshEncryptionMaterials(keys: string[], context: EncryptionContext, scope: string, bytes: number, cache: DataKeyCache | undefined): Promise<CachedMaterials> {
    const withContext = Object.keys(context).length > 0 ? { context } : {};
    const maxAgeMs = cache ? await this.maxAgeHint(keys[0] as string) : undefined;
    const dk = await this.kw.generateDataKey(keys[0] as string, withContext);
    const dataKey = dk.plaintext;
    if (dataKey === undefined || dataKey.length !== KEY_BYTES) throw new KeywardenError('Internal', 'the server returned no 32-byte data key');
    try {
      const wrappedKeys: WrappedKey[] = [{ keyId: dk.keyId, ciphertext: dk.ciphertext }];
      for (const k of keys.slice(1)) {
        const r = await this.kw.encrypt(k, dataKey, context);
        wrappedKeys.push({ keyId: r.keyId, ciphertext: r.ciphertext });
      }
      const m = { dataKey, prk: extractKey(dataKey), wrappedKeys, keyId: dk.keyId };
      cache?.put(scope, { ...m, dataKey: Buffer.from(dataKey), prk: Buffer.from(m.prk) }, bytes, maxAgeMs);
      return m;
    } catch (e) {
      dataKey.fill(0);
      throw e;
    }
  }

  /** Unwraps the data key with the first wrapping key the server accepts (cached per wrapped key and context). */
  private async decryptionMaterials(header: Header, bytes: number): Promise<CachedMaterials> {
    let refused: KeywardenError | undefined;
    for (const w of header.wrappedKeys) {
      const scope = JSON.stringify(['decrypt', w.ciphertext.toString('base64'), contextScope(header.context)]);
      const hit = this.cache?.take(scope, bytes);
      if (hit) return hit;
      let r: { plaintext: Buffer; keyId: string };
      try {
        r = await this.kw.decrypt(w.ciphertext, header.context);
      } catch (e) {
        // Another wrapping key may work: any refusal (4xx) moves on; network errors, 5xx and 429 do not.
        if (e instanceof KeywardenError && e.status !== undefined && e.status < 500 && !e.retryable) {
          refused = e.code === 'InvalidCiphertext' ? (refused ?? e) : e;
          continue;
        }
        throw e;
      }
      if (r.plaintext.length !== KEY_BYTES) {
        r.plaintext.fill(0);
        throw new InvalidMessageError('unwrap');
      }
      const prk = extractKey(r.plaintext);
      this.cache?.put(scope, { dataKey: Buffer.from(r.plaintext), prk: Buffer.from(prk), wrappedKeys: header.wrappedKeys, keyId: r.keyId }, bytes);
      return { dataKey: r.plaintext, prk, wrappedKeys: header.wrappedKeys, keyId: r.keyId };
    }
    // Refusals the caller can act on (PermissionDenied, Disabled, ...) are reported as such.
    if (refused !== undefined && refused.code !== 'InvalidCiphertext') throw refused;
    throw new InvalidMessageError('unwrap');
  }

  /** The key's policy hint `limits.dataKeyMaxLifetimeSeconds`, in ms (undefined: none, or not visible to us). */
  private async maxAgeHint(key: string): Promise<number | undefined> {
    const now = this.clock.now();
    const known = this.hints.get(key);
    if (known !== undefined && now < known.until) return known.ms;
    let ms: number | undefined;
    try {
      const v = (await this.kw.keyPolicy(key)).limits.dataKeyMaxLifetimeSeconds?.value;
      ms = v === undefined ? undefined : v * 1000;
    } catch (e) {
      // Reading a key's policy needs key:describe; without it the cache keeps its own limits.
      if (!(e instanceof KeywardenError && e.code === 'PermissionDenied')) throw e;
    }
    this.hints.set(key, { ms, until: now + HINT_TTL_MS });
    return ms;
  }
}

/** Materials and the cache scope they belong to. */
interface Scoped {
  m: CachedMaterials;
  scope: string;
  /** The context's pairs as read for the scope. */
  context: Array<[string, string]>;
}

function checkContext(actual: EncryptionContext, expected: EncryptionContext | undefined): void {
  for (const [k, v] of Object.entries(expected ?? {})) {
    if (!Object.hasOwn(actual, k) || actual[k] !== v) throw new InvalidMessageError('context');
  }
}

/** A FIFO of byte chunks: push, then peek or shift contiguous prefixes. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }

  /** The first n bytes, contiguous (n ≤ length), without consuming them. */
  peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.chunks, this.length);
    this.chunks = joined.length > 0 ? [joined] : [];
    return joined.subarray(0, n);
  }

  shift(n: number): Buffer {
    const out = Buffer.from(this.peek(n));
    let left = n;
    while (left > 0) {
      const c = this.chunks[0] as Buffer;
      if (c.length <= left) {
        this.chunks.shift();
        left -= c.length;
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out;
  }
}

/** The header of a message, unverified (no server call): its context, wrapping keys and frame length. */
export function inspectMessage(message: Uint8Array): { context: EncryptionContext; wrappedKeys: WrappedKey[]; frameLength: number } {
  const { header } = parseCompleteHeader(toBuffer(message));
  return { context: header.context, wrappedKeys: header.wrappedKeys, frameLength: header.frameLength };
}
