/**
 * `keywarden apply MANIFEST [--yes] [--allow-destroy]` (issue 5/10 §5): reconciles a server with a
 * key manifest through the REST API only. It reads the server state, prints the plan
 * (src/policy/apply-plan.ts) and stops, unless --yes: then it applies the non-destructive changes,
 * and the destructive ones only with --allow-destroy. A deletion the access policy puts under
 * quorum approval is filed as an approval request and reported as waiting; a later apply sees the
 * request and does not file it again.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseManifest } from '../../policy/engine.js';
import { describeChange, isDestructive, isNoop, plan, type Change, type ServerGrant, type ServerKey, type ServerState } from '../../policy/apply-plan.js';
import { ApiError, type KeywardenClient } from '../client.js';
import { printJson, printLine } from '../output.js';
import { keyPath, runtime } from './shared.js';

interface ApiGrant {
  id: string;
  keyId: string | null;
  principalId: string;
  operations: string[];
  conditions: { sourceCidrs?: string[]; notAfter?: string };
  createdAt: string;
}

const DAY_MS = 86_400_000;

async function allKeys(client: KeywardenClient): Promise<ServerKey[]> {
  const keys: ServerKey[] = [];
  let cursor: string | null = null;
  do {
    const page: { keys: ServerKey[]; nextCursor: string | null } = await client.get(`/v1/keys?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    keys.push(...page.keys);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return keys;
}

const notFound = (e: unknown) => e instanceof ApiError && e.code === 'NotFound';

/** What the planner needs, read with the caller's token (key:list, grant:read, request:read or own requests). */
async function serverState(client: KeywardenClient, name: string, principals: string[]): Promise<ServerState> {
  const keys = await allKeys(client);
  const managed = keys.filter((k) => k.tags?.['keywarden:manifest'] === name && k.state !== 'Destroyed');
  // Grants show principal ids; the names the manifest uses are learnt from each one's own grants.
  const nameOf = new Map<string, string>();
  const existing: string[] = [];
  for (const p of principals) {
    try {
      const mine = await client.get<{ grants: ApiGrant[] }>(`/v1/grants?principal=${encodeURIComponent(p)}`);
      existing.push(p);
      for (const g of mine.grants) nameOf.set(g.principalId, p);
    } catch (e) {
      if (!notFound(e)) throw e;
    }
  }
  const grants: ServerGrant[] = [];
  for (const k of managed) {
    for (const g of (await client.get<{ grants: ApiGrant[] }>(`/v1/grants?key=${encodeURIComponent(k.id)}`)).grants) {
      if (g.keyId !== k.id) continue; // tag-selector grants are not the manifest's to manage
      grants.push({
        id: g.id,
        keyId: g.keyId,
        principal: nameOf.get(g.principalId) ?? null,
        principalId: g.principalId,
        operations: g.operations,
        ...(g.conditions.sourceCidrs ? { sourceCidrs: g.conditions.sourceCidrs } : {}),
        createdAt: Date.parse(g.createdAt),
        notAfter: g.conditions.notAfter ? Date.parse(g.conditions.notAfter) : null,
      });
    }
  }
  const pendingDeletions: Record<string, string> = {};
  const requests = await client.get<{ requests: Array<{ id: string; action: string; keyId: string | null }> }>('/v1/requests?status=pending');
  for (const r of requests.requests) if (r.action === 'schedule-deletion' && r.keyId !== null) pendingDeletions[r.keyId] = r.id;
  return { keys, grants, principals: existing, pendingDeletions };
}

type Outcome = { change: Change; status: 'applied' | 'skipped' | 'waiting-for-approval'; detail?: string };

