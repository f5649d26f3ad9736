/**
 * The executor (an engine service): runs claimed attempts, each through its kind's job executor
 * (src/executors/<kind>/). It sets up the handler's context and AbortSignal, enforces the timeout,
 * honours cancellation, takes the advisory lock of exclusive runs, and hands each result to the
 * Completer. A slot frees as soon as the attempt's outcome is decided, before it is written (the
 * write joins a batch). After a timeout or a cancel, an exclusive run (lock key) or a serial one
 * (its job's overlap policy is not 'allow') is recorded only once its handler has returned: until
 * then it stays running, keeps its slot and its lock, and its retry cannot start anywhere. Any
 * other run is recorded at once and its slot freed; a handler that ignores its signal then goes
 * on beside the retry.
 */
import type { EngineContext } from './context.js';
import type { Completer } from './completer.js';
import type { ClaimedRun } from '../store/store.js';
import { tryHoldLock, type HeldLock } from '../store/locks.js';
import { RecordedResult, type JobExecutor } from '../executors/types.js';
import { RunAbort } from './abort.js';
import { RunContext } from './run-context.js';
import { KairosCancelledError, KairosPermissionError, KairosTimeoutError, KairosStateError } from '../core/errors.js';
import { retryDelay, retryWithBackoff } from '../core/backoff.js';
import { statusChange } from '../core/types.js';
import type { AttemptInfo, AttemptObserver, AttemptOutcome } from './tracer.js';

interface ActiveRun {
  run: ClaimedRun;
  abort: RunAbort;
  done: Promise<void>;
  /** Set once the outcome is decided, so a late handler result is ignored. */
  settled: boolean;
}

const MAX_MESSAGE = 10_000;
/** How long an aborted handler may take to return before it is reported as ignoring its signal. */
const HANDLER_GRACE_MS = 1000;

