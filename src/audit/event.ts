/**
 * The audit event (issue 4/10 §1): one per operation, allowed or denied, and per lifecycle or
 * governance change. Only strings, safe integers, booleans and null appear in an event — there is
 * no Buffer-typed field, so key material cannot be put into one by mistake. Sensitive values
 * (encryption-context values, token ids) are replaced by HMAC-SHA256 under the audit HMAC key:
 * equal values give equal digests, so they can be matched (the query API HMACs a searched value
 * the same way) but not read. The byte encoding is docs/audit-format.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { hmacSha256 } from '../crypto/primitives/index.js';
import { canonicalBytes, parseCanonical, CanonicalError } from './canonical.js';

export const AUTH_METHODS = ['root-token', 'access-token', 'session', 'client-credentials', 'internal', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
export type Outcome = 'allow' | 'deny' | 'error';

/** Small, non-secret facts about an operation (e.g. `{ spec: 'AES_256', bytes: 32 }`). */
export type AuditDetails = Readonly<Record<string, string | number | boolean | null>>;

const MAX_DETAILS = 16;
const MAX_DETAIL_STRING = 256;
const MAX_NAME = 64;

const Str = Type.String();
const NullableStr = Type.Union([Type.String(), Type.Null()]);
const Uint = Type.Integer({ minimum: 0 });
const strict = { additionalProperties: false } as const;

/** The leaf schema: an event plus `seq`, its index in the ledger (the verifier checks both). */
export const AuditLeafSchema = Type.Object(
  {
    v: Type.Literal(1),
    seq: Uint,
    /** ISO 8601 UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z. */
    time: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' }),
    requestId: Str,
    principal: Type.Union([Type.Object({ id: Str, name: Str, kind: Str }, strict), Type.Null()]),
    authMethod: Type.Union(AUTH_METHODS.map((m) => Type.Literal(m))),
    sourceIp: NullableStr,
    /** The pipeline Action, e.g. 'key:encrypt'. */
    operation: Str,
    keyId: NullableStr,
    keyVersion: Type.Union([Uint, Type.Null()]),
    outcome: Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('error')]),
    /** A code of src/errors/catalog.ts when outcome is 'deny' or 'error'. */
    errorCode: NullableStr,
    policy: Type.Union([Type.Object({ decision: Str, rule: NullableStr }, strict), Type.Null()]),
    approvalIds: Type.Array(Str),
    /** Encryption-context key -> hex HMAC of its value (null: recorded while sealed, not matchable). */
    context: Type.Record(Type.String(), NullableStr),
    /** Hex HMAC of the credential id (access-token jti, root accessor, session id); null if none or sealed. */
    tokenId: NullableStr,
    details: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Integer(), Type.Boolean(), Type.Null()]))),
  },
  strict,
);
export type AuditLeaf = Static<typeof AuditLeafSchema>;
export type AuditEvent = Omit<AuditLeaf, 'seq'>;

/** What the pipeline hands to the ledger: raw sensitive values, which the ledger HMACs. */
export interface AuditEventInput {
  requestId: string;
  principal: { id: string; name: string; kind: string } | null;
  authMethod: AuthMethod;
  sourceIp?: string | null;
  operation: string;
  keyId?: string | null;
  keyVersion?: number | null;
  outcome: Outcome;
  errorCode?: string | null;
  policy?: { decision: string; rule: string | null } | null;
  approvalIds?: readonly string[];
  /** Recorded as key -> HMAC(value); the values never reach the ledger. */
  encryptionContext?: Readonly<Record<string, string>>;
  /** The credential id (never the bearer token itself); recorded as its HMAC. */
  tokenId?: string | null;
  details?: AuditDetails;
}

/** HMAC-SHA256(key, "keywarden-audit/v1/<purpose>" || 0x00 || UTF-8(value)), lowercase hex. */
export type AuditHmac = (purpose: 'context' | 'token', value: string) => string;

export function auditHmac(key: Buffer): AuditHmac {
  return (purpose, value) => hmacSha256(key, `keywarden-audit/v1/${purpose}\u0000${value}`).toString('hex');
}

