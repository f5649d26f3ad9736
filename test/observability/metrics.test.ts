import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { fixture, eventually } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';
import { createMetrics, KairosValidationError, LabelCap } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';
import { parseMetrics, value } from './support.js';

const db = await fixture();
const s = `"${db.schema}"`;

async function scrape(metrics: { metrics(): Promise<string> }): Promise<ReturnType<typeof parseMetrics>> {
  return parseMetrics(await metrics.metrics());
}

test('counts attempts, final statuses, durations, retries and schedule lateness of real runs', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const kairos = db.node({ clock, tasks: { ok: () => 'fine', flaky: () => { throw new Error('boom'); } } });
  const metrics = createMetrics(kairos);
  for (let i = 0; i < 3; i++) await kairos.enqueue('ok', {}, { runAt: clock.now() });
  await kairos.enqueue('flaky', {}, { runAt: clock.now(), retries: 1, backoff: 1000 });
  assert.equal(await drain(kairos), 4);
  clock.advance(1000);
  assert.equal(await drain(kairos), 1, 'the retry');
  await kairos.schedule({ name: 'late-job', task: 'ok', cron: '*/5 * * * *' });
  clock.set('2030-01-01T00:05:07Z');
  await internals(kairos).services.ticker.materialise();
  assert.equal(await drain(kairos), 1);

  const m = await scrape(metrics);
  assert.equal(value(m, 'kairos_runs_started_total', { job: 'ok' }), 3);
  assert.equal(value(m, 'kairos_runs_started_total', { job: 'flaky' }), 2);
  assert.equal(value(m, 'kairos_runs_started_total', { job: 'late-job' }), 1, 'a scheduled run is labelled by its job name');
  assert.equal(value(m, 'kairos_attempts_finished_total', { job: 'flaky', outcome: 'failed' }), 2);
  assert.equal(value(m, 'kairos_attempts_finished_total', { job: 'ok', outcome: 'completed' }), 3);
  assert.equal(value(m, 'kairos_runs_finished_total', { job: 'flaky', status: 'failed' }), 1, 'the retried attempt is not a final failure');
  assert.equal(value(m, 'kairos_runs_finished_total', { job: 'ok', status: 'completed' }), 3);
  assert.equal(value(m, 'kairos_run_retries_total', { queue: 'default' }), 1);
  assert.equal(value(m, 'kairos_run_duration_seconds_count', { job: 'ok', outcome: 'completed' }), 3);
  assert.equal(value(m, 'kairos_run_duration_seconds_count', { job: 'flaky', outcome: 'failed' }), 2);
  assert.equal(value(m, 'kairos_schedule_lateness_seconds_count', { job: 'late-job' }), 1);
  assert.equal(value(m, 'kairos_schedule_lateness_seconds_sum', { job: 'late-job' }), 7);
  assert.equal(value(m, 'kairos_schedule_lateness_seconds_bucket', { job: 'late-job', le: '5' }), 0);
  assert.equal(value(m, 'kairos_schedule_lateness_seconds_bucket', { job: 'late-job', le: '15' }), 1);
  assert.equal(value(m, 'kairos_schedule_lateness_seconds_count', { job: 'ok' }), 0, 'ad-hoc runs have no lateness');
  assert.ok(m.every((sample) => !('run' in sample.labels) && !('run_id' in sample.labels)), 'never labelled by run');
  metrics.close();
});

test('occurrences dropped by the catch-up policy and skipped by the overlap policy are counted by job', async () => {
  await db.pool.query(`DELETE FROM ${s}.jobs`);
  const clock = new TestClock('2030-01-01T00:00:30Z');
  const kairos = db.node({ clock, tasks: { ok: () => 'fine' } });
  const metrics = createMetrics(kairos);
  await kairos.schedule({ name: 'down', task: 'ok', cron: '* * * * *', catchUp: 'latest', startAt: '2030-01-01T00:01:00Z' });
  await kairos.schedule({ name: 'busy', task: 'ok', cron: '* * * * *', catchUp: 'all', overlap: 'skip', startAt: '2030-01-01T00:01:00Z' });
  // A run of 'busy' still waits (nobody drains): its next occurrences are skipped.
  await db.pool.query(`INSERT INTO ${s}.runs (job_id, task, queue, scheduled_at, run_at) SELECT job_id, 'ok', 'default', now(), now() FROM ${s}.jobs WHERE job_name = 'busy'`);
  clock.set('2030-01-01T00:10:30Z');
  await internals(kairos).services.ticker.materialise();
  const m = await scrape(metrics);
  assert.equal(value(m, 'kairos_occurrences_missed_total', { job: 'down' }), 9, '00:01-00:09 dropped, 00:10 runs');
  assert.equal(value(m, 'kairos_occurrences_skipped_total', { job: 'busy' }), 10);
  assert.equal((await kairos.history({ job: 'busy', status: 'skipped' })).length, 10, 'ten skipped in one pass: one entry each (the cap)');
  metrics.close();
});