/** The executor: runs attempts on this node, the work of each done by its kind's job executor. */
export class Executor {
  private readonly active = new Map<number, ActiveRun>();
  /** Told of each attempt's start and end (metrics, alerts); each attempt also gets a span. */
  readonly observers: AttemptObserver[] = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly ctx: EngineContext,
    private readonly completer: Completer,
    /** The job executor of each kind, by `job_type`. */
    private readonly jobExecutors: Record<string, JobExecutor>,
    /** Called whenever a slot frees, so the producer can claim more. */
    private readonly onSlotFree: () => void,
  ) {}

  /** Attempts currently held by this node. */
  get activeCount(): number {
    return this.active.size;
  }

  /** Ids of the runs this node holds. */
  activeIds(): number[] {
    return [...this.active.keys()];
  }

  /** Start an attempt (returns at once). */
  start(run: ClaimedRun): void {
    const entry: ActiveRun = { run, abort: new RunAbort(), settled: false, done: Promise.resolve() };
    this.active.set(run.run_id, entry);
    if (this.ctx.publishing()) this.ctx.publish([statusChange(run, 'pending', 'running')]);
    entry.done = this.execute(entry).finally(() => this.finish(run.run_id));
  }

  /** Abort one attempt held here (cancel from any node arrives here through NOTIFY or heartbeat). */
  cancel(runId: number, reason = 'cancelled'): boolean {
    const entry = this.active.get(runId);
    if (!entry || entry.abort.reason) return false;
    entry.abort.abort(new KairosCancelledError(reason));
    return true;
  }

  /** Wait until no attempt is active, or `timeoutMs` passes; resolves true when idle. */
  waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.active.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Shutdown: abort what still runs and hand those runs back to the queue at once, so another node
   * takes them without waiting for the lease to expire.
   */
  async abandonAll(): Promise<number> {
    const entries = [...this.active.values()].filter((e) => !e.settled);
    for (const entry of entries) {
      entry.settled = true;
      entry.abort.abort(new KairosCancelledError('node shutting down'));
    }
    if (entries.length === 0) return 0;
    const ids = entries.map((e) => e.run.run_id);
    await this.ctx.store.release(this.ctx.nodeId, ids, 'released: node shutting down', this.ctx.clock.now());
    this.ctx.publish(entries.map((e) => statusChange(e.run, 'running', 'pending')));
    for (const id of ids) this.finish(id);
    return ids.length;
  }

  private finish(runId: number): void {
    if (!this.active.delete(runId)) return;
    this.onSlotFree();
    if (this.active.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private async execute(entry: ActiveRun): Promise<void> {
    const { run } = entry;
    let lock: HeldLock | undefined;
    try {
      if (run.lock_key) {
        lock = await this.acquireLock(run);
        if (!lock) return;
      }
      await this.attempt(entry);
    } catch (error) {
      this.ctx.logger.error({ err: error, runId: run.run_id }, 'executing a run failed unexpectedly');
      // E.g. the exclusive lock's connection failed. Neither recorded nor handed back, the run would
      // stay leased to this live node for ever (its heartbeat extends every run it holds).
      if (!entry.settled) {
        entry.settled = true;
        await this.handBack(run, `released: ${errorMessage(error)}`);
      }
    } finally {
      if (lock) await lock.release();
    }
  }

  /** Run the handler against the timeout and the abort signal, then record the outcome. */
  private async attempt(entry: ActiveRun): Promise<void> {
    const { run, abort } = entry;
    const started = performance.now();
    const context = new RunContext(run, abort, this.ctx.logger);
    let timer: NodeJS.Timeout | undefined;
    if (run.timeout_ms) {
      timer = setTimeout(() => abort.abort(new KairosTimeoutError(`timed out after ${run.timeout_ms} ms`)), run.timeout_ms);
    }
    if (run.cancel_requested) abort.abort(new KairosCancelledError('cancelled'));
    const jobExecutor = this.jobExecutors[run.job_type];
    const watch = this.ctx.tracer.observeAttempt(attemptInfo(run), this.observers, this.ctx.nodeId);
    let ended: AttemptOutcome = 'released';
    let failure: unknown;
    const handler = watch.within(() => (jobExecutor ? jobExecutor.execute(run, context) : Promise.reject(new KairosStateError(`This node cannot run ${run.job_type} jobs`))));
    // Whether the handler has returned (a handler that honours its signal has, by the time the
    // abort is handled): then nothing is waited for.
    let returned = false;
    handler.then(() => (returned = true), () => (returned = true));
    try {
      const output = await Promise.race([handler, abort.aborted]);
      if (entry.settled) return;
      entry.settled = true;
      ended = 'completed';
      if (output instanceof RecordedResult) return this.recorded(run, output);
      // Queued: the slot frees now and the result joins the next batch write.
      this.completer.complete(
        { run_id: run.run_id, attempt: run.attempt, duration_ms: performance.now() - started, output: toOutput(output) },
        { job: run.job_name ?? run.task, task: run.task, key: run.key },
      );
    } catch (error) {
      if (entry.settled) return;
      if (abort.reason && !returned) await this.untilHandlerReturns(run, handler);
      if (entry.settled) return;
      entry.settled = true;
      const reason = abort.reason ?? error;
      const outcome = reason instanceof KairosCancelledError ? 'cancelled' : reason instanceof KairosTimeoutError ? 'timeout' : 'failed';
      if (outcome === 'failed' && lostConnection(run, reason, this.ctx.options.maxRescues)) {
        failure = reason;
        return void this.handBack(run, `released: database connection lost (${errorMessage(reason)})`);
      }
      [ended, failure] = [outcome, reason];
      this.completer.fail(
        {
          run_id: run.run_id,
          attempt: run.attempt,
          outcome,
          message: errorMessage(reason),
          // Null: no retry, for a failure no retry can change (see permanent()).
          delay_ms: permanent(reason) ? null : retryDelay(run.attempt, { baseMs: run.backoff_ms, maxMs: run.backoff_max_ms }),
          duration_ms: performance.now() - started,
          output: errorOutput(reason),
        },
        { job: run.job_name ?? run.task, task: run.task, key: run.key },
      );
    } finally {
      if (timer) clearTimeout(timer);
      watch.end(ended, performance.now() - started, failure);
    }
  }

  /**
   * After a timeout or cancel: wait for the handler of an exclusive or serial run to return, so its
   * retry never overlaps it (the run stays running on this node, its lease extended by the
   * heartbeat, its lock and slot held). A handler that ignores its signal is reported once.
   */
  private async untilHandlerReturns(run: ClaimedRun, handler: Promise<unknown>): Promise<void> {
    if (!run.lock_key && run.job_id === null) return;
    if (!run.lock_key) {
      const [row] = await this.ctx.store.sql.runIsSerial({ run_id: run.run_id, node_id: this.ctx.nodeId }).catch(() => [{ serial: true }]);
      if (!row?.serial) return;
    }
    const returned = handler.then(() => true, () => true);
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), HANDLER_GRACE_MS)));
    if (!(await Promise.race([returned, slow]))) {
      this.ctx.logger.warn({ runId: run.run_id }, `run ${run.run_id} was aborted but its handler ignores ctx.signal; its retry waits until the handler returns (${run.lock_key ? 'exclusive' : 'serial'} run)`);
      await returned;
    }
    clearTimeout(timer);
  }

  /**
   * Hand a run back to the queue (retrying while the database is away). Used when a SQL job's
   * connection died (server restart, terminated backend): it did not fail, its transaction rolled
   * back, so the occurrence must not be spent on the outage. If the commit went through after all,
   * the run is already gone and the release matches nothing.
   */
  private async handBack(run: ClaimedRun, message: string): Promise<void> {
    try {
      await retryWithBackoff(() => this.ctx.store.release(this.ctx.nodeId, [run.run_id], message, this.ctx.clock.now(), 1000));
    } catch (error) {
      return this.ctx.logger.error({ err: error, runId: run.run_id }, 'handing back a run after a lost connection failed');
    }
    this.ctx.publish([statusChange(run, 'running', 'pending')]);
  }

  /** The job executor recorded the completion itself (exactly-once SQL): only tell listeners. */
  private recorded(run: ClaimedRun, result: RecordedResult): void {
    if (!result.recorded) {
      this.ctx.logger.warn({ runId: run.run_id }, 'attempt fenced off: another node holds the run; its effects were rolled back');
      return;
    }
    this.ctx.publish([statusChange(run, 'running', 'completed')]);
    if (run.job_id !== null) this.ctx.jobRunFinished();
  }

  /**
   * Exclusive runs hold an advisory lock for the whole attempt, in a transaction left open on a
   * dedicated connection (store/locks.ts: safe behind a transaction-mode pooler).
   */
  private async acquireLock(run: ClaimedRun): Promise<HeldLock | undefined> {
    const lock = await tryHoldLock(this.ctx.store, `${this.ctx.store.schema}:${run.lock_key}`);
    if (lock) return lock;
    // Busy elsewhere: hand the run back without counting the attempt, and look again shortly.
    await this.ctx.store.release(this.ctx.nodeId, [run.run_id], null, this.ctx.clock.now(), this.ctx.options.exclusiveRetryMs, true);
    this.ctx.publish([statusChange(run, 'running', 'pending')]);
    return undefined;
  }
}

