/**
 * The task job executor: calls the JavaScript handler registered under the run's task name.
 */
import type { JobExecutor } from '../types.js';
import type { ClaimedRun } from '../../store/store.js';
import type { TaskContext, TaskDefinition } from '../../core/contracts.js';
import { KairosNotFoundError } from '../../core/errors.js';

/** Runs JavaScript task handlers. */
export class TaskExecutor implements JobExecutor {
  constructor(private readonly tasks: Map<string, TaskDefinition>) {}

  async execute(run: ClaimedRun, context: TaskContext): Promise<unknown> {
    const definition = this.tasks.get(run.task);
    if (!definition) throw new KairosNotFoundError(`No handler for task "${run.task}" on this node`);
    const payload = definition.validate ? definition.validate(run.payload) : run.payload;
    return await definition.handler(payload, context);
  }
}
