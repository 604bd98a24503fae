/**
 * Reports of the CI/CD gate (`keywarden policy check`): a readable text report, a stable JSON
 * document, and SARIF 2.1.0 for code-scanning UIs (GitHub, GitLab, Azure DevOps). Pure: the CLI
 * (src/cli/commands/policy-check.ts) reads the files and prints what these functions return.
 * docs/policy.md (CI/CD gate) documents the JSON shape; keep it stable.
 */
import type { Finding } from './manifest-check.js';

export interface CheckReport {
  ok: boolean;
  policy: {
    name: string | null;
    /** SHA-256 (hex) of the policy's canonical JSON, as the server cites a stored version. */
    hash: string;
    /** The --policy file as given, or null for the built-in default policy. */
    file: string | null;
  };
  /** The manifest file as given. */
  manifest: string;
  findings: Finding[];
  summary: { keys: number; grants: number; violations: number };
}

export function buildReport(input: Omit<CheckReport, 'ok' | 'findings' | 'summary'>, findings: Finding[], counts: { keys: number; grants: number }): CheckReport {
  return { ok: findings.length === 0, ...input, findings, summary: { ...counts, violations: findings.length } };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Per key: the alias, then each finding with its rule id, message and file:line:column. */
export function formatText(r: CheckReport): string {
  const lines: string[] = [];
  const policy = r.policy.file === null ? `${r.policy.name ?? 'keywarden-default'} (the built-in default policy; pass --policy FILE to check against yours)` : `${r.policy.name ?? '(unnamed)'} (${r.policy.file})`;
  lines.push(`Policy:   ${policy}`, `Manifest: ${r.manifest}`, '');
  const byKey = new Map<string, Finding[]>();
  for (const f of r.findings) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f]);
  for (const [alias, findings] of byKey) {
    lines.push(alias);
    for (const f of findings) {
      lines.push(`  ${f.rule}: ${f.message}`, `    at ${r.manifest}:${f.location.line}:${f.location.column} (${f.location.path})`);
    }
    lines.push('');
  }
  const checked = `${plural(r.summary.keys, 'key')} and ${plural(r.summary.grants, 'grant')} checked`;
  lines.push(r.ok ? `OK: ${checked}, no violations` : `FAILED: ${checked}, ${plural(r.summary.violations, 'violation')} in ${plural(byKey.size, 'key')}`);
  return `${lines.join('\n')}\n`;
}

export function formatJson(r: CheckReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

/** What each kind of finding means, by the member it comes from: the SARIF rules' short descriptions. */
const DESCRIPTIONS: Record<string, string> = {
  classification: 'Keys in this scope must carry a data classification',
  allowedKeySpecs: 'The key spec is not allowed for keys in this scope',
  maxRotationDays: 'Keys in this scope must rotate automatically within the maximum rotation period',
  requiredProtection: 'Keys in this scope must be HSM-protected',
  exportable: 'Keys in this scope may not be exportable',
  minDeletionWindowDays: 'The pending-deletion window is shorter than the minimum for keys in this scope',
  maxGrantDays: 'Grants on keys in this scope must expire within the maximum grant duration',
  allowedNetworks: 'A grant admits source networks outside the networks allowed for keys in this scope',
  usage: 'The key spec does not support this key usage',
};

/** URI reference of a path as given (relative stays relative; `\` becomes `/`; each segment percent-encoded). */
const uriOf = (path: string): string => path.replace(/\\/g, '/').split('/').map(encodeURIComponent).join('/');

/**
 * SARIF 2.1.0 log with one run: tool.driver "keywarden-policy", one rule per distinct rule id
 * (the policy layer and member, e.g. `classifications.restricted.maxRotationDays`), one result per
 * finding pointing at the manifest line and column. `artifact` is the manifest path relative to
 * the repository root (code-scanning UIs resolve it there).
 */
export function formatSarif(r: CheckReport, toolVersion: string, artifact: string = r.manifest): string {
  const ruleIds = [...new Set(r.findings.map((f) => f.rule))];
  const fieldOf = new Map(r.findings.map((f) => [f.rule, f.field]));
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'keywarden-policy',
            version: toolVersion,
            rules: ruleIds.map((id) => ({
              id,
              shortDescription: { text: DESCRIPTIONS[fieldOf.get(id) ?? ''] ?? `Policy rule ${id}` },
              defaultConfiguration: { level: 'error' },
            })),
          },
        },
        results: r.findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: ruleIds.indexOf(f.rule),
          level: f.level,
          message: { text: `${f.key}: ${f.message}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: uriOf(artifact) },
                region: { startLine: f.location.line, startColumn: f.location.column },
              },
              logicalLocations: [{ fullyQualifiedName: f.location.path, kind: 'member' }],
            },
          ],
        })),
        properties: { policy: r.policy, summary: r.summary },
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
