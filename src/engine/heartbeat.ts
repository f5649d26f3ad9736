/**
 * Proves this node alive: updates its registry row and extends the lease of every run it still
 * works on (running, claimed ahead, or with its result being written). A run leased to this node
 * that it no longer tracks (its result given up on during a long outage) is left to expire and be
 * rescued, instead of being held for ever by a node that is alive.
 * The same round trip returns runs flagged for cancellation, the fallback for a lost NOTIFY.
 */
import { LoopService } from './service.js';
import type { EngineContext } from './context.js';
import type { Executor } from './executor.js';

/** The heartbeat loop of one node. */
export class Heartbeat extends LoopService {
  /** Re-register when the node row has vanished (pruned or deleted by an operator). */
  onNodeMissing: () => Promise<void> = async () => undefined;
  /** The runs this node works on; wired by Kairos to the executor, producer and completer. */
  tracked: () => number[] = () => this.executor.activeIds();
  /** A run of this node was flagged for cancellation, with its reason if one was given (the fallback for a lost NOTIFY). */
  onCancelRequested: (runId: number, reason: string | undefined) => void = (runId, reason) => void this.executor.cancel(runId, reason);

  constructor(
    private readonly ctx: EngineContext,
    private readonly executor: Executor,
  ) {
    super('heartbeat', ctx.options.heartbeatIntervalMs, ctx.logger);
  }

  async runOnce(): Promise<undefined> {
    const sentAt = Date.now();
    const rows = await this.ctx.store.sql.heartbeat({
      node_id: this.ctx.nodeId, lease_ms: this.ctx.options.leaseMs, now: this.ctx.clock.now(), run_ids: this.tracked(),
    });
    if ((rows[0]?.node_found ?? 0) === 0) await this.onNodeMissing();
    for (const row of rows) {
      if (row.run_id !== null && row.cancel_requested) this.onCancelRequested(row.run_id, row.cancel_reason ?? undefined);
    }
    if (Date.now() - sentAt > this.ctx.options.leaseMs / 2) {
      this.ctx.logger.warn({ ms: Date.now() - sentAt }, 'heartbeat took more than half the lease; runs risk being rescued');
    }
    return undefined;
  }
}
