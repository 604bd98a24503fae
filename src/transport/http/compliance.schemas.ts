/** TypeBox schemas of the compliance report route (GET /v1/compliance). */
import { Type } from '@sinclair/typebox';
import { KEY_SPECS, KEY_STATES } from '../../keys/key.model.js';
import { VIOLATION_KINDS } from '../../policy/compliance.js';
import { CLASSIFICATIONS, ENVIRONMENTS } from '../../policy/policy.model.js';

const Lit = (xs: readonly string[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const OrNull = (s: ReturnType<typeof Lit>) => Type.Union([s, Type.Null()]);

export const ComplianceQuery = Type.Object(
  {
    classification: Type.Optional(Lit(CLASSIFICATIONS)),
    environment: Type.Optional(Lit(ENVIRONMENTS)),
    kind: Type.Optional(Lit(VIOLATION_KINDS)),
  },
  { additionalProperties: false },
);
export type ComplianceQueryT = { classification?: (typeof CLASSIFICATIONS)[number]; environment?: (typeof ENVIRONMENTS)[number]; kind?: (typeof VIOLATION_KINDS)[number] };

const ViolationOut = Type.Object({
  kind: Lit(VIOLATION_KINDS),
  rule: Type.String({ description: 'The rule id, e.g. classifications.restricted.maxRotationDays' }),
  message: Type.String(),
  maxRotationDays: Type.Optional(Type.Integer({ description: 'rotation-period: the longest period the key\u2019s scope allows' })),
  replacementSpec: Type.Optional(Type.Union([Lit(KEY_SPECS), Type.Null()], { description: 'weak-algorithm: the spec to re-key to (null: none allowed)' })),
  grantId: Type.Optional(Type.String({ description: 'grant-beyond-maximum: the grant' })),
});

export const ComplianceOut = Type.Object({
  generatedAt: Type.String({ format: 'date-time' }),
  policy: Type.Object({ version: Type.Integer(), hash: Type.String() }),
  summary: Type.Object({
    keys: Type.Integer(),
    compliant: Type.Integer(),
    pendingDeletion: Type.Integer(),
    violations: Type.Integer(),
    byKind: Type.Object(Object.fromEntries(VIOLATION_KINDS.map((k) => [k, Type.Integer()]))),
  }),
  keys: Type.Array(
    Type.Object({
      id: Type.String(),
      aliases: Type.Array(Type.String()),
      spec: Lit(KEY_SPECS),
      classification: OrNull(Lit(CLASSIFICATIONS)),
      environment: OrNull(Lit(ENVIRONMENTS)),
      state: Lit(KEY_STATES),
      violations: Type.Array(ViolationOut),
    }),
  ),
});
