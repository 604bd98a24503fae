/**
 * Exposure of a compromised key, read from the audit ledger (issue 10/10 §5): every principal and
 * source address with events on the key in the window, what they did, when, and the ledger indexes
 * as evidence; and the counts the re-wrap plan needs (ciphertexts and data keys produced per version).
 */
import type { AuditSearch } from '../audit/audit.store.js';
import { decodeLeaf, type AuditLeaf } from '../audit/event.js';
import { EVIDENCE_PER_PRINCIPAL, MAX_EXPOSURE_EVENTS, type ExposedPrincipal, type Exposure } from './incident.model.js';

/** Actions whose allowed result is a ciphertext under the event's key (re-encrypt: the destination key). */
const CIPHERTEXT_ACTIONS = new Set(['key:encrypt', 'key:re-encrypt', 'key:re-wrap']);
const DATA_KEY_ACTIONS = new Set(['key:generate-data-key']);
const PAGE = 1000;

export interface ExposureScan {
  exposure: Exposure;
  /** Ciphertexts and data keys produced per key version in the window (allowed events only). */
  produced: Map<number, { ciphertexts: number; dataKeys: number }>;
}

/** A batch event counts its succeeded items; every other allowed event one result. */
const results = (e: AuditLeaf): number => (typeof e.details?.succeeded === 'number' ? e.details.succeeded : 1);

/** Reads the key's events in [windowStart, windowEnd], newest first, up to MAX_EXPOSURE_EVENTS. */
export async function scanExposure(search: AuditSearch, keyId: string, windowStart: number, windowEnd: number): Promise<ExposureScan> {
  const byPrincipal = new Map<string, ExposedPrincipal & { addresses: Set<string> }>();
  const byAddress = new Map<string, number>();
  const produced = new Map<number, { ciphertexts: number; dataKeys: number }>();
  let events = 0;
  let truncated = false;
  let before: number | undefined;
  const since = new Date(windowStart).toISOString();
  const until = new Date(windowEnd).toISOString();
  for (;;) {
    const rows = await search.search({ keyId, since, until, limit: PAGE, ...(before !== undefined ? { before } : {}) });
    for (const row of rows) {
      if (events === MAX_EXPOSURE_EVENTS) {
        truncated = true;
        break;
      }
      events++;
      let e: AuditLeaf;
      try {
        e = decodeLeaf(row.data);
      } catch {
        continue; // a row that does not decode was tampered with: `keywarden audit verify` names it
      }
      const t = Date.parse(e.time);
      if (e.sourceIp !== null) byAddress.set(e.sourceIp, (byAddress.get(e.sourceIp) ?? 0) + 1);
      if (e.outcome === 'allow' && e.keyVersion !== null && (CIPHERTEXT_ACTIONS.has(e.operation) || DATA_KEY_ACTIONS.has(e.operation))) {
        const p = produced.get(e.keyVersion) ?? { ciphertexts: 0, dataKeys: 0 };
        if (DATA_KEY_ACTIONS.has(e.operation)) p.dataKeys += results(e);
        else p.ciphertexts += results(e);
        produced.set(e.keyVersion, p);
      }
      const who = e.principal ?? { id: '(none)', name: '(unauthenticated)', kind: 'none' };
      let p = byPrincipal.get(who.id);
      if (p === undefined) {
        p = { ...who, operations: {}, refused: 0, sourceAddresses: [], firstSeen: t, lastSeen: t, evidence: [], addresses: new Set() };
        byPrincipal.set(who.id, p);
      }
      if (e.outcome === 'allow') p.operations[e.operation] = (p.operations[e.operation] ?? 0) + results(e);
      else p.refused++;
      if (e.sourceIp !== null) p.addresses.add(e.sourceIp);
      p.firstSeen = Math.min(p.firstSeen, t);
      p.lastSeen = Math.max(p.lastSeen, t);
      p.evidence.push(row.index);
    }
    const last = rows.at(-1);
    if (truncated || rows.length < PAGE || last === undefined || last.index === 0) break;
    before = last.index;
  }
  const principals = [...byPrincipal.values()]
    .map(({ addresses, evidence, operations, ...p }) => ({ ...p, operations: Object.fromEntries(Object.entries(operations).sort(([a], [b]) => (a < b ? -1 : 1))), sourceAddresses: [...addresses].sort(), evidence: evidence.reverse().slice(0, EVIDENCE_PER_PRINCIPAL) }))
    .sort((a, b) => a.firstSeen - b.firstSeen || (a.name < b.name ? -1 : 1));
  const sourceAddresses = [...byAddress].map(([address, n]) => ({ address, events: n })).sort((a, b) => b.events - a.events || (a.address < b.address ? -1 : 1));
  return { exposure: { windowStart, windowEnd, events, truncated, principals, sourceAddresses }, produced };
}
