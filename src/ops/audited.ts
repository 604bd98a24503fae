/**
 * The audit stage (issue 4/10 §1, §3): every use-case records exactly one event in the ledger —
 * allowed (after it succeeded), denied or failed — and the event is durably appended BEFORE the
 * result is returned. FAIL CLOSED: if the append fails, the use-case throws Internal and its
 * result (already computed) is dropped, its secret buffers zeroized.
 *
 * One generic wrapper, applied to each use-case class at the composition root: a method whose
 * first argument is a Call is audited, and its call is given a fresh `audit` record that the
 * pipeline fills as it learns who is calling, what action on which key and with what context.
 * Unauthenticated use-cases (token endpoint, login, unseal, root generation) take the request
 * facts as an argument at a known position and are listed explicitly. Anything else (health,
 * seal status) passes through unaudited.
 */
import type { Action } from '../auth/authorize.js';
import type { EncryptionContext } from '../crypto/encryption-context.js';
import { zeroize } from '../crypto/secret-bytes.js';
import type { AuditDetails, AuditEventInput, AuthMethod, Outcome } from '../audit/event.js';
import { KeywardenError, isKeywardenError } from '../errors/catalog.js';
import type { Call } from './pipeline.js';

/** What the pipeline (or an unauthenticated use-case) learnt about a call, for its event. */
export interface AuditFacts {
  principal?: { id: string; name: string; kind: string; accessor?: string; session?: unknown };
  action?: Action;
  keyId?: string;
  keyVersion?: number;
  context?: EncryptionContext;
  /** The credential id to record (HMAC'd) when not the principal's accessor (e.g. a token just issued). */
  tokenId?: string;
  authMethod?: AuthMethod;
  /** The policy stage's decision (src/policy/policy-gate.ts): allow, or the rule that refused. */
  policy?: { decision: 'allow' | 'deny'; rule: string | null };
}

/** The request facts an unauthenticated use-case receives from its transport. */
export interface RequestFacts {
  requestId: string;
  sourceIp?: string;
  audit?: AuditFacts;
}

/** How an unauthenticated use-case is recorded: its operation and the position of its RequestFacts argument. */
export interface UnauthenticatedSpec {
  operation: string;
  facts: number;
  authMethod: AuthMethod;
}

export interface AuditLedger {
  append(input: AuditEventInput): Promise<{ index: number }>;
}

/**
 * Told of every audited use-case once its event is recorded (metrics): the operation and outcome
 * of its event (Internal when the event could not be recorded) and how long it took, in seconds
 * of the monotonic clock (performance.now), the audit append included. MUST NOT throw or block.
 */
export type OperationObserver = (operation: string, outcome: Outcome, seconds: number) => void;

/** Refusals by access control and policy; every other error code is a failure. */
const DENY_CODES = new Set(['Unauthenticated', 'PermissionDenied', 'MfaRequired', 'ApprovalRequired', 'LockedOut', 'PolicyViolation']);

const isCall = (a: unknown): a is Call =>
  typeof a === 'object' && a !== null && typeof (a as Call).requestId === 'string' && 'token' in a;

