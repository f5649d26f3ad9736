/**
 * The multi-step job executor (pgAgent's job steps): SQL and shell steps in order, each with its
 * own target database and on-error rule — `fail` the job, count as `success`, or `ignore` and go
 * on — and a step log per step under the attempt. A retry starts again from the first step,
 * except that resumable steps which already succeeded are skipped.
 * Each SQL step commits on its own, so a multi-step job is at-least-once (see docs/sql.md).
 */
import type { ExecutorContext, JobExecutor } from '../types.js';
import type { ClaimedRun } from '../../store/store.js';
import type { TaskContext } from '../../core/contracts.js';
import type { Connections } from '../sql/connections.js';
import type { JobForRunRow, StepsOfJobRow } from '../../store/queries.js';
import { KairosError, KairosPermanentError, KairosPermissionError } from '../../core/errors.js';
import { loadJob } from '../sql/index.js';
import { runSql } from '../sql/run.js';
import { assertShellAllowed, runShellJob, type ShellOptions } from '../shell/index.js';

type StepStatus = 'succeeded' | 'failed' | 'ignored' | 'skipped';

/** Runs multi-step jobs. */
export class StepsExecutor implements JobExecutor {
  constructor(
    private readonly ctx: ExecutorContext,
    private readonly connections: Connections,
  ) {}

  async execute(run: ClaimedRun, context: TaskContext): Promise<unknown> {
    const job = await loadJob(this.ctx, run);
    const steps = await this.ctx.store.sql.stepsOfJob({ job_id: job.job_id, run_id: run.run_id });
    if (steps.length === 0) throw new KairosError(`job ${job.job_name} has no steps`);
    const summary: Array<{ step: string; status: StepStatus }> = [];
    for (const step of steps) {
      if (context.signal.aborted) throw context.signal.reason as Error;
      // Measured here, placed on the database clock (or the test clock) when the log is written.
      const started = performance.now();
      if (run.attempt > 1 && step.resumable && step.succeeded_before) {
        await this.log(run, job, step, 'skipped', started, 'succeeded in an earlier attempt', null);
        summary.push({ step: step.name, status: 'skipped' });
        continue;
      }
      try {
        const output = await this.runStep(step, job, run, context);
        await this.log(run, job, step, 'succeeded', started, null, output);
        summary.push({ step: step.name, status: 'succeeded' });
      } catch (error) {
        if (context.signal.aborted) throw context.signal.reason as Error;
        const message = error instanceof Error ? error.message : String(error);
        const output = (error as { output?: unknown }).output ?? null;
        if (step.on_error === 'fail') {
          await this.log(run, job, step, 'failed', started, message, output);
          const text = `step ${step.position} (${step.name}) failed: ${message}`;
          // A shell step refused for good (see the shell executor) fails the job for good.
          if (error instanceof KairosPermanentError || error instanceof KairosPermissionError) throw new KairosPermanentError(text, error.code);
          throw new KairosError(text);
        }
        const status: StepStatus = step.on_error === 'success' ? 'succeeded' : 'ignored';
        await this.log(run, job, step, status, started, `${step.on_error === 'success' ? 'failed, counted as success' : 'failed, ignored'}: ${message}`, output);
        summary.push({ step: step.name, status });
      }
    }
    return { steps: summary };
  }

  private async runStep(step: StepsOfJobRow, job: JobForRunRow, run: ClaimedRun, context: TaskContext): Promise<unknown> {
    const timeoutMs = step.timeout_ms ?? run.timeout_ms;
    // jsonb of unknown shape (the table's check makes it an object).
    const options = (step.options ?? {}) as ShellOptions & { connection?: string; transaction?: boolean };
    if (step.kind === 'shell') {
      await assertShellAllowed(this.ctx, job.owner, job.shell_role);
      return runShellJob(step.command, options, timeoutMs, context.signal);
    }
    const database = step.database_name ?? job.database_name;
    const local = !database || database === job.current_database;
    const pool = this.connections.poolFor(local ? null : database, options.connection ?? null);
    const { output } = await runSql({ pool, queries: this.ctx.store.sql, sql: step.command, role: job.owner, timeoutMs, signal: context.signal, transaction: options.transaction ?? 'auto' });
    return output;
  }

  private async log(run: ClaimedRun, job: JobForRunRow, step: StepsOfJobRow, status: StepStatus, started: number, message: string | null, output: unknown): Promise<void> {
    await this.ctx.store.sql.insertStepLog({
      run_id: run.run_id, attempt: run.attempt, job_id: job.job_id, step_id: step.step_id, position: step.position, name: step.name,
      status, now: this.ctx.clock.now(), duration_ms: performance.now() - started, message,
      output: output === null || output === undefined ? null : JSON.stringify(output), owner: job.owner, node_id: this.ctx.nodeId,
    });
  }
}
