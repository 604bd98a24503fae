/**
 * End-to-end tests of the offline CI/CD gate, `keywarden policy check` (issue 5/10 §5), through the
 * real CLI process: a passing manifest, each kind of violation with its rule id and line, invalid
 * inputs, the examples/ files, JSON output, and SARIF output validated against the SARIF 2.1.0
 * JSON schema (the one @microsoft/jest-sarif ships; draft-04, so ajv-draft-04 with ajv-formats).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ajvDraft04, { type ValidateFunction } from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { DEFAULT_POLICY } from '../../src/policy/default-policy.js';
import { policyHash } from '../../src/policy/policy.service.js';
import { type CliResult, REPO_ROOT, fails, runCli } from './helpers.js';

// CommonJS packages: under NodeNext their ES default export is the `default` member.
const Ajv = ajvDraft04.default;
const addFormats = ajvFormats.default;

const ORG_POLICY = 'examples/org-policy.yaml';
const gate = (...args: string[]): Promise<CliResult> => runCli(['policy', 'check', ...args]);
const out = (r: CliResult): string => r.stdout.toString('utf8');

/** Asserts exit 1 with the one-line summary on stderr; returns stdout. */
function violated(r: CliResult, count: number, manifest: string): string {
  fails(r, 1, new RegExp(`^error: policy check failed: ${count} violations? in ${manifest.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n$`));
  return out(r);
}

interface Finding {
  rule: string;
  field: string;
  message: string;
  level: string;
  key: string;
  location: { path: string; line: number; column: number };
}
interface Report {
  ok: boolean;
  policy: { name: string | null; hash: string; file: string | null };
  manifest: string;
  findings: Finding[];
  summary: { keys: number; grants: number; violations: number };
}

const HEADER = 'apiVersion: keywarden.io/v1\nkind: KeyManifest\n';

/**
 * One case per kind of violation against examples/org-policy.yaml: a manifest that breaks exactly
 * one rule, where it points (the first line containing `at`, and its column), and the fix that
 * makes the same manifest pass.
 */
