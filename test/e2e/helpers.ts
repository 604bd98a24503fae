/**
 * Shared helpers for end-to-end tests: start a real `keywarden dev` server process and run the
 * `keywarden` CLI as a child process against it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI_ARGS = ['--import', 'tsx', join('src', 'cli', 'main.ts')];
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface DevServer {
  address: string;
  rootToken: string;
  dataDir: string;
  proc: ChildProcess;
  /** Everything the server process wrote so far: stdout (banner) and stderr (the log). */
  output(): { stdout: string; stderr: string };
  /** Stops the server (SIGTERM, then SIGKILL after 10 s); removes the data dir if this helper created it, unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  rootToken?: string;
  extraArgs?: string[];
}

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** Added to the environment; KEYWARDEN_* variables of the test process are never inherited. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (stdin is closed immediately when absent). */
  input?: Buffer | string;
}

/**
 * Environment of the test process without KEYWARDEN_* variables, plus `extra`. The saved-login
 * token file points at a path that never exists unless the test sets KEYWARDEN_TOKEN_FILE, so a
 * `~/.keywarden/token` on the machine never leaks into a test.
 */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { KEYWARDEN_TOKEN_FILE: join(tmpdir(), `keywarden-e2e-no-token-file-${process.pid}`) };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEYWARDEN_')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

function waitForExit(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

/** Spawns `keywarden dev` on a free port with a fresh (or the given) data dir and waits until it listens. */
export async function startDevServer(opts: StartOptions = {}): Promise<DevServer> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'keywarden-e2e-')));
  const rootToken = opts.rootToken ?? `kwr_e2e_${randomBytes(16).toString('hex')}`;
  const args = ['dev', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--root-token', rootToken];
  const proc = spawn(process.execPath, [...CLI_ARGS, ...args, ...(opts.extraArgs ?? [])], {
    cwd: REPO_ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let output = '';
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev server did not start in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
        output += c;
        const m = /Listening on (http:\/\/\S+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`dev server exited (${signal ?? code}) before listening:\n${output}${stderr}`));
      });
      proc.once('error', reject);
    });
    proc.stdout!.resume(); // the listener above keeps collecting (and draining) after the banner

    const stop = async ({ keepData = false } = {}): Promise<void> => {
      const exited = waitForExit(proc);
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(killer);
      if (ownDir && !keepData) await rm(dataDir, { recursive: true, force: true });
    };
    return { address, rootToken, dataDir, proc, stop, output: () => ({ stdout: output, stderr }) };
  } catch (err) {
    proc.kill('SIGKILL');
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** Runs `keywarden ...args` as a child process and collects its exit code and output. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const proc = spawn(process.execPath, [...CLI_ARGS, ...args], { cwd: REPO_ROOT, env: childEnv(opts.env) });
  const stdout: Buffer[] = [];
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => stdout.push(c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  proc.stdin.on('error', () => {}); // the CLI may exit without reading its input
  proc.stdin.end(opts.input);
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }));
  });
}

/** Runs the CLI with its stdout pipe closed before it writes (a reader that stopped: `keywarden ... | head`). */
export function runCliIntoClosedPipe(args: string[], opts: RunOptions = {}): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [...CLI_ARGS, ...args], { cwd: REPO_ROOT, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.destroy();
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code) => resolve({ code, stderr }));
  });
}

/** A JSON request to a test server; `status` and parsed `json` of the answer. */
export async function api(address: string, token: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(address + path, {
    method,
    headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** Like api(), for setup steps that must succeed: asserts a 2xx answer and returns its JSON. */
export async function apiOk(address: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await api(address, token, method, path, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} -> ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

/** Asserts a successful run and returns its stdout. */
export function ok(r: CliResult): Buffer {
  assert.equal(r.code, 0, `expected success, got exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Asserts a failed run with the given exit status and a one-line `error: ...` message on stderr. */
export function fails(r: CliResult, exitCode: number, message: RegExp): void {
  assert.equal(r.code, exitCode, `expected exit ${exitCode}, got ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.trim().split('\n').length, 1, `expected a one-line error, got: ${r.stderr}`);
}

export const json = <T>(r: CliResult): T => JSON.parse(ok(r).toString('utf8')) as T;
export const text = (r: CliResult): string => ok(r).toString('utf8');

export interface ServerProc {
  proc: ChildProcess;
  address: string;
  stdout: () => string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `keywarden <args>` (e.g. `server --config FILE`) and waits for its "Listening on URL" line. */
export async function startKeywarden(args: string[]): Promise<ServerProc> {
  const proc = spawn(process.execPath, [...CLI_ARGS, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Listening on" within ${START_TIMEOUT_MS} ms:\n${out}${err}`)), START_TIMEOUT_MS);
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /Listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${out}${err}`));
    });
  });
  return {
    proc,
    address,
    stdout: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGTERM');
      }),
  };
}
