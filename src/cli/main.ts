import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ApiError } from './client.js';
import { registerAccessCommands } from './commands/access.js';
import { registerAccessKeyCommands } from './commands/access-key.js';
import { registerAccessPolicyCommands } from './commands/access-policy.js';
import { registerAlertCommands } from './commands/alert.js';
import { registerApplyCommand } from './commands/apply.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerDrCommands } from './commands/dr.js';
import { registerAsymmetricCommands, registerKeyMaterialCommands } from './commands/asymmetric.js';
import { registerComplianceCommands } from './commands/compliance.js';
import { registerEnvelopeCommands } from './commands/envelope.js';
import { registerCryptoCommands } from './commands/crypto.js';
import { registerGrantCommands } from './commands/grant.js';
import { registerIncidentCommands } from './commands/incident.js';
import { registerKeyCommands } from './commands/key.js';
import { registerLifecycleCommands } from './commands/lifecycle.js';
import { registerOperatorCommands } from './commands/operator.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerReportCommands } from './commands/report.js';
import { registerRequestCommands } from './commands/request.js';
import { registerRoleCommands } from './commands/role.js';
import { registerServiceAccountCommands } from './commands/service-account.js';
import { registerStatusCommand } from './commands/status.js';
import { registerUserCommands } from './commands/user.js';
import { FORMATS } from './output.js';
import { registerServerCommands } from './server-commands.js';

/** Exit status for API and runtime errors; usage errors exit with USAGE_ERROR. */
const RUNTIME_ERROR = 1;
const USAGE_ERROR = 2;

// src/cli/main.ts and dist/cli/main.js are both two levels below the package root.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command('keywarden')
    .description('Keywarden: self-hosted key management service')
    .version(version)
    .addOption(
      new Option('--address <url>', 'Keywarden server address').env('KEYWARDEN_ADDR').default('http://127.0.0.1:8200'),
    )
    .addOption(
      new Option('--token <token>', 'API token (prefer the env var: arguments are visible to other users)').env(
        'KEYWARDEN_TOKEN',
      ),
    )
    .addOption(new Option('--ca-cert <file>', 'PEM CA certificate to trust for https').env('KEYWARDEN_CACERT'))
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('table'))
    .addOption(new Option('--otp <code>', 'one-time password (TOTP) for MFA step-up, sent as X-Keywarden-OTP').env('KEYWARDEN_OTP'))
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();

  // Subcommands inherit the help, error and exit settings above, so register them afterwards.
  registerStatusCommand(program);
  registerOperatorCommands(program);
  const key = registerKeyCommands(program);
  registerLifecycleCommands(key);
  registerKeyMaterialCommands(key);
  registerReportCommands(key);
  registerCryptoCommands(program);
  registerAsymmetricCommands(program);
  registerServerCommands(program);
  registerGrantCommands(program);
  registerServiceAccountCommands(program);
  registerRoleCommands(program);
  registerAccessCommands(program);
  registerAccessKeyCommands(program);
  registerUserCommands(program);
  registerRequestCommands(program);
  registerAccessPolicyCommands(program);
  registerAuditCommands(program);
  registerAlertCommands(program);
  registerPolicyCommands(program);
  registerComplianceCommands(program);
  registerIncidentCommands(program);
  registerApplyCommand(program);
  registerEnvelopeCommands(program);
  registerBackupCommands(program);
  registerDrCommands(program);
  return program;
}

/** Runs the CLI and returns its exit status. */
export async function main(argv: string[] = process.argv): Promise<number> {
  // A reader that stops early (`keywarden ... | head`) closes the pipe: that ends the output, like
  // any Unix tool, instead of crashing with an unhandled EPIPE.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    // Commander has already printed its own messages (usage errors, help, version).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_ERROR;
    const token = program.opts<{ token?: string }>().token;
    process.stderr.write(`error: ${describeError(err, token)}\n`);
    return RUNTIME_ERROR;
  }
}

function describeError(err: unknown, token: string | undefined): string {
  let message = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError) {
    if (err.requestId) message += ` (request id ${err.requestId})`;
    if (err.code === 'Unauthenticated' && !token) message += ' (hint: pass --token or set KEYWARDEN_TOKEN)';
  }
  // Defense in depth: a token must never be shown, whatever produced the message. (Tokens shorter
  // than 8 characters are dev-only and would turn ordinary words into '<redacted>'.)
  return token && token.length >= 8 ? message.split(token).join('<redacted>') : message;
}

process.exitCode = await main();
