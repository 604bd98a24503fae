/**
 * The offline CI/CD gate (issue 5/10 §5): checks a key manifest against a policy document with the
 * pure engine (src/policy/engine.ts) alone, so `keywarden policy check` in CI reaches the verdicts
 * the server would reach when the manifest is applied. Every finding carries the rule id, and the
 * manifest path and YAML line/column of the offending member (or of the key's entry when the member
 * is absent), for text, JSON and SARIF reports (src/policy/report-format.ts).
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { KeywardenError, errors } from '../errors/catalog.js';
import { addressInCidr, cidrProblem } from '../auth/grant-conditions.js';
import { checkKeyUsage, defaultUsage } from '../crypto/keyspecs.js';
import { checkDeletionWindow, checkGrant, checkKey, layersFor, parseManifest, parsePolicy } from './engine.js';
import type { KeyFacts, Manifest, ManifestGrant, ManifestKey, PolicyDocument, RuleId } from './policy.model.js';

const DAY_MS = 86_400_000;

/** Rule id of a key spec / usage pair Keywarden cannot create (a fact of src/crypto/keyspecs.ts, not of the policy). */
export const KEY_USAGE_RULE = 'keyspecs.usage';

export type ManifestPath = ReadonlyArray<string | number>;

export interface Position {
  /** 1-based, as editors and SARIF count. */
  line: number;
  column: number;
}

/** Where members of the manifest are in its source text. */
export interface SourceMap {
  positionOf(path: ManifestPath): Position;
}

export interface Finding {
  rule: RuleId;
  /** The policy member (or key property) that is broken, e.g. maxRotationDays. */
  field: string;
  message: string;
  level: 'error';
  /** Alias of the key the finding is about (for a grant: the key it grants use of). */
  key: string;
  location: {
    /** `keys[3].rotationDays` style; the entry itself (`keys[3]`) when the member is absent. */
    path: string;
    line: number;
    column: number;
  };
}

/** `keys[3].rotationDays` */
export const formatPath = (path: ManifestPath): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

/** Positions from the `yaml` package's node ranges; a path that is not in the document falls back to its nearest ancestor. */
class YamlSourceMap implements SourceMap {
  constructor(private readonly doc: Document, private readonly lines: LineCounter) {}

  positionOf(path: ManifestPath): Position {
    for (let n = path.length; n >= 0; n--) {
      const node = this.nodeAt(path.slice(0, n));
      if (node?.range) {
        const { line, col } = this.lines.linePos(node.range[0]);
        return { line, column: col };
      }
    }
    return { line: 1, column: 1 };
  }

  /** The node of a member is its key (`rotationDays:`), so a finding points at the line that names it. */
  private nodeAt(path: ManifestPath): Node | undefined {
    if (path.length === 0) return (this.doc.contents as Node | null) ?? undefined;
    const parent = path.length === 1 ? this.doc.contents : this.doc.getIn(path.slice(0, -1), true);
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === last);
      return pair && (isScalar(pair.key) ? pair.key : (pair.value as Node | null) ?? undefined);
    }
    if (isSeq(parent) && typeof last === 'number') return (parent.items[last] as Node | undefined) ?? undefined;
    return undefined;
  }
}

/**
 * Parses and validates a manifest (engine parseManifest: schema, unique aliases, grants name
 * manifest keys; here also: grant CIDRs are CIDRs) and maps its members to source positions.
 * Throws ValidationError naming the first problem.
 */
export function loadManifest(text: string): { manifest: Manifest; source: SourceMap } {
  const manifest = located(text, () => {
    const m = parseManifest(text);
    for (const [i, g] of (m.grants ?? []).entries()) {
      for (const [j, c] of (g.sourceCidrs ?? []).entries()) {
        const problem = cidrProblem(c);
        if (problem !== undefined) throw errors.validation(`invalid manifest at grants.${i}.sourceCidrs.${j}: ${problem}`);
      }
    }
    return m;
  });
  return { manifest, source: sourceMapOf(text) };
}

/** Parses and validates a policy document (engine parsePolicy); a problem's message gains its line and column. */
export function loadPolicy(text: string, knownActions: readonly string[]): PolicyDocument {
  return located(text, () => parsePolicy(text, knownActions));
}

function sourceMapOf(text: string): SourceMap {
  const lines = new LineCounter();
  return new YamlSourceMap(parseDocument(text, { lineCounter: lines }), lines);
}

/**
 * Runs a parser of the engine; when it refuses a member (`invalid manifest at keys.0.spec: ...`),
 * the error names the member's line and column too, so a person finds it in a long file.
 */
function located<T>(text: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof KeywardenError)) throw e;
    const at = /^invalid \w+ at ([^ :]+):/.exec(e.message)?.[1];
    if (at === undefined) throw e;
    const path = at.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    const { line, column } = new YamlSourceMap(doc, lines).positionOf(path);
    // Schema messages ("Expected union value") do not say what was written: show it (manifests and policies hold no secrets).
    const value: unknown = doc.getIn(path);
    const scalar = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
    const got = scalar && !e.message.includes(String(value)) ? `, got ${JSON.stringify(value).slice(0, 80)}` : '';
    throw errors.validation(`${e.message}${got} (line ${line}, column ${column})`);
  }
}

