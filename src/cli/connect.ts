/**
 * How CLI commands find the database: --database-url, else DATABASE_URL, else the embedded
 * PostgreSQL a local `kairos start` (or demo) left running, whose URL it wrote to .kairos/.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kairos } from '../api/kairos.js';
import { silentLogger } from '../core/logger.js';
import { KairosDatabaseError } from '../core/errors.js';

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
  if (given) return given;
  if (existsSync(EMBEDDED_URL_FILE)) return readFileSync(EMBEDDED_URL_FILE, 'utf8').trim();
  throw new KairosDatabaseError('no database: give --database-url (or DATABASE_URL), or run `kairos start` with the embedded PostgreSQL first');
}

/** A Kairos client (never started) for one command; closed by `withClient`. */
export async function withClient<T>(options: { databaseUrl?: string; schema: string }, fn: (kairos: Kairos) => Promise<T>): Promise<T> {
  const kairos = new Kairos({ connectionString: databaseUrl(options.databaseUrl), schema: options.schema, logger: silentLogger, migrate: false, maxConnections: 2 });
  try {
    return await fn(kairos);
  } finally {
    await kairos.stop();
  }
}
