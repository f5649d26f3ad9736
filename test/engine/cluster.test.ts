import { internals } from '../../src/api/internals.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually, nextPass } from '../helpers.js';

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
  await eventually(async () => (await db.count('job_logs', "task = 'work' AND status = 'completed'")) === 300, { timeoutMs: 20_000, what: '300 completions' });
  // stop() waits for every attempt in flight: a run executed twice would be in `seen` by then.
  await Promise.all(nodes.map((n) => n.stop()));
  assert.equal(seen.size, 300);
  assert.ok([...seen.values()].every((n) => n === 1), 'no run executed twice');
  const perNode = await db.pool.query(`SELECT node_id, count(*)::int AS n FROM "${db.schema}".job_logs WHERE task = 'work' GROUP BY 1`);
  assert.ok(perNode.rowCount! >= 2, 'the work was shared between nodes');
});

test('a run enqueued on one node wakes an idle node at once (NOTIFY), without waiting for the poll', async () => {
  const worker = db.node({ pollInterval: 60_000, tasks: { ping: () => 'pong' } });
  const client = db.node({ pollInterval: 60_000, queues: ['unused'] });
  // The start-up claim over (it found nothing), only a NOTIFY can wake the worker before the poll.
  const startupClaim = nextPass(internals(worker).services.producer);
  await worker.start();
  await client.start();
  await startupClaim;
  const started = Date.now();
  const { id } = await client.enqueue('ping', {});
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'completed'", [id])) === 1, { what: 'the run to complete' });
  assert.ok(Date.now() - started < 5000, 'completed long before the 60 s poll');
  await Promise.all([worker.stop(), client.stop()]);
});

test('the LISTEN connection reconnects by itself after it is killed', async () => {
  const worker = db.node({ pollInterval: 60_000, tasks: { again: () => 'ok' } });
  const startupClaim = nextPass(internals(worker).services.producer);
  await worker.start();
  await startupClaim;
  // The poll the reconnect asks for comes after LISTEN is back: once it is over, only a NOTIFY
  // can wake the worker before the 60 s poll.
  const repoll = nextPass(internals(worker).services.producer);
  const appName = `kairos-listener:${worker.nodeId}`.slice(0, 63);
  const killed = await db.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
  assert.ok(killed.rowCount! >= 1, 'a listener connection was terminated');
  await eventually(async () => {
    const rows = await db.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'", [appName]);
    return rows.rows[0].n >= 1;
  }, { what: 'the listener to reconnect' });
  await repoll;
  const started = Date.now();
  const { id } = await worker.enqueue('again', {});
  await eventually(async () => (await db.count('job_logs', "run_id = $1 AND status = 'completed'", [id])) === 1, { what: 'the run to complete' });
  assert.ok(Date.now() - started < 5000, 'woken by NOTIFY after the reconnect, not by the 60 s poll');
  await worker.stop();
});

test('a node takes runs only from its own queues', async () => {
  const mailNode = db.node({ queues: ['mail'], tasks: { q: () => 'mail' } });
  const otherNode = db.node({ queues: ['default'], tasks: { q: () => 'default' } });
  const inMail = await mailNode.enqueue('q', {}, { queue: 'mail' });
  const inDefault = await mailNode.enqueue('q', {});
  const { drain } = await import('../../src/testing/index.js');
  assert.equal(await drain(mailNode), 1);
  assert.equal(await drain(otherNode), 1);
  const byRun = async (id: number) => (await mailNode.history({ runId: id }))[0];
  assert.equal((await byRun(inMail.id))?.output, 'mail');
  assert.equal((await byRun(inDefault.id))?.output, 'default');
});

test('Kairos works on a pool the application owns, and leaves it open', async () => {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: db.connectionString, max: 5 });
  const kairos = db.node({ pool, connectionString: undefined, tasks: { shared: () => 1 } });
  await kairos.start();
  const { id } = await kairos.enqueue('shared', {});
  await eventually(async () => (await db.count('job_logs', "run_id = $1", [id])) === 1, 10_000, 'the run');
  await kairos.stop();
  assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1, 'the pool is still usable');
  await pool.end();
});
