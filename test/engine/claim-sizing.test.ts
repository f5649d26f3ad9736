/**
 * The default claim sizing (`prefetch: 'auto'`): under a backlog a node claims ahead of its free
 * slots, in batches larger than `concurrency`, and still runs at most `concurrency` handlers at
 * once and every run exactly once, across nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually } from '../helpers.js';
import { resolveOptions } from '../../src/api/options.js';

const db = await fixture();

test('default claim sizing: two nodes drain a backlog in claims larger than their slots, never over concurrency, each run once', async () => {
  const concurrency = 3;
  const total = 3000;
  const seen = new Map<number, number>();
  const nodes = [0, 1].map((n) => {
    const counts = { active: 0, max: 0 };
    const node = db.node({
      concurrency,
      tasks: {
        sized: async (p: { i: number }) => {
          counts.active++;
          counts.max = Math.max(counts.max, counts.active);
          seen.set(p.i, (seen.get(p.i) ?? 0) + 1);
          // Yield to the event loop so that handlers overlap and a slot limit would be exceeded if unenforced.
          await new Promise((resolve) => setImmediate(resolve));
          counts.active--;
        },
      },
    });
    return { node, counts, n };
  });
  await nodes[0]!.node.enqueueMany(Array.from({ length: total }, (_, i) => ({ task: 'sized', payload: { i } })));
  await Promise.all(nodes.map(({ node }) => node.start()));
  await eventually(async () => (await db.count('job_logs', "task = 'sized' AND status = 'completed'")) === total, 60_000, `${total} completions`);
  await Promise.all(nodes.map(({ node }) => node.stop()));

  assert.equal(seen.size, total, 'every run ran');
  assert.ok([...seen.values()].every((n) => n === 1), 'no run ran twice');
  for (const { counts, n } of nodes) assert.ok(counts.max <= concurrency, `node ${n} ran ${counts.max} handlers at once (concurrency ${concurrency})`);
  // One claim's runs share its started_at (the claim's now()): the largest group is the largest claim.
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT max(n)::int AS n FROM (SELECT count(*) AS n FROM "${db.schema}".job_logs WHERE task = 'sized' GROUP BY node_id, run_time) c`,
  );
  assert.ok(rows[0]!.n > concurrency, `the largest claim took ${rows[0]!.n} runs; with a backlog the default claims ahead of the ${concurrency} slots`);
  assert.equal(await db.count('runs', "task = 'sized'"), 0, 'nothing left behind');
});

test("prefetch: 'auto' is the default; anything but 'auto' or a count is refused", () => {
  const base = { connectionString: 'postgres://localhost/x' };
  assert.equal(resolveOptions(base).prefetch, 'auto');
  assert.equal(resolveOptions({ ...base, prefetch: 'auto' }).prefetch, 'auto');
  assert.equal(resolveOptions({ ...base, prefetch: 0 }).prefetch, 0);
  assert.throws(() => resolveOptions({ ...base, prefetch: 'fast' as never }), /Expected `prefetch` to be 'auto' or an integer from 0 to 100000, got/);
  assert.throws(() => resolveOptions({ ...base, prefetch: -1 }), /Expected `prefetch` to be 'auto' or an integer/);
});
