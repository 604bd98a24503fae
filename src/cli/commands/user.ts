import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { type Command, Option } from 'commander';
import { ApiError } from '../client.js';
import { type Format, printFields, printJson, printLine, printTable } from '../output.js';
import { collect, type GlobalOptions, readSavedToken, readStdin, removeSavedToken, runtime, saveToken } from './shared.js';
import { registerSetEnvironment, type PrincipalView } from './service-account.js';

interface UserView extends PrincipalView {
  mfaEnabled: boolean;
  mfaEnabledAt: string | null;
}

interface LoginResponse {
  token: string;
  expires_in: number;
  session: { id: string; expiresAt: string; absoluteExpiresAt: string };
  principal: { id: string; name: string; roles: string[] };
  mfaEnrollmentRequired: boolean;
}

const path = (name: string, rest = '') => `/v1/users/${encodeURIComponent(name)}${rest}`;

/** A prompt on the terminal (stderr) whose answer is not echoed when `hidden`. */
async function prompt(question: string, hidden = true): Promise<string> {
  process.stderr.write(question);
  const output = hidden ? new Writable({ write: (_chunk, _enc, done) => done() }) : process.stderr;
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const answer = await rl.question('');
  rl.close();
  if (hidden) process.stderr.write('\n');
  return answer;
}

/** The lines of stdin when it is not a terminal (secrets are never taken from arguments). */
async function stdinLines(): Promise<string[] | undefined> {
  return process.stdin.isTTY ? undefined : (await readStdin()).toString('utf8').split(/\r?\n/);
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new Error(`no ${what} given: type it at the prompt, or pass it on stdin`);
  return value;
}

function showUser(u: UserView, format: Format): void {
  if (format === 'json') return printJson({ user: u });
  printFields([
    ['Name', u.name],
    ['Roles', u.roles.join(', ')],
    ['MFA', u.mfaEnabled ? `enabled ${u.mfaEnabledAt}` : 'not enabled'],
    ['Disabled', u.disabled],
  ]);
}

/** Prints who is logged in until when; the token only with --print-token. */
function showLogin(
  format: Format,
  v: { principal: string; roles?: string[]; expiresAt: string; absoluteExpiresAt?: string; mfaEnrollmentRequired?: boolean; tokenFile: string; token?: string | undefined },
): void {
  if (format === 'json') return printJson(v);
  printFields([
    ['Logged in as', v.principal],
    ['Roles', v.roles?.join(', ')],
    ['Expires', v.expiresAt],
    ['Refreshable until', v.absoluteExpiresAt],
    ['Token file', v.tokenFile],
    ['Token', v.token],
  ]);
}

