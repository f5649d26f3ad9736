/**
 * The engine's and the API's SQL access goes through a Store: `store.sql` has one typed method per
 * named query (the files in sql/queries/, generated into store/queries.ts by `npm run
 * gen:queries`), named parameters in, typed rows out. SQL text outside those files is kept to
 * what cannot be a named query: migrations and the schema dump (store/migrate.ts,
 * store/schema-dump.ts), transaction and prepared-statement control (store/db.ts, the ticker's
 * per-job savepoints), the notifier's LISTEN, the SQL-job runner that runs a user's command as
 * its owner (executors/sql/run.ts), and setup in embedded/postgres.ts and testing/.
 */
import type pg from 'pg';
import { KAIROS_TYPES, forgetPrepared, type Queryable } from './db.js';
import { QuerySet, channelName } from './sql.js';
import { Queries, type CompleteRunsRow, type FailRunsRow, type ReleaseRunsRow } from './queries.js';

/** A run as claimed by a node: everything the executor needs. */
export interface ClaimedRun {
  run_id: number;
  job_id: number | null;
  job_name: string | null;
  task: string;
  job_type: string;
  queue: string;
  priority: number;
  payload: unknown;
  key: string | null;
  scheduled_at: Date | null;
  run_at: Date;
  attempt: number;
  max_retries: number;
  backoff_ms: number;
  backoff_max_ms: number;
  timeout_ms: number | null;
  lock_key: string | null;
  started_at: Date;
  rescues: number;
  cancel_requested: boolean;
  /** How long until the run is due, by the database clock at the claim (0 when due already). */
  due_in_ms?: number;
  /** Local epoch ms before which the node does not start it (set by the producer). */
  hold_until?: number;
  /** Handed to this node by its enqueue (migration 0013), not claimed. */
  handed_off?: boolean;
}

/** A successful attempt to record. */
export interface Completion {
  run_id: number;
  attempt: number;
  duration_ms: number;
  output: unknown;
}

/** A failed, timed-out or cancelled attempt to record. */
export interface Failure {
  run_id: number;
  attempt: number;
  outcome: 'failed' | 'timeout' | 'cancelled';
  message: string;
  /** Backoff to use if the run is retried; null: not retried (a failure no retry can change). */
  delay_ms: number | null;
  duration_ms: number;
  output: unknown;
}

/** A run to insert (ad-hoc enqueue). */
/**
 * A run to insert. A null option is one the caller did not give: the insert takes it from the task
 * registry, else the default (run_options, migration 0032).
 */
export interface NewRun {
  task: string;
  queue: string | null;
  priority: number | null;
  /** The payload as JSON text (checked and serialised once, by the API). */
  payload_json: string;
  key: string | null;
  run_at: string | null;
  delay_ms: number | null;
  grace_ms: number | null;
  max_retries: number | null;
  backoff_ms: number | null;
  backoff_max_ms: number | null;
  timeout_ms: number | null;
  lock_key: string | null;
}

/**
 * The statements prepared once per connection (when `preparedStatements` is on): those on the
 * path from enqueue to start, and the per-batch ones of a busy node. Parsing and planning the
 * hand-off insert took longer than executing it. Only these: after five executions PostgreSQL may
 * switch a prepared statement to a generic plan, which for the ticker's and the dashboard's
 * time-window queries could mean a scan of every job.
 */
const PREPARED = new Set(['insertRun', 'insertRunHandoff', 'insertRunBatch', 'claimRuns', 'completeRuns', 'failRuns']);

/** Statement names of a schema: short (PostgreSQL truncates names to 63 bytes) and unique per process. */
const schemaTags = new Map<string, string>();
function statementPrefix(schema: string): string {
  let tag = schemaTags.get(schema);
  if (tag === undefined) schemaTags.set(schema, (tag = `kairos${schemaTags.size + 1}_`));
  return tag;
}

/** The named-query gateway of one schema. */
export class Store {
  readonly queries: QuerySet;
  /** Every named query as a typed method (generated: src/store/queries.ts). */
  readonly sql: Queries;
  /** The NOTIFY channel of this schema. */
  readonly channel: string;
  private readonly prefix: string;

