import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually } from '../helpers.js';
import { waitForRun, waitForStatus } from '../../src/testing/index.js';

const db = await fixture();

test('prefetch: two nodes claiming ahead of their slots still run every run exactly once', async () => {
  const seen = new Map<number, number>();
  const handler = (p: { i: number }): void => void seen.set(p.i, (seen.get(p.i) ?? 0) + 1);
  const nodes = [1, 2].map(() => db.node({ concurrency: 2, prefetch: 20, batchSize: 20, tasks: { pre: handler } }));
  await nodes[0]!.enqueueMany(Array.from({ length: 200 }, (_, i) => ({ task: 'pre', payload: { i } })));
  await Promise.all(nodes.map((n) => n.start()));
  await eventually(async () => (await db.count('job_logs', "task = 'pre' AND status = 'completed'")) === 200, 20_000, '200 completions');
  await Promise.all(nodes.map((n) => n.stop()));
  assert.equal(seen.size, 200);
  assert.ok([...seen.values()].every((n) => n === 1));
});

test('prefetch: stop() hands unstarted runs back without using up an attempt; a prefetched run can be cancelled', async () => {
  const node = db.node({ concurrency: 1, prefetch: 5, tasks: { block: (_p: unknown, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) } });
  const ids = (await node.enqueueMany(Array.from({ length: 6 }, () => ({ task: 'block', payload: {} })))).map((r) => r.id);
  await node.start();
  await waitForStatus(node, (c) => c.next === 'running');
  await eventually(async () => (await db.count('runs', "task = 'block' AND status = 'running'")) === 6, 10_000, 'all six claimed');
  // Cancel one that waits in the buffer (not the one executing).
  const running = (await db.pool.query(`SELECT run_id FROM "${db.schema}".runs WHERE task = 'block' ORDER BY started_at, run_id LIMIT 1`)).rows[0].run_id;
  const buffered = ids.find((id) => id !== Number(running))!;
  const cancelled = waitForRun(node, buffered);
  assert.equal(await node.cancel(buffered), 'cancelling');
  assert.equal((await cancelled).next, 'cancelled');
  await node.stop({ timeout: 50 });
  const rows = await db.pool.query(`SELECT status, attempt FROM "${db.schema}".runs WHERE task = 'block' ORDER BY run_id`);
  assert.equal(rows.rowCount, 5);
  assert.ok(rows.rows.every((r) => r.status === 'pending'), 'all handed back');
  assert.deepEqual(rows.rows.map((r) => r.attempt).sort(), [0, 0, 0, 0, 1], 'only the one that ran used an attempt');
});
