/**
 * Materialises the occurrences of schedules. Every node runs a ticker; due jobs are locked with
 * SKIP LOCKED so each is handled by exactly one node, and the occurrences table's primary key
 * makes a double materialisation impossible even so. The ticker sleeps until the earliest
 * next_run (by the database clock), so fires are sub-second, not minute-polled.
 */
import { LoopService } from './service.js';
import type { EngineContext } from './context.js';
import { planJob, type JobPlan } from '../core/planner.js';
import { inTransaction } from '../store/db.js';
import { toDueJob, type Row } from '../store/rows.js';
import type { StatusChange } from '../core/types.js';

const BATCH = 100;

/** The schedule loop of one node. */
export class Ticker extends LoopService {
  /**
   * Called with the earliest run_at (DB time) of the new runs of each queue, so the local producer
   * claims them at once, or sets its timer when they were materialised ahead of their due time.
   */
  onRunsCreated: (due: Map<string, Date>) => void = () => undefined;

  constructor(private readonly ctx: EngineContext) {
    super('ticker', ctx.options.pollIntervalMs, ctx.logger);
  }

  /** A NOTIFY said a job is due at `at` (DB time), or needs planning. */
  hint(at: Date | null, plan: boolean): void {
    if (plan) return this.wake();
    if (at) this.wake(at.getTime() - this.ctx.offset.ms - Date.now() + 1);
  }

  /** Handle every due job, then sleep until the next one is due. */
  async runOnce(): Promise<number | undefined> {
    // Look first: an idle pass is one cheap read, not a transaction that locks nothing.
    // (A pinned test clock skips the look: due times are then not the database's.)
    if (this.ctx.clock.now() === null) {
      const wait = await this.untilNextDue();
      if (wait === undefined || wait > 1) return wait;
    }
    let handled: number;
    let total = 0;
    do {
      handled = await this.materialise();
      total += handled;
    } while (handled === BATCH);
    const wait = await this.untilNextDue();
    // Due by the look of it, yet nothing this node may lock (another node's custom schedule, a
    // row locked by another ticker): look again shortly rather than at once, for ever.
    return total === 0 && wait !== undefined && wait <= 1 ? Math.min(this.intervalMs, 100) : wait;
  }

  /** One batch: lock due jobs, plan them, write the plans. Returns how many jobs were locked. */
  async materialise(): Promise<number> {
    const now = this.ctx.clock.now();
    const created = await inTransaction(this.ctx.store.pool, async (client) => {
      const ahead = this.ctx.options.scheduleAheadMs;
      const rows = await this.ctx.store.run('lockDueJobs', [now, [...this.ctx.customSchedules.keys()], BATCH, ahead], client);
      if (rows.length === 0) return { count: 0, runs: [] as Row[] };
      const dbNow = rows[0]!.db_now as Date;
      const horizon = new Date(dbNow.getTime() + ahead);
      const plans = rows.map((row) => this.plan(row, dbNow, horizon));
      const runs = await this.ctx.store.run('applyPlans', applyPlanParams(plans, this.ctx.nodeId, now), client);
      return { count: rows.length, runs };
    });
    if (created.runs.length > 0) this.announce(created.runs);
    return created.count;
  }

  private plan(row: Row, dbNow: Date, horizon: Date): JobPlan {
    const job = toDueJob(row);
    try {
      const plan = planJob(job, dbNow, this.ctx.customSchedules.get(job.name), horizon);
      if (plan.missed > 0) this.ctx.logger.warn({ job: job.name, missed: plan.missed }, `job ${job.name}: ${plan.missed} missed occurrence(s) dropped by catch-up policy ${job.catchUp}`);
      // Alerts listen for this ('missed' event): only the node that planned the job emits it.
      if (plan.missed + plan.overlapSkipped > 0) {
        this.ctx.events.emit('missedFires', { job: job.name, missed: plan.missed, skipped: plan.overlapSkipped, catchUp: job.catchUp, overlap: job.overlap });
      }
      return plan;
    } catch (error) {
      // A row that cannot be planned (e.g. a bad cron written by plain SQL) must not block the others.
      this.ctx.logger.error({ err: error, job: job.name }, `job ${job.name} cannot be scheduled; its next_run is cleared`);
      return { jobId: job.jobId, nextRun: null, fired: 0, occurrences: [], replace: false, missed: 0, overlapSkipped: 0 };
    }
  }

  private announce(runs: Row[]): void {
    const changes: StatusChange[] = runs.map((r) => ({ runId: Number(r.run_id), job: String(r.task), task: String(r.task), key: (r.key as string | null) ?? null, previous: '', next: 'pending' }));
    this.ctx.publish(changes);
    const due = new Map<string, Date>();
    for (const run of runs) {
      const queue = String(run.queue);
      const at = run.run_at as Date;
      if (!(due.get(queue)! <= at)) due.set(queue, at);
    }
    this.onRunsCreated(due);
  }

  private async untilNextDue(): Promise<number | undefined> {
    const sentAt = Date.now();
    const [row] = await this.ctx.store.run<{ next_run: Date | null; unplanned: boolean; db_time: Date }>('nextJobDue', [this.ctx.options.scheduleAheadMs]);
    if (!row) return undefined;
    const receivedAt = Date.now();
    this.ctx.offset.sample(row.db_time.getTime(), sentAt, receivedAt);
    if (row.unplanned) return 0;
    if (!row.next_run) return undefined;
    // +1 ms: waking a hair early would find nothing due and cost another round trip.
    return Math.max(0, row.next_run.getTime() - row.db_time.getTime() - (receivedAt - sentAt) / 2 + 1);
  }
}

function applyPlanParams(plans: JobPlan[], nodeId: string, now: Date | null): unknown[] {
  const cursors = plans.map((p) => ({ job_id: p.jobId, next_run: p.nextRun, fired: p.fired }));
  const occurrences = plans.flatMap((p) => p.occurrences.map((o) => ({ job_id: p.jobId, scheduled_at: o.scheduledAt, outcome: o.outcome })));
  const replace = plans.filter((p) => p.replace).map((p) => p.jobId);
  return [JSON.stringify(cursors), JSON.stringify(occurrences), replace, nodeId, now];
}