/** String.prototype.isWellFormed (ES2024, in Node 20): false iff the string holds a lone surrogate. */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** A string canonical JSON accepts (well-formed Unicode); throws CanonicalError otherwise. */
function text<T extends string | null>(v: T, what: string): T {
  if (v !== null && (typeof v !== 'string' || !wellFormed(v))) throw new CanonicalError(`audit ${what} must be a well-formed string`);
  return v;
}

/** ISO 8601 time of `ms`; the last one is remembered (many events share a millisecond under load). */
let lastIso = { ms: NaN, iso: '' };
function isoTime(ms: number): string {
  if (ms !== lastIso.ms) lastIso = { ms, iso: new Date(ms).toISOString() };
  return lastIso.iso;
}

function int(v: number | null, what: string): number | null {
  if (v !== null && !Number.isSafeInteger(v)) throw new CanonicalError(`audit ${what} must be an integer`);
  return v;
}

function details(d: AuditDetails): Record<string, string | number | boolean | null> {
  const entries = Object.entries(d);
  if (entries.length > MAX_DETAILS) throw new CanonicalError(`audit details hold at most ${MAX_DETAILS} entries`);
  for (const [k, v] of entries) {
    if (text(k, 'detail name').length > MAX_NAME) throw new CanonicalError(`audit detail names are at most ${MAX_NAME} characters`);
    if (typeof v === 'string' && text(v, `detail ${k}`).length > MAX_DETAIL_STRING) throw new CanonicalError(`audit detail ${k} is longer than ${MAX_DETAIL_STRING} characters`);
    else if (typeof v === 'number') int(v, `detail ${k}`);
    else if (v !== null && typeof v !== 'boolean' && typeof v !== 'string') throw new CanonicalError(`audit detail ${k} must be a string, an integer, a boolean or null`);
  }
  return { ...d };
}

/**
 * Builds the event recorded at `timeMs`. `hmac` is undefined while sealed (the HMAC key is then
 * unavailable): sensitive values are recorded as null rather than in the clear. Every value is
 * checked here, so a built event always encodes (the batch writer never meets a bad one); throws
 * CanonicalError otherwise.
 */
export function buildEvent(input: AuditEventInput, timeMs: number, hmac: AuditHmac | undefined): AuditEvent {
  const context: Record<string, string | null> = {};
  if (input.encryptionContext) {
    for (const [k, v] of Object.entries(input.encryptionContext)) context[text(k, 'context key')] = hmac ? hmac('context', text(v, 'context value')) : null;
  }
  const p = input.principal;
  const e: AuditEvent = {
    v: 1,
    time: isoTime(timeMs),
    requestId: text(input.requestId, 'requestId'),
    principal: p && { id: text(p.id, 'principal id'), name: text(p.name, 'principal name'), kind: text(p.kind, 'principal kind') },
    authMethod: input.authMethod,
    sourceIp: text(input.sourceIp ?? null, 'sourceIp'),
    operation: text(input.operation, 'operation'),
    keyId: text(input.keyId ?? null, 'keyId'),
    keyVersion: int(input.keyVersion ?? null, 'keyVersion'),
    outcome: input.outcome,
    errorCode: text(input.errorCode ?? null, 'errorCode'),
    policy: input.policy ? { decision: text(input.policy.decision, 'policy decision'), rule: text(input.policy.rule, 'policy rule') } : null,
    approvalIds: input.approvalIds ? input.approvalIds.map((a) => text(a, 'approval id')) : [],
    context,
    tokenId: input.tokenId != null && hmac ? hmac('token', text(input.tokenId, 'token id')) : null,
  };
  if (!AUTH_METHODS.includes(e.authMethod) || !['allow', 'deny', 'error'].includes(e.outcome)) throw new CanonicalError('audit authMethod or outcome is not one of the known values');
  if (input.details !== undefined) e.details = details(input.details);
  return e;
}

const q = JSON.stringify;
/**
 * JSON.stringify of the values that repeat from event to event (operation, principal, key id,
 * time within a millisecond...), remembered: a map lookup instead of an escape scan and a new
 * string per field. Bounded; request ids (unique) do not go through it.
 */
