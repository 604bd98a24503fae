/**
 * AWS key policies (issue 8, PutKeyPolicy/GetKeyPolicy): the JSON document stored per key, and the
 * subset Keywarden ENFORCES. Keywarden's own model (roles, grants, the policy document) decides
 * what a principal may do; a key policy can only take away:
 *
 * - a statement with `Effect: Deny` whose `Principal` names a Keywarden principal
 *   (`arn:aws:iam::<account>:user/<name>`), the whole account (`arn:aws:iam::<account>:root`, the
 *   bare account id) or everyone (`"*"`), and whose `Action` matches the call (`kms:Encrypt`,
 *   `kms:Generate*`, `kms:*`, `*`; case-insensitive), refuses the call (PermissionDenied);
 * - `Effect: Allow` statements are stored and returned but grant nothing: least privilege stays in
 *   Keywarden's roles and grants, which also separate duties and carry conditions; an Allow that
 *   widened them would bypass both.
 *
 * A Deny statement Keywarden cannot evaluate exactly (Condition, NotAction, NotPrincipal,
 * NotResource, another kind of principal) is refused when the policy is put rather than ignored
 * or guessed at. The Keywarden root identity is never refused by a key policy (no lockout).
 */
import { KeywardenError } from '../errors/catalog.js';
import type { Action } from './authorize.js';

export const KEY_POLICY_NAME = 'default';
export const MAX_KEY_POLICY_BYTES = 32 * 1024;

export interface KeyPolicyRecord {
  keyId: string;
  /** The document exactly as put (validated JSON). */
  document: string;
  updatedAt: number;
  updatedBy: string;
}

/** AWS grant metadata Keywarden grants do not carry themselves. */
export interface GrantRetiree {
  grantId: string;
  /** Principal id allowed to retire the grant (RetireGrant). */
  principalId: string;
}

export interface KeyPolicyStore {
  getKeyPolicy(keyId: string): Promise<KeyPolicyRecord | undefined>;
  putKeyPolicy(p: KeyPolicyRecord): Promise<void>;
  setGrantRetiree(r: GrantRetiree): Promise<void>;
  getGrantRetiree(grantId: string): Promise<GrantRetiree | undefined>;
  /** Grant ids a principal may retire. */
  listRetirableGrants(principalId: string): Promise<string[]>;
}

/** The AWS actions of each key-scoped Keywarden action (a Deny matching any of them refuses it). */
export const KMS_ACTIONS: Partial<Record<Action, readonly string[]>> = {
  'key:encrypt': ['Encrypt'],
  'key:decrypt': ['Decrypt'],
  'key:generate-data-key': ['GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext'],
  'key:re-encrypt': ['ReEncryptFrom', 'ReEncryptTo'],
  'key:re-wrap': ['ReEncryptFrom', 'ReEncryptTo'],
  'key:sign': ['Sign'],
  'key:verify': ['Verify'],
  'key:public-key': ['GetPublicKey'],
  'key:mac': ['GenerateMac'],
  'key:verify-mac': ['VerifyMac'],
  'key:describe': ['DescribeKey', 'ListResourceTags', 'GetKeyRotationStatus', 'GetKeyPolicy', 'ListKeyPolicies'],
  'key:update': ['UpdateKeyDescription', 'EnableKeyRotation', 'DisableKeyRotation', 'PutKeyPolicy'],
  'key:rotate': ['RotateKeyOnDemand'],
  'key:enable': ['EnableKey'],
  'key:disable': ['DisableKey'],
  'key:schedule-deletion': ['ScheduleKeyDeletion'],
  'key:cancel-deletion': ['CancelKeyDeletion'],
  'key:tag': ['TagResource', 'UntagResource'],
  'key:alias': ['CreateAlias', 'UpdateAlias', 'DeleteAlias'],
  'key:import': ['GetParametersForImport', 'ImportKeyMaterial', 'DeleteImportedKeyMaterial'],
  'key:versions': ['ListKeyRotations'],
  'grant:manage': ['CreateGrant'],
  'grant:read': ['ListGrants'],
};

/** A compiled Deny: who (undefined = every principal of the account) and which actions. */
export interface DenyRule {
  principals: ReadonlySet<string> | undefined;
  actions: RegExp[];
  /** `*` or `kms:*`: every action, also those without an AWS counterpart (export, revoke, ...). */
  all: boolean;
}

export interface CompiledKeyPolicy {
  denies: DenyRule[];
}

/** What a stored document that no longer compiles enforces: every call refused (fail closed). */
export const DENY_ALL_POLICY: CompiledKeyPolicy = { denies: [{ principals: undefined, actions: [], all: true }] };

const malformed = (message: string) => new KeywardenError('ValidationError', `the key policy is not valid: ${message}`, { awsType: 'MalformedPolicyDocumentException' });

