/**
 * Batches the results of finished attempts: everything that finishes while a write is in flight
 * is written together by the next one, so a busy node records hundreds of results per round trip
 * and an idle one records each at once (no timer delay).
 */
import type { EngineContext } from './context.js';
import type { Completion, Failure } from '../store/store.js';
import { statusChange, type StatusChange, type RunState } from '../core/types.js';
import { retryWithBackoff } from '../core/backoff.js';

interface Pending<T> {
  item: T;
  job: string;
  task: string;
  key: string | null;
}

const MAX_BATCH = 1000;

/** Writes completions and failures in batches. */
export class Completer {
  private completions: Array<Pending<Completion>> = [];
  private failures: Array<Pending<Failure>> = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  /** Runs whose result is queued or being written (their leases must be kept meanwhile). */
  private readonly held = new Set<number>();
  /** Told of each retry (queue, due time by the database clock), so the local producer wakes for it. */
  onRetry: (queue: string, at: Date) => void = () => undefined;

  constructor(private readonly ctx: EngineContext) {}

  /**
   * Queue a success, to be written with the next batch (see {@link drain} to wait for it). A run
   * whose result is fenced off (taken over by another node) is logged, not recorded.
   */
  complete(item: Completion, meta: { job: string; task: string; key: string | null }): void {
    this.held.add(item.run_id);
    this.completions.push({ item, job: meta.job, task: meta.task, key: meta.key });
    this.schedule();
  }

  /** Queue a failure, like {@link complete}. */
  fail(item: Failure, meta: { job: string; task: string; key: string | null }): void {
    this.held.add(item.run_id);
    this.failures.push({ item, job: meta.job, task: meta.task, key: meta.key });
    this.schedule();
  }

  /** Ids of the runs whose result is not written yet: the heartbeat keeps their leases. */
  heldIds(): number[] {
    return [...this.held];
  }

  /** Wait until everything queued so far is written. */
  async drain(): Promise<void> {
    while (this.flushing || this.completions.length > 0 || this.failures.length > 0) {
      if (!this.flushing) this.flushing = this.flush();
      await this.flushing;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.completions.length > 0 || this.failures.length > 0) {
        const done = this.completions.splice(0, MAX_BATCH);
        const failed = this.failures.splice(0, MAX_BATCH);
        await Promise.all([this.writeCompletions(done), this.writeFailures(failed)]);
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeCompletions(batch: Array<Pending<Completion>>): Promise<void> {
    if (batch.length === 0) return;
    const rows = await this.withRetry('complete', batch, () =>
      this.ctx.store.complete(batch.map((p) => p.item), this.ctx.nodeId, this.ctx.clock.now()),
    );
    if (!rows) return;
    this.settle(batch, rows, () => 'completed');
    if (rows.some((row) => row.job_id !== null)) this.ctx.jobRunFinished();
  }

  private async writeFailures(batch: Array<Pending<Failure>>): Promise<void> {
    if (batch.length === 0) return;
    const rows = await this.withRetry('fail', batch, () =>
      this.ctx.store.fail(batch.map((p) => p.item), this.ctx.nodeId, this.ctx.clock.now()),
    );
    if (!rows) return;
    this.settle(batch, rows, (row) => (row.status === 'retrying' ? 'pending' : (row.status as RunState)));
    if (rows.some((row) => row.job_id !== null && row.status !== 'retrying')) this.ctx.jobRunFinished();
    for (const row of rows) if (row.status === 'retrying') this.onRetry(row.queue, row.run_at);
    for (const row of rows) {
      if (row.job_disabled) {
        this.ctx.logger.warn({ job: row.job_name }, `job ${row.job_name} disabled after repeated failures`);
        this.ctx.events.emit('jobDisabled', { job: row.job_name });
      }
    }
  }

  /** Resolve each pending result and publish the status changes of the recorded ones. */
  private settle<T extends { run_id: number }, R extends { run_id: number }>(batch: Array<Pending<T>>, rows: R[], next: (row: R) => RunState): void {
    const byId = new Map(rows.map((row) => [row.run_id, row]));
    const changes: StatusChange[] = [];
    const publishing = this.ctx.publishing();
    for (const pending of batch) {
      const row = byId.get(pending.item.run_id);
      if (!row) this.ctx.logger.warn({ runId: pending.item.run_id }, 'result not recorded: the run was taken over by another node (fenced)');
      else if (publishing) changes.push(statusChange({ run_id: pending.item.run_id, job_name: pending.job, task: pending.task, key: pending.key }, 'running', next(row)));
      this.held.delete(pending.item.run_id);
    }
    if (changes.length > 0) this.ctx.publish(changes);
  }

  /**
   * A result must not be lost to a blip: retry the write with backoff for about a minute. If the
   * database stays away, give up (the runs are no longer held): the lease runs out and the run is rescued.
   */
  private async withRetry<T extends { run_id: number }, R>(what: string, batch: Array<Pending<T>>, write: () => Promise<R[]>): Promise<R[] | undefined> {
    try {
      return await retryWithBackoff(write, (error, attempt) => this.ctx.logger.warn({ err: error, attempt }, `writing ${what} results failed; retrying`));
    } catch (error) {
      this.ctx.logger.error({ err: error }, `writing ${what} results failed; the runs will be rescued`);
      for (const pending of batch) this.held.delete(pending.item.run_id);
      return undefined;
    }
  }
}
