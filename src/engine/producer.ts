/**
 * Claims due runs for this node in batches and hands them to the executor. Woken by NOTIFY (new
 * runs), by a timer set to the next known due time, by freed slots while a backlog remains, and
 * by the polling fallback.
 */
import { LoopService } from './service.js';
import type { EngineContext } from './context.js';
import type { Executor } from './executor.js';
import type { ClaimedRun } from '../store/store.js';
import { Handoff } from './handoff.js';
import { Coalesced } from './coalesce.js';

/**
 * How early a timer claims a run that is about to be due: the claim's round trip and commit then
 * happen before the due time, and the run is held here until it (see migration 0009).
 */
export const CLAIM_AHEAD_MS = 20;

/**
 * How many hinted due times a producer remembers; beyond that it asks the database (nextDue).
 * Only due times the node knows to be real go in: its own retries and materialised runs, and
 * those it looked up (dueFrom) — never a NOTIFY's, which anyone can send to fill the list.
 */
const MAX_DUE_TIMES = 64;

/**
 * Under `prefetch: 'auto'`, how much work a node claims ahead while a backlog lasts: as many runs
 * as it started in this long before the claim (at most `batchSize`). No-op handlers get full
 * batches (one claim per 500 runs instead of one per free slot); slow handlers get few runs ahead,
 * so a run seldom waits here while another node has a free slot.
 */
export const AUTO_PREFETCH_WINDOW_MS = 1000;

/** The claim loop of one node. */
export class Producer extends LoopService {
  /** Whether the last claim filled its batch: more work is likely waiting. */
  private backlog = false;
  /**
   * Future due times (local epoch ms) we were told of, earliest first. The timer is set for the
   * first; when it fires, the next one gets the timer, so every hinted retry or delayed run is
   * claimed on time, not at the next poll.
   */
  private dueTimes: number[] = [];
  /** Due times were dropped (more than MAX_DUE_TIMES): ask the database once the list runs out. */
  private dueOverflow = false;
  private dueTimer: NodeJS.Timeout | undefined;
  /** The look-up of the next due time in flight (it runs beside the claim loop, not in it). */
  private lookingAhead: Promise<void> | undefined;
  /** Starts the held runs (claimed ahead of their due time) when the first of them is due. */
  private holdTimer: NodeJS.Timeout | undefined;
  private passes = 0;
  /** Runs claimed ahead of free slots (the `prefetch` option), started as slots free. */
  private buffer: ClaimedRun[] = [];
  /** How many runs may be claimed ahead of free slots now: `prefetch`, or under 'auto' what the backlog earned. */
  private headroom: number;
  /** Runs started since the last claim was sent ('auto' sizes the next claim by that rate). */
  private startedSinceClaim = 0;
  private lastClaimAt = -Infinity;
  executor: Executor | undefined;
  /** Offers this node for hand-off while it is idle, and takes the runs handed to it. */
  readonly handoff: Handoff;
  /** The earliest future due time (DB epoch ms) NOTIFYs spoke of since the last look-up. */
  private notifiedFrom: number | undefined;
  /** Looks those up in `runs` (one look-up at a time, however many NOTIFYs came). */
  private readonly lookUpNotified: Coalesced;

  constructor(private readonly ctx: EngineContext) {
    super('producer', ctx.options.pollIntervalMs, ctx.logger);
    this.headroom = ctx.options.prefetch === 'auto' ? 0 : ctx.options.prefetch;
    this.handoff = new Handoff(ctx, (run) => this.take(run), () => this.taskNames());
    this.lookUpNotified = new Coalesced(() => this.dueFrom(), ctx.logger, 'looking up the due time of a NOTIFY failed; the poll will look again');
  }

  /** A run handed to this node (already running here): start it, or buffer it while slots are full. */
  private take(run: ClaimedRun): void {
    this.buffer.push(run);
    this.startBuffered();
  }

  /** Task names this node can run; in-database jobs are claimed as '@sql', '@steps', '@shell'. */
  private taskNames(): string[] {
    const names = [...this.ctx.tasks.keys()];
    if (this.ctx.options.runSqlJobs) names.push('@sql', '@steps');
    if (this.ctx.options.allowShell) names.push('@shell');
    return names;
  }

  /** A slot freed: start a prefetched run, and claim again when a backlog is likely (batched). */
  slotFreed(): void {
    if (!this.executor) return;
    this.startBuffered();
    if (!this.backlog) {
      // Idle again: a pass (claim, then arm for hand-off if nothing came) offers the node.
      if (this.executor.activeCount === 0 && this.buffer.length === 0 && this.handoff.enabled && !this.handoff.pending) this.wake();
      return;
    }
    const { concurrency } = this.ctx.options;
    const room = concurrency + this.headroom - this.executor.activeCount - this.buffer.length;
    const enough = Math.max(1, Math.floor((concurrency + this.headroom) / 4));
    if (room >= enough || this.executor.activeCount === 0) this.wake();
  }

