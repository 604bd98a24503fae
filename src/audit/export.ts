/**
 * The ledger export file (issue 4/10 §4, §7): everything an offline verifier needs — every event
 * as its stored leaf data (base64 canonical bytes) with its index and stored leaf hash, every
 * checkpoint, and the checkpoint public key. JSON; the format is docs/audit-format.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { errors } from '../errors/catalog.js';
import type { AuditStore } from './audit.store.js';
import { CheckpointJsonSchema, checkpointToJson } from './checkpoint.js';

export const EXPORT_FORMAT = 'keywarden-audit-export/v1';

const B64 = Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$' });
const Uint = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const strict = { additionalProperties: false } as const;

export const LedgerExportSchema = Type.Object(
  {
    format: Type.Literal(EXPORT_FORMAT),
    /** Epoch ms. */
    exportedAt: Uint,
    /** The ledger size the server reported (informational: the verifier counts the events). */
    size: Uint,
    /** The checkpoint verification key (SPKI DER, base64); null before the first checkpoint. */
    publicKey: Type.Union([Type.Object({ keyId: Type.String(), spki: B64 }, strict), Type.Null()]),
    checkpoints: Type.Array(CheckpointJsonSchema),
    /** As stored, by index: leaf data and leaf hash (base64). */
    events: Type.Array(Type.Object({ index: Uint, data: B64, leafHash: B64 }, strict)),
  },
  strict,
);
export type LedgerExport = Static<typeof LedgerExportSchema>;

const PAGE = 1000;

/** Reads the whole ledger. Checkpoints are listed first, so every listed one is covered by the events read after. */
export async function exportLedger(store: AuditStore, now: number): Promise<LedgerExport> {
  const checkpoints = (await store.listCheckpoints()).map(checkpointToJson);
  const key = await store.getSigningKey();
  const size = await store.size();
  const events: LedgerExport['events'] = [];
  for (let from = 0; from < size; from += PAGE) {
    for (const r of await store.read(from, Math.min(size, from + PAGE))) {
      events.push({ index: r.index, data: r.data.toString('base64'), leafHash: r.leafHash.toString('base64') });
    }
  }
  return {
    format: EXPORT_FORMAT,
    exportedAt: now,
    size,
    publicKey: key?.publicKey ? { keyId: key.keyId, spki: key.publicKey.toString('base64') } : null,
    checkpoints,
    events,
  };
}

/** Validates a parsed export file; throws ValidationError naming the first problem. */
export function parseExport(v: unknown): LedgerExport {
  if (Value.Check(LedgerExportSchema, v)) return v;
  const e = [...Value.Errors(LedgerExportSchema, v)][0];
  throw errors.validation(`not a Keywarden audit export: ${e ? `${e.path || '/'} ${e.message}` : 'invalid'}`);
}
