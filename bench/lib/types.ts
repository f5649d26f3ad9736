/**
 * Shared vocabulary of the benchmark suite: the systems compared, what a job carries, how a
 * worker child is configured, and what a workload returns.
 */

/** The systems the suite can compare. */
export type SystemName = 'kairos' | 'graphile' | 'pgboss';

/** Every system, in display order. */
export const SYSTEMS: readonly SystemName[] = ['kairos', 'graphile', 'pgboss'];

/**
 * A column of a results table: a system, or pg_cron, which is no job queue and only measured by
 * the cron workload (on a private server of its own; see bench/lib/pgcron-server.ts).
 */
export type ColumnName = SystemName | 'pgcron';

/** Every column, in display order (the default of --systems). */
export const COLUMNS: readonly ColumnName[] = [...SYSTEMS, 'pgcron'];

/** Display names. */
export const SYSTEM_LABELS: Record<ColumnName, string> = { kairos: 'Kairos', graphile: 'graphile-worker', pgboss: 'pg-boss', pgcron: 'pg_cron' };

/** The payload of a benchmark job: `t` is the enqueue time (monotonic ms), `fail` fails attempt 1. */
export interface JobPayload {
  t?: number;
  fail?: boolean;
}

/** What a worker adapter tells the shared handler about one attempt. */
export interface JobInfo {
  payload: JobPayload;
  /** 1-based attempt number. */
  attempt: number;
  /** Schedule name of a cron fire. */
  name?: string;
  /** Due time of a cron fire, epoch ms. */
  scheduledAt?: number;
}

/** The handler every adapter calls; throwing fails the attempt. */
export type Handler = (job: JobInfo) => void;

/** How many handlers run at once, and how many jobs one fetch may lock. */
export interface WorkerSettings {
  concurrency: number;
  batch: number;
}

/** What a worker child does with its jobs. */
export type WorkerMode = 'drain' | 'latency' | 'mixed' | 'cron' | 'idle' | 'none';

/** The configuration of a worker child (passed as JSON in BENCH_WORKER). */
export interface WorkerConfig extends WorkerSettings {
  system: SystemName;
  url: string;
  mode: WorkerMode;
  /** drain: report once this many handlers ran. */
  expect?: number;
  /** How many nodes (instances) to run in the child. @default 1 */
  nodes?: number;
  /** cron: how many schedules to define. */
  schedules?: number;
  /**
   * Kairos only: the node as `new Kairos({ connectionString, tasks })` makes it, every option at
   * its default (concurrency 10, prefetch 'auto'); the settings above are ignored.
   */
  defaults?: boolean;
}

/** Options of the jobs the driver enqueues. */
export interface ProducerOptions {
  /** Retries after a failed attempt (about 1 s apart where the system allows it). */
  retries: number;
}

/** The driver's side of a system: enqueue and observe the queue. */
export interface Producer {
  /** Enqueue many jobs in one call. */
  enqueueBatch(payloads: JobPayload[]): Promise<void>;
  /** Enqueue one job. */
  enqueueOne(payload: JobPayload): Promise<void>;
  /** Jobs not finished yet (queued, running or waiting for a retry). */
  remaining(): Promise<number>;
  /** Release connections. */
  close(): Promise<void>;
}

/** A running worker (one node) inside a child process. */
export interface RunningWorker {
  stop(): Promise<void>;
}

/** One metric of a workload. `better` says which direction wins (for ratios). */
export interface MetricDef {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower' | 'info';
  /** The peers' metric this one is compared with (e.g. Kairos's defaults row against the peers' tuned `rate`). @default key */
  versus?: string;
}

/** Metric values of one system in one repetition. */
export type Sample = Record<string, number>;
