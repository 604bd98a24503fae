/**
 * Signatures, MACs and public keys (`sign`, `verify`, `mac`, `verify-mac`, `public-key`), and
 * moving key material in and out (`key import`, `key export`).
 */
import { type Command, Option } from 'commander';
// ARCHITECTURE rule 9: node:crypto only through src/crypto/primitives, in the CLI too.
import { rsaOaepSha256Encrypt } from '../../crypto/primitives/asymmetric.js';
import { emitBlob, type Format, printJson, printLine, writeBytes } from '../output.js';
import { type Key, showKey } from './key.js';
import { b64, inOption, keyPath, outOption, readInput, runtime, timeParser } from './shared.js';

interface MessageOptions {
  key: string;
  algorithm: string;
  in?: string;
  out?: string;
  digest?: boolean;
}

interface Verdict {
  valid: boolean;
  keyId: string;
  keyVersion: number;
}

interface PublicKey {
  publicKey: string;
  pem: string;
  keyId: string;
  keyVersion: number;
  spec: string;
  usage: string;
}

/** A command that sends a message (stdin or --in) with a key and an algorithm. */
function messageCommand(program: Command, name: string, description: string, algorithms: string): Command {
  return program
    .command(name)
    .description(description)
    .requiredOption('--key <key>', 'key id or alias')
    .requiredOption('--algorithm <alg>', `algorithm, e.g. ${algorithms}`)
    .addOption(inOption('message'));
}

const digestOption = () => new Option('--digest', 'the input is already the digest of the message (messageType DIGEST; not for ED25519)');

/** The request body for a message: base64 message, algorithm, and messageType DIGEST with --digest. */
async function messageBody(opts: MessageOptions): Promise<Record<string, unknown>> {
  const message = await readInput(opts.in);
  return { message: b64(message), algorithm: opts.algorithm, ...(opts.digest ? { messageType: 'DIGEST' } : {}) };
}

/** Prints a verification result; an invalid one is an error (exit status 1). */
function report(res: Verdict, format: Format, what: string): void {
  if (format === 'json') printJson(res);
  if (!res.valid) throw new Error(`${what} is NOT valid`);
  if (format === 'table') printLine(`${what} is valid (key ${res.keyId}, version ${res.keyVersion})`);
}

const PEM_PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\s*$/;
const DER_SEQUENCE = 0x30;

/** Reads the SPKI DER bytes of a public key from a PEM file (or a DER file); the server checks the key itself. */
async function readSpki(file: string): Promise<Buffer> {
  const data = await readInput(file);
  if (data[0] === DER_SEQUENCE) return data;
  const pem = PEM_PUBLIC_KEY.exec(data.toString('latin1').trim());
  if (!pem) throw new Error(`${file} does not hold a public key (expected PEM "BEGIN PUBLIC KEY" or DER SPKI)`);
  return Buffer.from(pem[1]!, 'base64');
}

export function registerAsymmetricCommands(program: Command): void {
  messageCommand(program, 'sign', 'Sign a message; writes the raw signature', 'RSASSA_PSS_SHA_256, ECDSA_SHA_256, ED25519')
    .addOption(digestOption())
    .addOption(outOption('signature'))
    .action(async (opts: MessageOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ signature: string }>(`${keyPath(opts.key)}/sign`, await messageBody(opts));
      await emitBlob(res, 'signature', format, { out: opts.out, raw: format === 'table' });
    });

  messageCommand(program, 'verify', 'Verify a signature; exits 1 when it is not valid', 'RSASSA_PSS_SHA_256, ECDSA_SHA_256, ED25519')
    .requiredOption('--signature <file>', 'file with the raw signature')
    .addOption(digestOption())
    .action(async (opts: MessageOptions & { signature: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const signature = await readInput(opts.signature);
      const res = await client.post<Verdict>(`${keyPath(opts.key)}/verify`, { ...(await messageBody(opts)), signature: b64(signature) });
      report(res, format, 'signature');
    });

  messageCommand(program, 'mac', 'Compute the MAC of a message; writes the raw MAC', 'HMAC_SHA_256 (of an HMAC_256 key)')
    .addOption(outOption('MAC'))
    .action(async (opts: MessageOptions, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.post<{ mac: string }>(`${keyPath(opts.key)}/mac`, await messageBody(opts));
      await emitBlob(res, 'mac', format, { out: opts.out, raw: format === 'table' });
    });

  messageCommand(program, 'verify-mac', 'Verify a MAC; exits 1 when it is not valid', 'HMAC_SHA_256 (of an HMAC_256 key)')
    .requiredOption('--mac <file>', 'file with the raw MAC')
    .action(async (opts: MessageOptions & { mac: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const mac = await readInput(opts.mac);
      const res = await client.post<Verdict>(`${keyPath(opts.key)}/verify-mac`, { ...(await messageBody(opts)), mac: b64(mac) });
      report(res, format, 'MAC');
    });

  program
    .command('public-key')
    .description('Get the public key of an asymmetric key (PEM text, or DER bytes)')
    .argument('<key>', 'key id or alias')
    .addOption(new Option('--output <encoding>', 'encoding of the public key').choices(['pem', 'der']).default('pem'))
    .option('--out <file>', 'write the public key to FILE')
    .action(async (keyArg: string, opts: { output: 'pem' | 'der'; out?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const res = await client.get<PublicKey>(`${keyPath(keyArg)}/public-key`);
      if (format === 'json' && opts.out === undefined) return printJson(res);
      await writeBytes(opts.out, opts.output === 'pem' ? Buffer.from(res.pem) : Buffer.from(res.publicKey, 'base64'));
      if (format === 'json') printJson({ ...res, publicKey: undefined, pem: undefined });
    });
}

export function registerKeyMaterialCommands(key: Command): void {
  key
    .command('import')
    .description('Import key material into an EXTERNAL key (wrapped locally with RSA-OAEP SHA-256)')
    .argument('<key>', 'key id or alias')
    .requiredOption('--material <file>', 'file with the raw key material (32 bytes for SYMMETRIC_DEFAULT)')
    .option('--valid-to <time>', 'the material expires at this time (ISO 8601)', timeParser)
    .action(async (keyArg: string, opts: { material: string; validTo?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const material = await readInput(opts.material);
      const params = await client.post<{ importToken: string; publicKey: string }>(`${keyPath(keyArg)}/import-parameters`, {
        wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      });
      const encrypted = rsaOaepSha256Encrypt(Buffer.from(params.publicKey, 'base64'), material);
      material.fill(0);
      const res = await client.post<{ key: Key }>(`${keyPath(keyArg)}/import`, {
        importToken: params.importToken,
        encryptedMaterial: b64(encrypted),
        validTo: opts.validTo,
      });
      showKey(res, format);
    });

  key
    .command('export')
    .description('Export the material of an exportable key, wrapped under your RSA public key (RSA-OAEP SHA-256)')
    .argument('<key>', 'key id or alias')
    .requiredOption('--public-key <file>', 'PEM file with the RSA public key to wrap the material under')
    .addOption(outOption('wrapped material'))
    .action(async (keyArg: string, opts: { publicKey: string; out?: string }, cmd: Command) => {
      const { client, format } = runtime(cmd);
      const spki = await readSpki(opts.publicKey);
      const res = await client.post<{ wrappedMaterial: string }>(`${keyPath(keyArg)}/export`, { publicKey: b64(spki) });
      await emitBlob(res, 'wrappedMaterial', format, { out: opts.out });
    });
}
