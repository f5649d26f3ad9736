/**
 * How CLI commands find the database: --database-url, else DATABASE_URL, else the embedded
 * PostgreSQL a local `kairos start` (or demo) left running, whose URL it wrote to .kairos/.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import { Kairos } from '../api/kairos.js';
import { KAIROS_TYPES } from '../store/db.js';
import { assertPostgresUrl } from './errors.js';
import { silentLogger } from '../core/logger.js';
import { KairosValidationError } from '../core/errors.js';

/** Where a running embedded server's URL is written. */
export const EMBEDDED_URL_FILE = '.kairos/embedded-url';

/** Remember the URL of the embedded server this process runs (removed by `forgetEmbeddedUrl`). */
export function rememberEmbeddedUrl(url: string): void {
  mkdirSync(dirname(EMBEDDED_URL_FILE), { recursive: true });
  writeFileSync(EMBEDDED_URL_FILE, url, { mode: 0o600 });
}

/** Forget it (on shutdown). */
export function forgetEmbeddedUrl(): void {
  rmSync(EMBEDDED_URL_FILE, { force: true });
}

/** The database URL for a command, or a clear error. */
export function databaseUrl(given: string | undefined): string {
  if (given) return assertPostgresUrl(given);
  if (existsSync(EMBEDDED_URL_FILE)) return readFileSync(EMBEDDED_URL_FILE, 'utf8').trim();
  throw new KairosValidationError('database-url', 'no database: give --database-url (or DATABASE_URL), or run `kairos start` with the embedded PostgreSQL first');
}

/** A Kairos client (never started) for one command; closed by `withClient`. */
export async function withClient<T>(options: { databaseUrl?: string; schema: string }, fn: (kairos: Kairos) => Promise<T>): Promise<T> {
  // Our own pool, so an unreachable host fails after a bound (PGCONNECT_TIMEOUT seconds, libpq's
  // name; 10 by default) instead of hanging the command on a black-holed address.
  const pool = new pg.Pool({ connectionString: databaseUrl(options.databaseUrl), max: 2, application_name: 'kairos', types: KAIROS_TYPES, connectionTimeoutMillis: connectTimeoutMs() });
  pool.on('error', () => undefined);
  const kairos = new Kairos({ pool, schema: options.schema, logger: silentLogger, migrate: false });
  try {
    return await fn(kairos);
  } finally {
    await kairos.stop();
    await pool.end();
  }
}

/** How long a command waits for a connection: PGCONNECT_TIMEOUT seconds, else 10 s. */
function connectTimeoutMs(): number {
  const seconds = Number(process.env.PGCONNECT_TIMEOUT);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000;
}
