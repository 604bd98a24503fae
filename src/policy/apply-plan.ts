/**
 * The planner of `keywarden apply` (issue 5/10 §5): the changes that reconcile a server with a key
 * manifest. Pure: the CLI reads the server state over the REST API and passes it in, then prints
 * and (with --yes) performs the plan.
 *
 * Contracts:
 * - Ownership is a tag: a key is managed by manifest N when it carries `keywarden:manifest=N`.
 *   apply never touches a key it does not manage; a manifest alias held by any other key is an error.
 * - A change the server cannot make (spec, usage, protection or exportability of an existing key;
 *   a looser or removed classification; a second environment; a principal that does not exist) is
 *   an `error` change. The CLI applies nothing when the plan holds one.
 * - Destruction (scheduling the deletion of a managed key the manifest no longer declares) is the
 *   only destructive change; grant revocation is not (the manifest is the list of who may use a key).
 * - Idempotent: planning against the state an applied plan produced gives only `unchanged` changes.
 */
import { KEY_SPEC_USAGES, type KeySpec, type KeyUsage } from '../crypto/keyspecs.js';
import { strictness, type Classification, type Manifest, type ManifestGrant, type ManifestKey } from './policy.model.js';

const DAY_MS = 86_400_000;
/** Server and CLI clocks differ by seconds; a grant's lifetime is matched to within this. */
const EXPIRY_TOLERANCE_MS = 3_600_000;
export const DEFAULT_DELETION_WINDOW_DAYS = 30;

export const MANIFEST_TAG = 'keywarden:manifest';
/** The manifest's deletionWindowDays, kept on the key: a key removed from the manifest still needs it. */
export const DELETION_WINDOW_TAG = 'keywarden:deletion-window-days';
/** The `keywarden:` tags apply owns (others, e.g. set by `compliance remediate`, are left alone). */
const APPLY_TAGS = [MANIFEST_TAG, DELETION_WINDOW_TAG];

/** A key as GET /v1/keys shows it (classification/environment/protection absent on older servers). */
export interface ServerKey {
  id: string;
  aliases: string[];
  description?: string;
  spec: string;
  usage: string;
  state: string;
  exportable?: boolean;
  rotationPeriodDays?: number | null;
  tags?: Record<string, string>;
  classification?: string | null;
  environment?: string | null;
  protection?: string;
}

/** A grant naming a managed key; `principal` is the name when it is one the manifest names, else null. */
export interface ServerGrant {
  id: string;
  keyId: string;
  principal: string | null;
  principalId: string;
  operations: string[];
  sourceCidrs?: string[];
  createdAt: number;
  notAfter: number | null;
}

export interface ServerState {
  /** Every key on the server (the planner finds the managed ones and who holds the manifest's aliases). */
  keys: ServerKey[];
  /** Active grants on the managed keys. */
  grants: ServerGrant[];
  /** Principal names the manifest's grants use that exist on the server. */
  principals: string[];
  /** Pending schedule-deletion approval requests: key id -> request id. */
  pendingDeletions: Record<string, string>;
}

export interface KeySettings {
  alias: string;
  description?: string;
  spec?: string;
  usage?: string;
  classification?: string;
  environment?: string;
  protection?: string;
  exportable?: boolean;
  rotationPeriodDays?: number;
  tags: Record<string, string>;
}

export interface KeyUpdate {
  description?: string;
  rotationPeriodDays?: number | null;
  classification?: string;
  environment?: string;
}

export type Change =
  | { op: 'create-key'; alias: string; key: KeySettings }
  | { op: 'update-key'; alias: string; keyId: string; patch: KeyUpdate; setTags: Record<string, string>; removeTags: string[]; diff: string[] }
  | { op: 'unchanged-key'; alias: string; keyId: string }
  | { op: 'create-grant'; alias: string; principal: string; operations: string[]; expiresInDays?: number; sourceCidrs?: string[] }
  | { op: 'unchanged-grant'; alias: string; principal: string; grantId: string }
  | { op: 'revoke-grant'; alias: string; keyId: string; grantId: string; principal: string; operations: string[] }
  | { op: 'destroy-key'; keyId: string; aliases: string[]; deletionWindowDays: number; pendingRequest: string | null }
  | { op: 'error'; alias: string; message: string };

