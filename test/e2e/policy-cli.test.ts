/**
 * `keywarden policy get|set|versions|version` and the policy scope options of `key create|update|list`
 * and `service-account create|set-environment`, each a real CLI process against a real dev server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevServer, fails, json, ok, runCli, startDevServer } from './helpers.js';

const POLICY = `apiVersion: keywarden.io/v1
kind: Policy
metadata: {name: e2e}
classifications:
  internal: {maxRotationDays: 30}
  confidential: {maxRotationDays: 7}
environments:
  prod: {principalEnvironments: [prod]}
`;

describe('policy CLI', () => {
  let server: DevServer;
  let dir: string;
  const kw = (...args: string[]) => runCli(['--address', server.address, '--token', server.rootToken, ...args]);

  before(async () => {
    server = await startDevServer();
    dir = await mkdtemp(join(tmpdir(), 'kw-policy-cli-'));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('get shows version 0 (the built-in default); set stores a version; versions and version N read them', async () => {
    const v0 = json<any>(await kw('--format', 'json', 'policy', 'get'));
    assert.equal(v0.version, 0);
    assert.equal(v0.document.metadata.name, 'keywarden-default');
    assert.match(ok(await kw('policy', 'get')).toString(), /^Version\s+0 \(built-in default\)[\s\S]*name: keywarden-default/);

    const file = join(dir, 'policy.yaml');
    await writeFile(file, POLICY);
    const v1 = json<any>(await kw('--format', 'json', 'policy', 'set', file));
    assert.equal(v1.version, 1);
    assert.equal(v1.document.metadata.name, 'e2e');
    const table = ok(await kw('policy', 'versions')).toString();
    assert.match(table, /^VERSION\s+CREATED\s+CREATED BY\s+HASH\n0\s+\(built in\)/);
    assert.match(table, new RegExp(`\\n1\\s+\\S+\\s+\\S+\\s+${v1.hash}\\n$`));
    assert.equal(json<any>(await kw('--format', 'json', 'policy', 'version', '1')).hash, v1.hash);
    fails(await kw('policy', 'version', '7'), 1, /^error: NotFound: policy version 7 was not found \(request id /);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'apiVersion: keywarden.io/v1\nkind: Policy\ndefaults: {minDeletionWindowDays: 3}\n');
    fails(await kw('policy', 'set', bad), 1, /^error: ValidationError: invalid policy at defaults\.minDeletionWindowDays/);
  });

  test('key create|update|list|describe carry classification and environment', async () => {
    const k = json<any>(await kw('--format', 'json', 'key', 'create', '--classification', 'internal', '--environment', 'dev')).key;
    assert.equal(k.classification, 'internal');
    assert.equal(k.environment, 'dev');
    assert.equal(k.rotationPeriodDays, 30);
    const described = ok(await kw('key', 'describe', k.id)).toString();
    assert.match(described, /Classification\s+internal/);
    assert.match(described, /Environment\s+dev/);
    assert.match(described, /Protection\s+software/);
    const up = json<any>(await kw('--format', 'json', 'key', 'update', k.id, '--classification', 'confidential')).key;
    assert.equal(up.rotationPeriodDays, 7);
    fails(await kw('key', 'update', k.id, '--environment', 'prod'), 1, /^error: ValidationError: the environment of key \S+ is dev: it is set once and cannot be changed/);
    fails(await kw('key', 'create', '--classification', 'internal', '--rotation-period', '90d'), 1, /^error: PolicyViolation: policy rule classifications\.internal\.maxRotationDays: /);
    fails(await kw('key', 'create', '--protection', 'hsm'), 1, /^error: ValidationError: protection hsm is not available: no HSM is configured/);
    const eff = ok(await kw('policy', 'key', k.id)).toString();
    assert.match(eff, /Scope\s+confidential \/ dev \/ software\nPolicy\s+version 1 [\s\S]*Layers\s+classifications\.confidential\n/);
    assert.match(eff, /maxRotationDays\s+7\s+classifications\.confidential\.maxRotationDays/);
    assert.match(eff, /No violations\./);
    const listed = json<any>(await kw('--format', 'json', 'key', 'list', '--classification', 'confidential')).keys;
    assert.deepEqual(listed.map((x: any) => x.id), [k.id]);
  });

  test('service-account create --environment and set-environment', async () => {
    ok(await kw('service-account', 'create', 'svc-prod', '--role', 'application', '--environment', 'dev'));
    assert.equal(ok(await kw('service-account', 'set-environment', 'svc-prod', 'prod')).toString(), 'svc-prod: environment prod\n');
    assert.equal(json<any>(await kw('--format', 'json', 'service-account', 'set-environment', 'svc-prod', 'none')).principal.environment, null);
    fails(await kw('service-account', 'set-environment', 'svc-prod', 'qa'), 2, /^error: environment must be one of dev, staging, prod or none/);
  });
});
