/**
 * Grant conditions (issue 3/10 §4) and tag selectors: validation when a grant is made, and a
 * compiled predicate evaluated against the facts of each request (GrantContext).
 *
 * - contextEquals / contextIncludes: AWS KMS grant constraints EncryptionContextEquals /
 *   EncryptionContextSubset; an operation without a context meets neither.
 * - sourceCidrs: IPv4 and IPv6 ranges; an IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual
 *   stack socket reports for an IPv4 client) is the IPv4 address a.b.c.d (RFC 4291 §2.5.5.2).
 * - notBefore (inclusive) / notAfter (exclusive), epoch ms, checked against the injected clock.
 * Fail closed: a conditional grant never matches a request whose facts are unknown.
 */
import { contextProblem, type EncryptionContext } from '../crypto/encryption-context.js';
import { errors } from '../errors/catalog.js';
import type { GrantContext } from './authorize.js';
import type { GrantConditions } from './principal.model.js';

export const MAX_CONDITION_PAIRS = 16;
export const MAX_SOURCE_CIDRS = 16;
export const MAX_SELECTOR_PAIRS = 16;
/** Same limits as key tags (src/transport/http/schemas.ts). */
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;

/**
 * Passed instead of an encryption context by an entry check whose context conditions are checked
 * later, item by item (batch encrypt authorizes each item with its own context). It MUST NOT be
 * used for any operation that is not re-authorized with its real context.
 */
export const CONTEXT_CHECKED_PER_ITEM = 'checked-per-item' as const;
export type ContextForGrants = EncryptionContext | typeof CONTEXT_CHECKED_PER_ITEM;

// ---- addresses ------------------------------------------------------------------------------------

interface Address {
  v4: boolean;
  n: bigint;
}

const V4_PART = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V4_RE = new RegExp(`^${V4_PART}\\.${V4_PART}\\.${V4_PART}\\.${V4_PART}$`);
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const MAPPED_PREFIX = 0xffffn << 32n;

function parseV4(s: string): bigint | undefined {
  const m = V4_RE.exec(s);
  return m ? m.slice(1).reduce((n, part) => (n << 8n) | BigInt(part), 0n) : undefined;
}

function parseV6(s: string): bigint | undefined {
  let groups: string[];
  let tail: bigint | undefined;
  if (s.includes('.')) {
    // Trailing dotted quad (RFC 4291 §2.2 form 3): the last two groups.
    const lastColon = s.lastIndexOf(':');
    tail = parseV4(s.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const split = (h: string) => (h === '' ? [] : h.split(':'));
  if (halves.length === 2) {
    const head = split(halves[0] as string);
    const rest = split(halves[1] as string);
    if (head.length + rest.length > 7) return undefined;
    groups = [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  } else {
    groups = split(s);
    if (groups.length !== 8) return undefined;
  }
  if (!groups.every((g) => HEX_GROUP.test(g))) return undefined;
  const n = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  return tail === undefined ? n : (n & ~0xffffffffn) | tail;
}

/** Parses an IPv4 or IPv6 address (a zone such as %eth0 only when allowed); mapped IPv6 becomes IPv4. */
function parseAddress(s: string, allowZone: boolean): Address | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { v4: true, n: v4 };
  const zone = s.indexOf('%');
  if (zone >= 0) {
    if (!allowZone) return undefined;
    s = s.slice(0, zone);
  }
  const v6 = parseV6(s);
  if (v6 === undefined) return undefined;
  return v6 >> 32n === 0xffffn ? { v4: true, n: v6 & 0xffffffffn } : { v4: false, n: v6 };
}

interface Cidr {
  v4: boolean;
  net: bigint;
  prefix: number;
}

/** Parses `address[/prefix]` (no prefix: one host); undefined when malformed, 'host-bits' when bits are set past the prefix. */
function parseCidr(s: string): Cidr | 'host-bits' | undefined {
  const slash = s.indexOf('/');
  const addrPart = slash < 0 ? s : s.slice(0, slash);
  const addr = parseAddress(addrPart, false);
  if (addr === undefined) return undefined;
  const written6 = parseV4(addrPart) === undefined;
  let prefix = written6 ? 128 : 32;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > prefix) return undefined;
    prefix = Number(p);
  }
  let c: Cidr;
  if (addr.v4 && written6) {
    // ::ffff:a.b.c.d/p: an IPv4 range when p covers the mapped prefix, else an IPv6 one.
    c = prefix >= 96 ? { v4: true, net: addr.n, prefix: prefix - 96 } : { v4: false, net: MAPPED_PREFIX | addr.n, prefix };
  } else {
    c = { v4: addr.v4, net: addr.n, prefix };
  }
  const bits = c.v4 ? 32 : 128;
  const hostMask = (1n << BigInt(bits - c.prefix)) - 1n;
  return (c.net & hostMask) === 0n ? c : 'host-bits';
}

