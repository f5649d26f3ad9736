/**
 * Issue #14, item 2: a timed-out handler that ignores ctx.signal overlapped its own retry on a node
 * with concurrency 1. Now an exclusive run, or a serial one (its job's overlap policy is not
 * 'allow'), is recorded only when its handler returns, so its retry cannot start before; other
 * runs are recorded at once (the documented trade-off: their retry may run beside a handler that
 * ignores its signal). The handlers here wait on a gate the test opens, and the test drives the
 * producer itself, so nothing depends on timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually } from '../helpers.js';
import { defineTask, type Logger } from '../../src/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();

/** A handler that ignores its signal: it returns when the test opens the gate. */
function stubborn() {
  const log: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let aborted = 0;
  const handler = async (_payload: unknown, ctx: { attempt: number; signal: AbortSignal }): Promise<void> => {
    log.push(`start ${ctx.attempt}`);
    ctx.signal.addEventListener('abort', () => aborted++);
    if (ctx.attempt === 1) await gate;
    log.push(`end ${ctx.attempt}`);
  };
  return { log, open, handler, aborted: () => aborted };
}

/** A logger that keeps the warnings: the executor says when an aborted handler holds back its retry. */
function warnings() {
  const seen: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (_o: unknown, message?: string) => void seen.push(String(message)), child: () => logger };
  return { logger, waiting: () => seen.some((m) => /its retry waits until the handler returns/.test(m)) };
}

async function claimAndSettle(kairos: Parameters<typeof internals>[0]): Promise<void> {
  const { producer, completer } = internals(kairos).services;
  await completer.drain();
  await producer.runOnce();
}

test('an exclusive task that ignores its timeout: the retry starts only after the handler returned', async () => {
  const s = stubborn();
  const w = warnings();
  const kairos = db.node({ concurrency: 1, logger: w.logger, tasks: { solo: defineTask(s.handler, { exclusive: true, timeout: 50, retries: 1, backoff: 0 }) } });
  await kairos.enqueue('solo', {});
  await internals(kairos).services.producer.runOnce();
  await eventually(() => s.aborted() === 1 && w.waiting(), { what: 'the first attempt to time out and its retry to be held back' });
  // Whatever the producer does now, attempt 2 must not start while attempt 1 still runs.
  for (let i = 0; i < 3; i++) await claimAndSettle(kairos);
  assert.deepEqual(s.log, ['start 1']);
  s.open();
  await eventually(async () => {
    await claimAndSettle(kairos);
    return s.log.includes('end 2');
  }, { what: 'the retry to run after the first handler returned' });
  assert.deepEqual(s.log, ['start 1', 'end 1', 'start 2', 'end 2']);
  const attempts = (await kairos.history({ task: 'solo' })).map((h) => [h.attempt, h.status, h.message]);
  assert.deepEqual(attempts, [[2, 'completed', null], [1, 'retrying', 'timed out after 50 ms']]);
});

test('a serial scheduled job (overlap skip) that ignores its timeout: the same', async () => {
  const s = stubborn();
  const w = warnings();
  const kairos = db.node({ concurrency: 2, logger: w.logger, tasks: { nightly: defineTask(s.handler, { timeout: 50 }) } });
  await kairos.schedule({ name: 'serial-job', task: 'nightly', every: '1h', retries: 1, backoff: 0 });
  await kairos.trigger('serial-job');
  await internals(kairos).services.producer.runOnce();
  await eventually(() => s.aborted() === 1 && w.waiting(), { what: 'the first attempt to time out and its retry to be held back' });
  for (let i = 0; i < 3; i++) await claimAndSettle(kairos);
  assert.deepEqual(s.log, ['start 1']);
  s.open();
  await eventually(async () => {
    await claimAndSettle(kairos);
    return s.log.includes('end 2');
  }, { what: 'the retry to run after the first handler returned' });
  assert.deepEqual(s.log, ['start 1', 'end 1', 'start 2', 'end 2']);
});

test('a plain task is recorded at once: its retry may run beside a handler that ignores its signal (documented)', async () => {
  const s = stubborn();
  const kairos = db.node({ concurrency: 2, tasks: { plain: defineTask(s.handler, { timeout: 50, retries: 1, backoff: 0 }) } });
  await kairos.enqueue('plain', {});
  await internals(kairos).services.producer.runOnce();
  await eventually(() => s.aborted() === 1, { what: 'the first attempt to time out' });
  await eventually(async () => {
    await claimAndSettle(kairos);
    return s.log.includes('end 2');
  }, { what: 'the retry to run' });
  assert.deepEqual(s.log, ['start 1', 'start 2', 'end 2']);
  s.open();
});
