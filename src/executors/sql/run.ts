/**
 * Running one SQL command as a role: on a dedicated connection, as the job's owner (never the
 * agent's own rights), the timeout as `statement_timeout`, cancellation through
 * `pg_cancel_backend`, rows affected and notices captured.
 *
 * `SET ROLE` alone is no boundary: the command could `RESET ROLE` and act as the agent. So the
 * command runs inside a SECURITY DEFINER function that the owner itself creates in pg_temp, where
 * PostgreSQL refuses every change of role; the transaction lets the caller record the completion
 * before COMMIT (exactly once). Maintenance statements that cannot run in a transaction block
 * (VACUUM, CREATE INDEX CONCURRENTLY…) run in autocommit mode, one statement only (extended
 * protocol), as security-restricted operations of PostgreSQL's (no role change there either).
 * The connection is DISCARDed afterwards: no temp object or setting of one owner reaches the next.
 */
import type pg from 'pg';
import { KairosPermanentError, KairosPermissionError } from '../../core/errors.js';
import { throughPooler } from '../../store/pooler.js';
import { forgetPrepared } from '../../store/db.js';
import type { Queries } from '../../store/queries.js';

/** What running a command produced. */
export interface SqlOutput {
  /** Rows affected (summed over statements). */
  rows: number;
  /** The command's first keyword (SELECT, DELETE, VACUUM…). */
  command: string | null;
  /** NOTICE/WARNING messages, oldest first (bounded). */
  notices: string[];
}

/** What to run. */
export interface SqlCommand {
  pool: pg.Pool;
  /** The typed named queries (Store.sql): the cancellation (cancelBackend) is sent through them, on `pool`. */
  queries: Queries;
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
  // The server process to cancel: the one the job's statement reports (behind a pooler the
  // connection's announced process id is the pooler's own, and could name someone else's backend).
  const server = { pid: null as number | null };
  const cancel = (): void => {
    if (server.pid !== null) void cmd.queries.cancelBackend({ pid: server.pid }, cmd.pool).catch(() => undefined);
  };
  cmd.signal.addEventListener('abort', cancel, { once: true });
  let broken: Error | undefined;
  try {
    if (cmd.signal.aborted) throw cmd.signal.reason as Error;
    // Only maintenance statements leave the owner's function (and the transaction): anything else
    // asked to run without one still runs in the function, committed at once.
    const transactional = cmd.transaction === true || !needsAutocommit(cmd.sql);
    return transactional ? await inTransaction(client, cmd, notices, server) : await autocommit(client, cmd, notices, server);
  } catch (error) {
    // What PostgreSQL said and what the command printed before it failed go with the failure
    // (the engine records an error's `output`; a timeout or cancel is the signal's reason).
    const failure = cmd.signal.aborted ? (cmd.signal.reason as Error) : error;
    attachDiagnostics(failure, error, notices, cmd.sql);
    throw failure;
  } finally {
    cmd.signal.removeEventListener('abort', cancel);
    client.off('notice', onNotice);
    // A connection whose session state could not be reset is thrown away, never reused.
    // DISCARD ALL also drops the session's prepared statements (Kairos prepares its hot ones on
    // this same pool): the connection must forget them too.
    await client
      .query('DISCARD ALL')
      .then(() => forgetPrepared(client, null))
      .catch((error: Error) => (broken = error));
    client.release(broken);
  }
}

/** PostgreSQL's fields of a failed command (seed 003's job_sqlstate, detail, hint, context). */
export interface SqlDiagnostics {
  sqlstate: string | null;
  detail: string | null;
  hint: string | null;
  context: string | null;
}

/**
 * PostgreSQL's diagnostics of `error` (a pg DatabaseError), or null for any other error. The
 * CONTEXT is the job's own: the frames of Kairos's wrapper (the job's command as the "SQL
 * statement" of pg_temp.kairos_run_job, and that function's line) are left out, so a statement
 * that failed at the top level has none, as in psql.
 */
export function sqlDiagnostics(error: unknown, sql?: string): SqlDiagnostics | null {
  const e = error as { code?: unknown; detail?: unknown; hint?: unknown; where?: unknown } | null;
  if (!e || typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code)) return null;
  const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
  let context = text(e.where);
  if (context) {
    context = context.replace(/\n?PL\/pgSQL function pg_temp(_\d+)?\.kairos_run_job\(text\) line \d+ at [A-Za-z ]+$/, '');
    const statement = sql === undefined ? null : `SQL statement "${sql}"`;
    if (statement && context.endsWith(statement)) context = context.slice(0, -statement.length).replace(/\n$/, '');
    context = text(context);
  }
  return { sqlstate: e.code, detail: text(e.detail), hint: text(e.hint), context };
}

