/**
 * Kairos: a PostgreSQL-native job scheduler. The public API.
 */
export { Kairos, VERSION, type PeriodicOptions } from './api/kairos.js';
export type { KairosOptions, RetentionOptions, ResolvedOptions } from './api/options.js';
export { DEFAULTS } from './api/options.js';
export { defineTask, type TaskContext, type TaskHandler, type TaskDefinition, type TaskOptions, type TaskMap, type PayloadOf } from './api/tasks.js';
export type { EnqueueOptions, EnqueueItem, EnqueueResult, ScheduleOptions, JobFilter, RunFilter, HistoryFilter } from './api/types.js';
export { Priority, type Job, type Run, type HistoryEntry, type NodeInfo, type StatusChange, type RunState, type RunStatus, type HistoryStatus, type CatchUpPolicy, type OverlapPolicy, type ConflictPolicy } from './core/types.js';
/** @deprecated Compatibility aliases of {@link HistoryEntry} and {@link HistoryStatus}. */
export type { RunLog, LogStatus } from './core/types.js';
export {
  KairosError,
  KairosValidationError,
  KairosConflictError,
  KairosNotFoundError,
  KairosStateError,
  KairosDatabaseError,
  KairosTimeoutError,
  KairosCancelledError,
  KairosPermissionError,
  KairosPermanentError,
  isKairosError,
} from './core/errors.js';
export { parseCron, type CronSchedule } from './core/cron.js';
export { nextOccurrences, compileSchedule } from './core/schedule.js';
export { parseDuration } from './core/duration.js';
export { migrate, type MigrateResult } from './store/migrate.js';
export type { Clock } from './core/clock.js';
export type { Logger } from './core/logger.js';
export * from './observability/index.js';