const asList = (v: unknown, what: string): string[] => {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 2048)) {
    throw malformed(`${what} must be a string or a non-empty list of strings`);
  }
  return list as string[];
};

/** `kms:Encrypt`, `kms:Generate*`, `kms:*`, `*` -> a case-insensitive matcher of kms action names. */
function actionPattern(a: string): RegExp {
  if (a === '*') return /^/;
  if (!/^kms:[A-Za-z*?]+$/i.test(a)) throw malformed(`Action "${a.slice(0, 100)}" is not a kms: action`);
  const body = a.slice(4).replace(/[*?]/g, (c) => (c === '*' ? '[A-Za-z]*' : '[A-Za-z]'));
  return new RegExp(`^${body}$`, 'i');
}

/** Principal names a Deny names; undefined = everyone in the account ("*", account root). */
function principals(p: unknown, accountId: string): Set<string> | undefined {
  if (p === '*') return undefined;
  if (typeof p !== 'object' || p === null || Array.isArray(p) || Object.keys(p).some((k) => k !== 'AWS')) {
    throw malformed('the Principal of a Deny statement must be "*" or {"AWS": ...} (Keywarden principals)');
  }
  const names = new Set<string>();
  for (const a of asList((p as { AWS: unknown }).AWS, 'Principal.AWS')) {
    if (a === '*' || a === accountId || a === `arn:aws:iam::${accountId}:root`) return undefined;
    const m = /^arn:aws:iam::(\d{12}):user\/(.+)$/.exec(a);
    if (m === null) throw malformed(`principal "${a.slice(0, 200)}" is not "*", the account, or arn:aws:iam::<account>:user/<Keywarden principal>`);
    // A principal of another account is never a caller here: the statement cannot apply to it.
    if (m[1] === accountId) names.add(m[2] as string);
  }
  return names;
}

const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition', 'NotAction', 'NotPrincipal', 'NotResource']);

/**
 * Validates a key policy document (JSON object, at most 32 KiB, AWS's grammar for the fields
 * Keywarden reads) and compiles its Deny statements. Throws ValidationError (AWS:
 * MalformedPolicyDocumentException).
 */
export function compileKeyPolicy(document: string, accountId: string): CompiledKeyPolicy {
  if (Buffer.byteLength(document, 'utf8') > MAX_KEY_POLICY_BYTES) throw malformed(`it is larger than ${MAX_KEY_POLICY_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(document);
  } catch {
    throw malformed('it is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed('it must be a JSON object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'Version' && k !== 'Id' && k !== 'Statement') throw malformed(`unknown top-level field "${k.slice(0, 64)}"`);
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw malformed('Version must be 2012-10-17');
  const statements = Array.isArray(d.Statement) ? d.Statement : d.Statement !== undefined ? [d.Statement] : undefined;
  if (statements === undefined || statements.length === 0) throw malformed('Statement must hold at least one statement');
  const denies: DenyRule[] = [];
  for (const [i, st] of statements.entries()) {
    if (typeof st !== 'object' || st === null || Array.isArray(st)) throw malformed(`Statement ${i} must be an object`);
    const s = st as Record<string, unknown>;
    for (const k of Object.keys(s)) if (!STATEMENT_FIELDS.has(k)) throw malformed(`Statement ${i} has an unknown field "${k.slice(0, 64)}"`);
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed(`Statement ${i}: Effect must be Allow or Deny`);
    if (s.Effect === 'Allow') continue; // stored, grants nothing (see above)
    for (const k of ['Condition', 'NotAction', 'NotPrincipal', 'NotResource']) {
      if (s[k] !== undefined) throw malformed(`Statement ${i}: ${k} is not supported in a Deny statement (Keywarden enforces Deny by Principal and Action only)`);
    }
    if (s.Principal === undefined || s.Action === undefined) throw malformed(`Statement ${i}: a Deny statement needs Principal and Action`);
    const actions = asList(s.Action, `Statement ${i} Action`);
    denies.push({ principals: principals(s.Principal, accountId), actions: actions.map(actionPattern), all: actions.some((a) => a === '*' || a.toLowerCase() === 'kms:*') });
  }
  return { denies };
}

/** The first Deny that refuses `principalName` the Keywarden `action` on this key, as text; undefined = not refused. */
export function deniedBy(policy: CompiledKeyPolicy, principalName: string, action: Action): string | undefined {
  const kms = KMS_ACTIONS[action];
  for (const d of policy.denies) {
    if (d.principals !== undefined && !d.principals.has(principalName)) continue;
    if (d.all || (kms !== undefined && kms.some((a) => d.actions.some((r) => r.test(a))))) return kms === undefined ? `kms:* (${action})` : `kms:${kms.join('/')}`;
  }
  return undefined;
}
