/**
 * A private PostgreSQL for pg_cron. pg_cron must be in `shared_preload_libraries` and runs its jobs
 * in one database of its server, so it cannot share the suite's embedded PostgreSQL 17 (which has
 * no pg_cron build anyway). Where a Debian `postgresql-<major>-cron` package is installed, this
 * starts that major's server binaries on a free port with the data in `.kairos/bench-pgcron`,
 * removed at the end, with src/embedded/postgres.ts pointed at those binaries.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/postgres.js';
import { refuseIfRunning } from './server.js';

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
  const dataDir = resolve(DATA_DIR);
  refuseIfRunning(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
  let server: EmbeddedPostgres;
  try {
    // Unix-socket connections are trusted: pg_cron opens one per job run, as `postgres` without a
    // password, and the socket lives in the data directory (mode 0700), so only the postgres user
    // (and root) can reach it. TCP, which the driver uses, needs the password.
    server = await startEmbeddedPostgres({
      dataDir,
      binDir: install.bin,
      trustLocal: true,
      settings: {
        unix_socket_directories: `'${dataDir}'`,
        shared_preload_libraries: 'pg_cron',
        'cron.database_name': 'postgres',
        'cron.host': `'${dataDir}'`,
        'cron.max_running_jobs': String(jobs),
        // One backend per running job, plus the driver and the launcher.
        max_connections: String(jobs + 20),
        ...options.settings,
      },
    });
  } catch (error) {
    const tail = logTail(join(dataDir, 'server.log'));
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}${tail ? `\n${tail}` : ''}`, { cause: error });
  }
  log(`pg_cron server: PostgreSQL ${install.major} on port ${server.port} (data in ${DATA_DIR}, removed at the end)`);
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  pool.on('error', () => undefined);
  const query = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> => (await pool.query<R>(text, values)).rows;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    running.delete(stop);
    await pool.end().catch(() => undefined);
    await server.stop({ remove: true }).catch(() => rmSync(dataDir, { recursive: true, force: true }));
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