/**
 * Attach to `failure` (as its `output`, which the engine records instead of a stack trace) the
 * diagnostics of PostgreSQL's `error` and the notices raised before it. The history trigger
 * (migration 0027) moves `diagnostics` into the columns sqlstate, detail, hint and context.
 */
function attachDiagnostics(failure: unknown, error: unknown, notices: string[], sql: string): void {
  if (!failure || typeof failure !== 'object') return;
  const diagnostics = sqlDiagnostics(error, sql);
  const output: { notices: string[]; diagnostics?: SqlDiagnostics } = { notices: [...notices] };
  if (diagnostics) output.diagnostics = diagnostics;
  (failure as { output?: unknown }).output = output;
}

/** The first keyword of a command, as its kind (the function call hides the command tag). */
function firstKeyword(sql: string): string | null {
  const match = /^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*([A-Za-z]+)/.exec(sql);
  return match?.[2]?.toUpperCase() ?? null;
}

/**
 * The function the command runs in, created by the owner (SET LOCAL ROLE first), so it is theirs
 * and runs with exactly their rights. Deferred constraint triggers are fired inside it too: at
 * COMMIT they would run with the agent's role (and a trigger body may RESET ROLE there). A trigger
 * fired here may defer again (SET CONSTRAINTS ALL DEFERRED) and queue new events, so the flush is
 * repeated until a round changes no row of any table that has a deferrable trigger: a new event
 * needs such a row change, and a table with pending events cannot be truncated or dropped (nor
 * its trigger), so with no deferrable trigger left at all one round is enough. The
 * check names everything with its schema and compares with pg_catalog's operator, so the job's
 * own search_path cannot bend it. Dropped with the session's other temporary objects afterwards.
 */
const RUNNER = `CREATE FUNCTION pg_temp.kairos_run_job(command text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $run$
DECLARE
  affected bigint;
  before text;
  after text;
  rounds integer := 0;
BEGIN
  EXECUTE command;
  GET DIAGNOSTICS affected = ROW_COUNT;
  LOOP
    before := after;
    SET CONSTRAINTS ALL IMMEDIATE;
    SELECT COALESCE(pg_catalog.string_agg(pg_catalog.concat_ws(':', t.tgrelid, pg_catalog.pg_stat_get_xact_tuples_inserted(t.tgrelid),
             pg_catalog.pg_stat_get_xact_tuples_updated(t.tgrelid), pg_catalog.pg_stat_get_xact_tuples_deleted(t.tgrelid)), ',' ORDER BY t.tgrelid), '')
      INTO after FROM (SELECT DISTINCT tgrelid FROM pg_catalog.pg_trigger WHERE tgdeferrable) t;
    -- No deferrable trigger anywhere (the usual case): nothing can be pending, one read sufficed.
    EXIT WHEN after OPERATOR(pg_catalog.=) '' OR after OPERATOR(pg_catalog.=) before;
    rounds := rounds OPERATOR(pg_catalog.+) 1;
    IF rounds OPERATOR(pg_catalog.>=) 10 THEN
      RAISE EXCEPTION 'deferred triggers kept deferring new events after 10 rounds; the job is refused';
    END IF;
  END LOOP;
  RETURN affected;
END $run$`;

/**
 * Everything a job can leave in its session, undone before Kairos runs anything else on it (the
 * completion, in the job's transaction): settings (search_path above all: Kairos's statements
 * would resolve functions and operators to the owner's), cursors (WITH HOLD ones would run their
 * query at COMMIT), prepared statements, LISTEN, session advisory locks, and temporary objects
 * (with their ON COMMIT actions). All utility statements: none of them resolves a name through
 * the search_path the job set. search_path is then pinned for the rest of the transaction, with
 * pg_temp last (Kairos's statements name their schema; catalogs must not be shadowed).
 * `coalesce` is a keyword, not a function, and pg_advisory_unlock_all is named with its schema.
 */
const SCRUB = `RESET ROLE; RESET ALL; SET LOCAL search_path = pg_catalog, pg_temp; CLOSE ALL; DEALLOCATE ALL;
UNLISTEN *; DISCARD TEMP; SELECT pg_catalog.pg_advisory_unlock_all()`;

