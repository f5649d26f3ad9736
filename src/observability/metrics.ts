/**
 * Prometheus metrics of one Kairos node, with prom-client on a registry of its own (several
 * instances in one process never collide). Counters and histograms are fed by the node's own
 * attempts and status changes; queue depth and live nodes are read at scrape time with one cheap
 * query on the live queue (never per run). Job names label the series, capped in number so a
 * flood of generated names cannot blow up the time-series database.
 */
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Gauge, Registry } from 'prom-client';

/**
 * prom-client, loaded on first use: it costs ~13 MB of RSS, and a node that never exports metrics
 * (the benchmark's, most applications') should not pay it for importing 'kairos-scheduler'.
 */
export function promClient(): typeof PromClient {
  return createRequire(import.meta.url)('prom-client') as typeof PromClient;
}
import type { Kairos } from '../api/kairos.js';
import { internals } from '../api/internals.js';
import type { StatusChange } from '../core/types.js';
import { KairosValidationError, describeValue } from '../core/errors.js';
import { assertKnownKeys } from '../core/validate.js';
import type { AttemptObserver } from './tracing.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKairos = Kairos<any>;

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Distinct job names used as label values; later names are counted as `other`. @default 200 */
  maxJobLabels?: number;
  /** Registry to register on. @default a new Registry (not prom-client's global one) */
  registry?: Registry;
  /** Default labels added to every series, e.g. `{ service: 'billing' }`. @default {} */
  defaultLabels?: Record<string, string>;
}

/** The metrics of one node: scrape `metrics()` (text format) or use `registry` directly. */
export interface KairosMetrics {
  readonly registry: Registry;
  /** The Content-Type of `metrics()`. */
  readonly contentType: string;
  /** The exposition text (runs the scrape-time query). */
  metrics(): Promise<string>;
  /** Stop observing the node (series stay registered). */
  close(): void;
}

/**
 * Caps the number of distinct values of a label: the first `max` values seen are kept, every later
 * one becomes `other`. A run id or a generated name therefore never turns into a new series.
 */
export class LabelCap {
  private readonly seen = new Set<string>();

  constructor(readonly max: number) {}

  /** The label value to use for `value`. */
  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}

const DURATION_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600];
const LATENESS_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 3600];
const FINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'expired']);

/** The keys of {@link MetricsOptions} (a key missing here, or here and not in the interface, fails the type-check). */
const METRICS_OPTION_KEYS = { maxJobLabels: true, registry: true, defaultLabels: true } as const satisfies Record<keyof MetricsOptions, true>;

/** Create the metrics of `kairos` and start observing it (before or after start()). */
export function createMetrics(kairos: AnyKairos, options: MetricsOptions = {}): KairosMetrics {
  assertKnownKeys(options, METRICS_OPTION_KEYS, 'createMetrics()');
  const max = options.maxJobLabels ?? 200;
  if (!Number.isInteger(max) || max < 1 || max > 100_000) {
    throw new KairosValidationError('maxJobLabels', `Expected \`maxJobLabels\` to be an integer from 1 to 100000, got ${describeValue(options.maxJobLabels)}`);
  }
  const registry = options.registry ?? new (promClient().Registry)();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  const jobs = new LabelCap(max);
  const queues = new LabelCap(max);
  const m = defineMetrics(registry, kairos, queues);
  const observer: AttemptObserver = {
    started(run) {
      const job = jobs.label(run.jobName ?? run.task);
      m.started.inc({ job });
      if (run.handedOff) m.handoffs.inc({ queue: queues.label(run.queue) });
      if (run.scheduledAt && run.attempt === 1) m.lateness.observe({ job }, Math.max(0, run.startedAt.getTime() - run.scheduledAt.getTime()) / 1000);
    },
    ended(run, outcome, durationMs) {
      const job = jobs.label(run.jobName ?? run.task);
      m.attempts.inc({ job, outcome });
      if (outcome !== 'released') m.duration.observe({ job, outcome }, durationMs / 1000);
    },
  };
  const onStatus = (changes: StatusChange[]): void => {
    for (const change of changes) if (FINAL.has(change.next)) m.finished.inc({ job: jobs.label(change.job), status: change.next });
  };
  const onDisabled = (): void => m.disabled.inc();
  const onMissed = (event: { job: string; missed: number; skipped: number }): void => {
    if (event.missed > 0) m.missed.inc({ job: jobs.label(event.job) }, event.missed);
    if (event.skipped > 0) m.skipped.inc({ job: jobs.label(event.job) }, event.skipped);
  };
  const { executor, completer, rescuer, heartbeat } = internals(kairos).services;
  executor.observers.push(observer);
  kairos.localStatus.push(onStatus);
  kairos.on('jobDisabled', onDisabled);
  kairos.on('missedFires', onMissed);
  // The engine has no events for these three; wrapping keeps metrics code out of the engine.
  const unwrap = [
    tap(completer, 'onRetry', 'args', (queue) => m.retries.inc({ queue: queues.label(String(queue)) })),
    tap(rescuer, 'rescue', 'result', (count) => m.rescues.inc(Number(count))),
    tap(heartbeat, 'runOnce', 'result', () => {
      m.heartbeats.inc();
      m.lastHeartbeat.set(Date.now() / 1000);
    }),
  ];
  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    close() {
      remove(executor.observers, observer);
      remove(kairos.localStatus, onStatus);
      kairos.off('jobDisabled', onDisabled);
      kairos.off('missedFires', onMissed);
      for (const undo of unwrap) undo();
    },
  };
}

