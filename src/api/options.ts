/**
 * Options of a Kairos instance, resolved in one place: defaults applied, every value checked with
 * an "Expected `x` …, got …" error before anything connects.
 */
import os from 'node:os';
import type pg from 'pg';
import { KairosValidationError, describeValue } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { redactConnectionString } from '../core/redact.js';
import { assertInteger, assertKnownKeys, assertName } from '../core/validate.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { ResolvedOptions } from '../core/contracts.js';
import { assertSchemaName } from '../store/sql.js';
import type { TaskDefinition, TaskHandler, TaskMap } from './tasks.js';

/**
 * Retention ("vacuum policy") of the attempt history. Durations are ms or strings like '7d'.
 * The history is kept in daily (UTC) partitions that are dropped whole: a record is kept at least
 * its retention and at most one day longer (see docs/history.md).
 */
export interface RetentionOptions {
  /** Keep completed attempts this long. @default '7d' */
  completed?: number | string;
  /** Keep failed, expired, rescued and retried attempts this long. @default '30d' */
  failed?: number | string;
  /** Keep cancelled attempts this long. @default '7d' */
  cancelled?: number | string;
  /** Forget nodes that stopped heartbeating this long ago. @default '7d' */
  nodes?: number | string;
  /** How often a pruning pass runs (one node at a time). @default '1h' */
  interval?: number | string;
}

/** Options of `new Kairos(options)`. */
export interface KairosOptions<T extends TaskMap = TaskMap> {
  /** PostgreSQL connection string. One of `connectionString` or `pool` is required. */
  connectionString?: string;
  /** An existing pool (Kairos does not end it on stop()). */
  pool?: pg.Pool;
  /**
   * A direct (or session-mode pooler) connection for LISTEN, when `connectionString` or `pool`
   * goes through a transaction-mode pooler (PgBouncer, Supavisor, RDS Proxy), where LISTEN never
   * delivers. Without it, such a node finds LISTEN deaf at start, warns, and polls.
   * @default the connection `connectionString` or `pool` makes
   */
  listenConnectionString?: string;
  /** Schema of this installation; several installations can share a database. @default 'kairos' */
  schema?: string;
  /** Task handlers, by name. */
  tasks?: T;
  /** Queues this node takes runs from. @default ['default'] */
  queues?: string[];
  /** Attempts this node runs at once. @default 10 */
  concurrency?: number;
  /** Most runs claimed per round trip. @default 500 */
  batchSize?: number;
  /**
   * Runs claimed ahead of free slots and started as slots free (like graphile-worker's localQueue):
   * fewer, larger claims under a backlog. Prefetched runs hold their lease (the heartbeat renews it)
   * and are handed back at stop(). A number claims that many ahead whenever there is room; 0 never
   * claims more than the free slots. 'auto' claims ahead only while claims come back full (a
   * backlog), as many as this node started in the last second, at most `batchSize`: a lone
   * enqueue is claimed alone, as with 0, and slow handlers get few runs ahead. @default 'auto'
   */
  prefetch?: number | 'auto';
  /** This node's name (shown in history and the node registry). @default `${hostname}-${pid}` */
  nodeName?: string;
  /** Tags of this node (for pinning jobs to nodes). @default [] */
  nodeTags?: string[];
  /** Polling fallback when no NOTIFY arrives. @default '5s' */
  pollInterval?: number | string;
  /**
   * Materialise a schedule's occurrences this long before they are due, so that the run is queued
   * and a timer claims it on the due time itself (not after the ticker's transaction). Overlap
   * policies other than 'allow' plan ahead only for a job with no active run, one occurrence at
   * a time. 0 plans at the due time. @default '500ms'
   */
  scheduleAhead?: number | string;
  /** How often the node proves it is alive and extends its leases. @default a third of `lease`, at most '10s' */
  heartbeatInterval?: number | string;
  /** How long a run stays claimed without a heartbeat before it is rescued. @default '60s' */
  lease?: number | string;
  /** How often to look for runs of dead nodes and expired runs. @default '15s' */
  rescueInterval?: number | string;
  /** A run rescued this many times is failed instead (it keeps killing nodes). @default 3 */
  maxRescues?: number;
  /** How long stop() waits for running attempts before aborting and handing them back. @default '30s' */
  shutdownTimeout?: number | string;
  /** Retention of the history. */
  retention?: RetentionOptions;
  /** Run migrations in start(). @default true */
  migrate?: boolean;
  /**
   * Hand-off to idle nodes (migration 0013): while this node has nothing to do, a run enqueued for
   * now by a single `enqueue()` (not inside the caller's transaction) is inserted already running
   * on it, and the NOTIFY carries the run: the node starts it without a claim, one round trip and
   * one commit sooner. On an enqueuing instance, false stops its `enqueue()` from looking for
   * idle nodes; on a working node, false stops the node from offering itself. @default true
   */
  handoff?: boolean;
  /**
   * Prepare the statements on the path from enqueue to start once per connection (named
   * statements, as graphile-worker does): a single enqueue spent more time being parsed and
   * planned than executed. Turn off behind PgBouncer before 1.21 in transaction mode, which
   * cannot route named statements. @default true
   */
  preparedStatements?: boolean;
  /** Also deliver status changes of other nodes (through NOTIFY; one extra query per batch). @default false */
  clusterEvents?: boolean;
  /** Pino-compatible logger. @default JSON on stderr at KAIROS_LOG_LEVEL (warn) */
  logger?: Logger;
  /** A fixed clock for tests (see `kairos-scheduler/testing`). @default the database clock */
  clock?: Clock;
  /** Maximum pool size when Kairos creates the pool. @default concurrency + 5 */
  maxConnections?: number;
  /** Run in-database jobs (SQL and multi-step) on this node, as their owner roles. @default false (the agent turns it on) */
  runSqlJobs?: boolean;
  /** Run shell jobs (and shell steps) on this node's host. @default false */
  allowShell?: boolean;
  /** Named connection strings SQL jobs and steps may target (`options.connection`). @default {} */
  connections?: Record<string, string>;
}

