/**
 * The abort state of one attempt, made cheap for the common case. Most attempts end without being
 * aborted and without their handler looking at `signal`; an AbortController, an 'abort' listener
 * and a logger child for each of them were a sixth of a busy node's garbage. So the controller is
 * made only when someone reads `signal`, and aborting settles `aborted` directly.
 */
export class RunAbort {
  private controller: AbortController | undefined;
  private failure: Error | undefined;
  private rejectRace: ((reason: Error) => void) | undefined;

  /** Rejects with the abort reason once abort() is called (for a Promise.race with the handler). */
  readonly aborted: Promise<never> = new Promise<never>((_, reject) => {
    this.rejectRace = reject;
  });

  constructor() {
    // The race is not always awaited (a handler that finishes first): never an unhandled rejection.
    this.aborted.catch(() => undefined);
  }

  /** The AbortSignal handed to the handler, made on first use (already aborted if it was). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.failure) this.controller.abort(this.failure);
    }
    return this.controller.signal;
  }

  /** Why the attempt was aborted, or undefined. */
  get reason(): Error | undefined {
    return this.failure;
  }

  /** Abort once (later calls are ignored): the signal fires and `aborted` rejects. */
  abort(reason: Error): void {
    if (this.failure) return;
    this.failure = reason;
    this.controller?.abort(reason);
    this.rejectRace?.(reason);
  }
}
