/**
 * The TaskContext a handler receives. A class rather than an object literal with getters: a
 * literal with accessors is slow to create and a busy node makes one per attempt, while a class
 * shares its accessors on the prototype. `signal` and `logger` are made when first read (most
 * handlers never do).
 */
import type { Logger } from '../core/logger.js';
import type { TaskContext } from '../core/contracts.js';
import type { ClaimedRun } from '../store/store.js';
import type { RunAbort } from './abort.js';

/** One attempt's context. */
export class RunContext implements TaskContext {
  readonly runId: number;
  readonly attempt: number;
  readonly retries: number;
  readonly task: string;
  readonly jobName: string | null;
  readonly key: string | null;
  readonly queue: string;
  readonly priority: number;
  readonly scheduledAt: Date | null;
  readonly dueAt: Date;
  readonly startedAt: Date;
  readonly latenessMs: number;
  private childLogger: Logger | undefined;

  constructor(
    run: ClaimedRun,
    private readonly abort: RunAbort,
    private readonly parentLogger: Logger,
  ) {
    this.runId = run.run_id;
    this.attempt = run.attempt;
    this.retries = run.max_retries;
    this.task = run.task;
    this.jobName = run.job_name;
    this.key = run.key;
    this.queue = run.queue;
    this.priority = run.priority;
    this.scheduledAt = run.scheduled_at;
    this.dueAt = run.scheduled_at ?? run.run_at;
    this.startedAt = run.started_at;
    this.latenessMs = Math.max(0, run.started_at.getTime() - this.dueAt.getTime());
  }

  /** Aborted on timeout, cancellation or shutdown. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** A logger bound to this run. */
  get logger(): Logger {
    return (this.childLogger ??= this.parentLogger.child({ runId: this.runId, task: this.task, attempt: this.attempt }));
  }
}
