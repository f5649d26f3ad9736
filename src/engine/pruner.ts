/**
 * Retention ("vacuum policies"). The history is kept in daily partitions (migration 0006): a pass
 * first creates the partitions of the coming days, then drops the day partitions wholly older
 * than their policy's age (a DROP TABLE: no dead rows, no vacuum), then deletes, in batches that
 * each commit on their own, the few old rows that landed in a default partition (a day that had
 * no partition yet). It also forgets old occurrence records and long-dead nodes. One node at a
 * time: a session advisory lock is held for the pass.
 */
import type pg from 'pg';
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
    const client = await this.ctx.store.pool.connect();
    try {
      const [lock] = await this.ctx.store.run<{ locked: boolean }>('tryExclusiveLock', [lockKey], client);
      if (!lock?.locked) return { logs: 0, steps: 0, partitions: 0, occurrences: 0, nodes: 0, ran: false };
      try {
        return { ...(await this.sweep(now, client)), ran: true };
      } finally {
        await this.ctx.store.run('exclusiveUnlock', [lockKey], client);
      }
    } finally {
      client.release();
    }
  }

  private async sweep(now: Date, client: pg.PoolClient): Promise<Omit<PruneResult, 'ran'>> {
    const { retention } = this.ctx.options;
    const before = (ms: number): Date => new Date(now.getTime() - ms);
    // Yesterday too: a clock just past midnight still writes rows finished before it.
    const yesterday = new Date(Math.floor(now.getTime() / DAY) * DAY - DAY).toISOString().slice(0, 10);
    await client.query(this.ctx.store.queries.get('historyPrepare'), [yesterday, DAYS_AHEAD + 2]);
    const longest = Math.max(retention.completedMs, retention.failedMs, retention.cancelledMs);
    const stepsBefore = before(longest + STEP_MARGIN_MS);
    const dropped = await client.query<{ partition: string; row_count: string }>(this.ctx.store.queries.get('historyDropExpired'), [
      before(retention.completedMs), before(retention.failedMs), before(retention.cancelledMs), stepsBefore,
    ]);
    let logs = 0;
    let steps = 0;
    for (const row of dropped.rows) {
      if (row.partition.startsWith('step_logs')) steps += Number(row.row_count);
      else logs += Number(row.row_count);
    }
    const policies: Array<[string[], number]> = [
      [['completed'], retention.completedMs],
      [['failed', 'expired', 'rescued', 'released', 'retrying'], retention.failedMs],
      [['cancelled'], retention.cancelledMs],
    ];
    for (const [statuses, age] of policies) logs += await this.batches('pruneLogs', (n) => [statuses, before(age), n], client);
    steps += await this.batches('pruneStepLogs', (n) => [stepsBefore, n], client);
    const occurrences = await this.batches('pruneOccurrences', (n) => [before(Math.max(retention.completedMs, retention.failedMs)), n], client);
    const nodes = (await client.query(this.ctx.store.queries.get('pruneNodes'), [before(retention.nodesMs)])).rowCount ?? 0;
    return { logs, steps, partitions: dropped.rowCount ?? 0, occurrences, nodes };
  }

  /** Run a batch query until a batch comes back short. It reports its count as `deleted` or as rowCount. */
  private async batches(query: string, params: (limit: number) => unknown[], client: pg.PoolClient): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_BATCHES_PER_PASS; i++) {
      const result = await client.query<{ deleted?: number }>(this.ctx.store.queries.get(query), params(BATCH));
      const deleted = result.rows[0]?.deleted !== undefined ? Number(result.rows[0].deleted) : (result.rowCount ?? 0);
      total += deleted;
      if (deleted < BATCH) break;
    }
    return total;
  }

  private async dbNow(): Promise<Date> {
    const [row] = await this.ctx.store.run<{ db_time: Date }>('dbNow', []);
    return row?.db_time ?? new Date();
  }
}