/**
 * The transaction, in four round trips: BEGIN with the owner's role; the owner's function, the
 * job in it and the scrub (one simple query: values are inlined as literals, so that nothing runs
 * between the job and the scrub); the completion; COMMIT.
 */
async function inTransaction(client: pg.PoolClient, cmd: SqlCommand, notices: string[], server: { pid: number | null }): Promise<{ output: SqlOutput; committed: boolean }> {
  try {
    server.pid = checkOwner(await client.query(`BEGIN; ${becomeOwner(client, cmd, true)}`));
    if (cmd.signal.aborted) throw cmd.signal.reason as Error;
    const results = await client.query(`${RUNNER}; SELECT pg_temp.kairos_run_job(${client.escapeLiteral(cmd.sql)}) AS affected; ${SCRUB}`);
    const affected = (results as unknown as pg.QueryResult[]).find((r) => r.fields.some((f) => f.name === 'affected'))?.rows[0]?.affected;
    const output: SqlOutput = { rows: Number(affected ?? 0), command: firstKeyword(cmd.sql), notices: [...notices] };
    await forgetPrepared(client, null);
    // Back as the agent, in a session the job can no longer bend, to record the result (the
    // owner may not write Kairos's tables).
    const keep = cmd.beforeCommit ? await cmd.beforeCommit(client, output) : true;
    await client.query(keep ? 'COMMIT' : 'ROLLBACK');
    return { output, committed: keep };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * The statement that takes the owner's role and timeout (LOCAL: for the transaction) after
 * checking that the owner may connect to this database: the agent connects with its own
 * credentials, so PostgreSQL's own CONNECT check never sees the owner. Runs before any of the
 * job's code, in a clean session; values are literals so that it can share a round trip.
 */
function becomeOwner(client: pg.PoolClient, cmd: SqlCommand, local: boolean): string {
  const role = client.escapeLiteral(cmd.role);
  const timeout = cmd.timeoutMs ? `, pg_catalog.set_config('statement_timeout', CASE WHEN m.ok THEN '${Math.floor(cmd.timeoutMs)}' END, ${local})` : '';
  return `SELECT m.ok AS may_connect, pg_catalog.current_database() AS database, pg_catalog.pg_backend_pid() AS pid,
                 pg_catalog.set_config('role', CASE WHEN m.ok THEN ${role} END, ${local})${timeout}
            FROM (SELECT pg_catalog.has_database_privilege(${role}, pg_catalog.current_database(), 'CONNECT') AS ok) m`;
}

/**
 * Refuse the job when the owner may not connect (the result of {@link becomeOwner}, maybe after
 * BEGIN's); else the server process the job runs in.
 */
function checkOwner(result: pg.QueryResult | pg.QueryResult[]): number | null {
  const row = (Array.isArray(result) ? result[result.length - 1] : result)?.rows[0] as { may_connect?: boolean; database?: string; pid?: number } | undefined;
  if (!row?.may_connect) {
    throw new KairosPermissionError(`The job's owner may not connect to database "${row?.database}" (no CONNECT privilege); the job is not run`);
  }
  return row.pid ?? null;
}

/**
 * A maintenance statement, outside any transaction: the owner's role is set for the session,
 * then the statement runs. Through a connection pooler the two could land on different server
 * connections (the statement with the agent's rights, the role left on a connection someone else
 * is served by next), so there it is refused, for good, before anything is set.
 */
async function autocommit(client: pg.PoolClient, cmd: SqlCommand, notices: string[], server: { pid: number | null }): Promise<{ output: SqlOutput; committed: boolean }> {
  if (await throughPooler(client, cmd.queries)) {
    throw new KairosPermanentError(
      `${firstKeyword(cmd.sql) ?? 'This statement'} must run outside a transaction, which Kairos does not do through a connection pooler ` +
        '(the role it sets for the job could stay on a pooled server connection); give this database a direct connection (the agent\'s connections option) to run it; not retried',
      'KAIROS_POOLER_AUTOCOMMIT',
    );
  }
  server.pid = checkOwner(await client.query(becomeOwner(client, cmd, false)));
  // Extended protocol: one statement, so "VACUUM; RESET ROLE; …" cannot ride along.
  const result = await client.query({ text: cmd.sql, queryMode: 'extended' } as pg.QueryConfig);
  return { output: { rows: result.rowCount ?? 0, command: result.command ?? firstKeyword(cmd.sql), notices: [...notices] }, committed: true };
}
