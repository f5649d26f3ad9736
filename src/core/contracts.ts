/**
 * The contracts between the public API and the layers below it: what a task handler is and is
 * told (TaskContext), a task as registered (TaskDefinition), and a node's options once resolved
 * (ResolvedOptions). Types only. The API fills them in (resolveOptions, toDefinition) and re-exports them (src/api/tasks.ts,
 * src/api/options.ts); the engine and the executors import them from here, never from api/.
 */
import type { Logger } from './logger.js';

/** What a handler is told about the attempt it runs. */
export interface TaskContext {
  /** The run's id: stable across retries; use it to make side effects idempotent. */
  runId: number;
  /** 1 for the first attempt, 2 for the first retry… Also the run's fencing token. */
  attempt: number;
  /** The retry limit: how many more attempts a failed run gets, in all (a limit, not the retries left: attempt - 1 of them are used). */
  retries: number;
  /** The task name. */
  task: string;
  /** The schedule (job) name for scheduled runs, else null. */
  jobName: string | null;
  /** The run's dedup key, if any. */
  key: string | null;
  queue: string;
  priority: number;
  /** The occurrence this run is for (scheduled runs), else null. */
  scheduledAt: Date | null;
  /** The time the run was due (its occurrence time, or its enqueue/retry time). */
  dueAt: Date;
  /** When this attempt started, by the database clock. */
  startedAt: Date;
  /** How late this attempt started after it was due, in ms (database clock). */
  latenessMs: number;
  /** Aborted on timeout, cancellation or shutdown; `signal.reason` says which. */
  signal: AbortSignal;
  /** A logger bound to this run. */
  logger: Logger;
}

/** A task handler: resolve to succeed (the value is recorded as output), throw to fail. */
export type TaskHandler<P = unknown> = (payload: P, context: TaskContext) => unknown;

/** Per-task defaults; enqueue options override them. */
export interface TaskOptions<P = unknown> {
  /** The retry limit: how many more attempts a failed run gets. @default 3 */
  retries?: number;
  /** First retry delay (ms or a duration string); doubles each retry, with jitter. @default '1s' */
  backoff?: number | string;
  /** Longest retry delay. @default '1h' */
  maxBackoff?: number | string;
  /** Abort an attempt after this long (ms or duration string). @default no timeout */
  timeout?: number | string;
  /** Queue for runs of this task. @default 'default' */
  queue?: string;
  /** Priority (lower runs first). @default 5 (Priority.NORMAL) */
  priority?: number;
  /**
   * Never run two runs of this task at once anywhere in the cluster (a PostgreSQL advisory lock):
   * `true` locks on the task name, a string on that lock name (shared by several tasks).
   * @default false
   */
  exclusive?: boolean | string;
  /** Check payloads at enqueue and before running: return the payload or throw. (A zod schema's `parse` fits.) */
  validate?: (payload: unknown) => P;
}

/** A handler with its options, as registered. */
export interface TaskDefinition<P = unknown> extends TaskOptions<P> {
  handler: TaskHandler<P>;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  schema: string;
  /** The LISTEN connection's URL when it is not the pool's. */
  listenConnectionString: string | null;
  queues: string[];
  concurrency: number;
  batchSize: number;
  /** Runs claimed ahead of free slots; 'auto': sized by the producer while a backlog lasts. */
  prefetch: number | 'auto';
  nodeName: string;
  nodeTags: string[];
  pollIntervalMs: number;
  scheduleAheadMs: number;
  heartbeatIntervalMs: number;
  leaseMs: number;
  rescueIntervalMs: number;
  maxRescues: number;
  shutdownTimeoutMs: number;
  exclusiveRetryMs: number;
  retention: { completedMs: number; failedMs: number; cancelledMs: number; nodesMs: number; intervalMs: number };
  migrate: boolean;
  clusterEvents: boolean;
  handoff: boolean;
  preparedStatements: boolean;
  maxConnections: number;
  runSqlJobs: boolean;
  allowShell: boolean;
  connections: Record<string, string>;
}