async function applyChange(client: KeywardenClient, c: Change, manifest: string, allowDestroy: boolean): Promise<Outcome> {
  switch (c.op) {
    case 'create-key': {
      const { rotationPeriodDays, ...k } = c.key;
      const created = await client.post<{ key: { id: string } }>('/v1/keys', { ...k, ...(rotationPeriodDays !== undefined ? { rotationPeriodDays } : {}) });
      return { change: c, status: 'applied', detail: created.key.id };
    }
    case 'update-key':
      if (Object.keys(c.patch).length > 0) await client.call('PATCH', keyPath(c.keyId), c.patch);
      if (Object.keys(c.setTags).length > 0) await client.post(`${keyPath(c.keyId)}/tags`, { tags: c.setTags });
      if (c.removeTags.length > 0) await client.post(`${keyPath(c.keyId)}/untag`, { tagKeys: c.removeTags });
      return { change: c, status: 'applied' };
    case 'create-grant': {
      const conditions = {
        ...(c.sourceCidrs ? { sourceCidrs: c.sourceCidrs } : {}),
        ...(c.expiresInDays !== undefined ? { notAfter: new Date(Date.now() + c.expiresInDays * DAY_MS).toISOString() } : {}),
      };
      const g = await client.post<{ grant: { id: string } }>('/v1/grants', {
        key: c.alias, principal: c.principal, operations: c.operations, ...(Object.keys(conditions).length ? { conditions } : {}),
      });
      return { change: c, status: 'applied', detail: g.grant.id };
    }
    case 'revoke-grant':
      await client.call('DELETE', `/v1/grants/${encodeURIComponent(c.grantId)}`);
      return { change: c, status: 'applied' };
    case 'destroy-key': {
      if (!allowDestroy) return { change: c, status: 'skipped', detail: 'destructive: run with --allow-destroy' };
      try {
        await client.post(`${keyPath(c.keyId)}/schedule-deletion`, { days: c.deletionWindowDays });
        return { change: c, status: 'applied' };
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 'ApprovalRequired')) throw e;
        const r = await client.post<{ request: { id: string } }>('/v1/requests', {
          action: 'schedule-deletion',
          key: c.keyId,
          reason: `keywarden apply: manifest ${manifest} no longer declares this key`,
          params: { pendingWindowDays: c.deletionWindowDays },
        });
        return { change: c, status: 'waiting-for-approval', detail: r.request.id };
      }
    }
    default:
      return { change: c, status: 'skipped' };
  }
}

function summary(changes: Change[]): string {
  const n = (f: (c: Change) => boolean) => changes.filter(f).length;
  return `${n((c) => c.op === 'create-key' || c.op === 'create-grant')} to create, ${n((c) => c.op === 'update-key')} to update, ${n((c) => c.op === 'revoke-grant')} to revoke, ${n((c) => isDestructive(c) && !isNoop(c))} to destroy, ${n((c) => c.op === 'unchanged-key' || c.op === 'unchanged-grant')} unchanged`;
}

export function registerApplyCommand(program: Command): void {
  program
    .command('apply')
    .description('Reconcile the server with a key manifest (YAML or JSON): plan first, then apply with --yes')
    .argument('<manifest>', 'key manifest file (kind: KeyManifest, metadata.name required)')
    .option('--yes', 'apply the plan (non-destructive changes)')
    .option('--allow-destroy', 'with --yes, also schedule the deletion of managed keys the manifest no longer declares')
    .action(async (file: string, opts: { yes?: boolean; allowDestroy?: boolean }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const manifest = parseManifest(text);
      const name = manifest.metadata?.name;
      if (name === undefined || name.trim() === '') throw new Error('the manifest has no metadata.name: apply needs it to know which keys it manages (tag keywarden:manifest=<name>)');
      const principals = [...new Set((manifest.grants ?? []).map((g) => g.principal))];
      const changes = plan(manifest, await serverState(client, name, principals));
      const errors = changes.filter((c) => c.op === 'error');
      const pending = changes.filter((c) => !isNoop(c));

      if (format === 'table') {
        printLine(`Plan for manifest ${name}:`);
        for (const c of changes) printLine(`  ${describeChange(c)}`);
        printLine(pending.length === 0 ? 'no changes' : `Plan: ${summary(changes)}.`);
      }
      if (errors.length > 0) {
        if (format === 'json') printJson({ manifest: name, changes });
        throw new Error(`${errors.length} change(s) cannot be made: nothing was applied`);
      }
      if (!opts.yes) {
        if (format === 'json') printJson({ manifest: name, changes });
        else if (pending.length > 0) printLine('Run again with --yes to apply (destructive changes also need --allow-destroy).');
        return;
      }
      // In order; the first failure stops the run (what was applied stays, and a re-run plans the rest).
      const applied: Outcome[] = [];
      let failure: Error | undefined;
      for (const c of pending) {
        try {
          const o = await applyChange(client, c, name, opts.allowDestroy === true);
          applied.push(o);
          if (format === 'json') continue;
          if (o.status === 'applied') printLine(`applied: ${describeChange(c)}${o.detail ? ` -> ${o.detail}` : ''}`);
          else if (o.status === 'waiting-for-approval') printLine(`pending: ${describeChange(c)}: waiting for approval ${o.detail}`);
          else printLine(`skipped: ${describeChange(c)}: ${o.detail ?? ''}`);
        } catch (e) {
          failure = new Error(`${describeChange(c)}: ${e instanceof Error ? e.message : String(e)} (${applied.length} of ${pending.length} change(s) applied before it)`);
          break;
        }
      }
      if (format === 'json') printJson({ manifest: name, changes, applied });
      if (failure !== undefined) throw failure;
    });
}
