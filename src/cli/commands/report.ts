/** `keywarden key report` and `keywarden key purge`: keys that have not been used for a while. */
import type { Command } from 'commander';
import { printJson } from '../output.js';
import { type Key, printKeys } from './key.js';
import { daysParser, intParser, runtime } from './shared.js';

const unusedFor = '--unused-for <duration>';
const unusedForHelp = 'keys not used for at least DURATION, in whole days (e.g. 90d)';

export function registerReportCommands(key: Command): void {
  key
    .command('report')
    .description('List keys that have not been used for a while and have no alias')
    .requiredOption(unusedFor, unusedForHelp, daysParser())
    .action(async (opts: { unusedFor: number }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<{ keys: Key[] }>(`/v1/reports/unused-keys?unusedForDays=${opts.unusedFor}`);
      if (format === 'json') printJson(res);
      else printKeys(res.keys);
    });

  key
    .command('purge')
    .description('Schedule the deletion of every key that `key report` lists')
    .requiredOption(unusedFor, unusedForHelp, daysParser())
    .option('--window-days <n>', 'waiting period before the deletion, 7 to 30 days (server default 30)', intParser(7, 30))
    .action(async (opts: { unusedFor: number; windowDays?: number }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ scheduled: Key[] }>('/v1/reports/unused-keys/purge', {
        unusedForDays: opts.unusedFor,
        pendingWindowDays: opts.windowDays,
      });
      if (format === 'json') printJson(res);
      else printKeys(res.scheduled);
    });
}
