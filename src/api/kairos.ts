/**
 * The Kairos class: one node of a scheduler cluster and the API to define and inspect work.
 * It wires the engine services (ticker, producer, executor, heartbeat, rescuer, pruner, notifier)
 * to one pool and one schema; everything else lives in the modules it calls.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { resolveOptions, taskDefinitions, type KairosOptions, type ResolvedOptions } from './options.js';
import { TASK_OPTION_KEYS, toDefinition, type PayloadOf, type TaskDefinition, type TaskHandler, type TaskMap, type TaskOptions } from './tasks.js';
import { buildRun, insertRuns, ENQUEUE_ITEM_KEYS, ENQUEUE_MANY_OPTION_KEYS, ENQUEUE_OPTION_KEYS, type EnqueueManyOptions } from './enqueue.js';
import type { EnqueueItem, EnqueueOptions, EnqueueResult, HistoryFilter, JobFilter, RunFilter, ScheduleOptions } from './types.js';
import { buildJob, SCHEDULE_OPTION_KEYS } from './schedules.js';
import { registryRow } from './run-options.js';
import * as jobs from './jobs.js';
import { Store, type NewRun } from '../store/store.js';
import { createPool, guardCheckedOutClients, inTransaction } from '../store/db.js';
import { migrate, type MigrateResult } from '../store/migrate.js';
import type { Logger } from '../core/logger.js';
import { defaultLogger } from './logger.js';
import { databaseClock, type Clock } from '../core/clock.js';
import { KairosStateError, KairosValidationError, KairosNotFoundError, describeValue } from '../core/errors.js';
import { assertInteger, assertKnownKeys, assertName } from '../core/validate.js';
import { statusChange, type Job, type StatusChange, type Run, type HistoryEntry, type NodeInfo } from '../core/types.js';
import type { EngineContext } from '../engine/context.js';
import { Notifier, type Notice } from '../store/notifier.js';
import { poolThroughPooler } from '../store/pooler.js';
import { cancelNotice, jobsNotice, runsNotice } from '../engine/notices.js';
import { openTelemetryTracer } from '../observability/tracing.js';
import { CancelCheck } from '../engine/cancels.js';
import { ClusterEvents } from '../engine/cluster-events.js';
import { Completer } from '../engine/completer.js';
import { Executor } from '../engine/executor.js';
import { Producer } from '../engine/producer.js';
import { Ticker } from '../engine/ticker.js';
import { Heartbeat } from '../engine/heartbeat.js';
import { Rescuer } from '../engine/rescuer.js';
import { Pruner } from '../engine/pruner.js';
import { TaskExecutor } from '../executors/task/index.js';
import { SqlExecutor } from '../executors/sql/index.js';
import { ShellExecutor } from '../executors/shell/index.js';
import { StepsExecutor } from '../executors/steps/index.js';
import { Connections } from '../executors/sql/connections.js';
import { ClockOffset } from '../core/offset.js';
import { registerInternals, type Services } from './internals.js';

/** The package version, recorded in the node registry. */
export const VERSION = '0.1.0';

/** `periodic()` options: a schedule (every or cron) plus task options. */
export type PeriodicOptions = Omit<ScheduleOptions, 'name' | 'task' | 'at' | 'nextRun'> & TaskOptions & { name?: string };

/** The keys of {@link PeriodicOptions}: schedule() keys but name, task, at and nextRun; the task options; name. */
const PERIODIC_OPTION_KEYS = (({ task: _task, at: _at, nextRun: _nextRun, ...schedule }) => ({ ...schedule, ...TASK_OPTION_KEYS }))(SCHEDULE_OPTION_KEYS) satisfies Record<keyof PeriodicOptions, true>;
/** The keys of the read filters (a key missing here, or here and not in the interface, fails the type-check). */
const JOB_FILTER_KEYS = { enabled: true, task: true, search: true, label: true, type: true, limit: true } as const satisfies Record<keyof JobFilter, true>;
const RUN_FILTER_KEYS = { status: true, task: true, queue: true, job: true, limit: true } as const satisfies Record<keyof RunFilter, true>;
const HISTORY_FILTER_KEYS = { job: true, runId: true, status: true, task: true, limit: true } as const satisfies Record<keyof HistoryFilter, true>;

