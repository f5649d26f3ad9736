import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { fixture, eventually } from '../helpers.js';
import { drain, runTask, TestClock, waitForRun, waitForStatus } from '../../src/testing/index.js';
import { Kairos, KairosValidationError, defineTask, type StatusChange, type HistoryEntry, type HistoryStatus, type RunLog, type LogStatus } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();

test('status changes are emitted locally and, with clusterEvents, on other nodes', async () => {
  const worker = db.node({ clusterEvents: true, tasks: { observed: () => 'ok' } });
  const watcher = db.node({ clusterEvents: true, queues: ['none'] });
  await worker.start();
  await watcher.start();
  const local: StatusChange[] = [];
  const remote: StatusChange[] = [];
  worker.on('status', (c: StatusChange) => local.push(c));
  watcher.on('status', (c: StatusChange) => remote.push(c));
  const { id } = await worker.enqueue('observed', {}, { key: 'k-1' });
  await waitForRun(worker, id);
  await waitForStatus(watcher, (c) => c.runId === id && c.next === 'completed');
  const path = (list: StatusChange[]): string[] => list.filter((c) => c.runId === id).map((c) => `${c.previous}->${c.next}`);
  // One node enqueued and ran it: its changes arrive elsewhere in its order.
  assert.deepEqual(path(local), ['->pending', 'pending->running', 'running->completed']);
  assert.deepEqual(path(remote), ['->pending', 'pending->running', 'running->completed']);
  assert.equal(remote[0]?.key, 'k-1');
  assert.equal(remote[0]?.job, 'observed');
  await Promise.all([worker.stop(), watcher.stop()]);
});

test('exclusive tasks never overlap, even across nodes', async () => {
  let inside = 0;
  let maxInside = 0;
  const exclusive = defineTask(async () => {
    inside++;
    maxInside = Math.max(maxInside, inside);
    await new Promise((r) => setTimeout(r, 30));
    inside--;
  }, { exclusive: true });
  const nodes = [db.node({ tasks: { solo: exclusive } }), db.node({ tasks: { solo: exclusive } })];
  for (const n of nodes) n.options.exclusiveRetryMs = 20;
  await nodes[0]!.enqueueMany(Array.from({ length: 6 }, () => ({ task: 'solo', payload: {} })));
  await Promise.all(nodes.map((n) => n.start()));
  await eventually(async () => (await db.count('job_logs', "task = 'solo' AND status = 'completed'")) === 6, 20_000, '6 exclusive runs');
  await Promise.all(nodes.map((n) => n.stop()));
  assert.equal(maxInside, 1);
  const attempts = await db.pool.query(`SELECT max(attempt)::int AS a FROM "${db.schema}".job_logs WHERE task = 'solo'`);
  assert.equal(attempts.rows[0].a, 1, 'waiting for the lock does not use up attempts');
});

test('retention prunes history by status and age, in batches', async () => {
  await db.pool.query(`DELETE FROM "${db.schema}".job_logs`);
  const clock = new TestClock('2030-01-10T00:00:00Z');
  const kairos = db.node({ clock, retention: { completed: '1d', failed: '7d', cancelled: '3d' }, tasks: { r: () => undefined } });
  const insert = (status: string, daysAgo: number) =>
    db.pool.query(`INSERT INTO "${db.schema}".job_logs (run_id, task, queue, attempt, status, finished_at) VALUES (1, 'r', 'default', 1, $1, $2)`, [status, new Date(Date.parse('2030-01-10T00:00:00Z') - daysAgo * 86_400_000)]);
  for (const [status, days] of [['completed', 2], ['completed', 0.5], ['failed', 8], ['failed', 2], ['cancelled', 4], ['cancelled', 1]] as const) await insert(status, days);
  const result = await internals(kairos).services.pruner.prune();
  assert.equal(result.ran, true);
  assert.equal(result.logs, 3);
  const left = await db.pool.query(`SELECT status FROM "${db.schema}".job_logs WHERE task = 'r' ORDER BY 1`);
  assert.deepEqual(left.rows.map((r) => r.status), ['cancelled', 'completed', 'failed']);
});

test('history() and getRun() give history entries; the deprecated RunLog and LogStatus still name them', async () => {
  const kairos = db.node({ tasks: { recorded: () => 'done' } });
  const { id } = await kairos.enqueue('recorded', {});
  assert.equal(await drain(kairos), 1);
  const status: HistoryStatus = 'completed';
  const entries: HistoryEntry[] = await kairos.history({ runId: id, status });
  assert.equal(entries.length, 1);
  assert.deepEqual([entries[0]!.runId, entries[0]!.attempt, entries[0]!.status, entries[0]!.output], [id, 1, 'completed', 'done']);
  const { live, last } = await kairos.getRun(id);
  assert.equal(live, null);
  assert.deepEqual(last, entries[0], 'the last history entry of the run');
  // Compatibility aliases (type level): the same types under their names before issue #13.
  const legacy: RunLog[] = entries;
  const legacyStatus: LogStatus = legacy[0]!.status;
  const back: HistoryEntry = legacy[0]!;
  assert.equal(back.status, legacyStatus);
});

