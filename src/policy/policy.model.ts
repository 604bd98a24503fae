/**
 * The policy engine's data model (issue 5/10): the policy document an organisation writes once
 * (YAML or JSON, validated by PolicyDocumentSchema), the key manifest a team keeps in its
 * repository for the CI/CD gate, and the findings the engine returns. The engine itself is
 * src/policy/engine.ts (pure: no I/O, no clock of its own); the server stores versions of the
 * document (src/policy/policy.service.ts) and evaluates it in the ops pipeline.
 *
 * Layers. A document has `defaults`, then per-`classifications` and per-`environments` rule sets,
 * then named `rules` that match combinations. Every layer that applies to a key's scope
 * (classification, environment) is enforced: the strictest wins, and a refusal names the layer
 * and field that refused (the rule id, e.g. `classifications.restricted.allowedKeySpecs` or
 * `rules.prod-hsm.requiredProtection`).
 */
import { Type, type Static, type TInteger, type TSchema } from '@sinclair/typebox';
import { KEY_SPECS, KEY_USAGES, SIGNING_ALGORITHMS, MAC_ALGORITHMS, ENCRYPTION_ALGORITHMS } from '../crypto/keyspecs.js';
import { APPROVABLE_ACTIONS, type ApprovableAction } from '../auth/access-policy.js';
import type { Action } from '../auth/authorize.js';

/** Data classifications, least to most strict. A key may only move to a stricter one. */
export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'restricted'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** Where a key version's material lives: in software under the root key, or inside an HSM (6/10). */
export const PROTECTIONS = ['software', 'hsm'] as const;
export type Protection = (typeof PROTECTIONS)[number];

export const strictness = (c: Classification): number => CLASSIFICATIONS.indexOf(c);

/** Actions through which a principal uses key material (environment rules apply to these). */
export const DATA_PLANE_ACTIONS = [
  'key:encrypt',
  'key:decrypt',
  'key:generate-data-key',
  'key:re-encrypt',
  'key:sign',
  'key:verify',
  'key:mac',
  'key:verify-mac',
] as const satisfies readonly Action[];

const ALGORITHMS = [...new Set([...SIGNING_ALGORITHMS, ...MAC_ALGORITHMS, ...ENCRYPTION_ALGORITHMS])];
const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const uniqueList = <T extends TSchema>(item: T, description: string) => Type.Array(item, { uniqueItems: true, maxItems: 256, description });
const PositiveInt = (description: string) => Type.Integer({ minimum: 1, maximum: 100_000_000, description });
/** IPv4 or IPv6 CIDR, e.g. 10.0.0.0/8 or fd00::/8 (checked further by the engine). */
const Cidr = Type.String({ pattern: '^[0-9a-fA-F:.]+/\\d{1,3}$', maxLength: 64 });

/** One layer of rules. Every member is optional: an absent member sets no constraint. */
export const RuleSetSchema = Type.Object(
  {
    allowedKeySpecs: Type.Optional(uniqueList(lit(KEY_SPECS), 'key specs allowed for new keys; existing keys of other specs are reported by compliance')),
    allowedAlgorithms: Type.Optional(uniqueList(lit(ALGORITHMS), 'signing, MAC and encryption algorithms allowed in calls')),
    maxRotationDays: Type.Optional(PositiveInt('keys that can rotate must rotate automatically at least this often')),
    requiredProtection: Type.Optional(lit(PROTECTIONS)),
    minDeletionWindowDays: Type.Optional(Type.Integer({ minimum: 7, maximum: 30, description: 'shortest pending-deletion window' })),
    approvals: Type.Optional(
      Type.Partial(
        Type.Object(Object.fromEntries(APPROVABLE_ACTIONS.map((a) => [a, Type.Integer({ minimum: 0, maximum: 10 })])) as Record<ApprovableAction, TInteger>),
        { additionalProperties: false, description: 'approvals (M) each action needs on keys in scope' },
      ),
    ),
    mfaActions: Type.Optional(uniqueList(Type.String({ pattern: '^[a-z-]+:[a-z-]+$', maxLength: 64 }), 'actions that need a fresh TOTP from people on keys in scope')),
    allowedNetworks: Type.Optional(uniqueList(Cidr, 'source networks calls on keys in scope must come from')),
    principalEnvironments: Type.Optional(uniqueList(lit(ENVIRONMENTS), 'environments of the principals that may use keys in scope (data-plane actions)')),
    maxJitGrantSeconds: Type.Optional(PositiveInt('longest just-in-time grant on keys in scope')),
    maxGrantDays: Type.Optional(PositiveInt('grants on keys in scope must expire within this many days of their creation')),
    exportable: Type.Optional(Type.Boolean({ description: 'false: keys in scope may not be exportable' })),
    requireClassification: Type.Optional(Type.Boolean({ description: 'true: keys in scope must carry a classification' })),
    unusedDays: Type.Optional(PositiveInt('a key unused for this long is reported (and may be purged)')),
    dataKeyMaxLifetimeSeconds: Type.Optional(PositiveInt('hint for SDK data-key caches: longest life of a cached data key')),
  },
  { additionalProperties: false },
);
export type RuleSet = Static<typeof RuleSetSchema>;
export type RuleField = keyof RuleSet;