/**
 * Whether a SQL attempt failed because its database connection was lost rather than because of the
 * job. Bounded (retries + maxRescues attempts) so that a job that kills its own connection still ends.
 */
/** What observers and the span are told of a claimed run: the public shape, not the store's row. */
function attemptInfo(run: ClaimedRun): AttemptInfo {
  return {
    runId: run.run_id, jobId: run.job_id, jobName: run.job_name, task: run.task, jobType: run.job_type, queue: run.queue, priority: run.priority,
    attempt: run.attempt, retries: run.max_retries, key: run.key, scheduledAt: run.scheduled_at, startedAt: run.started_at, handedOff: run.handed_off === true,
  };
}

function lostConnection(run: ClaimedRun, error: unknown, maxRescues: number): boolean {
  if (run.job_type !== 'sql' || run.attempt > run.max_retries + maxRescues) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(57P0[123]|08)/.test(code)) return true;
  return error instanceof Error && /Connection terminated|not queryable|ECONNRESET|ECONNREFUSED/.test(error.message);
}

function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/**
 * A failure that no retry can change: an error that says `retryable: false` (the shell
 * executor's KairosPermanentError: shell off on this node, a command refused before it ran) or a
 * KairosPermissionError (the owner may not do it). The run fails at once without its retries; the
 * attempt still counts toward the job's failure limit (max_attempts).
 */
function permanent(error: unknown): boolean {
  return error instanceof KairosPermissionError || (typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false);
}

/**
 * What a failed attempt records besides its message. Job executors attach what a failed command
 * printed (shell exit codes and stderr tails; a SQL job's notices and PostgreSQL's diagnostics),
 * recorded instead of a stack trace. Otherwise the stack is kept for the frames of the handler's
 * own code only: frames of Kairos's own files (this package's src/ or dist/), of Node's internals
 * and of installed packages are left out, and a stack with no other frame (an error of Kairos's
 * executors: SQL, shell, steps) is not recorded at all.
 */
function errorOutput(error: unknown): unknown {
  if (!(error instanceof Error)) return { error: { message: String(error) } };
  const attached = (error as { output?: unknown }).output;
  if (attached !== undefined) return { error: { name: error.name, message: errorMessage(error) }, ...(attached as object) };
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line) && !KAIROS_FRAME.some((own) => line.includes(own)));
  if (frames.length === 0) return { error: { name: error.name, message: errorMessage(error) } };
  return { error: { name: error.name, message: errorMessage(error), stack: `${error.name}: ${errorMessage(error)}\n${frames.join('\n')}`.slice(0, MAX_MESSAGE) } };
}

/** Stack frames that are not a handler's: Kairos's own directory (src/ or dist/), as a path and as a URL; Node's internals; packages. */
const KAIROS_FRAME = [decodeURIComponent(new URL('..', import.meta.url).pathname), new URL('..', import.meta.url).href, 'node:', '/node_modules/'];

/** Handler results are recorded when they are JSON; anything else is recorded as null. */
function toOutput(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    const text = JSON.stringify(value);
    if (text === undefined || text.length > 100_000 || text.includes('\\u0000')) return null;
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
