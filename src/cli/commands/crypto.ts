import { type Command, Option } from 'commander';
import { printFields, printJson, printLine, saveFields, writeBytes, type Format } from '../output.js';
import {
  b64,
  contextOption,
  intParser,
  keyPath,
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

/**
 * Emits the binary `field` of a response: raw bytes to `out` when given (then, in json format,
 * the rest of the response), otherwise raw bytes to stdout when `raw`, otherwise the JSON
 * response or the base64 value on a line of its own.
 */
async function emitBlob<T extends object>(
  response: T,
  field: keyof T & string,
  format: Format,
  { out, raw = false }: { out?: string | undefined; raw?: boolean },
): Promise<void> {
  const value = response[field] as string;
  if (out !== undefined) {
    const rest = await saveFields(response, { [field]: out } as Partial<Record<keyof T & string, string>>);
    if (format === 'json') printJson(rest);
  } else if (raw) {
    await writeBytes(undefined, Buffer.from(value, 'base64'));
  } else if (format === 'json') {
    printJson(response);
  } else {
    printLine(value);
  }
}

const inOption = (what: string) => new Option('--in <file>', `read the ${what} from FILE instead of stdin`);
const outOption = (what: string) => new Option('--out <file>', `write the raw ${what} bytes to FILE`);

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