const VIOLATIONS: Array<{ name: string; manifest: string; rule: string; at: string; path: string; fix: [string, string] }> = [
  {
    name: 'key spec not allowed',
    manifest: `keys:\n  - alias: alias/a\n    classification: restricted\n    spec: RSA_2048\n    rotationDays: 90\n`,
    rule: 'classifications.restricted.allowedKeySpecs',
    at: 'spec: RSA_2048',
    path: 'keys[0].spec',
    fix: ['RSA_2048', 'RSA_3072'],
  },
  {
    name: 'rotation missing',
    manifest: `keys:\n  - alias: alias/a\n    classification: internal\n`,
    rule: 'classifications.internal.maxRotationDays',
    at: 'alias: alias/a',
    path: 'keys[0]',
    fix: ['internal\n', 'internal\n    rotationDays: 365\n'],
  },
  {
    name: 'rotation too long',
    manifest: `keys:\n  - alias: alias/a\n    classification: confidential\n    rotationDays: 181\n`,
    rule: 'classifications.confidential.maxRotationDays',
    at: 'rotationDays: 181',
    path: 'keys[0].rotationDays',
    fix: ['181', '180'],
  },
  {
    name: 'HSM required',
    manifest: `keys:\n  - alias: alias/a\n    classification: restricted\n    environment: prod\n    rotationDays: 90\n    protection: software\n`,
    rule: 'rules.restricted-prod-hsm.requiredProtection',
    at: 'protection: software',
    path: 'keys[0].protection',
    fix: ['software', 'hsm'],
  },
  {
    name: 'exportable forbidden',
    manifest: `keys:\n  - alias: alias/a\n    exportable: true\n`,
    rule: 'defaults.exportable',
    at: 'exportable: true',
    path: 'keys[0].exportable',
    fix: ['true', 'false'],
  },
  {
    name: 'classification required',
    manifest: `keys:\n  - alias: alias/first\n  - alias: alias/a\n    environment: prod\n`,
    rule: 'environments.prod.requireClassification',
    at: 'alias: alias/a',
    path: 'keys[1]',
    fix: ['prod\n', 'prod\n    classification: public\n'],
  },
  {
    name: 'deletion window too short',
    manifest: `keys:\n  - alias: alias/a\n    classification: restricted\n    rotationDays: 90\n    deletionWindowDays: 29\n`,
    rule: 'classifications.restricted.minDeletionWindowDays',
    at: 'deletionWindowDays: 29',
    path: 'keys[0].deletionWindowDays',
    fix: ['29', '30'],
  },
  {
    name: 'grant without expiry',
    manifest: `keys:\n  - alias: alias/a\n    classification: confidential\n    rotationDays: 30\ngrants:\n  - key: alias/a\n    principal: app\n    operations: [decrypt]\n`,
    rule: 'classifications.confidential.maxGrantDays',
    at: 'key: alias/a',
    path: 'grants[0]',
    fix: ['[decrypt]\n', '[decrypt]\n    expiresInDays: 90\n'],
  },
  {
    name: 'grant expiry too long',
    manifest: `keys:\n  - alias: alias/a\n    classification: restricted\n    rotationDays: 90\ngrants:\n  - key: alias/a\n    principal: app\n    operations: [decrypt]\n    expiresInDays: 31\n`,
    rule: 'classifications.restricted.maxGrantDays',
    at: 'expiresInDays: 31',
    path: 'grants[0].expiresInDays',
    fix: ['31', '30'],
  },
  {
    name: 'grant network outside allowedNetworks',
    manifest: `keys:\n  - alias: alias/a\n    classification: internal\n    environment: prod\n    rotationDays: 365\ngrants:\n  - key: alias/a\n    principal: app\n    operations: [encrypt]\n    expiresInDays: 1\n    sourceCidrs: [10.30.1.0/24, 10.0.0.0/8]\n`,
    rule: 'environments.prod.allowedNetworks',
    at: '10.0.0.0/8',
    path: 'grants[0].sourceCidrs[1]',
    fix: ['10.0.0.0/8', '10.20.0.0/16'],
  },
  {
    name: 'key spec / usage pair Keywarden cannot create',
    manifest: `keys:\n  - alias: alias/a\n    spec: ECC_NIST_P256\n    usage: ENCRYPT_DECRYPT\n`,
    rule: 'keyspecs.usage',
    at: 'usage: ENCRYPT_DECRYPT',
    path: 'keys[0].usage',
    fix: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  },
];