test('queue depth and the oldest due run are read from the database at scrape time', async () => {
  const kairos = db.node({ queues: ['depth'] });
  const metrics = createMetrics(kairos);
  await db.pool.query(`DELETE FROM ${s}.runs`);
  let m = await scrape(metrics);
  assert.equal(value(m, 'kairos_queue_depth', { queue: 'depth', status: 'pending' }), 0, 'the node\'s own queues are always present');
  for (let i = 0; i < 2; i++) await kairos.enqueue('later', {}, { queue: 'depth', runAt: new Date(Date.now() + 3_600_000) });
  await kairos.enqueue('overdue', {}, { queue: 'backlog', runAt: new Date(Date.now() - 60_000) });
  m = await scrape(metrics);
  assert.equal(value(m, 'kairos_queue_depth', { queue: 'depth', status: 'pending' }), 2);
  assert.equal(value(m, 'kairos_queue_depth', { queue: 'backlog', status: 'pending' }), 1);
  const oldest = value(m, 'kairos_queue_oldest_due_seconds', { queue: 'backlog' });
  assert.ok(oldest >= 59 && oldest < 600, `oldest due ${oldest} s`);
  await db.pool.query(`DELETE FROM ${s}.runs WHERE queue = 'backlog'`);
  m = await scrape(metrics);
  assert.equal(m.filter((x) => x.labels.queue === 'backlog').length, 0, 'a queue that emptied disappears');
  metrics.close();
});

test('heartbeats, live nodes, rescues and active runs', async () => {
  const kairos = db.node<Record<string, () => string>>({ tasks: { ok: () => 'fine' } });
  const metrics = createMetrics(kairos);
  await kairos.start();
  try {
    await internals(kairos).services.heartbeat.runOnce();
    let m = await scrape(metrics);
    const beats = value(m, 'kairos_node_heartbeats_total');
    assert.ok(beats >= 1);
    assert.ok(Math.abs(value(m, 'kairos_node_last_heartbeat_seconds') - Date.now() / 1000) < 60);
    assert.equal(value(m, 'kairos_nodes_live'), 1, 'this node is the one live node of the schema');
    await internals(kairos).services.heartbeat.runOnce();
    m = await scrape(metrics);
    assert.equal(value(m, 'kairos_node_heartbeats_total'), beats + 1);
    assert.equal(value(m, 'kairos_node_active_runs'), 0);

    // A run held by a node that vanished: its lease has run out, so any rescuer takes it back.
    const { id } = await kairos.enqueue('nobody-runs-this', {}, { runAt: new Date(Date.now() + 3_600_000) });
    await db.pool.query(`UPDATE ${s}.runs SET status = 'running', node_id = 'ghost', attempt = 1, started_at = now(), lease_until = now() - interval '1 minute' WHERE run_id = $1`, [id]);
    // The node's own rescuer loop may get there first: either way this node rescued it once.
    await internals(kairos).services.rescuer.rescue();
    await eventually(async () => value(await scrape(metrics), 'kairos_run_rescues_total') === 1, 10_000, 'the rescue to be counted');
    const { rows } = await db.pool.query(`SELECT status, node_id FROM ${s}.runs WHERE run_id = $1`, [id]);
    assert.deepEqual(rows, [{ status: 'pending', node_id: null }]);
  } finally {
    await kairos.stop();
  }
  metrics.close();
});

test('job names beyond the cap are counted as "other"', async () => {
  const names = ['t0', 't1', 't2', 't3', 't4', 't5'];
  const kairos = db.node({ tasks: Object.fromEntries(names.map((n) => [n, () => n])) });
  const metrics = createMetrics(kairos, { maxJobLabels: 3 });
  await kairos.enqueueMany(names.map((task) => ({ task, payload: {} })));
  assert.equal(await drain(kairos), 6);
  const started = (await scrape(metrics)).filter((x) => x.name === 'kairos_runs_started_total');
  assert.equal(started.length, 4, 'three names and "other"');
  assert.equal(started.find((x) => x.labels.job === 'other')?.value, 3);
  assert.equal(started.reduce((sum, x) => sum + x.value, 0), 6);
  const cap = new LabelCap(2);
  assert.deepEqual(['a', 'b', 'c', 'a', 'd', 'b'].map((v) => cap.label(v)), ['a', 'b', 'other', 'a', 'other', 'b']);
  metrics.close();
});

test('each instance has its own registry; close() stops counting; bad options are refused', async () => {
  const a = db.node({ tasks: { ok: () => 1 } });
  const b = db.node({ tasks: { ok: () => 1 } });
  const ma = createMetrics(a);
  const mb = createMetrics(b, { defaultLabels: { service: 'b' } });
  assert.notEqual(ma.registry, mb.registry);
  await a.enqueue('ok', {});
  assert.equal(await drain(a), 1);
  assert.equal(value(await scrape(ma), 'kairos_runs_started_total', { job: 'ok' }), 1);
  assert.equal(value(await scrape(mb), 'kairos_runs_started_total', { job: 'ok' }), 0);
  assert.equal((await scrape(mb)).find((x) => x.name === 'kairos_nodes_live')?.labels.service, 'b');
  ma.close();
  await a.enqueue('ok', {});
  assert.equal(await drain(a), 1);
  assert.equal(value(await scrape(ma), 'kairos_runs_started_total', { job: 'ok' }), 1, 'not counted after close()');
  const shared = new Registry();
  const mc = createMetrics(a, { registry: shared });
  assert.equal(mc.registry, shared);
  mc.close();
  mb.close();
  assert.throws(() => createMetrics(a, { maxJobLabels: 0 }), (e: unknown) => e instanceof KairosValidationError && /maxJobLabels.*got number 0/.test(e.message));
});