/** Options after defaults and validation (defined in core: the engine reads them). */
export type { ResolvedOptions } from '../core/contracts.js';

const DAY = 86_400_000;

function duration(value: unknown, field: string, fallback: number, minMs = 1): number {
  return value === undefined ? fallback : parseDuration(value, field, { minMs });
}

function nameList(value: unknown, field: string, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value)) throw new KairosValidationError(field, `Expected \`${field}\` to be an array of names, got ${describeValue(value)}`);
  return value.map((v, i) => assertName(v, `${field}[${i}]`));
}

function flag(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new KairosValidationError(field, `Expected \`${field}\` to be true or false, got ${describeValue(value)}`);
  return value;
}

/**
 * The keys of {@link KairosOptions}, the one list `new Kairos()` accepts (a key missing here, or
 * here and not in the interface, fails the type-check).
 */
export const KAIROS_OPTION_KEYS = {
  connectionString: true, pool: true, listenConnectionString: true, schema: true, tasks: true, queues: true, concurrency: true, batchSize: true, prefetch: true,
  nodeName: true, nodeTags: true, pollInterval: true, scheduleAhead: true, heartbeatInterval: true, lease: true, rescueInterval: true,
  maxRescues: true, shutdownTimeout: true, retention: true, migrate: true, handoff: true, preparedStatements: true, clusterEvents: true,
  logger: true, clock: true, maxConnections: true, runSqlJobs: true, allowShell: true, connections: true,
} as const satisfies Record<keyof KairosOptions, true>;

/** The keys of {@link RetentionOptions}. */
export const RETENTION_OPTION_KEYS = { completed: true, failed: true, cancelled: true, nodes: true, interval: true } as const satisfies Record<keyof RetentionOptions, true>;

/**
 * The defaults of {@link KairosOptions}, named once (durations in ms): resolveOptions applies them,
 * the agent's configuration (src/cli/config.ts) and the dashboard start from them, and the
 * `@default` tags above say the same.
 */
export const DEFAULTS = Object.freeze({
  schema: 'kairos',
  queues: Object.freeze(['default']) as readonly string[],
  concurrency: 10,
  batchSize: 500,
  prefetch: 'auto' as const,
  pollIntervalMs: 5000,
  scheduleAheadMs: 500,
  leaseMs: 60_000,
  /** `heartbeatInterval` is a third of `lease`, at most this. */
  maxHeartbeatIntervalMs: 10_000,
  rescueIntervalMs: 15_000,
  maxRescues: 3,
  shutdownTimeoutMs: 30_000,
  /** How soon a run whose exclusive lock was busy is looked at again. */
  exclusiveRetryMs: 1000,
  /** `maxConnections` is `concurrency` plus this. */
  extraConnections: 5,
  retention: Object.freeze({ completedMs: 7 * DAY, failedMs: 30 * DAY, cancelledMs: 7 * DAY, nodesMs: 7 * DAY, intervalMs: 3_600_000 }),
});