/** A Kairos node. `T` maps task names to definitions so payloads are type-checked. */
export class Kairos<T extends TaskMap = TaskMap> extends EventEmitter {
  /** Resolved options. */
  readonly options: ResolvedOptions;
  /** This node's id in the node registry (name plus a random suffix). */
  readonly nodeId: string;
  /** Internal (reached by the package's modules through internals(), src/api/internals.ts): not part of the API. */
  private readonly pool: pg.Pool;
  /** Internal, like `pool`: the named queries are the schema's private contract with this code. */
  private readonly store: Store;
  readonly logger: Logger;
  private readonly clock: Clock;
  private readonly ownsPool: boolean;
  private readonly ctx: EngineContext;
  private readonly notifier: Notifier;
  private readonly completer: Completer;
  private readonly connections: Connections;
  /** Stops this node's runs that the database says are cancelled, when a NOTIFY says to look. */
  private readonly cancels: CancelCheck;
  /** Signs this node's status changes for the other nodes (while one listens) and verifies theirs (re-emitted with clusterEvents on). */
  private readonly cluster: ClusterEvents;
  /** Enqueues in flight that may hand their run to this node: a hand-off waits for them (see listen()). */
  private readonly enqueuing = new Set<Promise<unknown>>();
  /** Changes of runs created here whose '' → pending is not emitted yet (trigger() reads the run first). */
  private readonly unannounced = new Map<number, StatusChange[]>();
  /** Engine services; internal, like `pool` (tests reach them through internals() to call runOnce()). */
  private readonly services: Services;
  private readonly periodicJobs: ScheduleOptions[] = [];
  private state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';
  /** The tasks whose definition this node published to the registry (start(), then task()). */
  private readonly published = new Set<string>();
  /** Observers of the status changes this node itself records (not other nodes'): alerts and metrics use them. */
  readonly localStatus: Array<(changes: StatusChange[]) => void> = [];