const Scope = Type.Object(
  {
    classification: Type.Optional(uniqueList(lit(CLASSIFICATIONS), 'matches keys of these classifications')),
    environment: Type.Optional(uniqueList(lit(ENVIRONMENTS), 'matches keys of these environments')),
  },
  { additionalProperties: false },
);

export const NamedRuleSchema = Type.Composite([
  Type.Object({
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'stable rule id, named in refusals' }),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    match: Scope,
  }),
  RuleSetSchema,
], { additionalProperties: false });
export type NamedRule = Static<typeof NamedRuleSchema>;

export const POLICY_API_VERSION = 'keywarden.io/v1';

export const PolicyDocumentSchema = Type.Object(
  {
    apiVersion: Type.Literal(POLICY_API_VERSION),
    kind: Type.Literal('Policy'),
    metadata: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ maxLength: 256 })), description: Type.Optional(Type.String({ maxLength: 4096 })) }, { additionalProperties: false })),
    defaults: Type.Optional(RuleSetSchema),
    classifications: Type.Optional(Type.Partial(Type.Object(Object.fromEntries(CLASSIFICATIONS.map((c) => [c, RuleSetSchema])) as Record<Classification, typeof RuleSetSchema>), { additionalProperties: false })),
    environments: Type.Optional(Type.Partial(Type.Object(Object.fromEntries(ENVIRONMENTS.map((e) => [e, RuleSetSchema])) as Record<Environment, typeof RuleSetSchema>), { additionalProperties: false })),
    rules: Type.Optional(Type.Array(NamedRuleSchema, { maxItems: 1000 })),
  },
  { additionalProperties: false },
);
export type PolicyDocument = Static<typeof PolicyDocumentSchema>;

/** A stored version of the policy document. */
export interface PolicyVersion {
  version: number;
  document: PolicyDocument;
  /** SHA-256 (hex) of the document's canonical JSON: what audit events and reports cite. */
  hash: string;
  createdAt: number;
  /** Principal id of whoever set it (null for the built-in default). */
  createdBy: string | null;
}

/** What a key is, for the rules. Absent classification/environment = unclassified / no environment. */
export interface KeyFacts {
  spec: (typeof KEY_SPECS)[number];
  /** EXTERNAL (imported) material cannot rotate automatically: rotation rules skip it. */
  origin: 'KEYWARDEN' | 'EXTERNAL';
  usage: (typeof KEY_USAGES)[number];
  classification: Classification | null;
  environment: Environment | null;
  protection: Protection;
  exportable: boolean;
  rotationPeriodMs: number | null;
}

/** The layer and member that a finding comes from, e.g. `classifications.restricted.allowedKeySpecs`. */
export type RuleId = string;

/** One broken rule: the rule id, the member, and a sentence a person can act on. */
export interface Violation {
  rule: RuleId;
  field: RuleField | 'classification' | 'environment';
  message: string;
}

/** The policy stage's verdict on one call, recorded in its audit event. */
export interface PolicyDecision {
  decision: 'allow' | 'deny';
  /** The refusing rule; for an allow, null. */
  rule: RuleId | null;
  /** The policy version evaluated. */
  policyVersion: number;
}

// ---- The key manifest of the CI/CD gate (`keywarden policy check`, `keywarden apply`) ------------

export const MANIFEST_API_VERSION = 'keywarden.io/v1';

export const ManifestKeySchema = Type.Object(
  {
    alias: Type.String({ pattern: '^alias/[a-zA-Z0-9/_-]+$', maxLength: 256, description: 'the key\'s identity in the manifest' }),
    description: Type.Optional(Type.String({ maxLength: 8192 })),
    spec: Type.Optional(lit(KEY_SPECS)),
    usage: Type.Optional(lit(KEY_USAGES)),
    classification: Type.Optional(lit(CLASSIFICATIONS)),
    environment: Type.Optional(lit(ENVIRONMENTS)),
    protection: Type.Optional(lit(PROTECTIONS)),
    exportable: Type.Optional(Type.Boolean()),
    rotationDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
    deletionWindowDays: Type.Optional(Type.Integer({ minimum: 7, maximum: 30 })),
    tags: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }))),
  },
  { additionalProperties: false },
);
export type ManifestKey = Static<typeof ManifestKeySchema>;

export const ManifestGrantSchema = Type.Object(
  {
    key: Type.String({ pattern: '^alias/[a-zA-Z0-9/_-]+$', maxLength: 256, description: 'alias of a key in this manifest' }),
    principal: Type.String({ minLength: 1, maxLength: 128, description: 'service account name' }),
    operations: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, uniqueItems: true, maxItems: 32 }),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
    sourceCidrs: Type.Optional(uniqueList(Cidr, 'grant condition: source networks')),
  },
  { additionalProperties: false },
);
export type ManifestGrant = Static<typeof ManifestGrantSchema>;

export const ManifestSchema = Type.Object(
  {
    apiVersion: Type.Literal(MANIFEST_API_VERSION),
    kind: Type.Literal('KeyManifest'),
    metadata: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ maxLength: 256 })), team: Type.Optional(Type.String({ maxLength: 256 })) }, { additionalProperties: false })),
    keys: Type.Array(ManifestKeySchema, { maxItems: 10_000 }),
    grants: Type.Optional(Type.Array(ManifestGrantSchema, { maxItems: 100_000 })),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof ManifestSchema>;
