/**
 * `keywarden access-key create|list|enable|disable|delete`: AWS access keys (SigV4) for the AWS
 * KMS-compatible API. The secret is printed once, by create. The server decides who may do what.
 */
import type { Command } from 'commander';
import { printFields, printJson, printLine, printTable } from '../output.js';
import { runtime } from './shared.js';

interface AccessKey {
  accessKeyId: string;
  principal: string;
  status: 'Active' | 'Inactive';
  createdAt: string;
}

export function registerAccessKeyCommands(program: Command): Command {
  const ak = program.command('access-key').description('AWS access keys (SigV4) of principals, for the AWS KMS-compatible API');

  ak.command('create')
    .description('Create an access key for a service account (or root); the secret is shown only now')
    .requiredOption('--principal <name>', 'service account name, or root for the bootstrap root identity')
    .action(async (opts: { principal: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const r = await client.post<AccessKey & { secretAccessKey: string }>('/v1/access-keys', { principal: opts.principal });
      if (format === 'json') printJson({ accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey });
      else {
        printFields([
          ['Access key id', r.accessKeyId],
          ['Secret access key', r.secretAccessKey],
          ['Principal', r.principal],
        ]);
        printLine('The secret access key is shown only now: store it safely (e.g. AWS_SECRET_ACCESS_KEY).');
      }
    });

  ak.command('list')
    .description('List access keys: your own, or (principal:read) one principal\u2019s; root sees all')
    .option('--principal <name>', 'the access keys of this principal')
    .action(async (opts: { principal?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ accessKeys: AccessKey[] }>(`/v1/access-keys${opts.principal ? `?principal=${encodeURIComponent(opts.principal)}` : ''}`);
      if (format === 'json') printJson(res);
      else printTable(['ACCESS KEY ID', 'PRINCIPAL', 'STATUS', 'CREATED'], res.accessKeys.map((k) => [k.accessKeyId, k.principal, k.status, k.createdAt]));
    });

  for (const [action, what] of [['enable', 'Re-enable'], ['disable', 'Disable (requests signed with it are refused at once)']] as const) {
    ak.command(action)
      .description(`${what} an access key`)
      .argument('<id>', 'access key id')
      .action(async (id: string, _opts: object, cmd: Command) => {
        const { client, format } = runtime(cmd);
        const res = await client.post<{ accessKey: AccessKey }>(`/v1/access-keys/${encodeURIComponent(id)}/${action}`, undefined);
        if (format === 'json') printJson(res);
        else printFields([['Access key id', res.accessKey.accessKeyId], ['Principal', res.accessKey.principal], ['Status', res.accessKey.status]]);
      });
  }

  ak.command('delete')
    .description('Delete an access key for good')
    .argument('<id>', 'access key id')
    .action(async (id: string, _opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.call<{ deleted: string }>('DELETE', `/v1/access-keys/${encodeURIComponent(id)}`);
      if (format === 'json') printJson(res);
      else printLine(`Deleted access key ${res.deleted}`);
    });
  return ak;
}
