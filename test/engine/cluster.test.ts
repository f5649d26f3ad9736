import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, delay, eventually } from '../helpers.js';

const db = await fixture();

test('three nodes on one per-second schedule run each occurrence exactly once', async () => {
  const ran: string[] = [];
  const nodes = [1, 2, 3].map((i) =>
    db.node({ nodeName: `node-${i}`, tasks: { tick: (_p: unknown, ctx) => void ran.push(`${ctx.scheduledAt!.toISOString()}@${i}`) } }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  // All three declare the same schedule, as replicas of one app do at start-up.
  await Promise.all(nodes.map((n) => n.schedule({ name: 'every-second', task: 'tick', cron: '* * * * * *', overlap: 'allow' })));
  await eventually(async () => (await db.count('job_logs', "status = 'completed'")) >= 4, 15_000, '4 completed occurrences');
  await Promise.all(nodes.map((n) => n.stop()));
  const occurrences = ran.map((r) => r.split('@')[0]);
  assert.equal(new Set(occurrences).size, occurrences.length, `no occurrence ran twice: ${ran.join(', ')}`);
  const logged = await db.pool.query(`SELECT scheduled_at, count(*)::int AS n FROM "${db.schema}".job_logs WHERE status = 'completed' GROUP BY 1`);
  assert.ok(logged.rows.every((r) => r.n === 1), 'each occurrence completed once in the history');
  assert.equal(logged.rowCount, ran.length);
  // Consecutive seconds: nothing missed between the first and the last.
  const times = occurrences.map((o) => Date.parse(o!)).sort((a, b) => a - b);
  for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 1000, 'no second was missed');
  assert.equal(await db.count('jobs'), 1, 'the replicas converged on one job');
});

test('three nodes draining one queue complete every run exactly once', async () => {
  const seen = new Map<number, number>();
  const handler = (p: { i: number }): void => void seen.set(p.i, (seen.get(p.i) ?? 0) + 1);
  const nodes = [1, 2, 3].map(() => db.node({ concurrency: 5, tasks: { work: handler } }));
  await nodes[0]!.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ task: 'work', payload: { i } })));
  await Promise.all(nodes.map((n) => n.start()));
  await eventually(async () => (await db.count('job_logs', "task = 'work' AND status = 'completed'")) === 300, 20_000, '300 completions');
  await delay(100);
  await Promise.all(nodes.map((n) => n.stop()));
  assert.equal(seen.size, 300);
  assert.ok([...seen.values()].every((n) => n === 1), 'no run executed twice');
  const perNode = await db.pool.query(`SELECT node_id, count(*)::int AS n FROM "${db.schema}".job_logs WHERE task = 'work' GROUP BY 1`);
  assert.ok(perNode.rowCount! >= 2, 'the work was shared between nodes');
});

test('a run enqueued on one node wakes an idle node at once (NOTIFY), without waiting for the poll', async () => {
  const worker = db.node({ pollInterval: 60_000, tasks: { ping: () => 'pong' } });
  const client = db.node({ pollInterval: 60_000, queues: ['unused'] });
  await worker.start();
  await client.start();
  await delay(200); // let the first (startup) claim pass; from now on only NOTIFY can wake the worker
  const started = Date.now();
  const { id } = await client.enqueue('ping', {});
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'completed'", [id])) === 1, 10_000, 'the run to complete');
  assert.ok(Date.now() - started < 5000, 'completed long before the 60 s poll');
  await Promise.all([worker.stop(), client.stop()]);
});
