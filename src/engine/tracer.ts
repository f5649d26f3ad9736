/**
 * What the engine asks of tracing and attempt observation, as an interface: the implementation
 * (OpenTelemetry spans, src/observability/tracing.ts) is passed in the EngineContext by the API,
 * so that the engine does not import observability/.
 */
import type { ClaimedRun } from '../store/store.js';

/** How an attempt ended on this node; `released` = handed back unfinished (shutdown). */
export type AttemptOutcome = 'completed' | 'failed' | 'timeout' | 'cancelled' | 'released';

/** Told of every attempt this node starts and ends (metrics, alerts). Must not throw. */
export interface AttemptObserver {
  started?(run: ClaimedRun): void;
  ended?(run: ClaimedRun, outcome: AttemptOutcome, durationMs: number, error?: unknown): void;
}

/** One attempt being watched: run the handler inside it, then end it once. */
export interface AttemptWatch {
  /** Run `fn` with the attempt's span as the active span, so the handler's own spans nest under it. */
  within<T>(fn: () => Promise<T>): Promise<T>;
  /** End the attempt (the first call counts). */
  end(outcome: AttemptOutcome, durationMs: number, error?: unknown): void;
}

/** Spans around claiming and running, and the telling of attempt observers. */
export interface EngineTracer {
  /** Start watching an attempt: open its span and tell the observers it started. */
  observeAttempt(run: ClaimedRun, observers: readonly AttemptObserver[], nodeId: string): AttemptWatch;
  /** Run a claim (one producer round trip) inside a span. */
  traceClaim<T extends unknown[]>(limit: number, queues: string[], claim: () => Promise<T>): Promise<T>;
}
