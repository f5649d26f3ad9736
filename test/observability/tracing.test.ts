import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import {
  context, trace, ROOT_CONTEXT, SpanStatusCode, TraceFlags,
  type Attributes, type AttributeValue, type Context, type ContextManager, type Link, type Span, type SpanContext,
  type SpanOptions, type SpanStatus, type Tracer, type TracerProvider,
} from '@opentelemetry/api';
import { fixture } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';
import { SPAN_ATTRIBUTES } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';

/** A span kept in memory: what an exporter would receive. */
class MemorySpan implements Span {
  readonly attributes: Attributes = {};
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  exceptions: unknown[] = [];
  ended = false;
  private readonly ctx: SpanContext;

  constructor(readonly name: string, options: SpanOptions, readonly parent: SpanContext | undefined) {
    this.ctx = { traceId: parent?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED };
    Object.assign(this.attributes, options.attributes);
  }

  spanContext(): SpanContext { return this.ctx; }
  setAttribute(key: string, value: AttributeValue): this { this.attributes[key] = value; return this; }
  setAttributes(attributes: Attributes): this { Object.assign(this.attributes, attributes); return this; }
  addEvent(): this { return this; }
  addLink(_link: Link): this { return this; }
  addLinks(_links: Link[]): this { return this; }
  setStatus(status: SpanStatus): this { this.status = status; return this; }
  updateName(): this { return this; }
  end(): void { this.ended = true; }
  isRecording(): boolean { return !this.ended; }
  recordException(exception: unknown): void { this.exceptions.push(exception); }
}

const spans: MemorySpan[] = [];

class MemoryTracer implements Tracer {
  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const span = new MemorySpan(name, options, trace.getSpan(ctx)?.spanContext());
    spans.push(span);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = (args.length > 1 ? args[0] : {}) as SpanOptions;
    const span = this.startSpan(name, options);
    return context.with(trace.setSpan(context.active(), span), () => fn(span)) as ReturnType<F>;
  }
}

const provider: TracerProvider = { getTracer: () => new MemoryTracer() };

/** Context propagation through async calls, as the SDK's AsyncLocalStorage manager does. */
class StorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context { return this.storage.getStore() ?? ROOT_CONTEXT; }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T { return target; }
  enable(): this { return this; }
  disable(): this { return this; }
}

assert.ok(context.setGlobalContextManager(new StorageContextManager()));
assert.ok(trace.setGlobalTracerProvider(provider));

const db = await fixture();

test('each attempt is a kairos.run span with the run id, job, task, attempt and queue; failures are errors', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const kairos = db.node({
    clock,
    tasks: {
      ok: () => trace.getTracer('app').startActiveSpan('handler work', (span) => { span.end(); return 'done'; }),
      broken: () => { throw new Error('broken on purpose'); },
    },
  });
  spans.length = 0;
  const ok = await kairos.enqueue('ok', {}, { runAt: clock.now() });
  const broken = await kairos.enqueue('broken', {}, { runAt: clock.now(), queue: 'default', retries: 1, backoff: 1000 });
  assert.equal(await drain(kairos), 2);
  clock.advance(1000);
  assert.equal(await drain(kairos), 1);

  const runs = spans.filter((s) => s.name === 'kairos.run');
  assert.equal(runs.length, 3);
  assert.ok(runs.every((s) => s.ended));
  const okSpan = runs.find((s) => s.attributes[SPAN_ATTRIBUTES.runId] === ok.id)!;
  assert.deepEqual(
    [okSpan.attributes['kairos.job.name'], okSpan.attributes['kairos.task'], okSpan.attributes['kairos.run.attempt'], okSpan.attributes['kairos.queue'], okSpan.attributes['kairos.run.outcome']],
    ['ok', 'ok', 1, 'default', 'completed'],
  );
  assert.equal(okSpan.status.code, SpanStatusCode.OK);
  assert.equal(okSpan.attributes['kairos.node.id'], kairos.nodeId);
  const child = spans.find((s) => s.name === 'handler work')!;
  assert.equal(child.parent?.spanId, okSpan.spanContext().spanId, 'the handler\'s spans nest under the run span');
  assert.equal(child.spanContext().traceId, okSpan.spanContext().traceId);

  const failed = runs.filter((s) => s.attributes[SPAN_ATTRIBUTES.runId] === broken.id);
  assert.deepEqual(failed.map((s) => s.attributes['kairos.run.attempt']).sort(), [1, 2], 'one span per attempt');
  for (const span of failed) {
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.status.message, 'broken on purpose');
    assert.equal(span.attributes['kairos.run.outcome'], 'failed');
    assert.equal((span.exceptions[0] as Error).message, 'broken on purpose');
  }

  const claims = spans.filter((s) => s.name === 'kairos.claim');
  assert.ok(claims.length >= 2, 'a span per claim round trip');
  assert.ok(claims.every((s) => s.ended && s.attributes['kairos.claim.limit'] === 10 && s.attributes['kairos.queue'] === 'default'));
  assert.equal(claims.reduce((sum, s) => sum + Number(s.attributes['kairos.claim.count']), 0), 3, 'every claimed run counted once');
});

test('a claim that fails is an error span', async () => {
  const kairos = db.node({ tasks: { ok: () => 1 } });
  spans.length = 0;
  await internals(kairos).pool.end(); // the database is gone for this node
  await assert.rejects(internals(kairos).services.producer.runOnce());
  const [claim] = spans.filter((s) => s.name === 'kairos.claim');
  assert.equal(claim?.status.code, SpanStatusCode.ERROR);
  assert.ok(claim?.ended);
  assert.equal(claim?.exceptions.length, 1);
});
