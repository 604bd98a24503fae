import type { Command } from 'commander';
import { printJson, printLine } from '../output.js';
import type { PrincipalView } from './service-account.js';
import { runtime } from './shared.js';

const path = (name: string) => `/v1/principals/${encodeURIComponent(name)}/roles`;

export function registerRoleCommands(program: Command): void {
  const role = program.command('role').description('Bind and unbind the built-in roles of a principal (needs an admin)');

  role
    .command('bind')
    .description('Bind ROLE to PRINCIPAL (refused if it breaks separation of duties)')
    .argument('<principal>', 'principal name (service account or user)')
    .argument('<role>', 'admin, key-administrator, security-officer, application or auditor')
    .action(async (principal: string, name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ principal: PrincipalView }>(path(principal), { roles: [name] });
      if (format === 'json') return printJson(res);
      printLine(`Bound ${name} to ${res.principal.name} (roles: ${res.principal.roles.join(', ')})`);
    });

  role
    .command('unbind')
    .description('Remove ROLE from PRINCIPAL')
    .argument('<principal>', 'principal name')
    .argument('<role>', 'role name')
    .action(async (principal: string, name: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.call<{ principal: PrincipalView }>('DELETE', `${path(principal)}/${encodeURIComponent(name)}`);
      if (format === 'json') return printJson(res);
      printLine(`Unbound ${name} from ${res.principal.name} (roles: ${res.principal.roles.join(', ') || 'none'})`);
    });
}
