/**
 * What the engine asks of tracing and attempt observation, as an interface: the implementation
 * (OpenTelemetry spans, src/observability/tracing.ts) is passed in the EngineContext by the API,
 * so that the engine does not import observability/.
 */
/** How an attempt ended on this node; `released` = handed back unfinished (shutdown). */
export type AttemptOutcome = 'completed' | 'failed' | 'timeout' | 'cancelled' | 'released';

/**
 * One attempt, as its observers and its span see it. The engine builds it from the claimed row
 * (src/engine/executor.ts) so that the store's snake_case rows stay inside the package: this
 * shape is public and stable, the row is not.
 */
export interface AttemptInfo {
  runId: number;
  /** The job's id, or null for a run queued by enqueue(). */
  jobId: number | null;
  /** The job's name, or null for a run queued by enqueue(). */
  jobName: string | null;
  task: string;
  /** How the run executes: `task`, `sql`, `shell` or `steps`. */
  jobType: string;
  queue: string;
  priority: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** The retry limit: how many more attempts a failed run gets, in all (a limit, not the retries left). */
  retries: number;
  key: string | null;
  /** The occurrence this run is for (scheduled runs), else null. */
  scheduledAt: Date | null;
  /** When the attempt started, by the database clock. */
  startedAt: Date;
  /** Handed to this node by its enqueue while idle, not claimed. */
  handedOff: boolean;
}

/** Told of every attempt this node starts and ends (metrics, alerts). Must not throw. */
export interface AttemptObserver {
  started?(attempt: AttemptInfo): void;
  ended?(attempt: AttemptInfo, outcome: AttemptOutcome, durationMs: number, error?: unknown): void;
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
  observeAttempt(attempt: AttemptInfo, observers: readonly AttemptObserver[], nodeId: string): AttemptWatch;
  /** Run a claim (one producer round trip) inside a span. */
  traceClaim<T extends unknown[]>(limit: number, queues: string[], claim: () => Promise<T>): Promise<T>;
}
