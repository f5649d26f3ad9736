/**
 * The SQL job executor. A job on the scheduler's own database runs in a transaction that also
 * records its completion: the job's effects and its completed record commit together or not at
 * all (exactly once; a fenced-off attempt rolls back). Jobs on another database, and statements
 * that cannot run in a transaction block, are at-least-once: their effects commit first and the
 * completion is recorded after (see docs/sql.md).
 */
import type { ExecutorContext, JobExecutor } from '../types.js';
import { RecordedResult } from '../types.js';
import type { ClaimedRun } from '../../store/store.js';
import type { TaskContext } from '../../core/contracts.js';
import { KairosNotFoundError, KairosPermissionError } from '../../core/errors.js';
import { checkRunJob } from '../../core/job-checks.js';
import { runSql, needsAutocommit, type SqlOutput } from './run.js';
import type { Connections } from './connections.js';
import type { JobForRunRow } from '../../store/queries.js';

/** Runs SQL jobs as their owner role. */
export class SqlExecutor implements JobExecutor {
  constructor(
    private readonly ctx: ExecutorContext,
    private readonly connections: Connections,
  ) {}

  async execute(run: ClaimedRun, context: TaskContext): Promise<unknown> {
    // The duration counts from here, as the engine's own measure of every other job type does
    // (reading the job included); it is recorded before COMMIT, so COMMIT itself is left out.
    const started = performance.now();
    const job = await loadJob(this.ctx, run);
    // jsonb of unknown shape (checkRunJob made sure it is an object, when set).
    const options = (job.options ?? {}) as { transaction?: boolean; connection?: string };
    const local = !options.connection && (!job.database_name || job.database_name === job.current_database);
    const pool = this.connections.poolFor(local ? null : job.database_name, options.connection ?? null);
    const transaction = options.transaction ?? 'auto';
    const exactlyOnce = local && transaction !== false && !needsAutocommit(job.command);
    const { output, committed } = await runSql({
      pool,
      queries: this.ctx.store.sql,
      sql: job.command,
      role: job.owner,
      timeoutMs: run.timeout_ms,
      signal: context.signal,
      transaction,
      beforeCommit: exactlyOnce ? (client, out) => this.recordInTransaction(client, run, out, performance.now() - started) : undefined,
    });
    return exactlyOnce ? new RecordedResult(committed, output) : output;
  }

  /**
   * Record the completion on the job's own transaction; false (roll back) when fenced off. Its
   * finished_at is completeRuns' clock_timestamp() (the transaction's now() is when it began).
   */
  private async recordInTransaction(client: import('pg').PoolClient, run: ClaimedRun, output: SqlOutput, durationMs: number): Promise<boolean> {
    const item = { run_id: run.run_id, attempt: run.attempt, duration_ms: durationMs, output };
    const rows = await this.ctx.store.complete([item], this.ctx.nodeId, this.ctx.clock.now(), client);
    return rows.length === 1;
  }
}

/**
 * Read the job of an in-database run; a deleted job fails the attempt. The job runs as its owner,
 * so a run that its job's owner did not own (a row written around the API) is refused: the role
 * comes from the job, the authority from the run, and the two must agree.
 */
export async function loadJob(ctx: ExecutorContext, run: ClaimedRun): Promise<JobForRunRow> {
  if (run.job_id === null) throw new KairosNotFoundError(`Run ${run.run_id} of kind ${run.job_type} has no job`);
  const [job] = await ctx.store.sql.jobForRun({ job_id: run.job_id, run_id: run.run_id });
  if (!job) throw new KairosNotFoundError(`Job ${run.job_id} of run ${run.run_id} no longer exists`);
  if (job.run_owner !== null && (job.run_owner !== job.owner || job.run_type !== job.job_type)) {
    throw new KairosPermissionError(`Run ${run.run_id} is owned by ${JSON.stringify(job.run_owner)} (a ${job.run_type} run), not by the job's owner ${JSON.stringify(job.owner)} (a ${job.job_type} job); it is not run`);
  }
  // The row may have been changed since the run was queued (plain SQL): fail the run clearly.
  checkRunJob(job, run);
  return job;
}