export const isDestructive = (c: Change): boolean => c.op === 'destroy-key';
export const isNoop = (c: Change): boolean => c.op === 'unchanged-key' || c.op === 'unchanged-grant' || (c.op === 'destroy-key' && c.pendingRequest !== null);

const GONE = new Set(['Destroyed']);
const sameSet = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && a.every((x) => b.includes(x));

function effectiveSpec(m: ManifestKey): { spec: KeySpec; usage: KeyUsage } {
  const spec = m.spec ?? 'SYMMETRIC_DEFAULT';
  return { spec, usage: m.usage ?? (Object.keys(KEY_SPEC_USAGES[spec])[0] as KeyUsage) };
}

function desiredTags(name: string, m: ManifestKey): Record<string, string> {
  return { ...(m.tags ?? {}), [MANIFEST_TAG]: name, ...(m.deletionWindowDays !== undefined ? { [DELETION_WINDOW_TAG]: String(m.deletionWindowDays) } : {}) };
}

function settings(name: string, m: ManifestKey): KeySettings {
  const { spec, usage } = effectiveSpec(m);
  return {
    alias: m.alias,
    ...(m.description !== undefined ? { description: m.description } : {}),
    ...(m.spec !== undefined || m.usage !== undefined ? { spec, usage } : {}),
    ...(m.classification !== undefined ? { classification: m.classification } : {}),
    ...(m.environment !== undefined ? { environment: m.environment } : {}),
    ...(m.protection !== undefined ? { protection: m.protection } : {}),
    ...(m.exportable !== undefined ? { exportable: m.exportable } : {}),
    ...(m.rotationDays !== undefined ? { rotationPeriodDays: m.rotationDays } : {}),
    tags: desiredTags(name, m),
  };
}

/** The update that brings `k` to `m`, or the reasons it cannot. */
function diffKey(name: string, m: ManifestKey, k: ServerKey): { errors: string[]; patch: KeyUpdate; setTags: Record<string, string>; removeTags: string[]; diff: string[] } {
  const errors: string[] = [];
  const patch: KeyUpdate = {};
  const diff: string[] = [];
  const { spec, usage } = effectiveSpec(m);
  if (k.spec !== spec) errors.push(`the key spec cannot change (${k.spec} -> ${spec}): declare a new key under a new alias and retire this one`);
  else if (k.usage !== usage) errors.push(`the key usage cannot change (${k.usage} -> ${usage}): declare a new key under a new alias and retire this one`);
  if ((k.protection ?? 'software') !== (m.protection ?? 'software')) errors.push(`the protection cannot change (${k.protection ?? 'software'} -> ${m.protection ?? 'software'}): key material does not move between software and an HSM`);
  if ((k.exportable ?? false) !== (m.exportable ?? false)) errors.push(`exportability cannot change (${String(k.exportable ?? false)} -> ${String(m.exportable ?? false)})`);

  const have = (k.classification ?? null) as Classification | null;
  const want = m.classification ?? null;
  if (have !== want) {
    if (want === null) errors.push(`the classification cannot be removed (it is ${have})`);
    else if (have !== null && strictness(want) < strictness(have)) errors.push(`the classification can only become stricter (${have} -> ${want})`);
    else {
      patch.classification = want;
      diff.push(`classification ${have ?? 'none'} -> ${want}`);
    }
  }
  const env = k.environment ?? null;
  const wantEnv = m.environment ?? null;
  if (env !== wantEnv) {
    if (env !== null) errors.push(`the environment is set once (it is ${env}${wantEnv !== null ? `, the manifest says ${wantEnv}` : ''})`);
    else {
      patch.environment = wantEnv as string;
      diff.push(`environment none -> ${wantEnv}`);
    }
  }
  const desc = m.description ?? '';
  if ((k.description ?? '') !== desc) {
    patch.description = desc;
    diff.push(`description ${JSON.stringify(k.description ?? '')} -> ${JSON.stringify(desc)}`);
  }
  const rot = m.rotationDays ?? null;
  if ((k.rotationPeriodDays ?? null) !== rot) {
    patch.rotationPeriodDays = rot;
    diff.push(`rotation ${k.rotationPeriodDays == null ? 'off' : `${k.rotationPeriodDays}d`} -> ${rot === null ? 'off' : `${rot}d`}`);
  }
  const want_ = desiredTags(name, m);
  const tags = k.tags ?? {};
  const setTags = Object.fromEntries(Object.entries(want_).filter(([t, v]) => tags[t] !== v));
  const removeTags = Object.keys(tags).filter((t) => !(t in want_) && (!t.startsWith('keywarden:') || APPLY_TAGS.includes(t)));
  for (const [t, v] of Object.entries(setTags)) diff.push(`tag +${t}=${v}`);
  for (const t of removeTags) diff.push(`tag -${t}`);
  return { errors, patch, setTags, removeTags, diff };
}

