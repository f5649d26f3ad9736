/**
 * OpenTelemetry spans around claiming and running, through `@opentelemetry/api` only: without an
 * SDK registered by the application every call is a no-op, so Kairos never decides where traces go.
 * Also the calling of the attempt observers (metrics, alerts). The engine gets all of it as an
 * EngineTracer (openTelemetryTracer, below) in its EngineContext, passed by the API.
 */
import { context, isSpanContextValid, trace, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import type { AttemptInfo, AttemptObserver, AttemptOutcome, AttemptWatch, EngineTracer } from '../engine/tracer.js';

/** The attempt types are the engine's (src/engine/tracer.ts): it calls the observers. */
export type { AttemptInfo, AttemptOutcome, AttemptObserver, AttemptWatch } from '../engine/tracer.js';

/** Span attribute names (stable: dashboards and queries use them). */
export const ATTR = {
  runId: 'kairos.run.id',
  job: 'kairos.job.name',
  task: 'kairos.task',
  attempt: 'kairos.run.attempt',
  queue: 'kairos.queue',
  jobType: 'kairos.job.type',
  outcome: 'kairos.run.outcome',
  claimLimit: 'kairos.claim.limit',
  claimed: 'kairos.claim.count',
  node: 'kairos.node.id',
} as const;

function tracer(): Tracer {
  // Looked up each time: the application may register its provider after Kairos was imported.
  return trace.getTracer('kairos');
}

/** The watch of an attempt that nothing traces or observes. */
const UNWATCHED: AttemptWatch = { within: (fn) => fn(), end: () => undefined };

/** Start watching an attempt: opens the `kairos.run` span and tells the observers. */
export function observeAttempt(run: AttemptInfo, observers: readonly AttemptObserver[], nodeId: string): AttemptWatch {
  const span = tracer().startSpan('kairos.run', {
    kind: SpanKind.CONSUMER,
    attributes: {
      [ATTR.runId]: run.runId,
      [ATTR.job]: run.jobName ?? run.task,
      [ATTR.task]: run.task,
      [ATTR.attempt]: run.attempt,
      [ATTR.queue]: run.queue,
      [ATTR.jobType]: run.jobType,
      [ATTR.node]: nodeId,
    },
  });
  // No SDK registered (the no-op tracer gives an invalid span context) and nobody observing: the
  // common case gets a shared watch instead of a context, closures and an object per attempt.
  const traced = isSpanContextValid(span.spanContext());
  if (!traced && observers.length === 0) return UNWATCHED;
  notify(observers, (o) => o.started?.(run));
  let ended = false;
  return {
    within: traced ? (fn) => context.with(trace.setSpan(context.active(), span), fn) : (fn) => fn(),
    end(outcome, durationMs, error) {
      if (ended) return;
      ended = true;
      endSpan(span, outcome, error);
      notify(observers, (o) => o.ended?.(run, outcome, durationMs, error));
    },
  };
}

function endSpan(span: Span, outcome: AttemptOutcome, error: unknown): void {
  span.setAttribute(ATTR.outcome, outcome);
  if (outcome === 'failed' || outcome === 'timeout') {
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error ?? outcome) });
  } else if (outcome === 'completed') {
    span.setStatus({ code: SpanStatusCode.OK });
  }
  span.end();
}

/** Run a claim (one producer round trip) inside a `kairos.claim` span. */
export async function traceClaim<T extends unknown[]>(limit: number, queues: string[], claim: () => Promise<T>): Promise<T> {
  const span = tracer().startSpan('kairos.claim', { kind: SpanKind.INTERNAL, attributes: { [ATTR.claimLimit]: limit, [ATTR.queue]: queues.join(',') } });
  try {
    const runs = await context.with(trace.setSpan(context.active(), span), claim);
    span.setAttribute(ATTR.claimed, runs.length);
    return runs;
  } catch (error) {
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** An observer that throws must not break the executor: log-free isolation (observers log themselves). */
function notify(observers: readonly AttemptObserver[], call: (o: AttemptObserver) => void): void {
  for (const observer of observers) {
    try {
      call(observer);
    } catch {
      // observers are ours (metrics, alerts) and catch their own errors; this is a last guard
    }
  }
}

/** The tracer the API passes to the engine: OpenTelemetry spans and the attempt observers. */
export const openTelemetryTracer: EngineTracer = { observeAttempt, traceClaim };
