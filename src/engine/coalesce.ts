/**
 * One query at a time for a stream of untrusted hints. Anyone can NOTIFY, so the number of
 * notifications must not set the number of queries: while a look-up runs, further hints are
 * folded into one more look-up after it (the one running may have read before their cause
 * committed). A flood then costs at most one look-up per round trip, never one per message.
 */
import type { Logger } from '../core/logger.js';

/** Runs `task` one at a time; triggers while it runs make exactly one more run. */
export class Coalesced {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly logger: Logger,
    /** Logged (with the error) when a run fails: the caller's fallback then covers it. */
    private readonly failure: string,
  ) {}

  /** Run the task now, or once more after the run in progress. */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once no run is in progress (for stop()). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.task();
      } catch (error) {
        this.logger.warn({ err: error }, this.failure);
      }
    } while (this.again);
  }
}
