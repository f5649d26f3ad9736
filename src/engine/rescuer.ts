/**
 * Returns the runs of dead nodes to the queue (their lease ran out: no heartbeat), or fails them
 * once they have been rescued `maxRescues` times, and drops pending runs whose misfire grace time
 * has passed. Safe on every node at once: the statements
 * lock with SKIP LOCKED, and fencing makes a dead node's late writes no-ops.
 */
import { LoopService } from './service.js';
import type { EngineContext } from './context.js';
import { runNames, statusChange } from '../core/types.js';

/** The rescue loop of one node. */
export class Rescuer extends LoopService {
  constructor(private readonly ctx: EngineContext) {
    super('rescuer', ctx.options.rescueIntervalMs, ctx.logger);
  }

  /** One pass: rescue, then expire (each publishes the status changes it made). */
  async runOnce(): Promise<undefined> {
    await this.rescue();
    await this.expire();
    return undefined;
  }

  /** Requeue (or fail, past maxRescues) runs whose lease expired. */
  async rescue(): Promise<number> {
    const rows = await this.ctx.store.sql.rescueRuns({ now: this.ctx.clock.now(), max_rescues: this.ctx.options.maxRescues });
    if (rows.length === 0) return 0;
    this.ctx.logger.warn({ runs: rows.map((r) => r.run_id) }, `rescued ${rows.length} run(s) from nodes that stopped heartbeating`);
    this.ctx.publish(rows.map((r) => statusChange(runNames(r), 'running', r.status === 'failed' ? 'failed' : 'pending')));
    return rows.length;
  }

  /** Drop pending runs past their misfire grace time. */
  async expire(): Promise<number> {
    const rows = await this.ctx.store.sql.expireRuns({ now: this.ctx.clock.now() });
    if (rows.length === 0) return 0;
    this.ctx.publish(rows.map((r) => statusChange(runNames(r), 'pending', 'expired')));
    return rows.length;
  }
}