function grantMatches(g: ManifestGrant, s: ServerGrant): boolean {
  if (s.principal !== g.principal || !sameSet(s.operations, g.operations) || !sameSet(s.sourceCidrs, g.sourceCidrs)) return false;
  if (g.expiresInDays === undefined) return s.notAfter === null;
  return s.notAfter !== null && Math.abs(s.notAfter - s.createdAt - g.expiresInDays * DAY_MS) <= EXPIRY_TOLERANCE_MS;
}

/** The changes, in the order they are applied: keys, grants, revocations, destruction; errors among them. */
export function plan(manifest: Manifest, state: ServerState): Change[] {
  const name = manifest.metadata?.name;
  if (name === undefined || name.trim() === '') throw new Error('the manifest has no metadata.name: apply needs it to know which keys it manages (tag keywarden:manifest=<name>)');
  const live = state.keys.filter((k) => !GONE.has(k.state));
  const managed = live.filter((k) => k.tags?.[MANIFEST_TAG] === name);
  const byAlias = new Map(live.flatMap((k) => k.aliases.map((a) => [a, k] as const)));
  const keyChanges: Change[] = [];
  const grantChanges: Change[] = [];
  const revocations: Change[] = [];
  const destruction: Change[] = [];
  const declared = new Set<string>();

  for (const m of manifest.keys) {
    const k = byAlias.get(m.alias);
    if (k === undefined) {
      keyChanges.push({ op: 'create-key', alias: m.alias, key: settings(name, m) });
      continue;
    }
    declared.add(k.id);
    if (k.tags?.[MANIFEST_TAG] !== name) {
      const owner = k.tags?.[MANIFEST_TAG];
      keyChanges.push({ op: 'error', alias: m.alias, message: `the alias belongs to key ${k.id}, which ${owner ? `manifest ${owner} manages` : 'no manifest manages'}; apply does not take over keys` });
      continue;
    }
    if (k.state === 'PendingDeletion') {
      keyChanges.push({ op: 'error', alias: m.alias, message: `key ${k.id} is pending deletion: cancel the deletion (keywarden key cancel-deletion ${k.id}) to keep it` });
      continue;
    }
    const d = diffKey(name, m, k);
    for (const message of d.errors) keyChanges.push({ op: 'error', alias: m.alias, message });
    if (d.errors.length > 0) continue;
    if (d.diff.length === 0) keyChanges.push({ op: 'unchanged-key', alias: m.alias, keyId: k.id });
    else keyChanges.push({ op: 'update-key', alias: m.alias, keyId: k.id, patch: d.patch, setTags: d.setTags, removeTags: d.removeTags, diff: d.diff });
  }

  // Grants: each declared grant matches one existing grant of its key, or is created; the rest are revoked.
  const used = new Set<string>();
  for (const g of manifest.grants ?? []) {
    if (!state.principals.includes(g.principal)) {
      grantChanges.push({ op: 'error', alias: g.key, message: `principal ${g.principal} does not exist (grants go to service accounts by name)` });
      continue;
    }
    const k = byAlias.get(g.key);
    const match = k === undefined ? undefined : state.grants.find((s) => s.keyId === k.id && !used.has(s.id) && grantMatches(g, s));
    if (match !== undefined) {
      used.add(match.id);
      grantChanges.push({ op: 'unchanged-grant', alias: g.key, principal: g.principal, grantId: match.id });
    } else {
      grantChanges.push({
        op: 'create-grant', alias: g.key, principal: g.principal, operations: g.operations,
        ...(g.expiresInDays !== undefined ? { expiresInDays: g.expiresInDays } : {}),
        ...(g.sourceCidrs !== undefined ? { sourceCidrs: g.sourceCidrs } : {}),
      });
    }
  }
  for (const s of state.grants) {
    const k = managed.find((x) => x.id === s.keyId);
    if (k === undefined || used.has(s.id) || !declared.has(k.id)) continue;
    revocations.push({ op: 'revoke-grant', alias: k.aliases[0] ?? k.id, keyId: k.id, grantId: s.id, principal: s.principal ?? s.principalId, operations: s.operations });
  }

  for (const k of managed) {
    if (declared.has(k.id) || k.state === 'PendingDeletion') continue;
    const tagged = Number(k.tags?.[DELETION_WINDOW_TAG]);
    destruction.push({
      op: 'destroy-key', keyId: k.id, aliases: k.aliases,
      deletionWindowDays: Number.isInteger(tagged) && tagged >= 7 && tagged <= 30 ? tagged : DEFAULT_DELETION_WINDOW_DAYS,
      pendingRequest: state.pendingDeletions[k.id] ?? null,
    });
  }
  return [...keyChanges, ...grantChanges, ...revocations, ...destruction];
}

