/**
 * Connections: Kairos accepts a connection string or the caller's `pg.Pool`, and anything with a
 * `query()` method (a `PoolClient` inside the caller's transaction) for transactional calls.
 */
import pg from 'pg';
import { KairosDatabaseError } from '../core/errors.js';

/** Anything that runs a query: a `pg.Pool`, a `pg.PoolClient` or a `pg.Client`. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

const parseInt8 = (value: string): number => Number(value);

/**
 * How Kairos reads results: bigint columns (run and log ids, counts) as JS numbers — ids stay far
 * below 2^53 in any real installation — and everything else as pg's defaults. Given per query
 * (and to the pools Kairos creates), never set on pg's global parsers: the application's own
 * queries keep their int8 strings, whether or not it shares its pool with Kairos.
 */
export const KAIROS_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** Create a pool for a connection string, with an error listener so idle-client errors never crash. */
export function createPool(connectionString: string, max: number, onError: (error: Error) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'kairos', types: KAIROS_TYPES });
  pool.on('error', onError);
  guardCheckedOutClients(pool);
  return pool;
}

/**
 * pg-pool listens for errors only on idle clients: a checked-out client (a transaction, a SQL job,
 * an exclusive lock) whose connection is cut (server restart, pg_terminate_backend) emits an
 * 'error' nobody handles, which kills the process. Its query fails anyway and the pool drops it
 * on release, so the event itself can be ignored.
 */
export function guardCheckedOutClients(pool: pg.Pool): void {
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
}

/** Run `fn` in a transaction on a client checked out from `pool`. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Remove the password from a connection string before it is shown anywhere. */
export function redactConnectionString(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:\/\/([^:@/]+):[^@/]*@/, '://$1:***@');
  }
}

/** Wrap a driver error so callers see a KairosDatabaseError with the original as `cause`. */
export function databaseError(action: string, error: unknown): KairosDatabaseError {
  const message = error instanceof Error ? error.message : String(error);
  return new KairosDatabaseError(`${action} failed: ${message}`, { cause: error });
}