/** Apply defaults and check every option. */
export function resolveOptions(options: KairosOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') throw new KairosValidationError('options', `Expected options to be an object, got ${describeValue(options)}`);
  assertKnownKeys(options, KAIROS_OPTION_KEYS, 'new Kairos()');
  if (options.retention !== undefined && (options.retention === null || typeof options.retention !== 'object')) {
    throw new KairosValidationError('retention', `Expected \`retention\` to be an object such as { completed: '7d' }, got ${describeValue(options.retention)}`);
  }
  assertKnownKeys(options.retention, RETENTION_OPTION_KEYS, 'new Kairos()', 'retention.');
  if (!options.connectionString && !options.pool) {
    throw new KairosValidationError('connectionString', 'Expected `connectionString` or `pool`, got neither');
  }
  const listen = options.listenConnectionString;
  if (listen !== undefined && !/^postgres(ql)?:\/\//.test(String(listen))) {
    throw new KairosValidationError('listenConnectionString', `Expected \`listenConnectionString\` to be a postgres:// URL, got ${describeValue(typeof listen === 'string' ? redactConnectionString(listen) : listen)}`);
  }
  const concurrency = options.concurrency === undefined ? DEFAULTS.concurrency : assertInteger(options.concurrency, 'concurrency', 1, 10_000);
  const queues = nameList(options.queues, 'queues', [...DEFAULTS.queues]);
  if (queues.length === 0) throw new KairosValidationError('queues', 'Expected `queues` to name at least one queue, got []');
  const leaseMs = duration(options.lease, 'lease', DEFAULTS.leaseMs, 1000);
  const heartbeatIntervalMs = duration(options.heartbeatInterval, 'heartbeatInterval', Math.min(DEFAULTS.maxHeartbeatIntervalMs, leaseMs / 3), 100);
  if (heartbeatIntervalMs >= leaseMs) {
    throw new KairosValidationError('heartbeatInterval', `Expected \`heartbeatInterval\` to be shorter than \`lease\` (${leaseMs} ms), got ${heartbeatIntervalMs} ms`);
  }
  const r = options.retention ?? {};
  return {
    schema: assertSchemaName(options.schema ?? DEFAULTS.schema),
    listenConnectionString: listen ?? null,
    queues,
    concurrency,
    batchSize: options.batchSize === undefined ? DEFAULTS.batchSize : assertInteger(options.batchSize, 'batchSize', 1, 5000),
    prefetch: prefetchOption(options.prefetch),
    nodeName: options.nodeName === undefined ? `${os.hostname()}-${process.pid}` : assertName(options.nodeName, 'nodeName'),
    nodeTags: nameList(options.nodeTags, 'nodeTags', []),
    pollIntervalMs: duration(options.pollInterval, 'pollInterval', DEFAULTS.pollIntervalMs, 10),
    scheduleAheadMs: options.scheduleAhead === undefined ? DEFAULTS.scheduleAheadMs : parseDuration(options.scheduleAhead, 'scheduleAhead', { minMs: 0, maxMs: 60_000 }),
    heartbeatIntervalMs,
    leaseMs,
    rescueIntervalMs: duration(options.rescueInterval, 'rescueInterval', DEFAULTS.rescueIntervalMs, 10),
    maxRescues: options.maxRescues === undefined ? DEFAULTS.maxRescues : assertInteger(options.maxRescues, 'maxRescues', 0, 1000),
    shutdownTimeoutMs: options.shutdownTimeout === undefined ? DEFAULTS.shutdownTimeoutMs : parseDuration(options.shutdownTimeout, 'shutdownTimeout', { minMs: 0 }),
    exclusiveRetryMs: DEFAULTS.exclusiveRetryMs,
    retention: {
      completedMs: duration(r.completed, 'retention.completed', DEFAULTS.retention.completedMs),
      failedMs: duration(r.failed, 'retention.failed', DEFAULTS.retention.failedMs),
      cancelledMs: duration(r.cancelled, 'retention.cancelled', DEFAULTS.retention.cancelledMs),
      nodesMs: duration(r.nodes, 'retention.nodes', DEFAULTS.retention.nodesMs),
      intervalMs: duration(r.interval, 'retention.interval', DEFAULTS.retention.intervalMs, 10),
    },
    migrate: options.migrate ?? true,
    clusterEvents: options.clusterEvents ?? false,
    handoff: flag(options.handoff, 'handoff', true),
    preparedStatements: flag(options.preparedStatements, 'preparedStatements', true),
    maxConnections: options.maxConnections === undefined ? concurrency + DEFAULTS.extraConnections : assertInteger(options.maxConnections, 'maxConnections', 2, 10_000),
    runSqlJobs: options.runSqlJobs ?? false,
    allowShell: options.allowShell ?? false,
    connections: { ...(options.connections ?? {}) },
  };
}

/** `prefetch`: 'auto' (the default) or a number of runs. */
function prefetchOption(value: unknown): number | 'auto' {
  if (value === undefined || value === 'auto') return 'auto';
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100_000) return value;
  throw new KairosValidationError('prefetch', `Expected \`prefetch\` to be 'auto' or an integer from 0 to 100000, got ${describeValue(value)}`);
}

/** Normalise the `tasks` option into definitions. */
export function taskDefinitions(tasks: Record<string, TaskDefinition | TaskHandler> | undefined): Array<[string, TaskDefinition | TaskHandler]> {
  if (tasks === undefined) return [];
  if (!tasks || typeof tasks !== 'object') throw new KairosValidationError('tasks', `Expected \`tasks\` to be an object of handlers, got ${describeValue(tasks)}`);
  return Object.entries(tasks);
}