/** One line of the printed plan: + create, ~ update, - destroy or revoke, = unchanged, ! error. */
export function describeChange(c: Change): string {
  const opt = (k: KeySettings) =>
    [k.spec ?? 'SYMMETRIC_DEFAULT', k.classification, k.environment, k.protection === 'hsm' ? 'hsm' : undefined, k.rotationPeriodDays !== undefined ? `rotation ${k.rotationPeriodDays}d` : undefined, k.exportable ? 'exportable' : undefined]
      .filter(Boolean)
      .join(', ');
  const grant = (c: { operations: string[]; expiresInDays?: number; sourceCidrs?: string[] }) =>
    `${c.operations.join(', ')}${c.expiresInDays !== undefined ? `, expires in ${c.expiresInDays}d` : ''}${c.sourceCidrs ? `, from ${c.sourceCidrs.join(', ')}` : ''}`;
  switch (c.op) {
    case 'create-key':
      return `+ key ${c.alias}: create (${opt(c.key)})`;
    case 'update-key':
      return `~ key ${c.alias} (${c.keyId}): ${c.diff.join('; ')}`;
    case 'unchanged-key':
      return `= key ${c.alias} (${c.keyId})`;
    case 'create-grant':
      return `+ grant ${c.alias} -> ${c.principal}: ${grant(c)}`;
    case 'unchanged-grant':
      return `= grant ${c.alias} -> ${c.principal} (${c.grantId})`;
    case 'revoke-grant':
      return `- grant ${c.alias} -> ${c.principal} (${c.grantId}): revoke (${c.operations.join(', ')})`;
    case 'destroy-key':
      return c.pendingRequest !== null
        ? `= key ${c.keyId}${c.aliases.length ? ` (${c.aliases.join(', ')})` : ''}: waiting for approval ${c.pendingRequest} (schedule deletion)`
        : `- key ${c.keyId}${c.aliases.length ? ` (${c.aliases.join(', ')})` : ''}: schedule deletion in ${c.deletionWindowDays} days [destructive]`;
    case 'error':
      return `! ${c.alias}: ${c.message}`;
  }
}