describe('keywarden policy check', () => {
  let dir: string;
  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keywarden-gate-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a passing manifest: exit 0 and OK, without a server or a token', async () => {
    const r = await gate('--policy', ORG_POLICY, 'examples/keys.yaml');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(out(r), /^Policy: +acme-org-policy \(examples\/org-policy\.yaml\)$/m);
    assert.match(out(r), /^OK: 4 keys and 3 grants checked, no violations\n$/m);
  });

  test('without --policy it checks against the built-in default policy and says so', async () => {
    const r = await gate('examples/keys.yaml');
    assert.equal(r.code, 0, r.stderr);
    assert.match(out(r), /^Policy: +keywarden-default \(the built-in default policy; pass --policy FILE to check against yours\)$/m);
    // The default policy wants restricted keys to rotate every 90 days: the gate refuses 91.
    const m = await write('default.yaml', `${HEADER}keys:\n  - alias: alias/r\n    classification: restricted\n    rotationDays: 91\n`);
    const text = violated(await gate(m), 1, m);
    assert.match(text, /^ {2}classifications\.restricted\.maxRotationDays: restricted keys must rotate automatically at least every 90 days \(the period is 91 days\)$/m);
  });

  for (const c of VIOLATIONS) {
    test(`violation: ${c.name} -> ${c.rule}, with its line; the fixed manifest passes`, async () => {
      const text = HEADER + c.manifest;
      const lines = text.split('\n');
      const line = lines.findIndex((l) => l.includes(c.at)) + 1;
      const column = (lines[line - 1] as string).indexOf(c.at) + 1;
      assert.ok(line > 0, `marker ${c.at} not in the manifest`);
      const file = await write(`${c.rule}.yaml`, text);
      const report = violated(await gate('--policy', ORG_POLICY, file), 1, file);
      assert.match(report, new RegExp(`^ {2}${c.rule.replace(/\./g, '\\.')}: .+$`, 'm'));
      assert.ok(report.includes(`    at ${file}:${line}:${column} (${c.path})\n`), `expected ${file}:${line}:${column} (${c.path}) in:\n${report}`);
      assert.match(report, /^FAILED: \d+ keys? and \d+ grants? checked, 1 violation in 1 key$/m);

      const fixed = await write(`${c.rule}.fixed.yaml`, text.replace(c.fix[0], c.fix[1]));
      const r = await gate('--policy', ORG_POLICY, fixed);
      assert.equal(r.code, 0, `${r.stderr}${out(r)}`);
      assert.match(out(r), /^OK: /m);
    });
  }

  test('examples/keys-violations.yaml fails org-policy.yaml with one finding per kind of violation', async () => {
    const r = await gate('--policy', ORG_POLICY, 'examples/keys-violations.yaml', '--format', 'json');
    assert.equal(r.code, 1);
    const report = JSON.parse(out(r)) as Report;
    assert.deepEqual(report.findings.map((f) => f.rule).sort(), [...VIOLATIONS.map((c) => c.rule)].sort());
    // The example's comments name the rule each member breaks, on the line the finding points at.
    const lines = (await readFile(join(REPO_ROOT, 'examples/keys-violations.yaml'), 'utf8')).split('\n');
    for (const f of report.findings.filter((x) => x.location.path.includes('.'))) {
      assert.match(lines[f.location.line - 1] as string, new RegExp(`# ${f.rule.replace(/\./g, '\\.')}`), `line ${f.location.line} for ${f.rule}`);
    }
  });

  test('--format json: the documented shape', async () => {
    const r = await gate('--format', 'json', '--policy', ORG_POLICY, 'examples/keys-violations.yaml');
    assert.equal(r.code, 1);
    const report = JSON.parse(out(r)) as Report;
    assert.deepEqual(Object.keys(report).sort(), ['findings', 'manifest', 'ok', 'policy', 'summary']);
    assert.equal(report.ok, false);
    assert.equal(report.manifest, 'examples/keys-violations.yaml');
    assert.equal(report.policy.name, 'acme-org-policy');
    assert.equal(report.policy.file, ORG_POLICY);
    assert.match(report.policy.hash, /^[0-9a-f]{64}$/);
    assert.deepEqual(report.summary, { keys: 8, grants: 3, violations: 11 });
    const spec = report.findings.find((f) => f.rule === 'classifications.restricted.allowedKeySpecs');
    assert.deepEqual(spec, {
      rule: 'classifications.restricted.allowedKeySpecs',
      field: 'allowedKeySpecs',
      message: 'key spec RSA_2048 is not allowed for restricted keys in staging (allowed: SYMMETRIC_DEFAULT, HMAC_384, HMAC_512, RSA_3072, RSA_4096, ECC_NIST_P384, ECC_ED25519)',
      level: 'error',
      key: 'alias/bad/weak-rsa',
      location: { path: 'keys[0].spec', line: 11, column: 5 },
    });
    const grant = report.findings.find((f) => f.rule === 'classifications.confidential.maxGrantDays');
    assert.equal(grant?.key, 'alias/bad/slow-rotation');
    assert.equal(grant?.location.path, 'grants[0]');

    const clean = await gate('--format', 'json', 'examples/keys.yaml');
    assert.equal(clean.code, 0, clean.stderr);
    const ok = JSON.parse(out(clean)) as Report;
    assert.equal(ok.ok, true);
    assert.deepEqual(ok.findings, []);
    assert.deepEqual(ok.policy.file, null);
    assert.equal(ok.policy.name, 'keywarden-default');
    assert.equal(ok.policy.hash, policyHash(DEFAULT_POLICY)); // the hash the server cites for policy version 0
    assert.notEqual(ok.policy.hash, report.policy.hash);
    assert.deepEqual(ok.summary, { keys: 4, grants: 3, violations: 0 });
  });

  describe('--format sarif', () => {
    const require = createRequire(import.meta.url);
    let validate: ValidateFunction;
    before(async () => {
      const schema = JSON.parse(await readFile(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'));
      // The schema's language-tag pattern is not a valid unicode-mode RegExp; it is a valid plain one.
      const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
      addFormats(ajv);
      validate = ajv.compile(schema);
    });
    const valid = (log: unknown): void => assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));

    test('the validator refuses what is not SARIF 2.1.0 (self-check)', () => {
      assert.equal(validate({ version: '2.1.0', runs: [] }), true);
      assert.equal(validate({ version: '2.0.0', runs: [] }), false);
      assert.equal(validate({ version: '2.1.0', runs: [{ tool: { driver: {} } }] }), false);
      assert.equal(validate({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ message: { text: 'm' }, level: 'fatal' }] }] }), false);
    });

    test('violations: a valid log with one rule per rule id and one result per finding at its line', async () => {
      const [sarifRun, jsonRun] = await Promise.all([
        gate('--format', 'sarif', '--policy', ORG_POLICY, 'examples/keys-violations.yaml'),
        gate('--format', 'json', '--policy', ORG_POLICY, 'examples/keys-violations.yaml'),
      ]);
      assert.equal(sarifRun.code, 1);
      const log = JSON.parse(out(sarifRun));
      valid(log);
      const findings = (JSON.parse(out(jsonRun)) as Report).findings;
      const run = log.runs[0];
      assert.equal(log.version, '2.1.0');
      assert.equal(run.tool.driver.name, 'keywarden-policy');
      const ruleIds = run.tool.driver.rules.map((x: { id: string }) => x.id);
      assert.deepEqual([...ruleIds].sort(), [...new Set(findings.map((f) => f.rule))].sort());
      for (const rule of run.tool.driver.rules) assert.ok(rule.shortDescription.text.length > 10, rule.id);
      assert.equal(run.results.length, findings.length);
      for (const [i, f] of findings.entries()) {
        const res = run.results[i];
        assert.equal(res.ruleId, f.rule);
        assert.equal(ruleIds[res.ruleIndex], f.rule);
        assert.equal(res.level, 'error');
        assert.ok(res.message.text.includes(f.message));
        const loc = res.locations[0].physicalLocation;
        assert.equal(loc.artifactLocation.uri, 'examples/keys-violations.yaml');
        assert.deepEqual(loc.region, { startLine: f.location.line, startColumn: f.location.column });
      }
    });

    test('a clean manifest gives a valid log with no results; an absolute path becomes a relative URI', async () => {
      const r = await gate('--format', 'sarif', '--policy', ORG_POLICY, 'examples/keys.yaml');
      assert.equal(r.code, 0, r.stderr);
      const log = JSON.parse(out(r));
      valid(log);
      assert.deepEqual(log.runs[0].results, []);

      const abs = await write('abs manifest.yaml', `${HEADER}keys:\n  - alias: alias/a\n    exportable: true\n`);
      const a = await gate('--format', 'sarif', '--policy', ORG_POLICY, abs);
      assert.equal(a.code, 1);
      const alog = JSON.parse(out(a));
      valid(alog);
      assert.equal(alog.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri, relative(REPO_ROOT, abs).split(' ').join('%20'));
    });

    test('sarif and text are formats of policy check only', async () => {
      fails(await runCli(['status', '--format', 'sarif']), 2, /^error: --format sarif is only for 'policy check'; use json or table\n$/);
      const t = await gate('--format', 'text', 'examples/keys.yaml');
      assert.equal(t.code, 0, t.stderr);
      assert.match(out(t), /^OK: /m);
    });
  });

  describe('unreadable or invalid input: exit 2 naming the file and the first problem', () => {
    test('a manifest that does not exist', async () => {
      fails(await gate(join(dir, 'missing.yaml')), 2, /^error: cannot read the manifest \S+missing\.yaml: no such file\n$/);
      fails(await gate('--policy', join(dir, 'nope.yaml'), 'examples/keys.yaml'), 2, /^error: cannot read the policy \S+nope\.yaml: no such file\n$/);
    });

    test('a manifest member of the wrong kind, with its path, value, line and column', async () => {
      const m = await write('bad-spec.yaml', `${HEADER}keys:\n  - alias: alias/a\n    spec: AES_128\n`);
      fails(await gate(m), 2, new RegExp(`^error: ${m}: invalid manifest at keys\\.0\\.spec: .+, got "AES_128" \\(line 5, column 5\\)\\n$`));
    });

    test('manifest problems the schema cannot see: duplicate aliases, grants on unknown keys, bad CIDRs', async () => {
      const dup = await write('dup.yaml', `${HEADER}keys:\n  - alias: alias/a\n  - alias: alias/a\n`);
      fails(await gate(dup), 2, /^error: \S+dup\.yaml: invalid manifest at keys: the alias alias\/a is declared twice \(line 3, column 1\)\n$/);
      const orphan = await write('orphan.yaml', `${HEADER}keys: []\ngrants:\n  - key: alias/x\n    principal: app\n    operations: [encrypt]\n`);
      fails(await gate(orphan), 2, /^error: \S+orphan\.yaml: invalid manifest at grants\.0\.key: alias\/x is not a key of this manifest \(line 5, column 5\)\n$/);
      const cidr = await write('cidr.yaml', `${HEADER}keys:\n  - alias: alias/a\ngrants:\n  - key: alias/a\n    principal: app\n    operations: [encrypt]\n    sourceCidrs: [10.0.0.1/8]\n`);
      fails(await gate(cidr), 2, /^error: \S+cidr\.yaml: invalid manifest at grants\.0\.sourceCidrs\.0: "10\.0\.0\.1\/8" has host bits set \(line 9, column 19\)\n$/);
    });

    test('not YAML at all, and not a manifest', async () => {
      const syntax = await write('syntax.yaml', 'keys: [\n');
      fails(await gate(syntax), 2, /^error: \S+syntax\.yaml: the manifest is neither YAML nor JSON: .*line 2, column 1/);
      const kind = await write('kind.yaml', 'apiVersion: keywarden.io/v1\nkind: Policy\nkeys: []\n');
      fails(await gate(kind), 2, /^error: \S+kind\.yaml: invalid manifest at kind: .+, got "Policy" \(line 2, column 1\)\n$/);
    });

    test('an invalid policy', async () => {
      const p = await write('bad-policy.yaml', 'apiVersion: keywarden.io/v1\nkind: Policy\ndefaults:\n  maxRotationDays: 0\n');
      fails(await gate('--policy', p, 'examples/keys.yaml'), 2, new RegExp(`^error: ${p}: invalid policy at defaults\\.maxRotationDays: .+, got 0 \\(line 4, column 3\\)\\n$`));
      const mfa = await write('bad-mfa.yaml', 'apiVersion: keywarden.io/v1\nkind: Policy\nclassifications:\n  restricted:\n    mfaActions: [key:fly]\n');
      fails(await gate('--policy', mfa, 'examples/keys.yaml'), 2, /^error: \S+bad-mfa\.yaml: invalid policy at classifications\.restricted\.mfaActions: unknown action "key:fly" \(line 5, column 5\)\n$/);
    });
  });
});