  constructor(
    readonly pool: pg.Pool,
    readonly schema: string,
    /**
     * Prepare the hot statements on each connection. Turned off for good when a pooler is found
     * in between (Kairos.start(), store/pooler.ts) or a statement name turns out to be taken on
     * the server connection (42P05: a pooler handed this client another client's session).
     */
    public prepared = true,
  ) {
    this.queries = new QuerySet(schema);
    this.channel = channelName(schema);
    this.prefix = statementPrefix(schema);
    this.sql = new Queries((name, values, db) => this.execute(name, values, db));
  }

  /**
   * The typed queries, all run on `db` (a client in a transaction): for code that runs many
   * queries on one connection, instead of passing `db` to each.
   */
  on(db: Queryable): Queries {
    return new Queries((name, values) => this.execute(name, values, db));
  }

  /** Execute a named query, prepared when it is one of the hot statements and runs on the pool. */
  private async execute(name: string, values: unknown[], db: Queryable = this.pool): Promise<{ rows: unknown[]; rowCount: number | null }> {
    const text = this.queries.get(name);
    if (db === this.pool && this.prepared && PREPARED.has(name)) return this.runPrepared(this.prefix + name, text, values);
    return db.query({ text, values, types: KAIROS_TYPES });
  }

  /**
   * Run a prepared statement on a pooled connection. Only on Kairos's own checkouts, never in the
   * caller's transaction: if the statement is gone from the session (DEALLOCATE, DISCARD ALL) or
   * its plan's result type changed (a migration while this node ran), the connection forgets it
   * and the query runs once more, which a failed statement in a transaction could not.
   */
  private async runPrepared(name: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
    const client = await this.pool.connect();
    try {
      try {
        return await client.query({ name, text, values, types: KAIROS_TYPES });
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === '42P05') {
          this.prepared = false;
          return await client.query({ text, values, types: KAIROS_TYPES });
        }
        if (code !== '26000' && code !== '0A000') throw error;
        await forgetPrepared(client, name, code === '0A000');
        return await client.query({ name, text, values, types: KAIROS_TYPES });
      }
    } finally {
      client.release();
    }
  }

  /**
   * Insert ad-hoc runs with the given conflict policy. `handoff`: a single run due now, outside the
   * caller's transaction and by the database clock, may go to an idle node (insertRunHandoff).
   * A single run with conflict 'raise' takes insertRun (no JSON to parse); everything else is one
   * insertRunBatch, the conflict policies' one owner (insert_runs, migration 0019), shared with the
   * SQL API's enqueue(). One row per run, in order; with 'ignore' or 'replace' a run neither
   * inserted, found nor replaced has run_id null.
   */
  async insertRuns(runs: NewRun[], conflict: 'raise' | 'ignore' | 'replace', now: Date | null, db?: Queryable, handoff = false): Promise<InsertedRun[]> {
    if (runs.length === 1 && conflict === 'raise') {
      const { payload_json: payload, ...r } = runs[0]!;
      if (handoff && db === undefined && now === null && r.run_at === null && !r.delay_ms) return this.sql.insertRunHandoff({ ...r, payload });
      return this.sql.insertRun({ ...r, payload, now }, db);
    }
    const [items, defaults] = runsJson(runs);
    return this.sql.insertRunBatch({ items, defaults, now, conflict }, db);
  }

  /** Claim up to `limit` runs for `nodeId` that are due, or due within `aheadMs`. */
  claim(node: { id: string; name: string; tags: string[] }, queues: string[], tasks: string[], limit: number, now: Date | null, leaseMs: number, aheadMs = 0): Promise<ClaimedRun[]> {
    const params = { node_id: node.id, node_name: node.name, node_tags: node.tags, queues, tasks, batch_size: limit, now, lease_ms: leaseMs, ahead_ms: aheadMs };
    return this.sql.claimRuns(params) as Promise<ClaimedRun[]>;
  }

  /** Record successful attempts; returns the runs actually completed (fenced ones are left out). */
  complete(items: Completion[], nodeId: string, now: Date | null, db?: Queryable): Promise<CompleteRunsRow[]> {
    const [attempts, ids] = completionsJson(items);
    return this.sql.completeRuns({ attempts, node_id: nodeId, now, run_ids: ids }, db);
  }

  /** Record failed attempts; returns each affected run with its new status. */
  fail(items: Failure[], nodeId: string, now: Date | null): Promise<FailRunsRow[]> {
    const [failures, ids] = byRunId(items);
    return this.sql.failRuns({ failures, node_id: nodeId, now, run_ids: ids });
  }

  /** Hand runs back to the queue (shutdown, lock busy). */
  release(nodeId: string, runIds: number[], message: string | null, now: Date | null, delayMs = 0, uncount = false): Promise<ReleaseRunsRow[]> {
    return this.sql.releaseRuns({ node_id: nodeId, run_ids: runIds, message, now, delay_ms: delayMs, uncount });
  }
}

