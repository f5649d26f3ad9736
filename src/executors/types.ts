/**
 * The job executor behaviour: one implementation per job kind (executors/task, sql, shell, steps).
 * A job executor runs one attempt's work and resolves with its output, or throws to fail it; the
 * engine's executor (src/engine/executor.ts) runs the attempt around it (timeout, cancellation,
 * lock, completion).
 */
import type { ClaimedRun, Store } from '../store/store.js';
import type { ResolvedOptions, TaskContext } from '../core/contracts.js';
import type { Clock } from '../core/clock.js';

/**
 * What a job executor needs of its node: a narrow view the engine's own context satisfies, so
 * that job executors import nothing from the engine (layers: store ← executors ← engine).
 */
export interface ExecutorContext {
  store: Store;
  nodeId: string;
  options: ResolvedOptions;
  clock: Clock;
}

/** A job executor: runs the work of the attempts of one job kind. */
export interface JobExecutor {
  /** Run the attempt; the resolved value is recorded as the attempt's output. */
  execute(run: ClaimedRun, context: TaskContext): Promise<unknown>;
}

/**
 * Returned by a job executor that recorded the completion itself, in the same transaction as the
 * job's own work (SQL jobs on the scheduler's database: exactly once). `recorded` is false when
 * the attempt was fenced off (another node holds the run now) and everything was rolled back.
 */
export class RecordedResult {
  constructor(
    readonly recorded: boolean,
    readonly output: unknown,
  ) {}
}
