/**
 * Running one SQL command as a role: on a dedicated connection, `SET ROLE` to the job's owner
 * (never the agent's own rights), the timeout as `statement_timeout`, cancellation through
 * `pg_cancel_backend`, rows affected and notices captured.
 *
 * Transactional mode runs the command in a transaction and lets the caller do more work in it
 * before COMMIT (recording the completion: exactly once). Statements that cannot run inside a
 * transaction block (VACUUM, CREATE INDEX CONCURRENTLY, CALL of a procedure that commits…) run in
 * autocommit mode, with the role and timeout set for the session and reset afterwards.
 */
import type pg from 'pg';
import { quoteIdent } from '../../store/sql.js';

/** What running a command produced. */
export interface SqlOutput {
  /** Rows affected (summed over statements). */
  rows: number;
  /** The command tag of the last statement (SELECT, DELETE, VACUUM…). */
  command: string | null;
  /** NOTICE/WARNING messages, oldest first (bounded). */
  notices: string[];
}

/** What to run. */
export interface SqlCommand {
  pool: pg.Pool;
  sql: string;
  /** Role to run as (SET ROLE). */
  role: string;
  timeoutMs: number | null;
  signal: AbortSignal;
  /** 'auto' detects statements that cannot run in a transaction block. */
  transaction: boolean | 'auto';
  /** Called inside the transaction after the command; return false to roll everything back. */
  beforeCommit?: (client: pg.PoolClient, output: SqlOutput) => Promise<boolean>;
}

const MAX_NOTICES = 50;

/** Statements PostgreSQL refuses inside a transaction block (checked on the first keyword(s)). */
const NON_TRANSACTIONAL = [
  /^VACUUM\b/i,
  /^CLUSTER\s*;?\s*$/i,
  /^(CREATE|DROP)\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b/i,
  /^REINDEX\b.*\b(CONCURRENTLY|DATABASE|SYSTEM)\b/is,
  /^(CREATE|DROP|ALTER)\s+DATABASE\b/i,
  /^(CREATE|DROP)\s+TABLESPACE\b/i,
  /^ALTER\s+SYSTEM\b/i,
  /^CALL\b/i,
  /^DETACH\s+PARTITION\b.*\bCONCURRENTLY\b/is,
  /^ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b/is,
];

/** Whether `sql` must run outside a transaction block. */
export function needsAutocommit(sql: string): boolean {
  const text = sql.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '');
  return NON_TRANSACTIONAL.some((pattern) => pattern.test(text));
}

/** Run the command; resolves with its output or rejects with PostgreSQL's error. */
export async function runSql(cmd: SqlCommand): Promise<{ output: SqlOutput; committed: boolean }> {
  const client = await cmd.pool.connect();
  const notices: string[] = [];
  const onNotice = (notice: { severity?: string; message?: string }): void => {
    notices.push(`${notice.severity ?? 'NOTICE'}: ${notice.message ?? ''}`);
    if (notices.length > MAX_NOTICES) notices.shift();
  };
  client.on('notice', onNotice);
  const pid = (client as unknown as { processID: number }).processID;
  const cancel = (): void => void cmd.pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
  cmd.signal.addEventListener('abort', cancel, { once: true });
  let broken: Error | undefined;
  try {
    if (cmd.signal.aborted) throw cmd.signal.reason as Error;
    const transactional = cmd.transaction === 'auto' ? !needsAutocommit(cmd.sql) : cmd.transaction;
    return transactional ? await inTransaction(client, cmd, notices) : await autocommit(client, cmd, notices);
  } catch (error) {
    if (cmd.signal.aborted) throw cmd.signal.reason as Error;
    throw error;
  } finally {
    cmd.signal.removeEventListener('abort', cancel);
    client.off('notice', onNotice);
    // A connection whose session state could not be reset is thrown away, never reused.
    await client.query('RESET ROLE; RESET statement_timeout').catch((error: Error) => (broken = error));
    client.release(broken);
  }
}

function summarise(result: pg.QueryResult | pg.QueryResult[], notices: string[]): SqlOutput {
  const results = Array.isArray(result) ? result : [result];
  return {
    rows: results.reduce((sum, r) => sum + (r.rowCount ?? 0), 0),
    command: results.at(-1)?.command ?? null,
    notices: [...notices],
  };
}

async function inTransaction(client: pg.PoolClient, cmd: SqlCommand, notices: string[]): Promise<{ output: SqlOutput; committed: boolean }> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL ROLE ${quoteIdent(cmd.role)}`);
    if (cmd.timeoutMs) await client.query(`SET LOCAL statement_timeout = ${Math.floor(cmd.timeoutMs)}`);
    const output = summarise(await client.query(cmd.sql), notices);
    // Back to the agent's role to record the result (the owner may not write Kairos's tables).
    await client.query('RESET ROLE; SET LOCAL statement_timeout = 0');
    const keep = cmd.beforeCommit ? await cmd.beforeCommit(client, output) : true;
    await client.query(keep ? 'COMMIT' : 'ROLLBACK');
    return { output, committed: keep };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function autocommit(client: pg.PoolClient, cmd: SqlCommand, notices: string[]): Promise<{ output: SqlOutput; committed: boolean }> {
  await client.query(`SET ROLE ${quoteIdent(cmd.role)}`);
  if (cmd.timeoutMs) await client.query(`SET statement_timeout = ${Math.floor(cmd.timeoutMs)}`);
  const output = summarise(await client.query(cmd.sql), notices);
  return { output, committed: true };
}
