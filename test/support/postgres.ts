/**
 * A throwaway PostgreSQL 15 for tests: one cluster per test process (Node's runner runs each test
 * file in its own process), started on first use in a temp dir (initdb as the `postgres` OS user
 * when running as root, since initdb refuses root), on a random free port on 127.0.0.1 with its
 * unix socket in the temp dir, and stopped and removed when the process exits.
 *
 * Durability is switched off (fsync, synchronous_commit, full_page_writes): the data are thrown
 * away, and that keeps commits cheap. `freshDatabase()` hands out a new empty database each call;
 * `freshSchema()` a new empty schema in one database per test file (conformance tests need an
 * empty store each, and CREATE DATABASE costs ~0.5 s: it checkpoints).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const BIN = process.env.KEYWARDEN_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  port: number;
  /** Milliseconds initdb + start took. */
  startupMs: number;
  url(database: string): string;
  /** Stops the server (fast shutdown: sessions are ended, as in a restart or a failover) and starts it again on the same port when `downMs` has passed. */
  restart(downMs?: number): Promise<void>;
}

let cluster: Promise<PgCluster> | undefined;
let counter = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function start(): Promise<PgCluster> {
  return (async () => {
    const t0 = performance.now();
    const dir = mkdtempSync(join(tmpdir(), 'keywarden-pg-'));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      const ids = execFileSync('id', ['-u', 'postgres']).toString().trim();
      const gid = execFileSync('id', ['-g', 'postgres']).toString().trim();
      chownSync(dir, Number(ids), Number(gid));
    }
    const run = (cmd: string, args: string[]) => {
      const argv = asRoot ? ['-u', 'postgres', '--', join(BIN, cmd), ...args] : args;
      const r = spawnSync(asRoot ? 'runuser' : join(BIN, cmd), argv, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
    };
    const data = join(dir, 'data');
    run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const port = await freePort();
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    run('pg_ctl', ['-D', data, '-w', '-s', '-l', join(dir, 'log'), '-o', opts, 'start']);
    process.once('exit', () => {
      // Synchronous on purpose: 'exit' handlers cannot await.
      const argv = ['-D', data, '-s', '-m', 'immediate', 'stop'];
      spawnSync(asRoot ? 'runuser' : join(BIN, 'pg_ctl'), asRoot ? ['-u', 'postgres', '--', join(BIN, 'pg_ctl'), ...argv] : argv);
      rmSync(dir, { recursive: true, force: true });
    });
    // Asynchronous, so that the test process keeps sending load while the server is down.
    const runAsync = (cmd: string, args: string[]) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(asRoot ? 'runuser' : join(BIN, cmd), asRoot ? ['-u', 'postgres', '--', join(BIN, cmd), ...args] : args, { stdio: 'ignore' });
        p.once('error', reject);
        p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
      });
    const restart = async (downMs = 0) => {
      await runAsync('pg_ctl', ['-D', data, '-w', '-s', '-m', 'fast', 'stop']);
      await new Promise((r) => setTimeout(r, downMs));
      await runAsync('pg_ctl', ['-D', data, '-w', '-s', '-l', join(dir, 'log'), '-o', opts, 'start']);
    };
    return { port, startupMs: Math.round(performance.now() - t0), url: (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`, restart };
  })();
}

/** The cluster of this process (started on first call). */
export function pgCluster(): Promise<PgCluster> {
  return (cluster ??= start());
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: (await pgCluster()).url('postgres') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new empty database; returns its URL. */
export async function freshDatabase(from = 'template0'): Promise<string> {
  const name = `kw_${process.pid}_${++counter}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${from}`));
  return (await pgCluster()).url(name);
}

let fileDb: Promise<string> | undefined;

/**
 * A new empty schema in this test file's database, as a URL whose connections use it (search_path):
 * a store opened on it migrates it like a new database, for the cost of one CREATE SCHEMA.
 */
export async function freshSchema(): Promise<string> {
  const db = await (fileDb ??= freshDatabase());
  const name = `s${++counter}`;
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    await c.query(`CREATE SCHEMA ${name}`);
  } finally {
    await c.end();
  }
  return `${db}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
}

/** Drops a database made here (its connections must be closed). */
export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** Drops a schema made by freshSchema (its connections must be closed). */
export async function dropSchema(url: string): Promise<void> {
  const u = new URL(url);
  const name = /search_path=(\w+)/.exec(u.searchParams.get('options') ?? '')?.[1];
  u.search = '';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  } finally {
    await c.end();
  }
}