function defineMetrics(registry: Registry, kairos: AnyKairos, queues: LabelCap) {
  const { Counter, Gauge, Histogram } = promClient();
  const registers = [registry];
  const snapshot = scrapeSnapshot(kairos, queues);
  const queueDepth = new Gauge({
    name: 'kairos_queue_depth', help: 'Live runs by queue and status (pending: waiting, due or not; running: claimed), read at scrape time',
    labelNames: ['queue', 'status'], registers, collect: async () => { await snapshot.refresh(); },
  });
  const oldestDue = new Gauge({
    name: 'kairos_queue_oldest_due_seconds', help: 'Age of the oldest due pending run by queue (how far behind the queue is), read at scrape time',
    labelNames: ['queue'], registers, collect: async () => { await snapshot.refresh(); },
  });
  const liveNodes = new Gauge({
    name: 'kairos_nodes_live', help: 'Nodes of the cluster whose heartbeat is younger than the lease, read at scrape time',
    registers, collect: async () => { await snapshot.refresh(); },
  });
  snapshot.gauges = { queueDepth, oldestDue, liveNodes };
  new Gauge({
    name: 'kairos_node_active_runs', help: 'Attempts running on this node now', registers,
    collect() { this.set(internals(kairos).services.executor.activeCount); },
  });
  return {
    started: new Counter({ name: 'kairos_runs_started_total', help: 'Attempts started on this node, by job (or task) name', labelNames: ['job'], registers }),
    attempts: new Counter({ name: 'kairos_attempts_finished_total', help: 'Attempts that ended on this node, by job and outcome (completed, failed, timeout, cancelled, released)', labelNames: ['job', 'outcome'], registers }),
    finished: new Counter({ name: 'kairos_runs_finished_total', help: 'Runs that reached a final status recorded by this node (completed, failed, cancelled, expired), by job', labelNames: ['job', 'status'], registers }),
    duration: new Histogram({ name: 'kairos_run_duration_seconds', help: 'Attempt duration on this node, by job and outcome', labelNames: ['job', 'outcome'], buckets: DURATION_BUCKETS, registers }),
    lateness: new Histogram({ name: 'kairos_schedule_lateness_seconds', help: 'Start of the first attempt of a scheduled run minus its scheduled time (database clock), by job', labelNames: ['job'], buckets: LATENESS_BUCKETS, registers }),
    handoffs: new Counter({ name: 'kairos_handoffs_total', help: 'Runs handed to this node while idle by their enqueue and started without a claim, by queue', labelNames: ['queue'], registers }),
    retries: new Counter({ name: 'kairos_run_retries_total', help: 'Failed attempts put back in the queue for a retry by this node, by queue', labelNames: ['queue'], registers }),
    rescues: new Counter({ name: 'kairos_run_rescues_total', help: 'Runs of dead nodes (expired lease) rescued or abandoned by this node', registers }),
    missed: new Counter({ name: 'kairos_occurrences_missed_total', help: 'Due occurrences dropped by the catch-up policy (history status missed) by the ticker of this node, by job', labelNames: ['job'], registers }),
    skipped: new Counter({ name: 'kairos_occurrences_skipped_total', help: 'Occurrences skipped by the overlap policy (history status skipped) by the ticker of this node, by job', labelNames: ['job'], registers }),
    disabled: new Counter({ name: 'kairos_jobs_disabled_total', help: 'Jobs disabled after consecutive failures recorded by this node', registers }),
    heartbeats: new Counter({ name: 'kairos_node_heartbeats_total', help: 'Successful heartbeats of this node', registers }),
    lastHeartbeat: new Gauge({ name: 'kairos_node_last_heartbeat_seconds', help: 'Unix time of this node\'s last successful heartbeat', registers }),
  };
}