test('periodic() defines a task and its schedule in one call', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const kairos = db.node({ clock });
  let runs = 0;
  const name = kairos.periodic({ every: '15m', priority: 1 }, async function cleanup() { runs++; });
  assert.equal(name, 'cleanup');
  assert.throws(() => kairos.periodic({ every: '1m' }, async () => undefined), /name/);
  assert.throws(() => kairos.periodic({ name: 'p', cron: 'nope' }, async () => undefined), KairosValidationError);
  await kairos.start();
  const job = await kairos.getJob('cleanup');
  assert.equal(job?.priority, 1);
  assert.equal(job?.nextRun?.toISOString(), '2030-01-01T00:15:00.000Z');
  clock.set('2030-01-01T00:15:00Z');
  // The started node's own services may claim it first: wait for the completion, not for drain().
  const done = waitForStatus(kairos, (c) => c.task === 'cleanup' && c.next === 'completed');
  await internals(kairos).services.ticker.materialise();
  await drain(kairos);
  await done;
  assert.equal(runs, 1);
  await kairos.stop();
});

test('runTask calls a handler with a realistic context and no database', async () => {
  const task = defineTask<{ a: number; b: number }>((p, ctx) => ({ sum: p.a + p.b, attempt: ctx.attempt }));
  assert.deepEqual(await runTask(task, { a: 1, b: 2 }, { attempt: 3 }), { sum: 3, attempt: 3 });
});

test('options are checked with clear errors', () => {
  const url = db.connectionString;
  assert.throws(() => new Kairos({}), /connectionString/);
  assert.throws(() => new Kairos({ connectionString: url, concurrency: 0 }), /Expected `concurrency` to be an integer from 1/);
  assert.throws(() => new Kairos({ connectionString: url, schema: 'Bad-Schema' }), /schema/);
  assert.throws(() => new Kairos({ connectionString: url, pollInterval: 'often' }), /pollInterval/);
  assert.throws(() => new Kairos({ connectionString: url, lease: '10s', heartbeatInterval: '20s' }), /shorter than `lease`/);
  assert.throws(() => new Kairos({ connectionString: url, queues: [] }), /queues/);
  assert.throws(() => new Kairos({ connectionString: url, tasks: { x: 42 as never } }), /task `x`/);
});

test('start() fails with a clear error when the database is unreachable', async () => {
  const kairos = new Kairos({ connectionString: 'postgres://nobody:secret@127.0.0.1:1/none', logger: undefined, migrate: true });
  await assert.rejects(kairos.start(), (error: Error) => {
    assert.match(error.message, /ECONNREFUSED|connect/);
    assert.doesNotMatch(error.message, /secret/);
    return true;
  });
});

test('the heartbeat extends the leases of the runs the node works on, not of runs it lost track of', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  let release: () => void = () => undefined;
  const kairos = db.node({ clock, concurrency: 1, tasks: { hold: () => new Promise<void>((resolve) => (release = resolve)) } });
  await kairos.enqueueMany([{ task: 'hold', payload: {} }, { task: 'hold', payload: {} }]);
  await internals(kairos).services.producer.runOnce(); // claims one (concurrency 1) and starts it
  const [kept] = internals(kairos).services.executor.activeIds();
  // The other is leased to this node behind its back, as a run whose result the completer gave up
  // writing during a long outage would be: nothing on the node works on it any more.
  const [lost] = await internals(kairos).store.claim({ id: kairos.nodeId, name: kairos.options.nodeName, tags: [] }, ['default'], ['hold'], 1, clock.now(), 60_000);
  const lease = async (id: number): Promise<number> =>
    (await db.pool.query(`SELECT lease_until FROM "${db.schema}".runs WHERE run_id = $1`, [id])).rows[0].lease_until.getTime();
  clock.advance(30_000);
  await internals(kairos).services.heartbeat.runOnce();
  assert.equal(await lease(kept!), Date.parse('2030-01-01T00:01:30Z'), 'the run it executes is extended');
  assert.equal(await lease(lost!.run_id), Date.parse('2030-01-01T00:01:00Z'), 'the untracked one runs out, to be rescued');
  release();
  await internals(kairos).services.completer.drain();
});

test("Kairos reads ids as numbers without touching pg's global int8 parser: the application's queries keep their strings", async () => {
  assert.equal(pg.types.getTypeParser(20)('9007199254740993'), '9007199254740993', 'the global parser is pg\'s own');
  // The application's pool, shared with Kairos: no `types` of Kairos's on it.
  const pool = new pg.Pool({ connectionString: db.connectionString, max: 2 });
  try {
    const kairos = db.node({ pool, connectionString: undefined, tasks: { t: () => undefined } });
    const { id } = await kairos.enqueue('t', {});
    assert.equal(typeof id, 'number');
    const [run] = await kairos.listRuns({ task: 't' });
    assert.equal(run?.id, id);
    const { rows } = await pool.query('SELECT 9007199254740993::bigint AS big, count(*) AS n FROM generate_series(1, 3)');
    assert.deepEqual(rows[0], { big: '9007199254740993', n: '3' });
    await kairos.stop();
  } finally {
    await pool.end();
  }
});
