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
/** float8[]'s parser reads each element with parseFloat: right for bigint[] and numeric[] too. */
const parseNumberArray = (pg.types.getTypeParser as (oid: number, format: 'text') => (text: string) => unknown)(1022, 'text');

const defaultTimestamptz = pg.types.getTypeParser(1184, 'text') as (text: string) => unknown;
const digit = (text: string, at: number): number => text.charCodeAt(at) - 48;
const two = (text: string, at: number): number => digit(text, at) * 10 + digit(text, at + 1);

/**
 * timestamptz as PostgreSQL writes it with the default DateStyle (`2026-11-23 16:35:04.123456+00`,
 * offsets `+05`, `-03:30`), read by position: a claim returns a thousand timestamps per batch and
 * pg's general parser (three regular expressions each) was the node's largest single cost after
 * garbage collection. Anything else (BC, infinity, years before 1000, offsets with seconds, other
 * DateStyles) goes to pg's parser. Sub-millisecond digits are dropped, as pg's parser drops them.
 */
export function parseTimestamptz(text: string): Date {
  const n = text.length;
  const fast =
    n >= 22 && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45 && text.charCodeAt(10) === 32 &&
    text.charCodeAt(13) === 58 && text.charCodeAt(16) === 58 && digit(text, 0) >= 1;
  if (fast) {
    let at = 19;
    let ms = 0;
    if (text.charCodeAt(19) === 46) {
      at = 20;
      for (let scale = 100; at < n && text.charCodeAt(at) >= 48 && text.charCodeAt(at) <= 57; at++, scale /= 10) if (scale >= 1) ms += digit(text, at) * scale;
    }
    const sign = text.charCodeAt(at) === 43 ? 1 : text.charCodeAt(at) === 45 ? -1 : 0;
    const minutes = n === at + 3 ? 0 : n === at + 6 && text.charCodeAt(at + 3) === 58 ? two(text, at + 4) : -1;
    if (sign !== 0 && minutes >= 0) {
      const year = two(text, 0) * 100 + two(text, 2);
      const utc = Date.UTC(year, two(text, 5) - 1, two(text, 8), two(text, 11), two(text, 14), two(text, 17), ms);
      return new Date(utc - sign * (two(text, at + 1) * 60 + minutes) * 60_000);
    }
  }
  return defaultTimestamptz(text) as Date;
}

/** OID → parser: bigint (20) and numeric (1700) as numbers, their arrays (1016, 1231), timestamptz (1184). */
const TEXT_PARSERS = new Map<number, (text: string) => unknown>([
  [20, parseInt8],
  [1700, parseInt8],
  [1016, parseNumberArray],
  [1231, parseNumberArray],
  [1184, parseTimestamptz],
]);

/**
 * How Kairos reads results: bigint and numeric columns (run and log ids, counts, epoch
 * milliseconds) and their arrays as JS numbers — ids stay far
 * below 2^53 in any real installation — timestamptz through {@link parseTimestamptz}, and
 * everything else as pg's defaults. Given per query
 * (and to the pools Kairos creates), never set on pg's global parsers: the application's own
 * queries keep their int8 strings, whether or not it shares its pool with Kairos.
 */
export const KAIROS_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return pg.types.getTypeParser(oid, format);
    return TEXT_PARSERS.get(oid) ?? pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** node-pg's per-connection record of the statements it has prepared (pg 8: `connection.parsedStatements`). */
function preparedOf(client: pg.ClientBase): Record<string, string> | undefined {
  return (client as unknown as { connection?: { parsedStatements?: Record<string, string> } }).connection?.parsedStatements;
}

/**
 * Make a connection forget prepared statement `name` (all of them when null): node-pg would
 * otherwise go on executing a statement the session no longer has. `deallocate`: the session
 * still has it (its plan went stale) and it is dropped there too.
 */
export async function forgetPrepared(client: pg.ClientBase, name: string | null, deallocate = false): Promise<void> {
  const statements = preparedOf(client);
  if (deallocate && name !== null) await client.query(`DEALLOCATE "${name.replace(/"/g, '""')}"`);
  if (!statements) return;
  if (name === null) for (const key of Object.keys(statements)) delete statements[key];
  else delete statements[name];
}

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

/** Wrap a driver error so callers see a KairosDatabaseError with the original as `cause`. */
export function databaseError(action: string, error: unknown): KairosDatabaseError {
  const message = error instanceof Error ? error.message : String(error);
  return new KairosDatabaseError(`${action} failed: ${message}`, { cause: error });
}