const QUOTED = new Map<string, string>();
function qc(v: string): string {
  let r = QUOTED.get(v);
  if (r === undefined) {
    r = q(v);
    if (QUOTED.size >= 1024) QUOTED.clear();
    QUOTED.set(v, r);
  }
  return r;
}
const str = (v: string | null) => (v === null ? 'null' : qc(v));
function intText(n: number): string {
  if (!Number.isSafeInteger(n)) throw new CanonicalError(`only safe integers are allowed, not ${n}`);
  return String(n);
}
const scalar = (v: string | number | boolean | null) => (typeof v === 'string' ? q(v) : typeof v === 'number' ? intText(v) : String(v));
/** A flat object of scalars with its members sorted (the order canonicalJson uses). */
function flat(o: Readonly<Record<string, string | number | boolean | null>>): string {
  const keys = Object.keys(o).sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) s += (i ? ',' : '') + q(keys[i]) + ':' + scalar(o[keys[i]!]!);
  return s + '}';
}
/** Members of an event as buildEvent makes it, without `details`. */
const FIELDS = 15;

/** True when encodeLeaf takes its straight-line path for `e` (an event as buildEvent makes it). */
export const hasEventShape = (e: AuditEvent): boolean => e.v === 1 && Object.keys(e).length === FIELDS + (e.details === undefined ? 0 : 1);

/**
 * The leaf data of the event at `index`: its canonical bytes with `seq` = index bound in.
 *
 * This is on the hot path of every audited call, so an event as buildEvent makes it (every string
 * already checked well-formed, every number a safe integer) is written by a straight-line encoder
 * with the members in canonical order; anything else goes through the generic canonicalBytes.
 * test/audit/event.test.ts checks the two agree byte for byte.
 */
export function encodeLeaf(event: AuditEvent, index: number): Buffer {
  const t = encodeLeafText(event, index);
  return typeof t === 'string' ? Buffer.from(t, 'utf8') : t;
}

/** encodeLeaf without the final copy into a Buffer: the straight-line path's text (UTF-8 is its encoding), else the bytes. */
export function encodeLeafText(event: AuditEvent, index: number): string | Buffer {
  const e = event;
  const p = e.principal;
  if (!Number.isSafeInteger(index) || !hasEventShape(e)) {
    return canonicalBytes({ ...event, seq: index });
  }
  let s = '{"approvalIds":[';
  for (let i = 0; i < e.approvalIds.length; i++) s += (i ? ',' : '') + q(e.approvalIds[i]);
  s += '],"authMethod":' + qc(e.authMethod) + ',"context":' + (Object.keys(e.context).length === 0 ? '{}' : flat(e.context));
  if (e.details !== undefined) s += ',"details":' + flat(e.details);
  s += ',"errorCode":' + str(e.errorCode) + ',"keyId":' + str(e.keyId) + ',"keyVersion":' + (e.keyVersion === null ? 'null' : intText(e.keyVersion));
  s += ',"operation":' + qc(e.operation) + ',"outcome":' + qc(e.outcome);
  s += ',"policy":' + (e.policy === null ? 'null' : '{"decision":' + qc(e.policy.decision) + ',"rule":' + str(e.policy.rule) + '}');
  s += ',"principal":' + (p === null ? 'null' : '{"id":' + qc(p.id) + ',"kind":' + qc(p.kind) + ',"name":' + qc(p.name) + '}');
  s += ',"requestId":' + q(e.requestId) + ',"seq":' + String(index) + ',"sourceIp":' + str(e.sourceIp) + ',"time":' + qc(e.time);
  s += ',"tokenId":' + str(e.tokenId) + ',"v":1}';
  return s;
}

/** Decodes leaf data; throws CanonicalError unless it is canonical and a well-formed v1 event. */
export function decodeLeaf(data: Buffer): AuditLeaf {
  const v = parseCanonical(data);
  if (!Value.Check(AuditLeafSchema, v)) throw new CanonicalError('not a v1 audit event');
  return v;
}