function inCidr(a: Address, c: Cidr): boolean {
  let n = a.n;
  let bits = a.v4 ? 32 : 128;
  if (a.v4 && !c.v4) {
    // An IPv4 client matches an IPv6 range through its mapped form (e.g. ::/0 admits everyone).
    n = MAPPED_PREFIX | n;
    bits = 128;
  } else if (a.v4 !== c.v4) {
    return false;
  }
  const shift = BigInt(bits - c.prefix);
  return n >> shift === c.net >> shift;
}

/** True when the address `ip` lies in `cidr` (both as accepted in grants and requests). */
export function addressInCidr(ip: string, cidr: string): boolean {
  const a = parseAddress(ip, true);
  const c = parseCidr(cidr);
  return a !== undefined && typeof c === 'object' && inCidr(a, c);
}

/** Why `cidr` is not a CIDR as accepted in grants and policies, or undefined when it is one. */
export function cidrProblem(cidr: string): string | undefined {
  const c = parseCidr(cidr);
  if (c === undefined) return `"${cidr}" is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)`;
  if (c === 'host-bits') return `"${cidr}" has host bits set`;
  return undefined;
}

// ---- validation -----------------------------------------------------------------------------------

function checkPairs(field: string, pairs: unknown, max: number, limits?: { key: number; value: number }): Record<string, string> {
  if (typeof pairs !== 'object' || pairs === null || Array.isArray(pairs)) throw errors.validation(`${field} must be an object of string pairs`);
  const entries = Object.entries(pairs);
  if (entries.length === 0) throw errors.validation(`${field} must hold at least one pair`);
  if (entries.length > max) throw errors.validation(`${field} holds more than ${max} pairs`);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw errors.validation(`${field} values must be strings`);
    if (limits && (k.length < 1 || k.length > limits.key || v.length > limits.value)) {
      throw errors.validation(`${field} keys must be 1–${limits.key} characters and values at most ${limits.value}`);
    }
  }
  const out = Object.fromEntries(entries) as Record<string, string>;
  const problem = contextProblem(out);
  if (problem !== undefined) throw errors.validation(`${field}: ${problem}`);
  return out;
}

/** Validates a tag selector: 1–16 pairs with the limits of key tags. */
export function checkSelector(selector: unknown): Record<string, string> {
  return checkPairs('tagSelector', selector, MAX_SELECTOR_PAIRS, { key: MAX_TAG_KEY_LENGTH, value: MAX_TAG_VALUE_LENGTH });
}

function checkTime(field: string, t: unknown): number {
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) throw errors.validation(`conditions.${field} must be a time (epoch ms)`);
  return t;
}

/**
 * Validates conditions for a new grant and returns them normalized (only the fields present).
 * `now` bounds notAfter: a grant that has already expired is refused.
 */