interface SnapshotGauges { queueDepth: Gauge; oldestDue: Gauge; liveNodes: Gauge }

/**
 * The scrape-time query, shared by the gauges that need it: a registry collects its metrics
 * concurrently, so every collect of one scrape awaits the same in-flight query. If the database is
 * down the gauges keep their last values and the scrape still succeeds (readyz reports the outage).
 */
function scrapeSnapshot(kairos: AnyKairos, queues: LabelCap): { gauges?: SnapshotGauges; refresh(): Promise<void> } {
  let inFlight: Promise<void> | undefined;
  const state: { gauges?: SnapshotGauges; refresh(): Promise<void> } = {
    refresh() {
      inFlight ??= query().finally(() => { inFlight = undefined; });
      return inFlight;
    },
  };
  const query = async (): Promise<void> => {
    const gauges = state.gauges!;
    try {
      const rows = await internals(kairos).store.sql.metricsSnapshot({ lease_ms: kairos.options.leaseMs });
      gauges.queueDepth.reset();
      gauges.oldestDue.reset();
      for (const row of rows) {
        if (row.kind === 'nodes') gauges.liveNodes.set(row.n);
        // A queue's row has both (the columns are the runs table's queue and status): only the
        // nodes row has nulls there.
        else if (row.name !== null && row.status !== null) {
          const queue = queues.label(row.name);
          gauges.queueDepth.inc({ queue, status: row.status }, row.n);
          if (row.oldest_due_s !== null) gauges.oldestDue.set({ queue }, Math.max(0, row.oldest_due_s));
        }
      }
      for (const queue of kairos.options.queues) gauges.queueDepth.inc({ queue: queues.label(queue), status: 'pending' }, 0);
    } catch (error) {
      kairos.logger.warn({ err: error }, 'metrics: reading queue depth and live nodes failed; keeping the last values');
    }
  };
  return state;
}

type Listener = (value: unknown) => void;
const taps = new WeakMap<object, Map<PropertyKey, Set<Listener>>>();

/**
 * Be told of every call of `target[key]`: with its first argument (`'args'`, for callback
 * properties such as Completer.onRetry) or its resolved result (`'result'`, for async methods).
 * One wrapper per target and key, shared by every listener, so several metrics instances on one
 * node can come and go in any order. Returns the undo.
 */
function tap(target: object, key: string, what: 'args' | 'result', listener: Listener): () => void {
  let byKey = taps.get(target);
  if (!byKey) taps.set(target, (byKey = new Map()));
  let listeners = byKey.get(key);
  if (!listeners) {
    const set = (listeners = new Set());
    byKey.set(key, set);
    const holder = target as Record<string, (...args: unknown[]) => unknown>;
    const original = holder[key]!;
    const tell = (value: unknown): void => { for (const l of set) safely(() => l(value)); };
    holder[key] = what === 'args'
      ? function (this: unknown, ...args: unknown[]) {
        const result = original.apply(this, args);
        tell(args[0]);
        return result;
      }
      : async function (this: unknown, ...args: unknown[]) {
        const result = await original.apply(this, args);
        tell(result);
        return result;
      };
  }
  listeners.add(listener);
  const mine = listeners;
  return () => { mine.delete(listener); };
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // a metric update must never break the engine
  }
}

function remove<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}
