/**
 * `keywarden envelope encrypt|decrypt` (issue 9 §4): local envelope encryption built on the SDK
 * (src/sdk): the data never goes to the server, only the data key is wrapped and unwrapped there.
 * Table format (default): raw bytes in and out, streamed in constant memory. JSON format: the whole
 * input is read and one JSON object is printed (`{message}` / `{plaintext, context, keyId}`, base64).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Command, Option } from 'commander';
import { Keywarden } from '../../sdk/index.js';
import { printJson } from '../output.js';
import { type GlobalOptions, type Pairs, collect, contextOption, inOption, intParser, readInput, readSavedToken } from './shared.js';

interface EnvelopeOptions {
  in?: string;
  out?: string;
  context?: Pairs;
}

/** An SDK client from the global options: --token (or the saved login), else KEYWARDEN_CLIENT_ID/SECRET. */
function sdk(cmd: Command): { kw: Keywarden; format: GlobalOptions['format'] } {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  if (g.caCert !== undefined) cmd.error('error: --ca-cert is not supported by envelope; set NODE_EXTRA_CA_CERTS=FILE instead', { exitCode: 2 });
  const token = g.token ?? readSavedToken();
  const { KEYWARDEN_CLIENT_ID: clientId, KEYWARDEN_CLIENT_SECRET: clientSecret } = process.env;
  const auth = token === undefined && clientId && clientSecret ? { clientId, clientSecret } : { token: token ?? '' };
  return { kw: new Keywarden({ address: g.address, ...auth, cache: false }), format: g.format };
}

const input = (file: string | undefined): Readable => (file === undefined ? process.stdin : createReadStream(file));

/** Streams to --out FILE (removed again if anything fails, e.g. a truncated message) or stdout. */
async function streamTo(out: string | undefined, source: Readable, transform: NodeJS.ReadWriteStream): Promise<void> {
  const sink: Writable = out === undefined ? process.stdout : createWriteStream(out, { mode: 0o600 });
  try {
    await pipeline(source, transform, sink, { end: out !== undefined });
  } catch (err) {
    if (out !== undefined) await rm(out, { force: true });
    throw err;
  }
}

export function registerEnvelopeCommands(program: Command): void {
  const envelope = program
    .command('envelope')
    .description('Envelope encryption on this machine with data keys from Keywarden (format: docs/sdk.md)');

  envelope
    .command('encrypt')
    .description('Encrypt stdin (or --in) into an envelope message on stdout (or --out)')
    .requiredOption('--key <key>', 'key id or alias that wraps the data key (repeatable: decrypt needs any one)', collect)
    .addOption(contextOption('encryption context pair, stored authenticated in the message'))
    .addOption(new Option('--frame-length <bytes>', 'plaintext bytes per frame').argParser(intParser(1, 4 * 1024 * 1024)))
    .addOption(inOption('plaintext'))
    .addOption(new Option('--out <file>', 'write the message to FILE'))
    .action(async (opts: EnvelopeOptions & { key: string[]; frameLength?: number }, cmd: Command) => {
      const { kw, format } = sdk(cmd);
      const o = { key: opts.key, ...(opts.context ? { context: opts.context } : {}), ...(opts.frameLength ? { frameLength: opts.frameLength } : {}) };
      if (format === 'json') return printJson({ message: (await kw.envelope.encrypt(await readInput(opts.in), o)).toString('base64') });
      await streamTo(opts.out, input(opts.in), kw.envelope.encryptStream(o));
    });

  envelope
    .command('decrypt')
    .description('Decrypt an envelope message from stdin (or --in) to stdout (or --out); on failure discard any output')
    .addOption(contextOption('pair the message context must contain (repeatable)'))
    .addOption(inOption('message'))
    .addOption(new Option('--out <file>', 'write the plaintext to FILE (removed if decryption fails)'))
    .action(async (opts: EnvelopeOptions, cmd: Command) => {
      const { kw, format } = sdk(cmd);
      const o = opts.context ? { context: opts.context } : {};
      if (format === 'json') {
        const d = await kw.envelope.decrypt(await readInput(opts.in), o);
        return printJson({ plaintext: d.plaintext.toString('base64'), context: d.context, keyId: d.keyId });
      }
      await streamTo(opts.out, input(opts.in), kw.envelope.decryptStream(o));
    });
}
