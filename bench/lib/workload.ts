/**
 * What a workload is and what it gets: the server, the mode (quick or full), a fresh database per
 * system and repetition, the shared worker settings, and a place for notes shown with the results.
 */
import type { BenchServer } from './server.js';
import type { ColumnName, MetricDef, Sample, SystemName, WorkerSettings } from './types.js';

/** A database created for one measurement. */
export interface Database {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** What a workload run receives. */
export interface BenchContext {
  quick: boolean;
  server: BenchServer;
  /** 1-based repetition. */
  rep: number;
  /** Worker settings shared by every system (same concurrency for all). */
  settings: WorkerSettings;
  log(line: string): void;
  /** A note printed under the workload's table (deduplicated). */
  note(text: string): void;
  /** Create a fresh, empty database for this workload, system and repetition. */
  database(system: SystemName | 'shared'): Promise<Database>;
}

/** One benchmark workload. */
export interface Workload {
  /** Short name used by --only. */
  name: string;
  title: string;
  metrics: MetricDef[];
  /** Columns it can measure. @default every system (SYSTEMS: the job queues, not pg_cron) */
  systems?: readonly ColumnName[];
  /** Run once whatever --repeat says (long or system-independent measurements). */
  once?: boolean;
  /** Called once before the repetitions (e.g. to say what cannot be measured here). */
  prepare?(ctx: BenchContext): Promise<void>;
  /**
   * Measure one system once. Returns metric values by key (missing keys: not measured). Only
   * called with the columns of `systems`, so a workload that lists no extra column may declare
   * its parameter as `SystemName`.
   */
  run(system: ColumnName, ctx: BenchContext): Promise<Sample>;
  /** Measure all systems at once instead (when they do not disturb each other, e.g. idle nodes). */
  runAll?(systems: ColumnName[], ctx: BenchContext): Promise<Partial<Record<ColumnName, Sample>>>;
}
