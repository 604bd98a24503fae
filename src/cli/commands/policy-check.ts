/**
 * `keywarden policy check [--policy FILE] MANIFEST`: the offline CI/CD gate (issue 5/10 §5). No
 * server and no token: the manifest is checked with the same pure engine the server enforces.
 * Exit 0 when clean, 1 on any violation, 2 when a file is unreadable or invalid.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { type Command, Option } from 'commander';
import { ACTIONS } from '../../auth/access-policy.service.js';
import { DEFAULT_POLICY } from '../../policy/default-policy.js';
import { checkManifest, loadManifest, loadPolicy } from '../../policy/manifest-check.js';
import type { PolicyDocument } from '../../policy/policy.model.js';
import { policyHash } from '../../policy/policy.service.js';
import { buildReport, formatJson, formatSarif, formatText } from '../../policy/report-format.js';

/** Exit status for an unreadable or invalid input file (a violation exits 1, as any failure). */
const INVALID_INPUT = 2;
const READ_ERRORS: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a directory' };
/** Formats of the gate on top of the global json|table (`text` is `table`). */
const GATE_FORMATS = ['text', 'sarif'];

// src/cli/commands/ and dist/cli/commands/ are both three levels below the package root.
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * The global --format (src/cli/main.ts) is parsed by the root command wherever it appears on the
 * line, so a command-local --format could never see `sarif`. Its choices are widened here, and a
 * hook keeps the gate's formats to this command (others still accept only json and table).
 */
function acceptGateFormats(check: Command): void {
  let root = check;
  while (root.parent) root = root.parent;
  const format = root.options.find((o) => o.long === '--format');
  if (format === undefined) return;
  format.choices([...new Set([...(format.argChoices ?? []), ...GATE_FORMATS])]);
  root.hook('preAction', (_root, action) => {
    const f = action.optsWithGlobals<{ format?: string }>().format;
    if (action !== check && f !== undefined && GATE_FORMATS.includes(f)) {
      action.error(`error: --format ${f} is only for 'policy check'; use json or table`, { exitCode: INVALID_INPUT });
    }
  });
}

export function registerPolicyCheck(policy: Command): Command {
  const check = policy
    .command('check')
    .description('Check a key manifest against a policy, offline (CI/CD gate); exit 0 when clean, 1 on a violation, 2 on an unreadable or invalid file')
    .argument('<manifest>', 'key manifest (YAML or JSON) to check')
    .addOption(new Option('--policy <file>', 'policy document (YAML or JSON); default: the built-in default policy'))
    .addHelpText('after', '\nFormats (global --format): text|table (default), json, sarif (SARIF 2.1.0 for code scanning).\nNo server and no token are needed.')
    .action(async (manifestFile: string, opts: { policy?: string }, cmd: Command) => {
      const format = cmd.optsWithGlobals<{ format: string }>().format;
      const fail = (message: string): never => cmd.error(`error: ${message}`, { exitCode: INVALID_INPUT });
      const read = async (file: string, what: string): Promise<string> => {
        try {
          return await readFile(file, 'utf8');
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? '';
          return fail(`cannot read the ${what} ${file}: ${READ_ERRORS[code] ?? code}`);
        }
      };
      const parse = <T>(file: string, f: () => T): T => {
        try {
          return f();
        } catch (e) {
          return fail(`${file}: ${(e as Error).message}`);
        }
      };

      let doc: PolicyDocument = DEFAULT_POLICY;
      if (opts.policy !== undefined) {
        const text = await read(opts.policy, 'policy');
        doc = parse(opts.policy, () => loadPolicy(text, ACTIONS));
      }
      const text = await read(manifestFile, 'manifest');
      const { manifest, source } = parse(manifestFile, () => loadManifest(text));

      const findings = checkManifest(doc, manifest, source);
      const report = buildReport(
        { policy: { name: doc.metadata?.name ?? null, hash: policyHash(doc), file: opts.policy ?? null }, manifest: manifestFile },
        findings,
        { keys: manifest.keys.length, grants: manifest.grants?.length ?? 0 },
      );
      if (format === 'json') process.stdout.write(formatJson(report));
      else if (format === 'sarif') process.stdout.write(formatSarif(report, version, isAbsolute(manifestFile) ? relative(process.cwd(), manifestFile) : manifestFile));
      else process.stdout.write(formatText(report));
      // A thrown error makes main() print it on stderr and exit 1 (the report is on stdout).
      if (!report.ok) throw new Error(`policy check failed: ${findings.length} violation${findings.length === 1 ? '' : 's'} in ${manifestFile}`);
    });
  acceptGateFormats(check);
  return check;
}