/** KeyFacts of a manifest key, with the defaults the server applies at creation. */
export function factsOf(k: ManifestKey): KeyFacts {
  const spec = k.spec ?? 'SYMMETRIC_DEFAULT';
  return {
    spec,
    usage: k.usage ?? defaultUsage(spec),
    origin: 'KEYWARDEN',
    classification: k.classification ?? null,
    environment: k.environment ?? null,
    protection: k.protection ?? 'software',
    exportable: k.exportable ?? false,
    rotationPeriodMs: k.rotationDays !== undefined ? k.rotationDays * DAY_MS : null,
  };
}

/** The manifest member each engine field is about (absent member: the finding points at the key's entry). */
const MEMBER_OF: Record<string, keyof ManifestKey> = {
  classification: 'classification',
  allowedKeySpecs: 'spec',
  maxRotationDays: 'rotationDays',
  requiredProtection: 'protection',
  exportable: 'exportable',
  minDeletionWindowDays: 'deletionWindowDays',
};

const parseCidr = (c: string): { ip: string; prefix: number; v4: boolean } => {
  const [ip, prefix] = c.split('/') as [string, string];
  return { ip, prefix: Number(prefix), v4: !ip.includes(':') };
};

/** True when every address of `inner` lies in `outer` (an IPv4 range inside an IPv6 one through its mapped form). */
export function cidrWithin(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  const prefix = a.v4 && !b.v4 ? 96 + a.prefix : a.prefix;
  return prefix >= b.prefix && addressInCidr(a.ip, outer);
}

/** Every rule the manifest breaks under `doc`, in manifest order (keys first, then grants). */
export function checkManifest(doc: PolicyDocument, manifest: Manifest, source?: SourceMap): Finding[] {
  const out: Finding[] = [];
  const add = (key: string, rule: RuleId, field: string, message: string, path: ManifestPath): void => {
    const { line, column } = source?.positionOf(path) ?? { line: 1, column: 1 };
    out.push({ rule, field, message, level: 'error', key, location: { path: formatPath(path), line, column } });
  };
  const facts = new Map<string, KeyFacts>();

  for (const [i, k] of manifest.keys.entries()) {
    const f = factsOf(k);
    facts.set(k.alias, f);
    const memberPath = (field: string): ManifestPath => {
      const m = MEMBER_OF[field];
      return m !== undefined && k[m] !== undefined ? ['keys', i, m] : ['keys', i];
    };
    try {
      checkKeyUsage(f.spec, f.usage);
    } catch (e) {
      add(k.alias, KEY_USAGE_RULE, 'usage', (e as Error).message, k.usage !== undefined ? ['keys', i, 'usage'] : ['keys', i]);
    }
    for (const v of checkKey(doc, f)) add(k.alias, v.rule, v.field, v.message, memberPath(v.field));
    if (k.deletionWindowDays !== undefined) {
      const v = checkDeletionWindow(doc, f, k.deletionWindowDays);
      if (v) add(k.alias, v.rule, v.field, v.message, memberPath(v.field));
    }
  }

  for (const [i, g] of (manifest.grants ?? []).entries()) {
    const f = facts.get(g.key);
    if (f === undefined) continue; // parseManifest refuses grants on keys outside the manifest
    const who = `grant to ${g.principal} (${g.operations.join(', ')})`;
    const expiresAt = g.expiresInDays !== undefined ? g.expiresInDays * DAY_MS : null;
    const v = checkGrant(doc, f, { createdAt: 0, expiresAt });
    if (v) add(g.key, v.rule, v.field, `${who}: ${v.message}${expiresAt === null ? ' (it has no expiresInDays)' : ` (it expires after ${g.expiresInDays} days)`}`, g.expiresInDays !== undefined ? ['grants', i, 'expiresInDays'] : ['grants', i]);
    for (const n of networkFindings(doc, f, g)) add(g.key, n.rule, 'allowedNetworks', `${who}: ${n.message}`, ['grants', i, 'sourceCidrs', n.index]);
  }
  return out;
}

/** A grant's source networks that fall outside a layer's allowedNetworks for its key's scope. */
function networkFindings(doc: PolicyDocument, key: KeyFacts, g: ManifestGrant): Array<{ rule: RuleId; message: string; index: number }> {
  const out: Array<{ rule: RuleId; message: string; index: number }> = [];
  const scope = { classification: key.classification, environment: key.environment };
  for (const layer of layersFor(doc, scope)) {
    const allowed = layer.rules.allowedNetworks;
    if (allowed === undefined) continue;
    for (const [index, c] of (g.sourceCidrs ?? []).entries()) {
      if (!allowed.some((n) => cidrWithin(c, n))) {
        out.push({ rule: `${layer.id}.allowedNetworks`, index, message: `source network ${c} is outside the networks allowed for ${scope.classification ?? 'unclassified'} keys${scope.environment !== null ? ` in ${scope.environment}` : ''} (${allowed.join(', ')})` });
      }
    }
  }
  return out;
}