  constructor(options: KairosOptions<T>) {
    super();
    this.options = resolveOptions(options as KairosOptions);
    this.logger = options.logger ?? defaultLogger();
    this.clock = options.clock ?? databaseClock;
    this.nodeId = `${this.options.nodeName}-${randomBytes(3).toString('hex')}`;
    this.ownsPool = !options.pool;
    this.pool = options.pool ?? createPool(options.connectionString!, this.options.maxConnections, (error) => this.logger.warn({ err: error }, 'idle database connection failed'));
    // A given pool too: a connection cut while Kairos holds it must fail its query, not the process.
    if (options.pool) guardCheckedOutClients(options.pool);
    this.store = new Store(this.pool, this.options.schema, this.options.preparedStatements);
    this.ctx = {
      store: this.store,
      nodeId: this.nodeId,
      options: this.options,
      clock: this.clock,
      logger: this.logger,
      events: this,
      tracer: openTelemetryTracer,
      tasks: new Map(),
      customSchedules: new Map(),
      offset: new ClockOffset(),
      publish: (changes) => this.publish(changes),
      publishing: () => this.localStatus.length > 0 || this.listenerCount('status') > 0 || this.cluster.publishing,
      jobRunFinished: () => this.services?.ticker.wake(),
    };
    for (const [name, task] of taskDefinitions(options.tasks as Record<string, TaskDefinition | TaskHandler> | undefined)) this.addTask(name, task);
    this.completer = new Completer(this.ctx);
    const producer = new Producer(this.ctx);
    this.connections = new Connections(this.pool, options.connectionString ?? (this.pool as unknown as { options: { connectionString?: string } }).options.connectionString, this.options.connections);
    const executors = {
      task: new TaskExecutor(this.ctx.tasks),
      sql: new SqlExecutor(this.ctx, this.connections),
      shell: new ShellExecutor(this.ctx),
      steps: new StepsExecutor(this.ctx, this.connections),
    };
    const executor = new Executor(this.ctx, this.completer, executors, () => producer.slotFreed());
    producer.executor = executor;
    this.completer.onRetry = (queue, at) => producer.hint(queue, at);
    const ticker = new Ticker(this.ctx);
    ticker.onRunsCreated = (due) => {
      for (const [queue, at] of due) producer.hint(queue, at);
    };
    const heartbeat = new Heartbeat(this.ctx, executor);
    heartbeat.tracked = () => [...executor.activeIds(), ...producer.bufferedIds(), ...this.completer.heldIds()];
    heartbeat.onNodeMissing = async () => {
      await this.register();
      // The node's hand-off row went with its registry row: it offers itself again when idle.
      await producer.handoff.recover();
    };
    heartbeat.onCancelRequested = (runId, reason) => this.cancelLocal(runId, reason);
    this.cancels = new CancelCheck(this.ctx, () => heartbeat.tracked(), (runId, reason) => this.cancelLocal(runId, reason));
    this.cluster = new ClusterEvents(this.store, this.nodeId, this.ctx.offset, this.logger, this.options.clusterEvents);
    this.services = { producer, ticker, heartbeat, rescuer: new Rescuer(this.ctx), pruner: new Pruner(this.ctx), executor, completer: this.completer };
    registerInternals(this, { pool: this.pool, store: this.store, services: this.services });
    const poolOptions = (this.pool as unknown as { options: pg.ClientConfig }).options;
    const listenConfig = this.options.listenConnectionString ? { connectionString: this.options.listenConnectionString } : { ...poolOptions };
    this.notifier = new Notifier(listenConfig, this.store.channel, this.logger, `kairos-listener:${this.nodeId}`);
    // Hand-offs only while the LISTEN session lives (migration 0021).
    producer.handoff.listener = () => this.notifier.sessionLock;
    this.listen();
  }

  /** Register a task handler on this node (before or after start()). */
  task<N extends string>(name: N, handler: TaskHandler<N extends keyof T ? PayloadOf<T[N]> : unknown> | TaskDefinition<N extends keyof T ? PayloadOf<T[N]> : unknown>): this {
    this.addTask(name, handler as TaskHandler | TaskDefinition);
    return this;
  }

  private addTask(name: string, handler: TaskHandler | TaskDefinition): void {
    assertName(name, 'task');
    this.ctx.tasks.set(name, toDefinition(handler, name));
    this.published.delete(name);
    if (this.state === 'started') {
      this.services.producer.wake();
      void this.publishTasks([name]).catch((error: unknown) => this.logger.error({ err: error, task: name }, 'publishing the task definition failed'));
    }
  }

  /** Install or upgrade the schema (idempotent; safe from many processes at once). */
  migrate(): Promise<MigrateResult> {
    return migrate(this.pool, this.options.schema);
  }

