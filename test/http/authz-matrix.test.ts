/**
 * The authorization matrix of issue 3/10, generated from the documentation: the role table of
 * docs/access-control.md is parsed, checked against the code's table (src/auth/roles.ts) for every
 * action and role, and then EVERY documented action is run through the real HTTP server as every
 * role, with and without a grant, expecting exactly the documented allow or deny.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ACTIONS } from '../../src/auth/access-policy.service.js';
import type { Action } from '../../src/auth/authorize.js';
import { ROLES, type GrantOperation, type Role } from '../../src/auth/principal.model.js';
import { ruleFor } from '../../src/auth/roles.js';
import { bootDevSeal } from '../../src/seal/dev-seal.js';
import { startInProcess, type TestKeywarden } from '../support/in-process.js';
import { assertError } from '../support/assert.js';

type Cell = 'allow' | 'grant' | 'any grant' | '';
type Res = { status: number; json: any };
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The `## Roles` table of docs/access-control.md: action -> role -> cell. */
function documentedTable(): Map<Action, Record<Role, Cell>> {
  const md = readFileSync(new URL('../../docs/access-control.md', import.meta.url), 'utf8');
  const section = md.split(/^## /m).find((s) => s.startsWith('Roles'));
  assert.ok(section, 'docs/access-control.md has a "## Roles" section');
  const rows = section.split('\n').filter((l) => l.startsWith('|'));
  const header = rows[0]!.split('|').slice(2, -1).map((c) => c.trim());
  assert.deepEqual(header, [...ROLES], 'the table has one column per role, in ROLES order');
  const table = new Map<Action, Record<Role, Cell>>();
  for (const row of rows.slice(2)) {
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    const actions = cells[0]!.replace(/\(.*?\)/g, '').match(/[a-z-]+:[a-z-]+/g) ?? [];
    assert.ok(actions.length > 0, `row names an action: ${row}`);
    for (const a of actions) {
      assert.ok((ACTIONS as readonly string[]).includes(a), `documented action ${a} exists in the code`);
      assert.ok(!table.has(a as Action), `${a} is documented once`);
      table.set(a as Action, Object.fromEntries(ROLES.map((r, i) => [r, cells[i + 1] as Cell])) as Record<Role, Cell>);
    }
  }
  return table;
}

const TABLE = documentedTable();

test('the documented role table is the code\u2019s role table, for every action and role', () => {
  for (const action of ACTIONS) {
    if (action === 'principal:self') continue; // every authenticated principal; documented in prose
    const doc = TABLE.get(action);
    assert.ok(doc, `${action} is documented in the role table`);
    for (const role of ROLES) {
      const rule = ruleFor([role], action);
      const expected: Cell = rule === undefined ? '' : rule === 'allow' ? 'allow' : rule === 'any-grant' ? 'any grant' : 'grant';
      assert.equal(doc[role], expected, `${role} × ${action}`);
    }
  }
});

/** Per test: fresh keys made by root, and what a scenario needs to run. */
interface Fixture {
  sym: string;
  signing: string;
  mac: string;
  exportable: string;
  external: string;
  ciphertext: string;
  signature: string;
  macValue: string;
  n: number;
}

interface Scenario {
  /** The key the grant (when granted) is made on, and the operation it grants. */
  grant?: { key: keyof Fixture; op: GrantOperation };
  /** Setup as root before the call. */
  setup?: (t: TestKeywarden, f: Fixture) => Promise<void>;
  run: (t: TestKeywarden, token: string, f: Fixture, role: Role) => Promise<Res>;
  /** What an authorized call answers (default: any 2xx). */
  allowed?: (r: Res) => boolean;
  /** Put things back after an allowed call (seal, root-token revocation). */
  restore?: (t: TestKeywarden) => Promise<void>;
}

const rsaSpki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const REQUEST_BY_ROLE: Record<Role, (f: Fixture) => object> = {
  application: (f) => ({ action: 'jit-grant', key: f.sym, reason: 'matrix', duration: 3600, params: { operations: ['encrypt'] } }),
  'key-administrator': (f) => ({ action: 'schedule-deletion', key: f.sym, reason: 'matrix' }),
  'security-officer': (f) => ({ action: 'revoke', key: f.sym, reason: 'matrix', params: { reason: 'superseded' } }),
  admin: () => ({ action: 'role-bind', reason: 'matrix', params: { principal: 'matrix-target', role: 'auditor' } }),
  auditor: (f) => ({ action: 'disable', key: f.sym, reason: 'matrix' }),
};

/** One request per documented action. A missing scenario fails the matrix (documented = tested). */
const SCENARIOS: Partial<Record<Action, Scenario>> = {
  'key:create': { run: (t, tok) => t.req('POST', '/v1/keys', { description: 'matrix' }, tok) },
  'key:list': { run: (t, tok) => t.req('GET', '/v1/keys', undefined, tok) },
  'key:describe': { grant: { key: 'sym', op: 'encrypt' }, run: (t, tok, f) => t.req('GET', `/v1/keys/${f.sym}`, undefined, tok) },
  'key:versions': { run: (t, tok, f) => t.req('GET', `/v1/keys/${f.sym}/versions`, undefined, tok) },
  'key:update': { run: (t, tok, f) => t.req('PATCH', `/v1/keys/${f.sym}`, { description: 'changed' }, tok) },
  'key:rotate': { run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/rotate`, undefined, tok) },
  'key:enable': {
    setup: async (t, f) => void (await t.req('POST', `/v1/keys/${f.sym}/disable`)),
    run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/enable`, undefined, tok),
  },
  'key:disable': { run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/disable`, undefined, tok) },
  'key:schedule-deletion': { run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/schedule-deletion`, {}, tok) },
  'key:cancel-deletion': {
    setup: async (t, f) => void (await t.req('POST', `/v1/keys/${f.sym}/schedule-deletion`, {})),
    run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/cancel-deletion`, undefined, tok),
  },
  'key:revoke': { run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/revoke`, { reason: 'superseded' }, tok) },
  'key:tag': { run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/tags`, { tags: { team: 'matrix' } }, tok) },
  'key:alias': { run: (t, tok, f) => t.req('POST', '/v1/aliases', { alias: `alias/matrix-${f.n}`, key: f.sym }, tok) },
  'key:import': { run: (t, tok, f) => t.req('POST', `/v1/keys/${f.external}/import-parameters`, {}, tok) },
  'key:export': { grant: { key: 'exportable', op: 'export' }, run: (t, tok, f) => t.req('POST', `/v1/keys/${f.exportable}/export`, { publicKey: rsaSpki }, tok) },
  'key:encrypt': { grant: { key: 'sym', op: 'encrypt' }, run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/encrypt`, { plaintext: b64('x') }, tok) },
  'key:decrypt': { grant: { key: 'sym', op: 'decrypt' }, run: (t, tok, f) => t.req('POST', '/v1/decrypt', { ciphertext: f.ciphertext }, tok) },
  'key:generate-data-key': { grant: { key: 'sym', op: 'generate-data-key' }, run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/data-key`, {}, tok) },
  'key:re-encrypt': {
    grant: { key: 'sym', op: 're-encrypt' },
    run: (t, tok, f) => t.req('POST', '/v1/re-encrypt', { ciphertext: f.ciphertext, destinationKey: f.sym }, tok),
  },
  'key:re-wrap': { grant: { key: 'sym', op: 're-wrap' }, run: (t, tok, f) => t.req('POST', `/v1/keys/${f.sym}/re-wrap`, { ciphertext: f.ciphertext }, tok) },
  'key:sign': {
    grant: { key: 'signing', op: 'sign' },
    run: (t, tok, f) => t.req('POST', `/v1/keys/${f.signing}/sign`, { message: b64('m'), messageType: 'RAW', algorithm: 'ECDSA_SHA_256' }, tok),
  },
  'key:verify': {
    grant: { key: 'signing', op: 'verify' },
    run: (t, tok, f) => t.req('POST', `/v1/keys/${f.signing}/verify`, { message: b64('m'), messageType: 'RAW', algorithm: 'ECDSA_SHA_256', signature: f.signature }, tok),
    allowed: (r) => r.status === 200 && r.json.valid === true,
  },
  'key:public-key': { grant: { key: 'signing', op: 'sign' }, run: (t, tok, f) => t.req('GET', `/v1/keys/${f.signing}/public-key`, undefined, tok) },
  'key:mac': { grant: { key: 'mac', op: 'mac' }, run: (t, tok, f) => t.req('POST', `/v1/keys/${f.mac}/mac`, { message: b64('m'), algorithm: 'HMAC_SHA_256' }, tok) },
  'key:verify-mac': {
    grant: { key: 'mac', op: 'verify-mac' },
    run: (t, tok, f) => t.req('POST', `/v1/keys/${f.mac}/verify-mac`, { message: b64('m'), algorithm: 'HMAC_SHA_256', mac: f.macValue }, tok),
    allowed: (r) => r.status === 200 && r.json.valid === true,
  },
  'key:report': { run: (t, tok) => t.req('GET', '/v1/reports/unused-keys?unusedForDays=30', undefined, tok) },
  'key:purge': { run: (t, tok) => t.req('POST', '/v1/reports/unused-keys/purge', { unusedForDays: 36500 }, tok) },
  'random:generate': { run: (t, tok) => t.req('POST', '/v1/random', { bytes: 16 }, tok) },
  'sys:seal': {
    run: (t, tok) => t.req('POST', '/v1/sys/seal', undefined, tok),
    restore: async (t) => void (await bootDevSeal(t.kw.seal, t.dir)),
  },
  'sys:jobs': { run: (t, tok) => t.req('GET', '/v1/sys/jobs', undefined, tok) },
  'sys:metrics': { run: (t, tok) => t.req('GET', '/v1/sys/metrics', undefined, tok), allowed: (r) => r.status === 200 && /^keywarden_operations_total/m.test(r.json) },
  'sys:revoke-root': {
    run: (t, tok) => t.req('POST', '/v1/sys/root-token/revoke', undefined, tok),
    restore: async (t) => void (t.token = await t.kw.tokens.createRootToken()),
  },
  'principal:read': { run: (t, tok) => t.req('GET', '/v1/principals', undefined, tok) },
  'principal:manage': { run: (t, tok) => t.req('POST', '/v1/principals/matrix-target/rotate-secret', undefined, tok) },
  'principal:bind': {
    setup: async (t) => void (await t.req('DELETE', '/v1/principals/matrix-target/roles/auditor')),
    run: (t, tok) => t.req('POST', '/v1/principals/matrix-target/roles', { roles: ['auditor'] }, tok),
  },
  'grant:read': { run: (t, tok) => t.req('GET', '/v1/grants', undefined, tok) },
  'grant:manage': { run: (t, tok, f) => t.req('POST', '/v1/grants', { key: f.sym, principal: 'matrix-app', operations: ['encrypt'] }, tok) },
  'grant:revoke': {
    run: async (t, tok, f) => {
      const g = await t.req('POST', '/v1/grants', { key: f.sym, principal: 'matrix-app', operations: ['decrypt'] });
      return t.req('DELETE', `/v1/grants/${g.json.grant.id}`, undefined, tok);
    },
  },
  'token:revoke': {
    run: async (t, tok) => {
      const other = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: appCredentials.clientId, client_secret: appCredentials.clientSecret }, null);
      return t.req('POST', '/v1/auth/revoke', { token: other.json.access_token }, tok);
    },
    allowed: (r) => r.status === 200 && r.json.revoked === true,
  },
  'request:create': {
    // Each role asks for something it may do itself: an application a just-in-time grant, the
    // others an action that needs no approval under the default policy, which gets past
    // authorization to "needs no approval" (the auditor may request nothing).
    run: (t, tok, f, role) => t.req('POST', '/v1/requests', REQUEST_BY_ROLE[role](f), tok),
    allowed: (r) => r.status === 201 || (r.status === 400 && /needs no approval/.test(r.json.error.message)),
  },
  'request:read': {
    // Another principal's request (a requester always reads its own).
    run: async (t, tok, f) => {
      const r = await t.req('POST', '/v1/requests', REQUEST_BY_ROLE.application(f), appToken);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return t.req('GET', `/v1/requests/${r.json.request.id}`, undefined, tok);
    },
  },
  'request:approve': {
    run: async (t, tok, f) => {
      const r = await t.req('POST', '/v1/requests', { action: 'jit-grant', key: f.sym, reason: 'matrix', duration: 3600, params: { operations: ['encrypt'] } }, appToken);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return t.req('POST', `/v1/requests/${r.json.request.id}/approve`, undefined, tok);
    },
  },
  'audit:read': { run: (t, tok) => t.req('GET', '/v1/audit/checkpoint', undefined, tok) },
  'alert:read': { run: (t, tok) => t.req('GET', '/v1/alerts', undefined, tok) },
  'alert:manage': {
    run: async (t, tok, f) => {
      const { alert } = await t.kw.alerts.raise({ detector: 'probing', severity: 'high', subject: { sourceIp: `192.0.2.${f.n % 250}` }, summary: 'matrix', evidence: {}, events: [], time: Date.now() });
      return t.req('POST', `/v1/alerts/${alert.id}/acknowledge`, undefined, tok);
    },
  },
  'incident:respond': { run: (t, tok, f) => t.req('POST', '/v1/incidents/key-compromise', { key: f.sym, reason: 'matrix', drill: true }, tok), allowed: (r) => r.status === 201 && r.json.incident.drill === true },
  'access:review': { run: (t, tok) => t.req('GET', '/v1/access-review', undefined, tok) },
  'policy:read': { run: (t, tok) => t.req('GET', '/v1/access-policy', undefined, tok) },
  'policy:edit': {
    run: async (t, tok) => {
      const current = (await t.req('GET', '/v1/access-policy')).json.policy;
      return t.req('PUT', '/v1/access-policy', { policy: current }, tok);
    },
  },
};

let roleTokens = {} as Record<Role, string>;
let appToken = '';
let appCredentials = { clientId: '', clientSecret: '' };

describe('authorization matrix: every documented action × every role × granted / not granted, over HTTP', () => {
  let t: TestKeywarden;
  let n = 0;

  async function account(name: string, roles: Role[]) {
    const c = await t.req('POST', '/v1/principals', { name, roles });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    const tok = await t.req('POST', '/v1/auth/token', { grant_type: 'client_credentials', client_id: c.json.clientId, client_secret: c.json.clientSecret }, null);
    assert.equal(tok.status, 200, JSON.stringify(tok.json));
    return { token: tok.json.access_token as string, clientId: c.json.clientId as string, clientSecret: c.json.clientSecret as string };
  }

  before(async () => {
    t = await startInProcess();
    roleTokens = {} as Record<Role, string>;
    for (const r of ROLES) roleTokens[r] = (await account(`sa-${r}`, [r])).token;
    const app = await account('matrix-app', ['application']);
    appToken = app.token;
    appCredentials = app;
    await account('matrix-target', ['auditor']);
  });
  after(() => t.close());

  async function fixture(): Promise<Fixture> {
    const key = async (body: object) => {
      const r = await t.req('POST', '/v1/keys', body);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json.key.id as string;
    };
    const f = {
      sym: await key({ description: 'matrix' }),
      signing: await key({ spec: 'ECC_NIST_P256', usage: 'SIGN_VERIFY' }),
      mac: await key({ spec: 'HMAC_256', usage: 'GENERATE_VERIFY_MAC' }),
      exportable: await key({ exportable: true }),
      external: await key({ origin: 'EXTERNAL' }),
      n: ++n,
    } as Fixture;
    f.ciphertext = (await t.req('POST', `/v1/keys/${f.sym}/encrypt`, { plaintext: b64('hello') })).json.ciphertext;
    f.signature = (await t.req('POST', `/v1/keys/${f.signing}/sign`, { message: b64('m'), messageType: 'RAW', algorithm: 'ECDSA_SHA_256' })).json.signature;
    f.macValue = (await t.req('POST', `/v1/keys/${f.mac}/mac`, { message: b64('m'), algorithm: 'HMAC_SHA_256' })).json.mac;
    return f;
  }

  for (const [action, cells] of TABLE) {
    for (const role of ROLES) {
      for (const granted of [false, true]) {
        const cell = cells[role];
        const allowed = cell === 'allow' || ((cell === 'grant' || cell === 'any grant') && granted);
        const name = `${role} × ${action} × ${granted ? 'granted' : 'not granted'} -> ${allowed ? 'allow' : 'deny'}`;
        test(name, async () => {
          const s = SCENARIOS[action];
          assert.ok(s, `the matrix has a scenario for the documented action ${action}`);
          const f = await fixture();
          await s.setup?.(t, f);
          if (granted && s.grant !== undefined) {
            const g = await t.req('POST', '/v1/grants', { key: f[s.grant.key], principal: `sa-${role}`, operations: [s.grant.op] });
            if (role === 'application') assert.equal(g.status, 201, JSON.stringify(g.json));
            else assertError(g, 400, 'ValidationError', `principal sa-${role} does not hold the application role: only applications use keys through grants`);
          }
          const res = await s.run(t, roleTokens[role], f, role);
          if (allowed) {
            const ok = s.allowed ? s.allowed(res) : res.status >= 200 && res.status < 300;
            assert.ok(ok, `${name}: ${res.status} ${JSON.stringify(res.json)}`);
            await s.restore?.(t);
          } else {
            assertError(res, 403, 'PermissionDenied', new RegExp(`^sa-${role} is not allowed to perform ${action}: `));
          }
        });
      }
    }
  }
});