function authMethodOf(call: Call | RequestFacts, f: AuditFacts): AuthMethod {
  if (f.authMethod !== undefined) return f.authMethod;
  if ('internal' in call && call.internal !== undefined) return 'internal';
  const p = f.principal;
  if (p === undefined) return 'none';
  if (p.kind === 'root') return 'root-token';
  return p.session !== undefined ? 'session' : 'access-token';
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Buffer.isBuffer(v);

const NO_KEY: { keyId?: string; keyVersion?: number } = Object.freeze({});

/** Key id and version from a use-case result (crypto results, a key record, {key, versions}). */
function keyOf(result: unknown): { keyId?: string; keyVersion?: number } {
  if (!isRec(result)) return NO_KEY;
  if (typeof result.keyId === 'string') return typeof result.keyVersion === 'number' ? { keyId: result.keyId, keyVersion: result.keyVersion } : { keyId: result.keyId };
  const k = isRec(result.key) ? result.key : result;
  if (typeof k.id === 'string' && typeof k.primaryVersion === 'number' && typeof k.spec === 'string') return { keyId: k.id, keyVersion: k.primaryVersion };
  return NO_KEY;
}

/** Item counts of a batch result (`[{ref, ok} | {ref, error}]`). */
function batchDetails(result: unknown): AuditDetails | undefined {
  if (!Array.isArray(result) || result.length === 0 || !isRec(result[0]) || typeof result[0].ref !== 'string') return undefined;
  const failed = result.filter((r) => isRec(r) && 'error' in r).length;
  return { items: result.length, succeeded: result.length - failed, failed };
}

/** Zeroizes secret buffers of a result that will not be returned (plaintexts, data keys). */
function dispose(result: unknown): void {
  const wipe = (v: unknown) => {
    if (isRec(v) && Buffer.isBuffer(v.plaintext)) zeroize(v.plaintext);
  };
  if (Buffer.isBuffer(result)) zeroize(result);
  else if (Array.isArray(result)) for (const r of result) wipe(isRec(r) ? r.ok : undefined);
  else wipe(result);
}

/** Shared by every event without approvals (never mutated: buildEvent copies the ids). */
const NO_APPROVALS: readonly string[] = Object.freeze([]);

function eventOf(call: Call | RequestFacts, f: AuditFacts, fallbackOp: string, result: unknown, error: unknown): AuditEventInput {
  const failed = error !== undefined;
  const code = failed ? (isKeywardenError(error) ? error.code : 'Internal') : null;
  const outcome: Outcome = !failed ? 'allow' : DENY_CODES.has(code!) ? 'deny' : 'error';
  // The result is inspected only for what the pipeline did not record (usually both are known).
  const fromResult = failed || (f.keyId !== undefined && f.keyVersion !== undefined) ? NO_KEY : keyOf(result);
  const keyId = f.keyId ?? fromResult.keyId ?? null;
  const keyVersion = f.keyVersion ?? (fromResult.keyId === keyId ? fromResult.keyVersion : undefined) ?? null;
  const details = failed ? undefined : batchDetails(result);
  const p = f.principal;
  const internal = 'internal' in call ? call.internal : undefined;
  // Built without spread temporaries: this runs once per audited call.
  const e: AuditEventInput = {
    requestId: call.requestId,
    // buildEvent copies id, name and kind only (never the accessor or session).
    principal: p ?? null,
    authMethod: authMethodOf(call, f),
    sourceIp: call.sourceIp ?? null,
    operation: f.action ?? fallbackOp,
    keyId,
    keyVersion,
    outcome,
    errorCode: code,
    policy: f.policy ?? null,
    approvalIds: internal ? [internal.approvalRequestId] : NO_APPROVALS,
    tokenId: f.tokenId ?? p?.accessor ?? null,
  };
  // A batch's items carry their own contexts: only their counts are recorded.
  if (details !== undefined) e.details = details;
  else if (f.context !== undefined) e.encryptionContext = f.context;
  return e;
}

function ledgerFailure(e: unknown): KeywardenError {
  if (isKeywardenError(e) && e.code === 'Internal') return e;
  const err = new KeywardenError('Internal', 'The audit ledger could not record the operation, so it was not performed');
  err.cause = e;
  return err;
}

/**
 * `target` with every use-case audited into `ledger`. `name` prefixes the fallback operation
 * (`<name>:<method>`) of a use-case refused before the pipeline named its action. Without a ledger
 * (`audit: false`, only to measure the ledger's cost) nothing is recorded, but `observe` is still
 * told of every use-case, so that a run with the ledger off does the same other work.
 */
export function audited<T extends object>(
  target: T,
  ledger: AuditLedger | undefined,
  name: string,
  unauthenticated: { [K in keyof T]?: UnauthenticatedSpec } = {},
  observe?: OperationObserver,
): T {
  const wrapped = new Map<PropertyKey, unknown>();

  const run = async (fn: (...a: unknown[]) => unknown, args: unknown[], base: Call | RequestFacts, at: number, op: string, authMethod?: AuthMethod) => {
    const started = observe === undefined ? 0 : performance.now();
    const facts: AuditFacts = authMethod !== undefined ? { authMethod } : {};
    const c = { ...base, audit: facts };
    args[at] = c;
    let result: unknown;
    let error: unknown;
    try {
      result = await fn.apply(target, args);
    } catch (e) {
      error = e ?? new Error('use-case threw nothing');
    }
    if (ledger === undefined) {
      if (observe !== undefined) {
        const code = error === undefined ? null : isKeywardenError(error) ? error.code : 'Internal';
        observe(facts.action ?? op, code === null ? 'allow' : DENY_CODES.has(code) ? 'deny' : 'error', (performance.now() - started) / 1000);
      }
      if (error !== undefined) throw error;
      return result;
    }
    const event = eventOf(c, facts, op, result, error);
    try {
      await ledger.append(event);
    } catch (e) {
      dispose(result);
      if (observe !== undefined) observe(event.operation, 'error', (performance.now() - started) / 1000);
      throw ledgerFailure(e);
    }
    if (observe !== undefined) observe(event.operation, event.outcome, (performance.now() - started) / 1000);
    if (error !== undefined) throw error;
    return result;
  };

  return new Proxy(target, {
    get(t, prop) {
      const v: unknown = Reflect.get(t, prop, t);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      let w = wrapped.get(prop);
      if (w === undefined) {
        const fn = v as (...a: unknown[]) => unknown;
        const spec = (unauthenticated as Record<string, UnauthenticatedSpec | undefined>)[prop];
        const op = `${name}:${prop}`;
        w = spec
          ? (...args: unknown[]) => {
              const req = args[spec.facts] as RequestFacts | undefined;
              return run(fn, args, req ?? { requestId: '' }, spec.facts, spec.operation, spec.authMethod);
            }
          : (...args: unknown[]) => (isCall(args[0]) ? run(fn, args, args[0], 0, op) : fn.apply(t, args));
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}
