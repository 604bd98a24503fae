/**
 * Network zones: operators map CIDRs to a zone name and a country (config `anomaly.zones`); an
 * address takes the zone of the most specific range that holds it (longest prefix), 'unknown'
 * when none does. No outside service (GeoIP or other) is asked. IPv4 and IPv6; an IPv4-mapped
 * IPv6 address is its IPv4 address (the same rules as grant sourceCidrs: src/auth/grant-conditions.ts).
 */
import { addressInCidr } from '../auth/grant-conditions.js';

export interface Zone {
  zone: string;
  /** ISO 3166 alpha-2, or null when the range names none. */
  country: string | null;
}

const MAX_CACHED = 10_000;

export const UNKNOWN_ZONE: Zone = Object.freeze({ zone: 'unknown', country: null });

/** Prefix length in IPv6 terms (an IPv4 /p is ::ffff:0:0/96+p), so ranges of both families compare. */
function prefix128(cidr: string): number {
  const slash = cidr.indexOf('/');
  const v6 = cidr.slice(0, slash < 0 ? undefined : slash).includes(':');
  const p = slash < 0 ? (v6 ? 128 : 32) : Number(cidr.slice(slash + 1));
  return v6 ? p : p + 96;
}

export class ZoneMap {
  readonly #ranges: Array<{ cidr: string; zone: Zone }>;
  /** Address -> zone; cleared when full (cheaper than LRU order on every call). */
  readonly #cache = new Map<string, Zone>();

  constructor(ranges: ReadonlyArray<{ cidr: string; zone: string; country?: string }>) {
    // Most specific first: the first range that holds an address is its zone.
    this.#ranges = ranges
      .map((r) => ({ cidr: r.cidr, zone: { zone: r.zone, country: r.country ?? null }, p: prefix128(r.cidr) }))
      .sort((a, b) => b.p - a.p);
  }

  lookup(ip: string): Zone {
    let z = this.#cache.get(ip);
    if (z === undefined) {
      if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
      z = this.#ranges.find((r) => addressInCidr(ip, r.cidr))?.zone ?? UNKNOWN_ZONE;
      this.#cache.set(ip, z);
    }
    return z;
  }
}
