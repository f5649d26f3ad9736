/**
 * The executor behaviour: one implementation per job kind (executors/task now; sql, shell and
 * steps join it). An executor runs one attempt and resolves with its output or throws.
 */
import type { ClaimedRun } from '../store/store.js';
import type { TaskContext } from '../api/tasks.js';

/** Runs attempts of one job kind. */
export interface JobExecutor {
  /** Run the attempt; the resolved value is recorded as the attempt's output. */
  execute(run: ClaimedRun, context: TaskContext): Promise<unknown>;
}
