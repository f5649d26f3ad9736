/**
 * Materialises the occurrences of schedules. Every node runs a ticker; due jobs are locked with
 * SKIP LOCKED so each is handled by exactly one node, and the occurrences table's primary key
 * makes a double materialisation impossible even so. The ticker sleeps until the earliest
 * next_run (by the database clock), so fires are sub-second, not minute-polled.
 *
 * A malformed row (written by plain SQL, a superuser, an older version) never stops the others:
 * each row is checked and planned on its own, a row that fails is quarantined (marked broken,
 * see ./quarantine.ts), and when a statement of a batch fails on a row's values the batch is
 * rolled back and its jobs are planned one at a time, each in a savepoint, so that the row is
 * found and quarantined and the rest proceed.
 */
import { LoopService } from './service.js';
import type { EngineContext } from './context.js';
import { planJob, type JobPlan } from '../core/planner.js';
import { checkDueJob, checkPlan } from '../core/job-checks.js';
import { inTransaction } from '../store/db.js';
import { toDueJob } from '../store/rows.js';
import type { ApplyPlansParams, ApplyPlansRow, JobsToPlanRow } from '../store/queries.js';
import { runNames, statusChange, type StatusChange } from '../core/types.js';
import { Quarantine, isRowError, reasonOf, type BrokenJob, type JobBrokenEvent } from './quarantine.js';
import type pg from 'pg';

const BATCH = 100;

/** What a batch wrote: runs to announce, jobs to report as broken. */
interface Written {
  runs: ApplyPlansRow[];
  marked: JobBrokenEvent[];
}

/** The schedule loop of one node. */
export class Ticker extends LoopService {
  /**
   * Called with the earliest run_at (DB time) of the new runs of each queue, so the local producer
   * claims them at once, or sets its timer when they were materialised ahead of their due time.
   */
  onRunsCreated: (due: Map<string, Date>) => void = () => undefined;
  private readonly quarantine: Quarantine;

  constructor(private readonly ctx: EngineContext) {
    super('ticker', ctx.options.pollIntervalMs, ctx.logger);
    this.quarantine = new Quarantine(ctx);
  }

  /** A NOTIFY said a job is due at `at` (DB time), or needs planning. */
  hint(at: Date | null, plan: boolean): void {
    if (plan || (at && Number.isNaN(at.getTime()))) return this.wake();
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
    let locked: number[] = [];
    try {
      return await this.batch(null, (ids) => (locked = ids));
    } catch (error) {
      // Only the lock can fail before any row is read, and it computes on no row's values.
      if (locked.length === 0 || !isRowError(error)) throw error;
      this.ctx.logger.warn({ err: error, jobs: locked.length }, `a ticker batch of ${locked.length} job(s) failed (${reasonOf(error)}); planning them one at a time`);
      for (const id of locked) await this.batch(id);
      return locked.length;
    }
  }

  /** Lock the due jobs (or only job `only`, still due), plan them and write the plans in one transaction. */
  private async batch(only: number | null, onLocked?: (ids: number[]) => void): Promise<number> {
    const now = this.ctx.clock.now();
    const ahead = this.ctx.options.scheduleAheadMs;
    const done = await inTransaction(this.ctx.store.pool, async (client) => {
      const locked = await this.ctx.store.sql.lockDueJobs({
        now, custom_schedules: [...this.ctx.customSchedules.keys()], limit: only === null ? BATCH : 1, ahead_ms: ahead,
        only_job_id: only, skipped_job_ids: this.quarantine.skippedIds(),
      }, client);
      if (locked.length === 0) return { count: 0, runs: [], marked: [] };
      const ids = locked.map((row) => row.job_id);
      onLocked?.(ids);
      const dbNow = locked[0]!.db_now;
      const work = (): Promise<Written> => this.planAndWrite(ids, dbNow, new Date(dbNow.getTime() + ahead), now, client);
      return { count: ids.length, ...(only === null ? await work() : await this.isolated(only, work, client)) };
    });
    if (done.runs.length > 0) this.announce(done.runs);
    this.quarantine.report(done.marked);
    return done.count;
  }

  /** Read, check and plan the locked jobs; write the plans, and quarantine the rows that failed. */
  private async planAndWrite(ids: number[], dbNow: Date, horizon: Date, now: Date | null, client: pg.PoolClient): Promise<Written> {
    const rows = await this.ctx.store.sql.jobsToPlan({ job_ids: ids }, client);
    const plans: JobPlan[] = [];
    const broken: BrokenJob[] = [];
    for (const row of rows) {
      const planned = this.plan(row, dbNow, horizon);
      if ('reason' in planned) broken.push(planned);
      else plans.push(planned);
    }
    const runs = plans.length > 0 ? await this.ctx.store.sql.applyPlans(applyPlanParams(plans, this.ctx.nodeId, now), client) : [];
    return { runs, marked: await this.quarantine.write(broken, client) };
  }

