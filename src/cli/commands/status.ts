import type { Command } from 'commander';
import type { KeywardenClient } from '../client.js';
import { printFields, printJson } from '../output.js';
import { runtime } from './shared.js';

interface Status {
  initialized?: boolean;
  sealed?: boolean;
  sealType?: string;
  version?: string;
  threshold?: number;
  shares?: number;
  progress?: number;
}

/** Health answers 503 when sealed and 501 when not initialized: these are states, not errors. */
const STATE_STATUSES = new Set([200, 501, 503]);

async function fetchState(client: KeywardenClient, path: string): Promise<Status> {
  const res = await client.send('GET', path);
  const body = res.body as (Status & { error?: unknown }) | undefined;
  if (STATE_STATUSES.has(res.status) && body && !body.error) return body;
  if (res.status === 501) return { initialized: false };
  throw client.errorFrom(res);
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('Show whether Keywarden is initialized and sealed (no token needed)')
    .action(async (_opts: object, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const [health, seal] = await Promise.all([
        fetchState(client, '/v1/sys/health'),
        fetchState(client, '/v1/sys/seal-status'),
      ]);
      const status: Status = { ...seal, ...health };
      if (format === 'json') return printJson(status);
      printFields([
        ['Initialized', status.initialized],
        ['Sealed', status.sealed],
        ['Seal type', status.sealType],
        ['Threshold', status.threshold],
        ['Shares', status.shares],
        ['Unseal progress', status.sealed && status.threshold ? `${status.progress ?? 0}/${status.threshold}` : undefined],
        ['Version', status.version],
      ]);
    });
}