export function checkConditions(c: GrantConditions | undefined, now: number): GrantConditions {
  if (c === undefined) return {};
  const out: GrantConditions = {};
  if (c.contextEquals !== undefined && c.contextIncludes !== undefined) {
    throw errors.validation('conditions take either contextEquals or contextIncludes, not both');
  }
  if (c.contextEquals !== undefined) out.contextEquals = checkPairs('conditions.contextEquals', c.contextEquals, MAX_CONDITION_PAIRS);
  if (c.contextIncludes !== undefined) out.contextIncludes = checkPairs('conditions.contextIncludes', c.contextIncludes, MAX_CONDITION_PAIRS);
  if (c.sourceCidrs !== undefined) {
    if (!Array.isArray(c.sourceCidrs) || c.sourceCidrs.length === 0 || c.sourceCidrs.length > MAX_SOURCE_CIDRS) {
      throw errors.validation(`conditions.sourceCidrs must list 1 to ${MAX_SOURCE_CIDRS} ranges`);
    }
    for (const s of c.sourceCidrs) {
      const parsed = typeof s === 'string' && s.length <= 64 ? parseCidr(s) : undefined;
      if (parsed === 'host-bits') throw errors.validation(`conditions.sourceCidrs: ${s} has address bits set beyond its prefix length`);
      if (parsed === undefined) {
        throw errors.validation(`conditions.sourceCidrs: "${String(s).slice(0, 64)}" is not an IPv4 or IPv6 address or CIDR range`);
      }
    }
    out.sourceCidrs = [...new Set(c.sourceCidrs)];
  }
  if (c.notBefore !== undefined) out.notBefore = checkTime('notBefore', c.notBefore);
  if (c.notAfter !== undefined) {
    out.notAfter = checkTime('notAfter', c.notAfter);
    if (out.notAfter <= now) throw errors.validation('conditions.notAfter is not in the future');
  }
  if (out.notBefore !== undefined && out.notAfter !== undefined && out.notBefore >= out.notAfter) {
    throw errors.validation('conditions.notBefore must be earlier than conditions.notAfter');
  }
  return out;
}

export function hasConditions(c: GrantConditions): boolean {
  return Object.keys(c).length > 0;
}

// ---- evaluation -----------------------------------------------------------------------------------

/** True when `map` contains every pair of `pairs` (a selector in a key's tags, pairs in a context). */
export function containsPairs(map: Readonly<Record<string, string>>, pairs: Readonly<Record<string, string>>): boolean {
  for (const k in pairs) {
    if (!Object.hasOwn(map, k) || map[k] !== pairs[k]) return false;
  }
  return true;
}

/**
 * Compiles conditions (already validated) into a predicate over request facts. No conditions:
 * always true. Otherwise false without facts (fail closed) or when any condition does not hold.
 */
export function compileConditions(c: GrantConditions): (ctx: GrantContext | undefined) => boolean {
  if (!hasConditions(c)) return () => true;
  const cidrs = (c.sourceCidrs ?? []).map(parseCidr).filter((x): x is Cidr => typeof x === 'object');
  const equalsCount = c.contextEquals === undefined ? 0 : Object.keys(c.contextEquals).length;
  return (ctx) => {
    if (ctx === undefined) return false;
    if (c.notBefore !== undefined && ctx.now < c.notBefore) return false;
    if (c.notAfter !== undefined && ctx.now >= c.notAfter) return false;
    if (c.sourceCidrs !== undefined) {
      const a = ctx.sourceIp === undefined ? undefined : parseAddress(ctx.sourceIp, true);
      if (a === undefined || !cidrs.some((cidr) => inCidr(a, cidr))) return false;
    }
    const ec = ctx.encryptionContext;
    if ((c.contextEquals !== undefined || c.contextIncludes !== undefined) && ec !== CONTEXT_CHECKED_PER_ITEM) {
      if (ec === undefined) return false;
      if (c.contextEquals !== undefined && (Object.keys(ec).length !== equalsCount || !containsPairs(ec, c.contextEquals))) return false;
      if (c.contextIncludes !== undefined && !containsPairs(ec, c.contextIncludes)) return false;
    }
    return true;
  };
}