export function registerUserCommands(program: Command): void {
  program
    .command('login')
    .description('Log in and save the token (to $KEYWARDEN_TOKEN_FILE or ~/.keywarden/token) for later commands')
    .option('--user <name>', 'log in as a user: the password is prompted (or read from the first line of stdin), the TOTP code too (--otp, or the second line)')
    .option('--client-id <id>', 'log in as a service account with its client credentials')
    .option('--client-secret-stdin', 'read the client secret from the first line of stdin')
    .option('--print-token', 'also print the token')
    .action(async (opts: { user?: string; clientId?: string; clientSecretStdin?: boolean; printToken?: boolean }, cmd: Command) => {
      if ((opts.user === undefined) === (opts.clientId === undefined)) cmd.error('error: give either --user NAME or --client-id ID', { exitCode: 2 });
      if (opts.clientId !== undefined && !opts.clientSecretStdin) cmd.error('error: --client-id needs --client-secret-stdin (the secret is read from stdin)', { exitCode: 2 });
      const { client, format } = runtime(cmd, { token: false });
      const lines = await stdinLines();

      if (opts.clientId !== undefined) {
        const secret = required(lines?.[0]?.trim(), 'client secret');
        const res = await client.post<{ access_token: string; expires_in: number }>('/v1/auth/token', {
          grant_type: 'client_credentials',
          client_id: opts.clientId,
          client_secret: secret,
        });
        const tokenFile = await saveToken(res.access_token);
        const expiresAt = new Date(Date.now() + res.expires_in * 1000).toISOString();
        return showLogin(format, { principal: opts.clientId, expiresAt, tokenFile, token: opts.printToken ? res.access_token : undefined });
      }

      const username = opts.user as string;
      const password = required(lines ? lines[0] : await prompt('Password: '), 'password');
      let otp = cmd.optsWithGlobals<GlobalOptions>().otp ?? (lines?.[1]?.trim() || undefined);
      const login = () => client.post<LoginResponse>('/v1/auth/login', { username, password, ...(otp === undefined ? {} : { otp }) });
      let res: LoginResponse;
      try {
        res = await login();
      } catch (e) {
        // The interactive second step: the server asks for the one-time password once the password is right.
        if (!(e instanceof ApiError && e.code === 'MfaRequired' && otp === undefined && lines === undefined)) throw e;
        otp = required((await prompt('One-time password (TOTP code or recovery code): ', false)).trim(), 'one-time password');
        res = await login();
      }
      const tokenFile = await saveToken(res.token);
      showLogin(format, {
        principal: res.principal.name,
        roles: res.principal.roles,
        expiresAt: res.session.expiresAt,
        absoluteExpiresAt: res.session.absoluteExpiresAt,
        mfaEnrollmentRequired: res.mfaEnrollmentRequired,
        tokenFile,
        token: opts.printToken ? res.token : undefined,
      });
      if (res.mfaEnrollmentRequired) {
        process.stderr.write(`Your roles require MFA: this session can only enrol it. Run: keywarden user mfa enroll ${username}\n`);
      }
    });

  program
    .command('logout')
    .description('End the session (or revoke the access token) and forget the saved token')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const token = cmd.optsWithGlobals<GlobalOptions>().token ?? readSavedToken();
      let revoked = false;
      if (token !== undefined) {
        try {
          const res = token.startsWith('kwu_')
            ? await client.post<{ revoked: boolean }>('/v1/auth/logout')
            : await client.post<{ revoked: boolean }>('/v1/auth/revoke', { token });
          revoked = res.revoked;
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'Unauthenticated')) throw e; // already ended
        }
        if (readSavedToken() === token) await removeSavedToken();
      }
      if (format === 'json') return printJson({ revoked });
      printLine(revoked ? 'Logged out' : 'Logged out (there was no live session)');
    });

  const user = program.command('user').description('Manage users (people): create, list, passwords, MFA, sessions');

  user
    .command('create')
    .description('Create a user; without --password-stdin a random password is generated and shown once')
    .argument('<name>', 'user name')
    .option('--role <role>', 'role to bind (repeatable)', collect, [])
    .option('--password-stdin', 'read the initial password from the first line of stdin')
    .addOption(new Option('--environment <env>', 'the environment the user works in (policy principalEnvironments rules)').choices(['dev', 'staging', 'prod']))
    .action(async (name: string, opts: { role: string[]; passwordStdin?: boolean; environment?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const password = opts.passwordStdin ? required((await readStdin()).toString('utf8').split(/\r?\n/)[0], 'password') : undefined;
      const res = await client.post<{ principal: PrincipalView; initialPassword?: string }>('/v1/users', {
        name,
        roles: opts.role,
        ...(password === undefined ? {} : { password }),
        ...(opts.environment === undefined ? {} : { environment: opts.environment }),
      });
      if (format === 'json') printJson(res);
      else printFields([['Name', res.principal.name], ['Roles', res.principal.roles.join(', ')], ['Initial password', res.initialPassword]]);
      if (res.initialPassword !== undefined) process.stderr.write('The initial password is shown ONLY ONCE: hand it to the user, who should change it (keywarden user password NAME).\n');
    });

  registerSetEnvironment(user, 'user');

  user
    .command('list')
    .description('List users and whether they have MFA')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ users: UserView[] }>('/v1/users');
      if (format === 'json') return printJson(res);
      printTable(
        ['NAME', 'ROLES', 'MFA', 'DISABLED', 'CREATED'],
        res.users.map((u) => [u.name, u.roles.join(','), u.mfaEnabled ? 'yes' : 'no', u.disabled ? 'yes' : 'no', u.createdAt]),
      );
    });

  user
    .command('password')
    .description('Change your password (prompted; or the current one on the first line of stdin and the new one on the second)')
    .argument('<name>', 'your user name')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const lines = await stdinLines();
      const currentPassword = required(lines ? lines[0] : await prompt('Current password: '), 'current password');
      const newPassword = required(lines ? lines[1] : await prompt('New password: '), 'new password');
      if (lines === undefined && (await prompt('New password again: ')) !== newPassword) throw new Error('the new passwords do not match');
      const res = await client.post<{ user: UserView }>(path(name, '/password'), { currentPassword, newPassword });
      if (format === 'json') return printJson(res);
      printLine('Password changed; your other sessions were ended');
    });

  user
    .command('revoke-sessions')
    .description('End every session of a user at once (needs token:revoke)')
    .argument('<name>', 'user name')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ revoked: number }>(path(name, '/sessions/revoke'));
      if (format === 'json') return printJson(res);
      printLine(`Ended ${res.revoked} session${res.revoked === 1 ? '' : 's'} of ${name}`);
    });

  const mfa = user.command('mfa').description('TOTP multi-factor authentication');

  mfa
    .command('enroll')
    .description('Start MFA enrolment for yourself: prints the otpauth:// URI for the authenticator app and the recovery codes')
    .argument('<name>', 'your user name')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ otpauthUri: string; recoveryCodes: string[] }>(path(name, '/mfa/enroll'), {});
      if (format === 'json') printJson(res);
      else {
        printLine(`Authenticator URI: ${res.otpauthUri}`);
        printLine();
        printLine('Recovery codes (each works once):');
        for (const c of res.recoveryCodes) printLine(`  ${c}`);
      }
      process.stderr.write(`The URI and the recovery codes are shown ONLY ONCE. Add the URI to your authenticator app, keep the codes safe, then run: keywarden user mfa confirm ${name} --otp CODE\n`);
    });

  mfa
    .command('confirm')
    .description('Confirm MFA enrolment with a code from the authenticator app (--otp CODE)')
    .argument('<name>', 'your user name')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const otp = cmd.optsWithGlobals<GlobalOptions>().otp;
      if (otp === undefined) cmd.error('error: give the code from the authenticator app with --otp CODE', { exitCode: 2 });
      const { client, format } = runtime(cmd);
      const res = await client.post<{ user: UserView }>(path(name, '/mfa/confirm'), { otp });
      if (format === 'json') return printJson(res);
      printLine(`MFA enabled for ${res.user.name}`);
    });

  mfa
    .command('reset')
    .description("Reset another user's MFA (lost device); the user's sessions end")
    .argument('<name>', 'user name')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.call<{ user: UserView }>('DELETE', path(name, '/mfa'));
      showUser(res.user, format);
    });
}
