import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually } from '../helpers.js';
import { drain, TestClock, waitForRun, waitForStatus } from '../../src/testing/index.js';
import { KairosTimeoutError, KairosCancelledError } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();

test('a failing run is retried with exponential backoff, then fails for good', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  let calls = 0;
  const kairos = db.node({ clock, tasks: { flaky: () => { calls++; throw new Error(`boom ${calls}`); } } });
  const { id } = await kairos.enqueue('flaky', {}, { retries: 2, backoff: 1000, runAt: clock.now() });
  assert.equal(await drain(kairos), 1);
  let [run] = await kairos.listRuns({ task: 'flaky' });
  assert.equal(run?.status, 'pending');
  assert.equal(run?.lastError, 'boom 1');
  const firstDelay = run!.runAt.getTime() - clock.now().getTime();
  assert.ok(firstDelay >= 500 && firstDelay <= 1000, `first backoff ${firstDelay} ms within [500, 1000]`);
  assert.equal(await drain(kairos), 0, 'not retried before its backoff');
  clock.advance(1000);
  assert.equal(await drain(kairos), 1);
  [run] = await kairos.listRuns({ task: 'flaky' });
  const secondDelay = run!.runAt.getTime() - clock.now().getTime();
  assert.ok(secondDelay >= 1000 && secondDelay <= 2000, `second backoff ${secondDelay} ms within [1000, 2000]`);
  clock.advance(2000);
  assert.equal(await drain(kairos), 1);
  assert.equal(calls, 3);
  const logs = await kairos.history({ runId: id });
  assert.deepEqual(logs.map((l) => [l.attempt, l.status]), [[3, 'failed'], [2, 'retrying'], [1, 'retrying']]);
  assert.equal(logs[0]?.message, 'boom 3');
  assert.equal(await db.count('runs', 'run_id = $1', [id]), 0);
});

test('retries due at different times each start at their own due time, not at the next poll', async () => {
  const attempts = new Map<string, number>();
  const kairos = db.node({
    pollInterval: 60_000,
    tasks: {
      flaky: (p: { name: string }) => {
        const n = (attempts.get(p.name) ?? 0) + 1;
        attempts.set(p.name, n);
        if (n === 1) throw new Error('first attempt fails');
      },
    },
  });
  // Three retries with different backoffs: the producer's timer can only be set for one of them
  // at a time, and each of the others must still be claimed without waiting 60 s for the poll.
  await kairos.enqueueMany([200, 1000, 2000].map((backoff) => ({ task: 'flaky', payload: { name: `b${backoff}` }, retries: 1, backoff })));
  await kairos.start();
  await eventually(async () => (await db.count('job_logs', "task = 'flaky' AND status = 'completed'")) === 3, 20_000, 'three retried runs to complete');
  await kairos.stop();
  assert.deepEqual([...attempts.values()], [2, 2, 2]);
});

test('a run that exceeds its timeout is aborted and recorded as failed', async () => {
  let aborted: unknown;
  const kairos = db.node({
    tasks: {
      slow: (_p: unknown, ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => { aborted = ctx.signal.reason; reject(ctx.signal.reason); })),
    },
  });
  await kairos.start();
  const { id } = await kairos.enqueue('slow', {}, { timeout: 100, retries: 0 });
  const change = await waitForRun(kairos, id);
  assert.equal(change.next, 'failed');
  assert.ok(aborted instanceof KairosTimeoutError);
  const [log] = await kairos.history({ runId: id });
  assert.match(log!.message!, /timed out after 100 ms/);
  await kairos.stop();
});

test('cancel: a pending run is dropped, a running one is aborted on the node that runs it', async () => {
  const worker = db.node({ tasks: { hang: (_p: unknown, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) } });
  const other = db.node({ queues: ['elsewhere'] });
  await worker.start();
  await other.start();
  const pending = await other.enqueue('hang', {}, { runAt: new Date(Date.now() + 3_600_000) });
  assert.equal(await other.cancel(pending.id), 'cancelled');
  assert.equal((await other.history({ runId: pending.id }))[0]?.status, 'cancelled');

  // Listening before the enqueue: an idle worker may start a run handed to it before enqueue() returns.
  const started = waitForStatus(worker, (c) => c.task === 'hang' && c.next === 'running');
  const running = await other.enqueue('hang', {});
  assert.equal((await started).runId, running.id);
  const seen = waitForRun(worker, running.id);
  assert.equal(await other.cancel(running.id, 'operator asked'), 'cancelling');
  assert.equal((await seen).next, 'cancelled');
  const [log] = await other.history({ runId: running.id });
  assert.equal(log?.status, 'cancelled');
  assert.equal(log?.nodeId, worker.nodeId);
  await assert.rejects(other.cancel(running.id), /No pending or running run/);
  await Promise.all([worker.stop(), other.stop()]);
});