  /**
   * One job in a savepoint: when its statements fail on its values, they are rolled back and the
   * job is quarantined with the database's message (the lock taken before the savepoint is kept).
   */
  private async isolated(jobId: number, work: () => Promise<Written>, client: pg.PoolClient): Promise<Written> {
    await client.query('SAVEPOINT plan_job');
    try {
      return await work();
    } catch (error) {
      if (!isRowError(error)) throw error;
      await client.query('ROLLBACK TO SAVEPOINT plan_job');
      const job: BrokenJob = { jobId, reason: reasonOf(error) };
      try {
        return { runs: [], marked: await this.quarantine.write([job], client) };
      } catch (refusal) {
        if (!isRowError(refusal)) throw refusal;
        await client.query('ROLLBACK TO SAVEPOINT plan_job');
        this.quarantine.unwritable(job, refusal);
        return { runs: [], marked: [] };
      }
    }
  }

  /** Check and plan one row: its plan, or why it is broken. */
  private plan(row: JobsToPlanRow, dbNow: Date, horizon: Date): JobPlan | BrokenJob {
    const broken = (reason: string): BrokenJob => ({ jobId: row.job_id, name: row.job_name, reason });
    try {
      const job = toDueJob(row);
      checkDueJob(job);
      let plan: JobPlan;
      try {
        plan = planJob(job, dbNow, this.ctx.customSchedules.get(job.name), horizon);
      } catch (error) {
        // A bad cron expression, a custom schedule that throws or goes backwards.
        return broken(`cannot be planned: ${reasonOf(error)}`);
      }
      checkPlan(job, plan);
      if (plan.missed > 0) this.ctx.logger.warn({ job: job.name, missed: plan.missed }, `job ${job.name}: ${plan.missed} missed occurrence(s) dropped by catch-up policy ${job.catchUp}`);
      // Alerts listen for this ('missed' event): only the node that planned the job emits it.
      if (plan.missed + plan.overlapSkipped > 0) {
        this.ctx.events.emit('missedFires', { job: job.name, missed: plan.missed, skipped: plan.overlapSkipped, catchUp: job.catchUp, overlap: job.overlap });
      }
      return plan;
    } catch (error) {
      return broken(reasonOf(error));
    }
  }

  private announce(runs: ApplyPlansRow[]): void {
    const changes: StatusChange[] = runs.map((r) => statusChange(runNames(r), '', 'pending'));
    this.ctx.publish(changes);
    const due = new Map<string, Date>();
    for (const run of runs) {
      if (!(due.get(run.queue)! <= run.run_at)) due.set(run.queue, run.run_at);
    }
    this.onRunsCreated(due);
  }

  private async untilNextDue(): Promise<number | undefined> {
    const sentAt = Date.now();
    const [row] = await this.ctx.store.sql.nextJobDue({ ahead_ms: this.ctx.options.scheduleAheadMs });
    if (!row) return undefined;
    const receivedAt = Date.now();
    this.ctx.offset.sample(row.db_time.getTime(), sentAt, receivedAt);
    if (row.unplanned) return 0;
    if (row.next_run === null || Number.isNaN(row.next_run.getTime())) return undefined;
    // +1 ms: waking a hair early would find nothing due and cost another round trip.
    return Math.max(0, row.next_run.getTime() - row.db_time.getTime() - (receivedAt - sentAt) / 2 + 1);
  }
}

function applyPlanParams(plans: JobPlan[], nodeId: string, now: Date | null): ApplyPlansParams {
  const cursors = plans.map((p) => ({ job_id: p.jobId, next_run: p.nextRun, fired: p.fired }));
  // An occurrence with a message also gets a history entry (see applyPlans): a skipped one carries
  // its entry's message; the missed ones are sent for their entries only.
  type Occurrence = { job_id: number; scheduled_at: Date; outcome: 'run' | 'skipped' | 'missed'; message?: string };
  const occurrences = plans.flatMap((p): Occurrence[] => {
    if (p.history.length === 0) return p.occurrences.map((o) => ({ job_id: p.jobId, scheduled_at: o.scheduledAt, outcome: o.outcome }));
    const skipped = new Map(p.history.filter((h) => h.status === 'skipped').map((h) => [h.scheduledAt.getTime(), h.message]));
    return [
      ...p.occurrences.map((o) => ({ job_id: p.jobId, scheduled_at: o.scheduledAt, outcome: o.outcome, message: o.outcome === 'skipped' ? skipped.get(o.scheduledAt.getTime()) : undefined })),
      ...p.history.filter((h) => h.status === 'missed').map((h) => ({ job_id: p.jobId, scheduled_at: h.scheduledAt, outcome: h.status, message: h.message })),
    ];
  });
  const replace = plans.filter((p) => p.replace).map((p) => p.jobId);
  return { cursors: JSON.stringify(cursors), occurrences: JSON.stringify(occurrences), replace_job_ids: replace, node_id: nodeId, now };
}
