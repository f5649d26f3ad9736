/**
 * Retention ("vacuum policies"): deletes old attempt records by status and age, old occurrence
 * records and long-dead nodes, in batches that each commit on their own (short locks, vacuum can
 * follow), one node at a time (a session advisory lock held for the pass).
 */
import { LoopService } from './service.js';
import type { EngineContext } from './context.js';

const BATCH = 5000;
const MAX_BATCHES_PER_PASS = 100;

/** What one pruning pass deleted. */
export interface PruneResult {
  logs: number;
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
    if (result.logs + result.occurrences + result.nodes > 0) this.ctx.logger.info({ ...result }, 'retention pass');
    return undefined;
  }

  /** One pass over every policy. */
  async prune(): Promise<PruneResult> {
    const { retention } = this.ctx.options;
    const now = this.ctx.clock.now() ?? (await this.dbNow());
    const before = (ms: number): Date => new Date(now.getTime() - ms);
    const lockKey = `kairos-prune:${this.ctx.store.schema}`;
    const client = await this.ctx.store.pool.connect();
    try {
      const [lock] = await this.ctx.store.run<{ locked: boolean }>('tryExclusiveLock', [lockKey], client);
      if (!lock?.locked) return { logs: 0, occurrences: 0, nodes: 0, ran: false };
      try {
      let logs = 0;
      const policies: Array<[string[], number]> = [
        [['completed'], retention.completedMs],
        [['failed', 'expired', 'rescued', 'released', 'retrying'], retention.failedMs],
        [['cancelled'], retention.cancelledMs],
      ];
      for (const [statuses, age] of policies) logs += await this.batches('pruneLogs', (n) => [statuses, before(age), n], client);
      const keepOccurrences = Math.max(retention.completedMs, retention.failedMs);
      const occurrences = await this.batches('pruneOccurrences', (n) => [before(keepOccurrences), n], client);
      const nodes = (await client.query(this.ctx.store.queries.get('pruneNodes'), [before(retention.nodesMs)])).rowCount ?? 0;
      return { logs, occurrences, nodes, ran: true };
      } finally {
        await this.ctx.store.run('exclusiveUnlock', [lockKey], client);
      }
    } finally {
      client.release();
    }
  }

  private async batches(query: string, params: (limit: number) => unknown[], client: import('pg').PoolClient): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_BATCHES_PER_PASS; i++) {
      const deleted = (await client.query(this.ctx.store.queries.get(query), params(BATCH))).rowCount ?? 0;
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