test('a node that stops heartbeating loses its run to another node, and its late result is fenced off', async () => {
  const clock = new TestClock(new Date());
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let runsOnA = 0;
  let runsOnB = 0;
  const a = db.node({ clock, lease: 5000, tasks: { job: async () => { runsOnA++; await gate; return 'from A'; } } });
  const b = db.node({ clock, lease: 5000, tasks: { job: () => { runsOnB++; return 'from B'; } } });
  const { id } = await a.enqueue('job', {}, { runAt: clock.now() });
  await internals(a).services.producer.runOnce();
  assert.equal(runsOnA, 1);
  // A "dies": no heartbeat (it was never started). B's rescuer sees the lease expired.
  clock.advance(6000);
  assert.equal(await internals(b).services.rescuer.rescue(), 1);
  assert.equal(await drain(b), 1);
  assert.equal(runsOnB, 1);
  release();
  await internals(a).services.executor.waitForIdle(5000);
  await internals(a).services.completer.drain();
  const logs = await b.history({ runId: id });
  // The rescued attempt names the node that lost it (A), not the rescuer, and not nobody.
  assert.deepEqual(logs.map((l) => [l.attempt, l.status, l.nodeId]), [[2, 'completed', b.nodeId], [1, 'rescued', a.nodeId]]);
  assert.equal(logs[1]?.finishedAt.getTime(), clock.now().getTime(), 'rescued at the (test) clock\'s time');
  assert.deepEqual(logs[0]?.output, 'from B');
  assert.equal(await db.count('job_logs', "run_id = $1 AND status = 'completed'", [id]), 1);
});

test('a run rescued too often is failed instead of looping', async () => {
  const clock = new TestClock(new Date());
  const a = db.node({ clock, lease: 1000, maxRescues: 1, tasks: { poison: () => new Promise(() => undefined) } });
  const { id } = await a.enqueue('poison', {}, { runAt: clock.now() });
  await internals(a).services.producer.runOnce();
  clock.advance(2000);
  assert.equal(await internals(a).services.rescuer.rescue(), 1);
  await internals(a).services.producer.runOnce();
  clock.advance(2000);
  assert.equal(await internals(a).services.rescuer.rescue(), 1);
  const [last, rescued] = await a.history({ runId: id });
  assert.equal(last?.status, 'failed');
  assert.match(last!.message!, /abandoned after 1 rescues/);
  // Both attempts ran on A, which lost them: each history entry says so.
  assert.deepEqual([rescued?.status, rescued?.nodeId, last?.nodeId], ['rescued', a.nodeId, a.nodeId]);
  await internals(a).services.executor.abandonAll();
});

test('graceful shutdown: running work finishes, or is handed back at the timeout', async () => {
  let finished = 0;
  const quick = db.node({ tasks: { short: async () => { await new Promise((r) => setTimeout(r, 100)); finished++; } } });
  await quick.start();
  const shortStarted = waitForStatus(quick, (c) => c.task === 'short' && c.next === 'running');
  const short = await quick.enqueue('short', {});
  await shortStarted;
  await quick.stop();
  assert.equal(finished, 1);
  assert.equal((await db.pool.query(`SELECT status FROM "${db.schema}".job_logs WHERE run_id = $1`, [short.id])).rows[0]?.status, 'completed');

  let signalReason: unknown;
  const stuck = db.node({ tasks: { long: (_p: unknown, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => { signalReason = ctx.signal.reason; reject(ctx.signal.reason); })) } });
  await stuck.start();
  const longStarted = waitForStatus(stuck, (c) => c.task === 'long' && c.next === 'running');
  const long = await stuck.enqueue('long', {});
  await longStarted;
  await stuck.stop({ timeout: 50 });
  assert.ok(signalReason instanceof KairosCancelledError);
  const rows = (await db.pool.query(`SELECT status, node_id FROM "${db.schema}".runs WHERE run_id = $1`, [long.id])).rows;
  assert.deepEqual(rows, [{ status: 'pending', node_id: null }], 'handed back to the queue at once');
  const heir = db.node({ tasks: { long: () => 'done by heir' } });
  assert.equal(await drain(heir), 1);
  assert.equal(await db.count('job_logs', "run_id = $1 AND status = 'completed'", [long.id]), 1);
});
