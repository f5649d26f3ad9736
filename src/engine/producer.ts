/**
 * Claims due runs for this node in batches and hands them to the executor. Woken by NOTIFY (new
 * runs), by a timer set to the next known due time, by freed slots while a backlog remains, and
 * by the polling fallback.
 */
import { LoopService } from './service.js';
import type { EngineContext } from './context.js';
import type { Executor } from './executor.js';

/** The claim loop of one node. */
export class Producer extends LoopService {
  /** Whether the last claim filled its batch: more work is likely waiting. */
  private backlog = false;
  /** Local epoch ms of the earliest future due time we know of. */
  private nextDueAt = Infinity;
  private dueTimer: NodeJS.Timeout | undefined;
  private passes = 0;
  executor: Executor | undefined;

  constructor(private readonly ctx: EngineContext) {
    super('producer', ctx.options.pollIntervalMs, ctx.logger);
  }

  /** Task names this node can run; in-database jobs are claimed as '@sql', '@steps', '@shell'. */
  private taskNames(): string[] {
    const names = [...this.ctx.tasks.keys()];
    if (this.ctx.options.runSqlJobs) names.push('@sql', '@steps');
    if (this.ctx.options.allowShell) names.push('@shell');
    return names;
  }

  /** A slot freed: claim again when a backlog is likely (batched: wait for enough free slots). */
  slotFreed(): void {
    if (!this.backlog || !this.executor) return;
    const free = this.ctx.options.concurrency - this.executor.activeCount;
    const enough = Math.max(1, Math.floor(this.ctx.options.concurrency / 4));
    if (free >= enough || this.executor.activeCount === 0) this.wake();
  }

  /** Someone said runs are due at `at` (DB time) in `queue`; `offsetMs` maps DB time to local time. */
  hint(queue: string, at: Date | null, offsetMs: number): void {
    if (!this.ctx.options.queues.includes(queue)) return;
    const local = at ? at.getTime() - offsetMs : Date.now();
    if (local <= Date.now() + 1) this.wake();
    else this.wakeAt(local);
  }

  override async stop(): Promise<void> {
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    await super.stop();
  }

  private wakeAt(localMs: number): void {
    // Further out than the poll interval: the poll will look again before then.
    if (localMs >= this.nextDueAt || localMs - Date.now() > this.intervalMs) return;
    this.nextDueAt = localMs;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      this.nextDueAt = Infinity;
      this.wake();
    }, Math.max(0, localMs - Date.now() + 1));
  }

  /** Claim as much as there is room for; returns 0 to loop at once while the backlog lasts. */
  async runOnce(): Promise<number | undefined> {
    const executor = this.executor;
    if (!executor) return undefined;
    const tasks = this.taskNames();
    const free = this.ctx.options.concurrency - executor.activeCount;
    if (free <= 0 || tasks.length === 0) return undefined;
    const limit = Math.min(free, this.ctx.options.batchSize);
    const node = { id: this.ctx.nodeId, name: this.ctx.options.nodeName, tags: this.ctx.options.nodeTags };
    const runs = await this.ctx.store.claim(node, this.ctx.options.queues, tasks, limit, this.ctx.clock.now(), this.ctx.options.leaseMs);
    for (const run of runs) executor.start(run);
    this.backlog = runs.length === limit;
    if (this.backlog) return executor.activeCount < this.ctx.options.concurrency ? 0 : undefined;
    // Every few passes (or when nothing came back) look up the next future due time for the timer.
    if (runs.length === 0 || ++this.passes % 8 === 0) await this.lookAhead(tasks);
    return undefined;
  }

  private async lookAhead(tasks: string[]): Promise<void> {
    const [row] = await this.ctx.store.run<{ run_at: Date }>('nextDue', [this.ctx.options.queues, tasks]);
    if (row) this.wakeAt(row.run_at.getTime() - this.ctx.offsetMs);
  }
}
