/**
 * The shape of every background loop: idempotent start()/stop(), a runOnce() that does one pass
 * and can be called directly by tests, and wake() to run a pass early (on NOTIFY, on a timer).
 */
import type { Logger } from '../core/logger.js';

/** A background loop. */
export abstract class LoopService {
  /** The planned pass: a timer, or an immediate for a pass due now. */
  private timer: { cancel(): void } | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private started = false;
  /** Local epoch ms at which the next pass is scheduled. */
  private nextAt = Infinity;

  protected constructor(
    /** Used in log lines. */
    readonly name: string,
    /** Longest pause between two passes (the polling fallback), in ms. */
    protected readonly intervalMs: number,
    protected readonly logger: Logger,
  ) {}

  /** One pass. Returns how long to wait before the next pass (ms), or undefined for the interval. */
  abstract runOnce(): Promise<number | undefined | void>;

  /** True between start() and stop(). */
  get isStarted(): boolean {
    return this.started;
  }

  /** Start the loop; the first pass runs at once. Calling it twice does nothing. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /** Stop the loop and wait for a pass in progress. Calling it twice does nothing. */
  async stop(): Promise<void> {
    this.started = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.nextAt = Infinity;
    await this.running;
  }

  /** Run a pass in `delayMs` (default now), unless one is already planned sooner. */
  wake(delayMs = 0): void {
    if (!this.started || delayMs > this.intervalMs) return;
    if (this.running && delayMs <= 0) {
      this.rerun = true;
      return;
    }
    this.schedule(delayMs);
  }

  private schedule(delayMs: number): void {
    const at = Date.now() + Math.max(0, delayMs);
    if (this.timer && at >= this.nextAt) return;
    this.timer?.cancel();
    this.nextAt = at;
    // setTimeout(0) waits a millisecond or more: a pass due now (a NOTIFY, a backlog) runs on the
    // next turn of the event loop instead.
    if (delayMs <= 0) {
      const immediate = setImmediate(() => this.tick());
      this.timer = { cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(() => this.tick(), delayMs);
      this.timer = { cancel: () => clearTimeout(timeout) };
    }
  }

  private tick(): void {
    this.timer = undefined;
    this.nextAt = Infinity;
    if (!this.started) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
  }

  private async pass(): Promise<void> {
    let delay: number | undefined;
    try {
      delay = (await this.runOnce()) ?? undefined;
    } catch (error) {
      this.logger.error({ err: error, service: this.name }, `${this.name} pass failed`);
      delay = Math.min(this.intervalMs, 1000);
    }
    if (!this.started) return;
    if (this.rerun) {
      this.rerun = false;
      delay = 0;
    }
    this.schedule(Math.min(delay ?? this.intervalMs, this.intervalMs));
  }
}
