/**
 * The dashboard's database access: every request runs in one transaction, as the signed-in
 * user's role when one is configured (so row-level security and grants decide what it sees and
 * may change), reads through the named queries of sql/queries/dashboard.sql, and writes only
 * through the SQL API functions. Errors are turned into messages safe to show (no secrets).
 */
import type pg from 'pg';
import { Store } from '../store/store.js';
import { inTransaction } from '../store/db.js';
import type { Queries } from '../store/queries.js';
import { assertRoleName } from '../store/sql.js';
import { KairosError } from '../core/errors.js';
import { RequestRefused } from './request.js';

/**
 * A role-bound, transactional view of the database for one request: the typed named queries, all
 * run on the request's connection (inside its transaction, as its role).
 */
export type Tx = Queries;

/** Runs requests against one schema. */
export class DashboardDb {
  readonly store: Store;

  constructor(readonly pool: pg.Pool, schema: string) {
    this.store = new Store(pool, schema);
  }

  /** Run `fn` in a transaction, as `role` when given (SET LOCAL ROLE: reverted at the end). */
  async tx<T>(role: string | null, fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (role !== null) assertRoleName(role, 'role');
    return inTransaction(this.pool, async (client) => {
      const tx = this.store.on(client);
      if (role !== null) await tx.dashSetRole({ role });
      return fn(tx);
    });
  }
}

/** How an error is shown: the HTTP status and a message fit for the page. */
export interface ShownError {
  status: number;
  message: string;
}

// SQLSTATEs whose messages are written for users (the SQL API's and PostgreSQL's checks).
const USER_STATES: Record<string, number> = {
  '22023': 400, '22P02': 400, '22007': 400, '22008': 400, '22003': 400, '23505': 409, '23514': 400,
  '42501': 403, P0002: 404, '22004': 400, '22P05': 400, '22021': 400,
};

/**
 * Remove anything secret from a message: connection strings, password= pairs and the given
 * secret values (the dashboard's own token and passwords, the database password).
 */
export function scrub(message: string, secrets: readonly string[] = []): string {
  let text = message
    .replace(/postgres(?:ql)?:\/\/[^\s'"]+/gi, '[connection string hidden]')
    .replace(/(password|passwd|pwd|token)\s*[=:]\s*[^\s,;'"]+/gi, '$1=[hidden]');
  for (const secret of secrets) if (secret && secret.length >= 3) text = text.split(secret).join('[hidden]');
  return text;
}

/** Classify an error for display; unexpected ones get a generic message (details go to the log). */
export function showError(error: unknown, secrets: readonly string[]): ShownError {
  if (error instanceof RequestRefused) return { status: error.status, message: scrub(error.message, secrets) };
  if (error instanceof KairosError) {
    const status = error.code === 'KAIROS_NOT_FOUND' ? 404 : error.code === 'KAIROS_CONFLICT' ? 409 : error.code === 'KAIROS_VALIDATION' ? 400 : 500;
    return { status, message: scrub(error.message, secrets) };
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && USER_STATES[code] !== undefined) {
    return { status: USER_STATES[code]!, message: scrub(String((error as Error).message), secrets) };
  }
  return { status: 500, message: 'The request failed on the server (details are in the dashboard log).' };
}
