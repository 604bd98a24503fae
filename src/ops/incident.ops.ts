/**
 * The key-compromise playbook use-case (issue 10/10 §5) behind POST /v1/incidents/key-compromise,
 * and reading incidents back. Responding needs `incident:respond` (security officers) on the key;
 * a real run also needs `key:revoke` on it, with every gate that action has (MFA step-up, quorum
 * approval), so the playbook is never a way around the access policy. Reading needs `audit:read`
 * (the report is made of ledger facts). Each call is one audit event, a drill included.
 *
 * Order of a run: checks that change nothing (state, one real incident per key, the successor
 * against the policy) -> the playbook (src/incident/playbook.ts) on production or, in a drill, on
 * a scratch copy (src/incident/drill.ts) -> the rendered report and template -> one stored record.
 */
import { randomUUID } from '../crypto/primitives/index.js';
import { errors, KeywardenError } from '../errors/catalog.js';
import type { Hsm } from '../hsm/hsm.js';
import type { KeyRecord } from '../keys/key.model.js';
import type { KeyService } from '../keys/key.service.js';
import type { GrantService } from '../auth/grant.service.js';
import type { SealService } from '../seal/seal.service.js';
import type { Store } from '../storage/store.js';
import type { Clock } from '../util/clock.js';
import { withScratchCopy } from '../incident/drill.js';
import { MAX_REASON, type IncidentRecord } from '../incident/incident.model.js';
import { runPlaybook, successorInput, type PlaybookEnv } from '../incident/playbook.js';
import { renderNotification, renderReport } from '../incident/report.js';
import type { Call, Pipeline } from './pipeline.js';
import type { AuditLedger } from './audited.js';
import { LIMITS } from './ops.js';

export interface IncidentOpsDeps {
  pipeline: Pipeline;
  keys: KeyService;
  grants: GrantService;
  /** The live store: incidents, principals and ledger search; its snapshot feeds drills. */
  store: Store;
  seal: SealService;
  hsm?: Hsm;
  clock: Clock;
  /** Each change of a real run is one audit event of its own (a drill changes nothing real). */
  ledger?: AuditLedger;
}

export interface KeyCompromiseInput {
  key: string;
  reason: string;
  /** Epoch ms: the compromise date and the start of the exposure window. */
  since?: number;
  drill?: boolean;
}

/** States the playbook can act on (revoke-compromised is allowed from these; see key.lifecycle.ts). */
const RESPONDABLE = new Set<KeyRecord['state']>(['Enabled', 'Disabled', 'Compromised']);

export class IncidentOps {
  /** Runs per key, chained: two concurrent responses to one key run one after the other. */
  readonly #running = new Map<string, Promise<unknown>>();

  constructor(private readonly d: IncidentOpsDeps) {}

