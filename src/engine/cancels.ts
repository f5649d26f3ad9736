/**
 * Cancellation of this node's runs as the database has it. A cancel NOTIFY names a run and a
 * node, but anyone can send one: it only makes the node ask which of the runs it holds are
 * flagged `cancel_requested` (and with which `cancel_reason`, migration 0017), and the node stops
 * those. One extra round trip on a real cancel; a flood of forged ones costs one small read per
 * round trip (Coalesced), and a node holding no run asks nothing. The heartbeat returns the same
 * flags, in case the NOTIFY is lost.
 */
import type { EngineContext } from './context.js';
import { Coalesced } from './coalesce.js';

/** Reads the cancellation flags of this node's runs when told to look. */
export class CancelCheck {
  private readonly check: Coalesced;

  constructor(
    private readonly ctx: EngineContext,
    /** The runs this node holds (running, buffered, or being recorded). */
    private readonly tracked: () => number[],
    /** Stop a run of this node, with the reason the database has for it (undefined: none given). */
    private readonly cancel: (runId: number, reason: string | undefined) => void,
  ) {
    this.check = new Coalesced(() => this.look(), ctx.logger, 'checking for cancelled runs failed; the heartbeat checks again');
  }

  /** A cancel NOTIFY named this node: look (now, or once more after the look in progress). */
  hint(): void {
    this.check.trigger();
  }

  /** Resolves once no look is in progress. */
  idle(): Promise<void> {
    return this.check.idle();
  }

  private async look(): Promise<void> {
    const ids = this.tracked();
    if (ids.length === 0) return;
    const rows = await this.ctx.store.sql.cancelsRequested({ node_id: this.ctx.nodeId, run_ids: ids });
    for (const row of rows) this.cancel(row.run_id, row.cancel_reason ?? undefined);
  }
}