  /** Ids of the runs claimed ahead and not started yet. */
  bufferedIds(): number[] {
    return this.buffer.map((run) => run.run_id);
  }

  /** Remove a prefetched run that was cancelled before it started; returns it, or undefined. */
  takeBuffered(runId: number): ClaimedRun | undefined {
    const index = this.buffer.findIndex((r) => r.run_id === runId);
    return index < 0 ? undefined : this.buffer.splice(index, 1)[0];
  }

  private startBuffered(): void {
    const executor = this.executor;
    if (!executor) return;
    const { concurrency } = this.ctx.options;
    let held = Infinity;
    const now = Date.now();
    for (let i = 0; i < this.buffer.length && executor.activeCount < concurrency; ) {
      const dueIn = this.localDue(this.buffer[i]!) - now;
      if (dueIn > 0) {
        held = Math.min(held, dueIn);
        i++;
        continue;
      }
      // shift() takes the head without copying the rest (most buffered runs are due in order).
      this.startedSinceClaim++;
      executor.start(i === 0 ? this.buffer.shift()! : this.buffer.splice(i, 1)[0]!);
    }
    if (held !== Infinity && !this.holdTimer) {
      this.holdTimer = setTimeout(() => {
        this.holdTimer = undefined;
        this.startBuffered();
      }, held);
    }
  }

  /** Local epoch ms at which a claimed run may start (a run claimed ahead is held until then). */
  private localDue(run: ClaimedRun): number {
    return run.hold_until ?? -Infinity;
  }

  /** Someone said runs are due at `at` (DB time) in `queue`. */
  hint(queue: string, at: Date | null): void {
    if (!this.ctx.options.queues.includes(queue)) return;
    const local = at ? at.getTime() - this.ctx.offset.ms : Date.now();
    // Due within the claim-ahead window: claim now (the claim takes it and holds it until due).
    // Through the timer, a run due "now" by a clock offset off by a millisecond waited for a
    // setTimeout instead of the next turn of the event loop.
    if (local <= Date.now() + CLAIM_AHEAD_MS) this.wake();
    else this.wakeAt(local);
  }

  /**
   * A NOTIFY said runs are due at `at` (DB time) in `queue`. Anyone can send one: due now, it
   * only wakes the loop (a wake-up coalesces into the pass planned or running); due later, its
   * time is not set as a timer but looked up (dueFrom), and the real due times found are.
   */
  notified(queue: string, at: Date): void {
    if (!this.ctx.options.queues.includes(queue)) return;
    const local = at.getTime() - this.ctx.offset.ms;
    if (local <= Date.now() + CLAIM_AHEAD_MS) return this.wake();
    // Further out than the poll interval: the poll will look again before then.
    if (local - Date.now() > this.intervalMs) return;
    // Known already (this node materialised the run: the ticker told it): nothing to look up.
    if (this.dueTimes.includes(local)) return;
    this.notifiedFrom = Math.min(this.notifiedFrom ?? Infinity, at.getTime());
    this.lookUpNotified.trigger();
  }

  /** Set timers for the pending runs due from the earliest notified time on (only real ones). */
  private async dueFrom(): Promise<void> {
    const from = this.notifiedFrom;
    this.notifiedFrom = undefined;
    const tasks = this.taskNames();
    if (from === undefined || tasks.length === 0 || !this.isStarted) return;
    const rows = await this.ctx.store.sql.dueFrom({ queues: this.ctx.options.queues, tasks, from: new Date(from), within_ms: this.intervalMs });
    for (const row of rows) this.wakeAt(row.run_at.getTime() - this.ctx.offset.ms);
  }

  /** Stop claiming, and hand prefetched runs that never started back to the queue at once. */
  override async stop(): Promise<void> {
    // First: no run may be handed over once the buffer has been handed back below.
    await this.handoff.stop().catch((error: unknown) => this.ctx.logger.warn({ err: error }, 'withdrawing this node from hand-off failed; a run handed over meanwhile is rescued when its lease runs out'));
    if (this.dueTimer) clearTimeout(this.dueTimer);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.dueTimer = undefined;
    this.holdTimer = undefined;
    this.dueTimes = [];
    await super.stop();
    await this.lookingAhead;
    await this.lookUpNotified.idle();
    const unstarted = this.buffer.splice(0);
    if (unstarted.length > 0) {
      // uncount: these attempts never ran, so the attempt number goes back.
      await this.ctx.store.release(this.ctx.nodeId, unstarted.map((r) => r.run_id), null, this.ctx.clock.now(), 0, true);
    }
  }

