/**
 * Canonical JSON for audit events: RFC 8785 (JCS) restricted to the values an event can hold.
 *
 * - objects: members sorted by their names compared as UTF-16 code units (JavaScript's default
 *   string order, as §3.2.3 requires), no whitespace;
 * - strings: serialized as ECMAScript JSON.stringify does (§3.2.2.2): `"` `\` and U+0000..U+001F
 *   escaped (\b \t \n \f \r or \u00xx, lowercase hex), everything else literal; lone surrogates
 *   are rejected (I-JSON, RFC 7493 §2.1), so the UTF-8 output is always well formed;
 * - numbers: safe integers only (|n| <= 2^53 - 1), written as decimal digits (-0 is written 0);
 *   floats, NaN and Infinity are rejected, so the JCS number algorithm reduces to integer printing;
 * - true, false, null, arrays; undefined, functions, Buffers and any non-plain object are rejected.
 * The result is UTF-8 encoded. Decoding re-encodes and compares bytes, so exactly one byte string
 * is accepted for each value.
 */

export type CanonicalValue = string | number | boolean | null | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

export class CanonicalError extends Error {}

const MAX_DEPTH = 16;
const LONE_SURROGATE = /\p{Surrogate}/u;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function write(v: unknown, depth: number): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      if (LONE_SURROGATE.test(v)) throw new CanonicalError('strings must be well-formed Unicode (no lone surrogates)');
      return JSON.stringify(v);
    case 'number':
      if (!Number.isSafeInteger(v)) throw new CanonicalError(`only safe integers are allowed, not ${v}`);
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (depth >= MAX_DEPTH) throw new CanonicalError('value is nested too deeply');
      if (Array.isArray(v)) return `[${v.map((x) => write(x, depth + 1)).join(',')}]`;
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalError('only plain objects are allowed');
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      return `{${keys.map((k) => `${write(k, depth)}:${write(o[k], depth + 1)}`).join(',')}}`;
    }
    default:
      throw new CanonicalError(`${typeof v} is not allowed in canonical JSON`);
  }
}

/** The canonical JSON text of `v`; throws CanonicalError for values outside the allowed set. */
export function canonicalJson(v: CanonicalValue): string {
  return write(v, 0);
}

/** The canonical UTF-8 bytes of `v`. */
export function canonicalBytes(v: CanonicalValue): Buffer {
  return Buffer.from(write(v, 0), 'utf8');
}

/**
 * Parses canonical bytes. Throws CanonicalError unless `bytes` are valid UTF-8 JSON whose value is
 * in the allowed set AND whose canonical re-encoding is byte-for-byte `bytes` (so whitespace,
 * other key orders, duplicate keys, escapes like \u0041, 1.0 or 1e2 are all rejected).
 */
export function parseCanonical(bytes: Buffer): CanonicalValue {
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(bytes));
  } catch {
    throw new CanonicalError('not UTF-8 JSON');
  }
  if (!canonicalBytes(value as CanonicalValue).equals(bytes)) throw new CanonicalError('not in canonical form');
  return value as CanonicalValue;
}
