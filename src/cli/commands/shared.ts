import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { KeywardenClient } from '../client.js';
import type { Format } from '../output.js';

export type Pairs = Record<string, string>;

export interface GlobalOptions {
  address: string;
  token?: string;
  caCert?: string;
  /** One-time password for MFA step-up (sent as X-Keywarden-OTP). */
  otp?: string;
  format: Format;
}

export interface Runtime {
  client: KeywardenClient;
  format: Format;
}

/**
 * The API client and output format selected by the global options of `cmd`. The token is
 * --token / KEYWARDEN_TOKEN, else the one `keywarden login` saved.
 */
export function runtime(cmd: Command, { token = true } = {}): Runtime {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const bearer = token ? (g.token ?? readSavedToken()) : undefined;
  return { client: new KeywardenClient({ address: g.address, token: bearer, caCert: g.caCert, otp: g.otp }), format: g.format };
}

/** Where `keywarden login` keeps the token: $KEYWARDEN_TOKEN_FILE, else ~/.keywarden/token. */
export function tokenFilePath(): string {
  return process.env.KEYWARDEN_TOKEN_FILE || join(homedir(), '.keywarden', 'token');
}

export function readSavedToken(): string | undefined {
  try {
    return readFileSync(tokenFilePath(), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Saves a token readable by its owner only (directory 0700, file 0600, even if it existed before). */
export async function saveToken(token: string): Promise<string> {
  const path = tokenFilePath();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

export async function removeSavedToken(): Promise<void> {
  await rm(tokenFilePath(), { force: true });
}

/** Path segment for a key id or alias (aliases contain `/`). */
export function keyPath(key: string): string {
  return `/v1/keys/${encodeURIComponent(key)}`;
}

export const b64 = (data: Buffer): string => data.toString('base64');

/** Argument parser for repeatable `k=v` options; collects them into one map. */
export function collectPair(value: string, previous: Pairs | undefined): Pairs {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected KEY=VALUE with a non-empty KEY.');
  const key = value.slice(0, eq);
  if (previous && Object.hasOwn(previous, key)) throw new InvalidArgumentError(`"${key}" is given twice.`);
  return { ...previous, [key]: value.slice(eq + 1) };
}

/** A repeatable `k=v` option, e.g. `--context purpose=backup --context tenant=acme`. */
export function pairsOption(flags: string, description: string): Option {
  return new Option(flags, `${description} (repeatable)`).argParser(collectPair);
}

export const contextOption = (description = 'encryption context pair; decrypt needs the same pairs'): Option =>
  pairsOption('--context <k=v>', description);

/** Argument parser for an integer option in [min, max]. */
export function intParser(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}.`);
    }
    return n;
  };
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const inOption = (what: string) => new Option('--in <file>', `read the ${what} from FILE instead of stdin`);
export const outOption = (what: string) => new Option('--out <file>', `write the raw ${what} bytes to FILE`);

const DURATION_UNITS_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DAY_MS = 86_400_000;

/** Parses a duration such as `90d`, `12h`, `30m` or `45s` into milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+)([smhd])$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected a duration such as 90d, 12h or 30m.');
  return Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
}

/**
 * Argument parser for a duration the API takes in whole days (`90d`, `48h`). With `off: true` it
 * also accepts `off`, returned as is (Commander replaces a null from a parser by '').
 */
export function daysParser({ off = false } = {}): (value: string) => number | 'off' {
  return (value) => {
    if (off && value === 'off') return 'off';
    const ms = parseDuration(value);
    if (ms === 0 || ms % DAY_MS !== 0) {
      throw new InvalidArgumentError(`expected a positive whole number of days, such as 90d${off ? ', or off' : ''}.`);
    }
    return ms / DAY_MS;
  };
}

/** Argument parser for a point in time (ISO 8601); returns it as an ISO string in UTC. */
export function timeParser(value: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('expected an ISO 8601 time such as 2026-01-31T12:00:00Z.');
  return new Date(ms).toISOString();
}

/** Reads all of stdin as bytes. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads the raw bytes of FILE, or of stdin when no file is given. */
export async function readInput(file: string | undefined): Promise<Buffer> {
  if (file === undefined) return readStdin();
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** A raw Keywarden ciphertext starts with the format version byte, which is not a base64 character. */
const RAW_CIPHERTEXT_PREFIX = 0x01;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Reads a ciphertext from FILE or stdin, accepting both the raw bytes and standard base64. */
export async function readCiphertext(file: string | undefined): Promise<Buffer> {
  const input = await readInput(file);
  if (input[0] === RAW_CIPHERTEXT_PREFIX) return input;
  const text = input.toString('latin1').replace(/\s+/g, '');
  if (text === '') throw new Error('no ciphertext given: pass it on stdin or with --in FILE');
  const decoded = Buffer.from(text, 'base64');
  if (!BASE64.test(text) || b64(decoded) !== text) {
    throw new Error('the input is neither a raw Keywarden ciphertext nor valid base64');
  }
  return decoded;
}
