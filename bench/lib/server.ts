/**
 * The PostgreSQL every system runs on: the embedded server (data in `.kairos/bench-pg`, removed
 * at the end) unless DATABASE_URL names one. Server defaults are kept for durability (fsync,
 * synchronous_commit); only pg_stat_statements is preloaded and max_connections raised.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { livePostmaster, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/postgres.js';

/** The server of one benchmark run. */
export interface BenchServer {
  /** 'embedded' or 'external' (DATABASE_URL). */
  readonly kind: 'embedded' | 'external';
  /** Server version string, e.g. "17.6". */
  readonly version: string;
  /** Whether pg_stat_statements can be queried (view in the `postgres` database). */
  readonly statements: boolean;
  /** The postmaster's pid (embedded server only), to read the server's CPU time. */
  readonly postmasterPid: number | undefined;
  /** Connection string of a database on this server. */
  urlFor(database: string): string;
  /** Run one query in the maintenance database. */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Create an empty database (dropping a leftover of the same name). */
  createDatabase(name: string): Promise<void>;
  /** Drop a database, closing whatever is still connected to it. */
  dropDatabase(name: string): Promise<void>;
  /** Stop the embedded server and remove its data; for DATABASE_URL, just disconnect. */
  stop(): Promise<void>;
}

const DATA_DIR = '.kairos/bench-pg';

function externalUrlFor(base: string): (db: string) => string {
  return (db) => {
    const url = new URL(base);
    url.pathname = `/${encodeURIComponent(db)}`;
    return url.toString();
  };
}

/** Two runs must not share a data directory: the second would delete the first one's cluster. */
export function refuseIfRunning(dataDir: string, hint = ''): void {
  const pid = livePostmaster(dataDir);
  if (pid === null) return; // none, or left over by a run that died: safe to remove
  throw new Error(`another benchmark run is using ${dataDir} (postmaster pid ${pid}); wait for it to finish${hint}`);
}

/** Start (or connect to) the server and probe what it offers. */
export async function startServer(log: (line: string) => void): Promise<BenchServer> {
  let embedded: EmbeddedPostgres | undefined;
  let urlFor: (db: string) => string;
  if (process.env.DATABASE_URL) {
    urlFor = externalUrlFor(process.env.DATABASE_URL);
    log('using the server in DATABASE_URL');
  } else {
    refuseIfRunning(DATA_DIR, ', or set DATABASE_URL');
    rmSync(DATA_DIR, { recursive: true, force: true });
    embedded = await startEmbeddedPostgres({
      dataDir: DATA_DIR,
      settings: { shared_preload_libraries: "'pg_stat_statements'", max_connections: '300', 'pg_stat_statements.max': '10000' },
    });
    urlFor = (db) => embedded!.urlFor(db);
    log(`embedded PostgreSQL on port ${embedded.port} (data in ${DATA_DIR}, removed at the end)`);
  }
  const adminPool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? urlFor('postgres'), max: 2 });
  adminPool.on('error', () => undefined);
  const admin = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> => (await adminPool.query<R>(text, values)).rows;
  const [{ server_version: version } = { server_version: '?' }] = await admin<{ server_version: string }>('SHOW server_version');
  let statements = false;
  try {
    await admin('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await admin('SELECT 1 FROM pg_stat_statements LIMIT 1');
    statements = true;
  } catch (error) {
    log(`pg_stat_statements unavailable (${(error as Error).message}); query counts use pg_stat_database.xact_commit`);
  }
  const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
  const dropDatabase = async (name: string): Promise<void> => {
    // pg's Pool.end() resolves before its sockets close: let them go before forcing the rest out.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await admin(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`);
  };
  const postmasterPid = embedded ? Number(readFileSync(join(embedded.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) : undefined;
  return {
    kind: embedded ? 'embedded' : 'external',
    version,
    statements,
    postmasterPid,
    urlFor,
    admin,
    async createDatabase(name) {
      await dropDatabase(name);
      await admin(`CREATE DATABASE ${quote(name)}`);
    },
    dropDatabase,
    async stop() {
      await adminPool.end().catch(() => undefined);
      await embedded?.stop({ remove: true });
    },
  };
}

/** Counters of one database: statements run (pg_stat_statements, null if unavailable) and commits. */
export async function databaseCounters(server: BenchServer, database: string): Promise<{ statements: number | null; commits: number }> {
  const [commits] = await server.admin<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = $1', [database]);
  let statements: number | null = null;
  if (server.statements) {
    const [row] = await server.admin<{ n: string | null }>(
      'SELECT sum(calls) AS n FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1',
      [database],
    );
    statements = Number(row?.n ?? 0);
  }
  return { statements, commits: Number(commits?.n ?? 0) };
}
