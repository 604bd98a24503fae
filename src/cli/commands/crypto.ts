import { type Command, Option } from 'commander';
import { emitBlob, printFields, printJson, saveFields } from '../output.js';
import {
  b64,
  contextOption,
  inOption,
  intParser,
  keyPath,
  outOption,
  type Pairs,
  pairsOption,
  readCiphertext,
  readInput,
  runtime,
} from './shared.js';

interface KeyResult {
  keyId: string;
  keyVersion: number;
}
interface CiphertextResult extends KeyResult {
  ciphertext: string;
}
interface PlaintextResult extends KeyResult {
  plaintext: string;
}
type DataKeyResult = CiphertextResult & Partial<PlaintextResult>;

interface IoOptions {
  in?: string;
  out?: string;
  context?: Pairs;
}

interface DataKeyOptions {
  key: string;
  spec?: string;
  bytes?: number;
  plaintext: boolean;
  context?: Pairs;
  plaintextOut?: string;
  ciphertextOut?: string;
}

export function registerCryptoCommands(program: Command): void {
  program
    .command('encrypt')
    .description('Encrypt bytes (from stdin or --in) under a key; prints the ciphertext as base64')
    .requiredOption('--key <key>', 'key id or alias')
    .addOption(inOption('plaintext'))
    .addOption(outOption('ciphertext'))
    .addOption(contextOption())
    .action(async (opts: IoOptions & { key: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const plaintext = await readInput(opts.in);
      const res = await client.post<CiphertextResult>(`${keyPath(opts.key)}/encrypt`, {
        plaintext: b64(plaintext),
        context: opts.context,
      });
      await emitBlob(res, 'ciphertext', format, { out: opts.out });
    });

  program
    .command('decrypt')
    .description('Decrypt a ciphertext (raw or base64, from stdin or --in); writes the raw plaintext')
    .addOption(inOption('ciphertext'))
    .addOption(outOption('plaintext'))
    .addOption(contextOption())
    .action(async (opts: IoOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const ciphertext = await readCiphertext(opts.in);
      const res = await client.post<PlaintextResult>('/v1/decrypt', { ciphertext: b64(ciphertext), context: opts.context });
      await emitBlob(res, 'plaintext', format, { out: opts.out, raw: format === 'table' });
    });

  program
    .command('data-key')
    .description('Generate a data key for envelope encryption: its plaintext and its ciphertext under --key')
    .requiredOption('--key <key>', 'key id or alias to encrypt the data key under')
    .addOption(new Option('--spec <spec>', 'data key spec').choices(['AES_256', 'AES_128']).conflicts('bytes'))
    .addOption(new Option('--bytes <n>', 'data key length in bytes, instead of --spec').argParser(intParser(1, 1024)))
    .option('--no-plaintext', 'return only the ciphertext of the data key')
    .addOption(contextOption())
    .addOption(new Option('--plaintext-out <file>', 'write the raw plaintext data key to FILE').conflicts('plaintext'))
    .option('--ciphertext-out <file>', 'write the raw ciphertext of the data key to FILE')
    .action(async (opts: DataKeyOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<DataKeyResult>(`${keyPath(opts.key)}/data-key`, {
        spec: opts.spec,
        bytes: opts.bytes,
        includePlaintext: opts.plaintext,
        context: opts.context,
      });
      const rest = await saveFields(res, { plaintext: opts.plaintextOut, ciphertext: opts.ciphertextOut });
      if (format === 'json') return printJson(rest);
      printFields([
        ['Key ID', rest.keyId],
        ['Key version', rest.keyVersion],
        ['Plaintext', rest.plaintext],
        ['Ciphertext', rest.ciphertext],
      ]);
    });

  program
    .command('re-encrypt')
    .description('Decrypt a ciphertext and encrypt its plaintext under another key, inside Keywarden')
    .requiredOption('--destination-key <key>', 'key id or alias to encrypt under')
    .addOption(inOption('ciphertext'))
    .addOption(outOption('new ciphertext'))
    .addOption(contextOption('encryption context of the input ciphertext'))
    .addOption(pairsOption('--destination-context <k=v>', 'encryption context for the new ciphertext'))
    .action(async (opts: IoOptions & { destinationKey: string; destinationContext?: Pairs }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const ciphertext = await readCiphertext(opts.in);
      const res = await client.post<CiphertextResult & { sourceKeyId: string }>('/v1/re-encrypt', {
        ciphertext: b64(ciphertext),
        context: opts.context,
        destinationKey: opts.destinationKey,
        destinationContext: opts.destinationContext,
      });
      await emitBlob(res, 'ciphertext', format, { out: opts.out });
    });

  program
    .command('re-wrap')
    .description('Re-encrypt a ciphertext under the primary version of its key, inside Keywarden (after a rotation)')
    .requiredOption('--key <key>', 'key id or alias of the key that encrypted the ciphertext')
    .addOption(inOption('ciphertext'))
    .addOption(outOption('new ciphertext'))
    .addOption(contextOption('encryption context of the ciphertext (kept for the new one)'))
    .action(async (opts: IoOptions & { key: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const ciphertext = await readCiphertext(opts.in);
      const res = await client.post<CiphertextResult & { previousKeyVersion: number }>(`${keyPath(opts.key)}/re-wrap`, {
        ciphertext: b64(ciphertext),
        context: opts.context,
      });
      await emitBlob(res, 'ciphertext', format, { out: opts.out });
    });

  program
    .command('random')
    .description('Generate random bytes; prints them as base64')
    .requiredOption('--bytes <n>', 'number of random bytes', intParser(1))
    .addOption(outOption('random'))
    .option('--raw', 'write the raw bytes to stdout instead of base64')
    .action(async (opts: { bytes: number; out?: string; raw?: boolean }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ random: string }>('/v1/random', { bytes: opts.bytes });
      await emitBlob(res, 'random', format, { out: opts.out, raw: opts.raw ?? false });
    });
}
