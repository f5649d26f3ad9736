/**
 * Retention ("vacuum policies"). The history is kept in daily partitions (migration 0006): a pass
 * first creates the partitions of the coming days, then drops the day partitions wholly older
 * than their policy's age (a DROP TABLE: no dead rows, no vacuum), then deletes, in batches that
 * each commit on their own, the few old rows that landed in a default partition (a day that had
 * no partition yet). It also forgets old occurrence records and long-dead nodes. One node at a
 * time: an advisory lock is held for the pass (store/locks.ts).
 */
import type { Queries } from '../store/queries.js';
import { tryHoldLock } from '../store/locks.js';
import { LoopService } from './service.js';
import type { EngineContext } from './context.js';

const BATCH = 5000;
const MAX_BATCHES_PER_PASS = 100;
const DAY = 86_400_000;
/** Day partitions created ahead of the clock (the pass runs hourly by default). */
const DAYS_AHEAD = 3;
/**
 * Steps are kept a day beyond the longest attempt policy: a step finishes before its attempt,
 * so an attempt still within retention must not lose steps of a long run that began the day before.
 */
const STEP_MARGIN_MS = DAY;

/** What one pruning pass deleted. */
export interface PruneResult {
  /** Attempt records removed (in dropped partitions and deleted rows). */
  logs: number;
  /** Step records removed. */
  steps: number;
  /** Day partitions dropped. */
  partitions: number;
  occurrences: number;
  nodes: number;
  /** False when another node held the maintenance lock (nothing was done). */
  ran: boolean;
}

/** The retention loop. */
export class Pruner extends LoopService {
  constructor(private readonly ctx: EngineContext) {
    super('pruner', ctx.options.retention.intervalMs, ctx.logger);
  }

  async runOnce(): Promise<undefined> {
    const result = await this.prune();
    if (result.logs + result.steps + result.occurrences + result.nodes > 0) this.ctx.logger.info({ ...result }, 'retention pass');
    return undefined;
  }

  /** One pass over every policy. */
  async prune(): Promise<PruneResult> {
    const now = this.ctx.clock.now() ?? (await this.dbNow());
    const lockKey = `kairos-prune:${this.ctx.store.schema}`;
    // Held by an open transaction on its own connection (store/locks.ts); the pass runs on the pool.
    const lock = await tryHoldLock(this.ctx.store, lockKey);
    if (!lock) return { logs: 0, steps: 0, partitions: 0, occurrences: 0, nodes: 0, ran: false };
    try {
      return { ...(await this.sweep(now, this.ctx.store.sql)), ran: true };
    } finally {
      await lock.release();
    }
  }

  private async sweep(now: Date, db: Queries): Promise<Omit<PruneResult, 'ran'>> {
    const { retention } = this.ctx.options;
    const before = (ms: number): Date => new Date(now.getTime() - ms);
    // Yesterday too: a clock just past midnight still writes rows finished before it.
    const yesterday = new Date(Math.floor(now.getTime() / DAY) * DAY - DAY).toISOString().slice(0, 10);
    await db.historyPrepare({ from_day: yesterday, days: DAYS_AHEAD + 2 });
    const longest = Math.max(retention.completedMs, retention.failedMs, retention.cancelledMs);
    const stepsBefore = before(longest + STEP_MARGIN_MS);
    const dropped = await db.historyDropExpired({
      completed_before: before(retention.completedMs), failed_before: before(retention.failedMs), cancelled_before: before(retention.cancelledMs), steps_before: stepsBefore,
    });
    let logs = 0;
    let steps = 0;
    for (const row of dropped) {
      if (row.partition.startsWith('step_logs')) steps += row.row_count;
      else logs += row.row_count;
    }
    const policies: Array<[string[], number]> = [
      [['completed'], retention.completedMs],
      [['failed', 'expired', 'rescued', 'released', 'retrying'], retention.failedMs],
      // missed and skipped follow cancelled (neither ran): the SQL adds them (migration 0030).
      [['cancelled'], retention.cancelledMs],
    ];
    const deletedRows = async (batch: Promise<Array<{ deleted: number }>>): Promise<number> => (await batch)[0]?.deleted ?? 0;
    for (const [statuses, age] of policies) {
      logs += await batches((n) => deletedRows(db.pruneLogs({ statuses, finished_before: before(age), batch: n })));
    }
    steps += await batches((n) => deletedRows(db.pruneStepLogs({ finished_before: stepsBefore, batch: n })));
    const occurrences = await batches((n) => db.pruneOccurrences({ created_before: before(Math.max(retention.completedMs, retention.failedMs)), batch: n }));
    const nodes = await db.pruneNodes({ heartbeat_before: before(retention.nodesMs) });
    return { logs, steps, partitions: dropped.length, occurrences, nodes };
  }

  private async dbNow(): Promise<Date> {
    const [row] = await this.ctx.store.sql.dbNow();
    return row?.db_time ?? new Date();
  }
}

/** Run a batch (it resolves with the rows it deleted) until a batch comes back short. */
async function batches(batch: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES_PER_PASS; i++) {
    const deleted = await batch(BATCH);
    total += deleted;
    if (deleted < BATCH) break;
  }
  return total;
}