  private wakeAt(localMs: number): void {
    // Further out than the poll interval: the poll will look again before then.
    if (!Number.isFinite(localMs) || localMs - Date.now() > this.intervalMs) return;
    const times = this.dueTimes;
    let i = times.length;
    while (i > 0 && times[i - 1]! > localMs) i--;
    if (times[i - 1] === localMs) return;
    times.splice(i, 0, localMs);
    if (times.length > MAX_DUE_TIMES) {
      times.pop();
      this.dueOverflow = true;
    }
    if (i === 0) this.armDueTimer();
  }

  /** Set the timer for the earliest known due time (CLAIM_AHEAD_MS early). */
  private armDueTimer(): void {
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    const next = this.dueTimes[0];
    if (next === undefined || !this.isStarted) return;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      // Everything the coming claim covers is done with; the next due time gets the timer.
      const covered = Date.now() + CLAIM_AHEAD_MS;
      while (this.dueTimes.length > 0 && this.dueTimes[0]! <= covered) this.dueTimes.shift();
      this.wake();
      this.armDueTimer();
    }, Math.max(0, next - Date.now() - CLAIM_AHEAD_MS));
  }

  /** Claim as much as there is room for; returns 0 to loop at once while the backlog lasts. */
  async runOnce(): Promise<number | undefined> {
    const executor = this.executor;
    if (!executor) return undefined;
    this.startBuffered();
    const tasks = this.taskNames();
    const { concurrency, batchSize } = this.ctx.options;
    const room = concurrency + this.headroom - executor.activeCount - this.buffer.length;
    if (room <= 0 || tasks.length === 0) return undefined;
    const limit = Math.min(room, batchSize);
    const node = { id: this.ctx.nodeId, name: this.ctx.options.nodeName, tags: this.ctx.options.nodeTags };
    const sentAt = Date.now();
    const perMs = this.startRate(sentAt);
    const runs = await this.ctx.tracer.traceClaim(limit, this.ctx.options.queues, () => this.ctx.store.claim(node, this.ctx.options.queues, tasks, limit, this.ctx.clock.now(), this.ctx.options.leaseMs, this.aheadMs()));
    // The claim's now() fell between sending and receiving: hold a run claimed ahead for its
    // due_in_ms from the midpoint (by the database's clock; no clock offset involved).
    const claimedAt = (sentAt + Date.now()) / 2;
    for (const run of runs) if (run.due_in_ms) run.hold_until = claimedAt + run.due_in_ms;
    this.buffer.push(...runs);
    this.startBuffered();
    this.backlog = runs.length === limit;
    if (this.ctx.options.prefetch === 'auto') this.headroom = this.backlog ? Math.min(batchSize, Math.floor(perMs * AUTO_PREFETCH_WINDOW_MS)) : 0;
    if (this.backlog) return executor.activeCount + this.buffer.length < concurrency + this.headroom ? 0 : undefined;
    // Every few passes (or when nothing came back, or hinted due times were dropped) look up the
    // next future due time for the timer.
    const overflowed = this.dueOverflow && this.dueTimes.length === 0;
    if (overflowed) this.dueOverflow = false;
    if (runs.length === 0 || overflowed || ++this.passes % 8 === 0) this.lookAheadBeside(tasks);
    if (runs.length === 0 && executor.activeCount === 0 && this.buffer.length === 0) this.handoff.arm();
    return undefined;
  }

  /**
   * Runs started per ms since the previous claim was sent (restarts the count). After an idle
   * spell this is near 0: the first full claim earns no headroom, the next one measures afresh.
   */
  private startRate(now: number): number {
    const rate = this.startedSinceClaim / Math.max(1, now - this.lastClaimAt);
    this.startedSinceClaim = 0;
    this.lastClaimAt = now;
    return rate;
  }

  /** Claim ahead only by the database clock: a pinned test clock claims what is due, as it says. */
  private aheadMs(): number {
    return this.ctx.clock.now() === null ? CLAIM_AHEAD_MS : 0;
  }

  /**
   * Look up the next due time without holding up the loop: awaited in the pass, it delayed the
   * claim that a NOTIFY arriving meanwhile asked for by a round trip (under steady arrivals, one
   * pass in five ended with one). One look-up at a time.
   */
  private lookAheadBeside(tasks: string[]): void {
    this.lookingAhead ??= this.lookAhead(tasks)
      .catch((error: unknown) => this.ctx.logger.warn({ err: error }, 'looking up the next due run failed; the poll will look again'))
      .finally(() => {
        this.lookingAhead = undefined;
      });
  }

  private async lookAhead(tasks: string[]): Promise<void> {
    const sentAt = Date.now();
    const [row] = await this.ctx.store.sql.nextDue({ queues: this.ctx.options.queues, tasks });
    if (!row) return;
    this.ctx.offset.sample(row.db_time.getTime(), sentAt, Date.now());
    if (row.run_at) this.wakeAt(row.run_at.getTime() - this.ctx.offset.ms);
  }
}