  async keyCompromise(call: Call, input: KeyCompromiseInput): Promise<IncidentRecord> {
    const reason = input.reason.trim();
    if (reason.length === 0 || reason.length > MAX_REASON) throw errors.validation(`reason must be 1–${MAX_REASON} characters`);
    const { principal, key } = await this.d.pipeline.beginKey(call, 'incident:respond', input.key);
    const now = this.d.clock.now();
    if (input.since !== undefined && input.since > now) throw errors.validation('since must not be in the future');
    requireRespondable(key);
    const drill = input.drill === true;
    // The revocation itself is authorized as what it is (with its own MFA and approval gates).
    if (!drill && key.state !== 'Compromised') await this.d.pipeline.beginKey(call, 'key:revoke', key.id);
    return this.#serialized(key.id, async () => {
      const fresh = await this.d.keys.findById(key.id);
      if (fresh === undefined) throw errors.notFound(`key "${key.id}"`);
      requireRespondable(fresh);
      if (!drill) {
        const earlier = await this.d.store.incidents.findRealIncident(key.id);
        if (earlier !== undefined) {
          throw new KeywardenError('InvalidState', `key ${key.id} was already handled as compromised by incident ${earlier.id} on ${new Date(earlier.createdAt).toISOString()}`);
        }
      }
      const id = randomUUID();
      // The successor is checked before anything changes: a policy that refuses it refuses the run.
      const successor = successorInput(fresh, id);
      this.d.keys.checkProtection(successor);
      const checked = this.d.pipeline.policy?.prepareCreate(call, successor) ?? successor;
      const run = (env: PlaybookEnv, k: KeyRecord) =>
        runPlaybook(env, {
          clock: this.d.clock,
          principal,
          key: k,
          incidentId: id,
          compromisedAt: input.since ?? now,
          windowStart: input.since ?? k.createdAt,
          successor: checked,
        });
      const { ledger } = this.d;
      const live: PlaybookEnv = {
        keys: this.d.keys,
        grants: this.d.grants,
        principals: this.d.store.principals,
        audit: this.d.store.audit,
        // authMethod internal: Keywarden made the change on the responder's behalf (details.incident names the run).
        ...(ledger && {
          changed: async (c) => {
            await ledger.append({
              requestId: call.requestId,
              principal: { id: principal.id, name: principal.name, kind: principal.kind },
              authMethod: 'internal',
              sourceIp: call.sourceIp ?? null,
              operation: c.operation,
              keyId: c.keyId,
              keyVersion: c.keyVersion ?? null,
              outcome: 'allow',
              details: { incident: id, ...c.details },
            });
          },
        }),
      };
      const { result, successorId } = drill
        ? await withScratchCopy({ store: this.d.store, seal: this.d.seal, clock: this.d.clock, ...(this.d.hsm && { hsm: this.d.hsm }) }, id, async (env) => {
            const copy = await env.keys.findById(key.id);
            if (copy === undefined) throw errors.internal();
            return run(env, copy);
          })
        : await run(live, fresh);
      const draft = {
        id,
        kind: 'key-compromise' as const,
        keyId: key.id,
        drill,
        reason,
        windowStart: input.since ?? fresh.createdAt,
        createdAt: now,
        createdBy: { id: principal.id, name: principal.name, kind: principal.kind },
        successorId: drill ? null : successorId,
        requestId: call.requestId,
        result,
      };
      const record: IncidentRecord = { ...draft, report: renderReport(draft), notification: renderNotification(draft) };
      await this.d.store.incidents.createIncident(record);
      return record;
    });
  }

  async list(call: Call, opts: { key?: string; limit?: number; cursor?: string }): Promise<{ incidents: IncidentRecord[]; nextCursor: string | null }> {
    await this.d.pipeline.begin(call, 'audit:read');
    const limit = opts.limit ?? LIMITS.defaultListLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.maxListLimit) throw errors.validation(`limit must be an integer between 1 and ${LIMITS.maxListLimit}`);
    // A key named by alias is listed by the id the alias points to now (after an incident: the successor).
    const keyId = opts.key === undefined ? undefined : (await this.d.keys.resolve(opts.key)).id;
    const before = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor);
    const rows = await this.d.store.incidents.listIncidents({ limit: limit + 1, ...(keyId !== undefined && { keyId }), ...(before && { before }) });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { incidents: page, nextCursor: rows.length > limit && last ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url') : null };
  }

  async get(call: Call, id: string): Promise<IncidentRecord> {
    await this.d.pipeline.begin(call, 'audit:read');
    const r = await this.d.store.incidents.getIncident(id);
    if (r === undefined) throw errors.notFound(`incident ${id.slice(0, 64)}`);
    return r;
  }

  async #serialized<T>(keyId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#running.get(keyId) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(fn);
    this.#running.set(keyId, mine);
    try {
      return await mine;
    } finally {
      if (this.#running.get(keyId) === mine) this.#running.delete(keyId);
    }
  }
}

function requireRespondable(key: KeyRecord): void {
  if (!RESPONDABLE.has(key.state)) {
    throw new KeywardenError('InvalidState', `key ${key.id} is ${key.state}: the compromise playbook acts on an Enabled, Disabled or Compromised key${key.state === 'Destroyed' ? ' (a destroyed key\u2019s material is gone: nothing can use it any more)' : ''}`);
  }
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isInteger(v[0]) && typeof v[1] === 'string') return { createdAt: v[0] as number, id: v[1] };
  } catch {
    // fall through
  }
  throw errors.validation('cursor is not a cursor returned by this API');
}