  /** Connect, migrate (unless disabled), register this node and start working. */
  async start(): Promise<this> {
    if (this.state !== 'new') throw new KairosStateError(`start() can only be called once (state: ${this.state})`);
    this.state = 'starting';
    try {
      await this.checkPooler();
      if (this.options.migrate) await this.migrate();
      await this.register();
      await this.publishTasks([...this.ctx.tasks.keys()]);
      // The secret before LISTEN: no status message arrives that could not be verified.
      await this.cluster.start();
      await this.notifier.start();
      await this.cluster.started();
      for (const periodic of this.periodicJobs) await this.upsertSchedule(periodic);
      this.state = 'started';
      const { heartbeat, rescuer, pruner, ticker, producer } = this.services;
      for (const service of [heartbeat, rescuer, pruner, ticker, producer]) service.start();
      this.logger.info({ node: this.nodeId, schema: this.options.schema }, 'kairos node started');
      return this;
    } catch (error) {
      this.state = 'stopped';
      this.cluster.stop();
      await this.notifier.stop();
      if (this.ownsPool) await this.pool.end().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Behind a connection pooler (store/pooler.ts) the pool's connections carry no session state of
   * Kairos's: named prepared statements are turned off, and SQL jobs that cannot run in a
   * transaction are refused by the SQL executor, which checks its own connections.
   */
  private async checkPooler(): Promise<void> {
    if (!(await poolThroughPooler(this.pool, this.store.sql))) return;
    this.store.prepared = false;
    this.logger.info({ listenConnection: this.options.listenConnectionString !== null }, 'connected through a connection pooler: prepared statements off, no session state on pooled connections');
  }

  /**
   * Stop gracefully: stop claiming, let running attempts finish for up to `timeout` (default the
   * shutdownTimeout option), then abort the rest and hand them back to the queue at once.
   */
  async stop(options: { timeout?: number } = {}): Promise<void> {
    assertKnownKeys(options, { timeout: true } satisfies Record<keyof typeof options, true>, 'stop()');
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasStarted = this.state === 'started';
    this.state = 'stopping';
    const { producer, ticker, heartbeat, rescuer, pruner, executor } = this.services;
    await Promise.all([producer.stop(), ticker.stop()]);
    if (wasStarted) {
      const idle = await executor.waitForIdle(options.timeout ?? this.options.shutdownTimeoutMs);
      if (!idle) this.logger.warn({ released: await executor.abandonAll() }, 'shutdown timeout: aborted running attempts and handed them back');
      await this.completer.drain();
      await this.flushStatus();
    }
    await Promise.all([heartbeat.stop(), rescuer.stop(), pruner.stop()]);
    if (wasStarted) await this.store.sql.deregisterNode({ node_id: this.nodeId }).catch((error: unknown) => this.logger.warn({ err: error }, 'deregistering failed'));
    await this.notifier.stop();
    await this.cancels.idle();
    await this.connections.close();
    if (this.ownsPool) await this.pool.end();
    this.state = 'stopped';
  }

  /** Queue one run of `task`. */
  async enqueue<N extends keyof T & string>(task: N, payload: PayloadOf<T[N]>, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    assertKnownKeys(options, ENQUEUE_OPTION_KEYS, 'enqueue()');
    const { client, ...run } = options ?? {};
    const [result] = await this.enqueueMany([{ ...run, task, payload }], { client, conflict: run.conflict });
    return result!;
  }

  /** Queue many runs in one statement (all or nothing). */
  async enqueueMany<N extends keyof T & string>(items: Array<EnqueueItem<N, PayloadOf<T[N]>>>, options: EnqueueManyOptions = {}): Promise<EnqueueResult[]> {
    if (!Array.isArray(items)) throw new KairosValidationError('items', 'Expected `items` to be an array of { task, payload, ...options }');
    assertKnownKeys(options, ENQUEUE_MANY_OPTION_KEYS, 'enqueueMany()');
    items.forEach((item, i) => {
      if (!item || typeof item !== 'object' || Array.isArray(item)) throw new KairosValidationError(`items[${i}]`, `Expected \`items[${i}]\` to be an object such as { task, payload }, got ${describeValue(item)}`);
      assertKnownKeys(item, ENQUEUE_ITEM_KEYS, 'enqueueMany()', `items[${i}].`);
    });
    const conflict = options.conflict ?? items[0]?.conflict ?? 'raise';
    if (items.some((i) => (i.conflict ?? conflict) !== conflict)) throw new KairosValidationError('conflict', 'Expected every item of one enqueueMany call to use the same `conflict` policy');
    const rows = items.map((item, i) => {
      const definition = this.ctx.tasks.get(item.task);
      return buildRun(item.task, item.payload, item, definition, items.length > 1 ? `items[${i}]` : '', this.published.has(item.task) ? undefined : definition);
    });
    const now = this.clock.now();
    const client = options.client;
    const written = conflict === 'replace' && !client
      ? inTransaction(this.pool, (tx) => insertRuns(this.store, rows, conflict, now, tx))
      : insertRuns(this.store, rows, conflict, now, client, this.options.handoff);
    const created = written.then((results) => {
      this.created(rows, results);
      return results;
    });
    // Only a single run outside the caller's transaction may be handed over (Store.insertRuns).
    if (this.state !== 'started' || rows.length !== 1 || conflict !== 'raise' || client) return created;
    this.enqueuing.add(created);
    return created.finally(() => this.enqueuing.delete(created));
  }

  /** '' → pending for each run an enqueue created (with 'replace', also a pending run it replaced: the insert does not tell them apart). */
  private created(rows: NewRun[], results: EnqueueResult[]): void {
    if (!this.ctx.publishing()) return;
    const changes = results.flatMap((r, i) => (r.inserted ? [statusChange({ run_id: r.id, task: rows[i]!.task, key: rows[i]!.key }, '', 'pending')] : []));
    if (changes.length > 0) this.publish(changes);
  }

  /** Create or update a schedule by name (replicas declaring the same schedule converge on one). */
  schedule<N extends keyof T & string>(options: ScheduleOptions<N, PayloadOf<T[N]>>): Promise<Job> {
    return this.upsertSchedule(options as ScheduleOptions);
  }

  private async upsertSchedule(options: ScheduleOptions): Promise<Job> {
    const def = buildJob(options, this.ctx.tasks.get(options.task));
    if (def.custom) this.ctx.customSchedules.set(def.row.job_name, def.custom);
    return jobs.upsertJob(this.store, def, this.clock.now());
  }

  /** Define a task and its recurring schedule in one call (`@periodic`): upserted at start(). */
  periodic(options: PeriodicOptions, handler: TaskHandler): string {
    assertKnownKeys(options, PERIODIC_OPTION_KEYS, 'periodic()');
    const name = options.name ?? (handler.name || undefined);
    if (!name) throw new KairosValidationError('name', 'Expected `name` (or a named handler function) for periodic(), got none');
    if (options.every === undefined && options.cron === undefined) throw new KairosValidationError('every', 'Expected `every` or `cron` for periodic(), got neither');
    const { retries, backoff, maxBackoff, timeout, queue, priority, exclusive, validate, ...schedule } = options;
    assertName(name, 'task');
    const definition = toDefinition({ handler, retries, backoff, maxBackoff, timeout, queue, priority, exclusive, validate }, name);
    const declaration: ScheduleOptions = { ...schedule, retries, backoff, maxBackoff, timeout, queue, priority, name, task: name };
    buildJob(declaration, definition); // refuse bad input now, not at start(), and before the task is registered
    this.addTask(name, definition);
    if (this.state === 'started') void this.upsertSchedule(declaration).catch((error: unknown) => this.logger.error({ err: error }, 'periodic schedule failed'));
    else this.periodicJobs.push(declaration);
    return name;
  }

  /** Enable a job (resets its consecutive failures; the next run is planned from now). */
  enable(name: string): Promise<Job> {
    return jobs.setEnabled(this.store, name, true, this.clock.now(), this.ctx.customSchedules.get(name));
  }

  /** Disable a job: no new occurrences; runs already queued still run. */
  disable(name: string): Promise<Job> {
    return jobs.setEnabled(this.store, name, false, this.clock.now());
  }

  /** Run a job now, outside its schedule; returns the run id. */
  async trigger(name: string, options: { payload?: unknown } = {}): Promise<number> {
    assertKnownKeys(options, { payload: true } satisfies Record<keyof typeof options, true>, 'trigger()');
    const runId = await jobs.triggerJob(this.store, name, options.payload, this.clock.now());
    if (this.ctx.publishing()) await this.announceTriggered(runId);
    return runId;
  }

  /**
   * '' → pending for a triggered run: its task is the run's (the job's command, or '@sql'…), read
   * back; changes of the run made here meanwhile (this node claimed it) wait, so they follow it.
   */
  private async announceTriggered(runId: number): Promise<void> {
    const held: StatusChange[] = [];
    this.unannounced.set(runId, held);
    try {
      const { live, last } = await jobs.getRun(this.store, runId);
      const run = live ?? last;
      this.unannounced.delete(runId);
      if (run) this.publish([statusChange({ run_id: runId, job_name: run.jobName, task: run.task, key: run.key }, '', 'pending')]);
    } catch (error) {
      this.logger.warn({ err: error, run: runId }, "reading a triggered run failed: its '' → pending status change is not emitted");
    } finally {
      this.unannounced.delete(runId);
      if (held.length > 0) this.publish(held);
    }
  }

  /** Delete a job, its queued runs, occurrences and history. */
  unschedule(name: string): Promise<boolean> {
    this.ctx.customSchedules.delete(name);
    return jobs.deleteJob(this.store, name);
  }

  /** Cancel a run: a pending one at once, a running one on whichever node runs it. */
  async cancel(runId: number, reason?: string): Promise<'cancelled' | 'cancelling'> {
    assertInteger(runId, 'runId', 1, Number.MAX_SAFE_INTEGER);
    const [row] = await this.store.sql.cancelRun({ run_id: runId, now: this.clock.now(), reason: reason ?? null });
    if (!row) throw new KairosNotFoundError(`No pending or running run ${runId}`);
    if (row.previous === 'pending') {
      this.publish([statusChange({ run_id: runId, task: row.task, key: row.key }, 'pending', 'cancelled')]);
      return 'cancelled';
    }
    this.cancelLocal(runId, reason);
    return 'cancelling';
  }

  /** Stop a run held by this node: abort it if it runs, or drop it if it waits in the prefetch buffer. */
  private cancelLocal(runId: number, reason: string | undefined = 'cancelled'): void {
    if (this.services.executor.cancel(runId, reason)) return;
    const run = this.services.producer.takeBuffered(runId);
    if (!run) return;
    const meta = { job: run.job_name ?? run.task, task: run.task, key: run.key };
    this.completer.fail({ run_id: run.run_id, attempt: run.attempt, outcome: 'cancelled', message: reason, delay_ms: 0, duration_ms: 0, output: null }, meta);
  }

  /** Create runs for every occurrence of a job's schedule in [from, to] not yet materialised. */
  backfill(name: string, from: Date, to: Date, onProgress?: (done: number, total: number) => void): Promise<number> {
    return jobs.backfillJob(this.store, name, from, to, { nodeId: this.nodeId, now: this.clock.now(), custom: this.ctx.customSchedules.get(name), onProgress });
  }

  getJob(name: string): Promise<(Job & { running: number; pending: number }) | null> { return jobs.getJob(this.store, name); }
  async listJobs(filter?: JobFilter): Promise<Job[]> {
    assertKnownKeys(filter, JOB_FILTER_KEYS, 'listJobs()');
    return jobs.listJobs(this.store, filter);
  }
  getRun(id: number): Promise<{ live: Run | null; last: HistoryEntry | null }> { return jobs.getRun(this.store, id); }
  async listRuns(filter?: RunFilter): Promise<Run[]> {
    assertKnownKeys(filter, RUN_FILTER_KEYS, 'listRuns()');
    return jobs.listRuns(this.store, filter);
  }
  async history(filter?: HistoryFilter): Promise<HistoryEntry[]> {
    assertKnownKeys(filter, HISTORY_FILTER_KEYS, 'history()');
    return jobs.history(this.store, filter);
  }
  nodes(): Promise<NodeInfo[]> { return jobs.listNodes(this.store); }

  /**
   * Publish the run options of these defined tasks to the registry (migration 0032), which every
   * insert reads for the options its caller did not give. The last publisher wins; replacing a
   * different definition another node published is logged.
   */
  private async publishTasks(names: string[]): Promise<void> {
    const defined = names.flatMap((name) => {
      const definition = this.ctx.tasks.get(name);
      return definition ? [{ name, definition }] : [];
    });
    if (defined.length === 0) return;
    const rows = defined.map(({ name, definition }) => registryRow(name, definition));
    const replaced = await this.store.sql.publishTasks({ node_id: this.nodeId, tasks: JSON.stringify(rows) });
    for (const r of replaced) this.logger.warn({ task: r.task, previous: r.previous_node, node: this.nodeId }, 'task definition differs from the one another node published; this node\'s replaces it');
    // A task redefined meanwhile publishes again itself.
    for (const { name, definition } of defined) if (this.ctx.tasks.get(name) === definition) this.published.add(name);
  }

  private async register(): Promise<void> {
    const sentAt = Date.now();
    const [row] = await this.store.sql.registerNode({
      node_id: this.nodeId, name: this.options.nodeName, host: os.hostname(), pid: process.pid,
      tags: this.options.nodeTags, queues: this.options.queues, concurrency: this.options.concurrency, version: VERSION,
    });
    if (row) this.ctx.offset.sample(row.db_time.getTime(), sentAt, Date.now());
  }

  /** What each NOTIFY is trusted for: see src/engine/notices.ts (anyone can send one). */
  private listen(): void {
    const { producer, ticker, heartbeat } = this.services;
    this.notifier.on('runs', (n: Notice) => {
      const hint = runsNotice(n);
      if (hint) producer.notified(hint.queue, hint.at);
    });
    this.notifier.on('handoff', (n: Notice) => {
      // A run this instance may have handed to itself: its enqueue emits '' → pending when the
      // insert returns, which can come after this NOTIFY; the start (pending → running) waits for it.
      if (n.n === this.nodeId && this.enqueuing.size > 0) void Promise.allSettled([...this.enqueuing]).then(() => producer.handoff.accept(n));
      else producer.handoff.accept(n);
    });
    this.notifier.on('jobs', (n: Notice) => {
      const hint = jobsNotice(n);
      if (hint) ticker.hint(hint.at, hint.plan);
    });
    this.notifier.on('cancel', (n: Notice) => {
      if (cancelNotice(n, this.nodeId)) this.cancels.hint();
    });
    this.notifier.on('status', (_n: Notice, raw: string) => {
      // Every node hears who listens; only a listener (clusterEvents) gets other nodes' changes back.
      for (const change of this.cluster.open(raw) ?? []) this.emit('status', change);
    });
    this.notifier.onReconnect(() => {
      void producer.handoff.reconnected().catch((error: unknown) => this.logger.warn({ err: error }, 'checking for a run handed over while disconnected failed; it is rescued when its lease runs out'));
      producer.wake();
      ticker.wake();
      heartbeat.wake();
    });
  }

  /** Emit status changes here, and to the other nodes (signed) while one of them listens (clusterEvents). */
  private publish(changes: StatusChange[]): void {
    if (this.unannounced.size > 0) {
      const later = changes.filter((c) => this.unannounced.has(c.runId));
      for (const change of later) this.unannounced.get(change.runId)!.push(change);
      if (later.length > 0) changes = changes.filter((c) => !this.unannounced.has(c.runId));
      if (changes.length === 0) return;
    }
    for (const observe of this.localStatus) observe(changes);
    if (this.listenerCount('status') > 0) for (const change of changes) this.emit('status', change);
    this.cluster.publish(changes);
  }

  private async flushStatus(): Promise<void> {
    await this.cluster.flush();
    this.cluster.stop();
  }
}