/** What an insert of runs returns, whichever statement ran (`inserted` only from insertRunBatch). */
export type InsertedRun = { run_id: number | null; run_at_ms: number | null; key?: string | null; inserted?: boolean; handed_to?: string | null; notified?: unknown };

/**
 * A batch as the completion statements take it: a JSON object keyed by run id (looked up per row,
 * so the statement needs no join with the batch) and the ids as an array (for the index scan).
 */
function byRunId(items: Array<{ run_id: number }>): [string, number[]] {
  const object: Record<string, unknown> = {};
  for (const { run_id, ...rest } of items) object[run_id] = rest;
  return [JSON.stringify(object), items.map((item) => item.run_id)];
}

/**
 * Completions as completeRuns takes them: `{"<run id>": [attempt, duration_ms(, output)]}` and the
 * ids. Written by hand: a busy node sends one per few hundred runs, and their size was most of
 * what it wrote to the socket. Durations are kept to the microsecond.
 */
export function completionsJson(items: Completion[]): [string, number[]] {
  const ids = new Array<number>(items.length);
  let text = '{';
  for (let i = 0; i < items.length; i++) {
    const { run_id, attempt, duration_ms, output } = items[i]!;
    ids[i] = run_id;
    const kept = output === null || output === undefined ? '' : `,${JSON.stringify(output)}`;
    text += `${i === 0 ? '' : ','}"${run_id}":[${attempt},${Math.round(duration_ms * 1000) / 1000}${kept}]`;
  }
  return [`${text}}`, ids];
}

/** Fields that may be sent once per batch (see runs_from_json in migration 0011). */
const SHARED = ['task', 'queue', 'priority', 'run_at', 'delay_ms', 'grace_ms', 'max_retries', 'backoff_ms', 'backoff_max_ms', 'timeout_ms', 'lock_key'] as const;

/**
 * A batch of new runs as JSON: the values every run shares (non-null, sent once) and an array of
 * what each run has of its own. Payloads are spliced in as the JSON text the API checked (not
 * parsed and serialised again); null fields are left out (jsonb_to_recordset reads a missing key
 * as null). For a batch of one task with small payloads, a quarter of the bytes to parse.
 */
export function runsJson(runs: NewRun[]): [items: string, defaults: string] {
  const first = runs[0];
  const defaults: Record<string, unknown> = {};
  // Per-run fields: `key` always (rarely shared), plus every shared field whose value differs.
  const own: Array<keyof NewRun> = ['key'];
  for (const field of SHARED) {
    const value = first?.[field];
    if (value !== null && value !== undefined && runs.every((run) => run[field] === value)) defaults[field] = value;
    else own.push(field);
  }
  // Built by hand rather than JSON.stringify with a replacer: the replacer ran once per field of
  // every run, a third of the time a batch spent in JavaScript.
  let text = '[';
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    text += i === 0 ? '{' : ',{';
    for (const field of own) {
      const value = run[field];
      if (value !== null && value !== undefined) text += `"${field}":${JSON.stringify(value)},`;
    }
    text += `"payload":${run.payload_json}}`;
  }
  return [`${text}]`, JSON.stringify(defaults)];
}
