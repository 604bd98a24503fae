/**
 * Canonical encoding of an encryption context (a string -> string map) for use as AAD.
 *
 * Layout (all integers unsigned 32-bit big-endian):
 *   count || for each pair sorted by the UTF-8 bytes of its key:
 *            len(key) || key (UTF-8) || len(value) || value (UTF-8)
 * Length prefixes make the encoding injective: {"a":"bc"} and {"ab":"c"} never collide.
 * An absent context and an empty context encode the same (count = 0), as in AWS KMS.
 */
export type EncryptionContext = Record<string, string>;

export const MAX_CONTEXT_PAIRS = 64;
export const MAX_CONTEXT_BYTES = 8192;

export function canonicalContext(context: EncryptionContext | undefined): Buffer {
  const entries = context
    ? Object.entries(context).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const)
    : [];
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  let size = 4;
  for (const [k, v] of entries) size += 8 + k.length + v.length;
  const out = Buffer.allocUnsafe(size);
  let o = out.writeUInt32BE(entries.length, 0);
  for (const [k, v] of entries) {
    o = out.writeUInt32BE(k.length, o);
    o += k.copy(out, o);
    o = out.writeUInt32BE(v.length, o);
    o += v.copy(out, o);
  }
  return out;
}

/**
 * A lone UTF-16 surrogate encodes to U+FFFD in UTF-8, so {"k":"\uD800"}, {"k":"\uDC00"} and
 * {"k":"\uFFFD"} would share one canonical encoding (and duplicate key bytes would make it depend on
 * insertion order). Such strings are rejected, which keeps the encoding injective.
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Returns a problem description, or undefined when the context is acceptable. */
export function contextProblem(context: EncryptionContext | undefined): string | undefined {
  if (context === undefined) return undefined;
  const keys = Object.keys(context);
  if (keys.length > MAX_CONTEXT_PAIRS) return `context has more than ${MAX_CONTEXT_PAIRS} pairs`;
  let bytes = 0;
  for (const k of keys) {
    if (k.length === 0) return 'context keys must not be empty';
    const v = context[k] as string;
    if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) return 'context keys and values must be well-formed Unicode';
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (bytes > MAX_CONTEXT_BYTES) return `context is larger than ${MAX_CONTEXT_BYTES} bytes`;
  return undefined;
}
