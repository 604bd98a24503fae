import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { printFields, printJson, printLine, printTable } from '../output.js';
import { collect, runtime } from './shared.js';

export interface PrincipalView {
  id: string;
  name: string;
  kind: string;
  roles: string[];
  createdAt: string;
  disabled: boolean;
  environment?: string | null;
}

interface Credentials {
  principal: PrincipalView;
  clientId: string;
  clientSecret: string;
  key?: ClientKey;
}

interface ClientKey {
  id: string;
  alg: string;
  fingerprint: string;
  createdAt: string;
}

const path = (name: string, rest = '') => `/v1/principals/${encodeURIComponent(name)}${rest}`;

const ENVIRONMENTS = ['dev', 'staging', 'prod'];

/** `<group> set-environment NAME ENV|none`: PATCH /v1/principals/NAME (service accounts and users alike). */
export function registerSetEnvironment(group: Command, what: string): void {
  group
    .command('set-environment')
    .description(`Set the environment the ${what} works in (policy principalEnvironments rules), or none`)
    .argument('<name>', `${what} name`)
    .argument('<environment>', `${ENVIRONMENTS.join(', ')} or none`)
    .action(async (name: string, env: string, _opts: object, cmd: Command) => {
      if (env !== 'none' && !ENVIRONMENTS.includes(env)) cmd.error(`error: environment must be one of ${ENVIRONMENTS.join(', ')} or none`, { exitCode: 2 });
      const { client, format } = runtime(cmd);
      const res = await client.call<{ principal: PrincipalView }>('PATCH', path(name), { environment: env === 'none' ? null : env });
      if (format === 'json') return printJson(res);
      printLine(`${res.principal.name}: environment ${res.principal.environment ?? 'none'}`);
    });
}

const SECRET_WARNING = 'The client secret is shown ONLY ONCE: store it now (only its hash is kept on the server).\n';

async function readPem(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** `{name, clientId, clientSecret}` (the fixed JSON form) or a table; the secret warning goes to stderr. */
function showCredentials(res: Credentials, format: 'json' | 'table'): void {
  if (format === 'json') {
    printJson({ name: res.principal.name, clientId: res.clientId, clientSecret: res.clientSecret });
  } else {
    printFields([
      ['Name', res.principal.name],
      ['Roles', res.principal.roles.join(', ')],
      ['Client ID', res.clientId],
      ['Client secret', res.clientSecret],
      ['Public key', res.key ? `${res.key.id} (${res.key.alg})` : undefined],
    ]);
  }
  process.stderr.write(SECRET_WARNING);
}

function showKey(key: ClientKey, format: 'json' | 'table'): void {
  if (format === 'json') return printJson({ key });
  printFields([
    ['Key ID', key.id],
    ['Algorithm', key.alg],
    ['Fingerprint', key.fingerprint],
    ['Created', key.createdAt],
  ]);
}

export function registerServiceAccountCommands(program: Command): void {
  const sa = program.command('service-account').description('Service accounts: client credentials and client-assertion public keys (needs an admin)');

  sa.command('create')
    .description('Create a service account; prints its client id and secret (shown once)')
    .argument('<name>', 'account name')
    .requiredOption('--role <role>', 'role to bind (repeatable): admin, key-administrator, security-officer, application, auditor', collect)
    .option('--public-key <file>', 'SPKI PEM public key for signed JWT client assertions (Ed25519, P-256 or RSA ≥ 2048)')
    .addOption(new Option('--environment <env>', 'the environment it works in (policy principalEnvironments rules)').choices(ENVIRONMENTS))
    .action(async (name: string, opts: { role: string[]; publicKey?: string; environment?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const body = {
        name,
        roles: opts.role,
        ...(opts.publicKey !== undefined ? { publicKey: await readPem(opts.publicKey) } : {}),
        ...(opts.environment !== undefined ? { environment: opts.environment } : {}),
      };
      showCredentials(await client.post<Credentials>('/v1/principals', body), format);
    });

  registerSetEnvironment(sa, 'account');

  sa.command('list')
    .description('List service accounts')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ principals: PrincipalView[] }>('/v1/principals');
      const accounts = res.principals.filter((p) => p.kind === 'service-account');
      if (format === 'json') return printJson({ serviceAccounts: accounts });
      printTable(['NAME', 'ROLES', 'STATUS', 'CREATED'], accounts.map((p) => [p.name, p.roles.join(','), p.disabled ? 'disabled' : 'enabled', p.createdAt]));
    });

  sa.command('rotate-secret')
    .description('Replace the client secret (the client id stays); prints the new secret (shown once)')
    .argument('<name>', 'account name')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      showCredentials(await client.post<Credentials>(path(name, '/rotate-secret')), format);
    });

  for (const [action, done] of [['disable', 'Disabled'], ['enable', 'Enabled']] as const) {
    sa.command(action)
      .description(action === 'disable' ? 'Disable the account: its tokens stop working at once' : 'Enable a disabled account')
      .argument('<name>', 'account name')
      .action(async (name: string, _opts: object, cmd: Command) => {
        const { client, format } = runtime(cmd);
        const res = await client.post<{ principal: PrincipalView }>(path(name, `/${action}`));
        if (format === 'json') return printJson(res);
        printLine(`${done} ${res.principal.name}`);
      });
  }

  sa.command('add-key')
    .description('Register a public key for signed JWT client assertions (RFC 7523)')
    .argument('<name>', 'account name')
    .requiredOption('--public-key <file>', 'SPKI PEM public key (Ed25519, P-256 or RSA ≥ 2048)')
    .action(async (name: string, opts: { publicKey: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ key: ClientKey }>(path(name, '/keys'), { publicKey: await readPem(opts.publicKey) });
      showKey(res.key, format);
    });

  sa.command('keys')
    .description('List the client-assertion public keys of an account')
    .argument('<name>', 'account name')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ keys: ClientKey[] }>(path(name, '/keys'));
      if (format === 'json') return printJson(res);
      printTable(['KEY ID', 'ALG', 'FINGERPRINT', 'CREATED'], res.keys.map((k) => [k.id, k.alg, k.fingerprint, k.createdAt]));
    });

  sa.command('remove-key')
    .description('Delete a client-assertion public key: assertions signed with it stop working')
    .argument('<name>', 'account name')
    .argument('<key-id>', 'key id (from `service-account keys`)')
    .action(async (name: string, id: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.call<{ deleted: boolean }>('DELETE', path(name, `/keys/${encodeURIComponent(id)}`));
      if (format === 'json') return printJson(res);
      printLine(`Deleted key ${id} of ${name}`);
    });
}
