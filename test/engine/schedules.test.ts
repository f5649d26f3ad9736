import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';
import { KairosValidationError, type TaskContext } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();

/** A node with a pinned clock and a task that records what it was told; earlier tests' jobs removed. */
async function setup(start: string) {
  await db.pool.query(`DELETE FROM "${db.schema}".jobs`);
  const clock = new TestClock(start);
  const calls: Array<Pick<TaskContext, 'scheduledAt' | 'latenessMs' | 'jobName'>> = [];
  const kairos = db.node({
    clock,
    tasks: { record: (_p: unknown, ctx) => void calls.push({ scheduledAt: ctx.scheduledAt, latenessMs: ctx.latenessMs, jobName: ctx.jobName }) },
  });
  const tick = async (): Promise<number> => {
    await internals(kairos).services.ticker.materialise();
    return drain(kairos);
  };
  return { clock, calls, kairos, tick };
}

const iso = (d: Date | null | undefined): string | undefined => d?.toISOString();

test('a cron schedule fires each occurrence once, on time, and tells the job its occurrence', async () => {
  const { clock, calls, kairos, tick } = await setup('2030-01-01T00:00:00Z');
  const job = await kairos.schedule({ name: 'every-5-min', task: 'record', cron: '*/5 * * * *' });
  assert.equal(iso(job.nextRun), '2030-01-01T00:00:00.000Z', 'an occurrence exactly now is the first');
  assert.equal(await tick(), 1);
  assert.equal(await tick(), 0, 'the same occurrence is not materialised twice');
  clock.set('2030-01-01T00:04:59Z');
  assert.equal(await tick(), 0);
  clock.set('2030-01-01T00:05:00.250Z');
  assert.equal(await tick(), 1);
  assert.deepEqual(calls.map((c) => iso(c.scheduledAt)), ['2030-01-01T00:00:00.000Z', '2030-01-01T00:05:00.000Z']);
  assert.equal(calls[1]?.latenessMs, 250);
  assert.equal(calls[1]?.jobName, 'every-5-min');
  const stored = await kairos.getJob('every-5-min');
  assert.equal(iso(stored?.nextRun), '2030-01-01T00:10:00.000Z');
  assert.equal(stored?.lastStatus, true);
  assert.equal(await db.count('occurrences', 'job_id = $1', [job.id]), 2);
});

test('a time zone moves the fire time', async () => {
  const { kairos } = await setup('2030-06-01T00:00:00Z');
  const job = await kairos.schedule({ name: 'tokyo-9am', task: 'record', cron: '0 9 * * *', timezone: 'Asia/Tokyo' });
  assert.equal(iso(job.nextRun), '2030-06-01T00:00:00.000Z');
  const ny = await kairos.schedule({ name: 'ny-9am', task: 'record', cron: '0 9 * * *', timezone: 'America/New_York' });
  assert.equal(iso(ny.nextRun), '2030-06-01T13:00:00.000Z');
});

test('an interval stays on its grid whatever the run time', async () => {
  const { clock, calls, kairos, tick } = await setup('2030-01-01T00:07:00Z');
  await kairos.schedule({ name: 'grid', task: 'record', every: '15m', startAt: '2030-01-01T00:00:00Z' });
  assert.equal(iso((await kairos.getJob('grid'))?.nextRun), '2030-01-01T00:15:00.000Z');
  clock.set('2030-01-01T00:15:40Z');
  await tick();
  clock.set('2030-01-01T00:30:01Z');
  await tick();
  assert.deepEqual(calls.map((c) => iso(c.scheduledAt)), ['2030-01-01T00:15:00.000Z', '2030-01-01T00:30:00.000Z']);
});

test('a one-time schedule runs once, then never again', async () => {
  const { clock, calls, kairos, tick } = await setup('2030-01-01T00:00:00Z');
  await kairos.schedule({ name: 'once', task: 'record', at: '2030-01-01T00:01:00Z' });
  clock.set('2030-01-01T00:01:00Z');
  assert.equal(await tick(), 1);
  clock.set('2030-01-02T00:00:00Z');
  assert.equal(await tick(), 0);
  const job = await kairos.getJob('once');
  assert.equal(job?.nextRun, null);
  assert.equal(job?.runCount, 1);
  await kairos.disable('once');
  await kairos.enable('once');
  assert.equal(await tick(), 0, 're-enabling a finished one-time job does not run it again');
  assert.equal(calls.length, 1);
});

test('catch-up after downtime: skip, latest and all', async () => {
  const { clock, calls, kairos, tick } = await setup('2030-01-01T00:00:30Z');
  await kairos.schedule({ name: 'cu-skip', task: 'record', cron: '* * * * *', catchUp: 'skip', startAt: '2030-01-01T00:01:00Z' });
  await kairos.schedule({ name: 'cu-latest', task: 'record', cron: '* * * * *', catchUp: 'latest', startAt: '2030-01-01T00:01:00Z' });
  await kairos.schedule({ name: 'cu-all', task: 'record', cron: '* * * * *', catchUp: 'all', overlap: 'allow', startAt: '2030-01-01T00:01:00Z' });
  // Every node was down from 00:00:30 to 00:10:30.
  clock.set('2030-01-01T00:10:30Z');
  await tick();
  const by = (name: string): string[] => calls.filter((c) => c.jobName === name).map((c) => iso(c.scheduledAt)!);
  assert.deepEqual(by('cu-skip'), ['2030-01-01T00:10:00.000Z'], 'skip: only an occurrence within the grace period');
  assert.deepEqual(by('cu-latest'), ['2030-01-01T00:10:00.000Z'], 'latest: the last missed one, once');
  assert.equal(by('cu-all').length, 10, 'all: every missed occurrence');
  assert.equal(by('cu-all')[0], '2030-01-01T00:01:00.000Z');
  const late = calls.find((c) => c.jobName === 'cu-latest');
  assert.equal(late?.latenessMs, 30_000, 'the job is told how late it starts');
  for (const name of ['cu-skip', 'cu-latest', 'cu-all']) {
    assert.equal(iso((await kairos.getJob(name))?.nextRun), '2030-01-01T00:11:00.000Z', name);
  }
});

test('skip with a misfire grace drops a late occurrence entirely', async () => {
  const { clock, calls, kairos, tick } = await setup('2030-01-01T00:00:00Z');
  await kairos.schedule({ name: 'strict', task: 'record', cron: '0 * * * *', catchUp: 'skip', misfireGrace: '10s', startAt: '2030-01-01T01:00:00Z' });
  clock.set('2030-01-01T01:00:11Z');
  await tick();
  assert.equal(calls.length, 0);
  assert.equal(iso((await kairos.getJob('strict'))?.nextRun), '2030-01-01T02:00:00.000Z');
});

test('a one-off run not started within its misfire grace expires instead of running', async () => {
  const { clock, calls, kairos } = await setup('2030-01-01T00:00:00Z');
  const { id } = await kairos.enqueue('record', {}, { runAt: '2030-01-01T00:00:00Z', misfireGrace: '5m' });
  clock.set('2030-01-01T00:06:00Z');
  assert.equal(await drain(kairos), 0);
  assert.equal(await internals(kairos).services.rescuer.expire(), 1);
  assert.equal(calls.length, 0);
  assert.equal((await kairos.history({ runId: id }))[0]?.status, 'expired');
});

test('overlap policies: skip, queue, replace and allow', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const kairos = db.node({ clock, tasks: { hold: (_p: unknown, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) } });
  for (const overlap of ['skip', 'queue', 'replace', 'allow'] as const) {
    await kairos.schedule({ name: `ov-${overlap}`, task: 'hold', cron: '* * * * *', overlap });
  }
  await internals(kairos).services.ticker.materialise();
  await internals(kairos).services.producer.runOnce(); // the 00:00 run of each job is now running
  for (const minute of ['01', '02']) {
    clock.set(`2030-01-01T00:${minute}:00Z`);
    await internals(kairos).services.ticker.materialise();
    // This node is not listening: the heartbeat is how it learns of the cancel (replace).
    await internals(kairos).services.heartbeat.runOnce();
    await new Promise((resolve) => setImmediate(resolve));
    await internals(kairos).services.completer.drain();
    await internals(kairos).services.producer.runOnce();
  }
  const runs = async (name: string) => (await kairos.listRuns({ job: name })).map((r) => `${r.scheduledAt!.toISOString().slice(14, 16)}:${r.status}`).sort();
  assert.deepEqual(await runs('ov-skip'), ['00:running']);
  assert.deepEqual(await runs('ov-queue'), ['00:running', '01:pending'], 'queue buffers one and holds it while the previous runs');
  assert.deepEqual(await runs('ov-allow'), ['00:running', '01:running', '02:running']);
  const replaced = await runs('ov-replace');
  assert.deepEqual(replaced, ['02:running'], 'replace cancels the running one and starts the newest');
  const why = (await db.pool.query(`SELECT DISTINCT l.message FROM "${db.schema}".job_logs l JOIN "${db.schema}".jobs j USING (job_id) WHERE j.job_name = 'ov-replace' AND l.status = 'cancelled'`)).rows;
  assert.deepEqual(why, [{ message: 'replaced by a newer occurrence (overlap policy replace)' }], 'the running one says why it stopped, as the pending one does');
  const outcomes = (await db.pool.query(`SELECT o.outcome, count(*)::int AS n FROM "${db.schema}".occurrences o JOIN "${db.schema}".jobs j USING (job_id) WHERE j.job_name = 'ov-skip' GROUP BY 1 ORDER BY 1`)).rows;
  assert.deepEqual(outcomes, [{ outcome: 'run', n: 1 }, { outcome: 'skipped', n: 2 }]);
  await internals(kairos).services.executor.abandonAll();
});

test('endAt and maxRuns end a schedule', async () => {
  const { clock, calls, kairos, tick } = await setup('2030-01-01T00:00:00Z');
  await kairos.schedule({ name: 'three-times', task: 'record', every: '1m', startAt: '2030-01-01T00:00:00Z', maxRuns: 3, catchUp: 'all', overlap: 'allow' });
  await kairos.schedule({ name: 'until', task: 'record', cron: '* * * * *', endAt: '2030-01-01T00:01:00Z', catchUp: 'all', overlap: 'allow' });
  clock.set('2030-01-01T00:10:00Z');
  await tick();
  assert.equal(calls.filter((c) => c.jobName === 'three-times').length, 3);
  assert.equal(calls.filter((c) => c.jobName === 'until').length, 2);
  assert.equal((await kairos.getJob('three-times'))?.nextRun, null);
  assert.equal((await kairos.getJob('until'))?.nextRun, null);
});

test('re-declaring an unchanged schedule keeps its next run; changing it starts afresh', async () => {
  const { clock, kairos } = await setup('2030-01-01T00:00:00Z');
  const first = await kairos.schedule({ name: 'redeclared', task: 'record', every: '1h' });
  clock.set('2030-01-01T00:20:00Z');
  const again = await kairos.schedule({ name: 'redeclared', task: 'record', every: '1h', payload: { v: 2 } });
  assert.equal(iso(again.nextRun), iso(first.nextRun));
  assert.deepEqual(again.payload, { v: 2 });
  const changed = await kairos.schedule({ name: 'redeclared', task: 'record', every: '2h' });
  assert.equal(iso(changed.nextRun), '2030-01-01T02:20:00.000Z');
  assert.equal(changed.id, first.id);
});

test('runImmediately fires at once; a custom next-run function drives the schedule', async () => {
  const { clock, calls, kairos, tick } = await setup('2030-01-01T00:00:10Z');
  await kairos.schedule({ name: 'now-too', task: 'record', cron: '0 0 * * *', runImmediately: true });
  const fibonacciMinutes = [1, 2, 3, 5, 8];
  await kairos.schedule({
    name: 'custom',
    task: 'record',
    nextRun: (after) => {
      const base = Date.parse('2030-01-01T00:00:00Z');
      const next = fibonacciMinutes.map((m) => new Date(base + m * 60_000)).find((d) => d > after);
      return next ?? null;
    },
  });
  assert.equal(await tick(), 1);
  assert.equal(calls[0]?.jobName, 'now-too');
  clock.set('2030-01-01T00:02:00Z');
  await tick();
  assert.deepEqual(calls.filter((c) => c.jobName === 'custom').map((c) => iso(c.scheduledAt)), ['2030-01-01T00:02:00.000Z']);
  assert.equal(iso((await kairos.getJob('custom'))?.nextRun), '2030-01-01T00:03:00.000Z');
});

test('consecutive failures disable a job; enabling resets the count', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const kairos = db.node({ clock, tasks: { broken: () => { throw new Error('always'); } } });
  await kairos.schedule({ name: 'fragile', task: 'broken', cron: '* * * * *', disableAfterFailures: 2 });
  const disabled: unknown[] = [];
  kairos.on('jobDisabled', (e) => disabled.push(e));
  for (const minute of ['00', '01']) {
    clock.set(`2030-01-01T00:${minute}:00Z`);
    await internals(kairos).services.ticker.materialise();
    await drain(kairos);
  }
  const job = await kairos.getJob('fragile');
  assert.equal(job?.enabled, false);
  assert.equal(job?.consecutiveFailures, 2);
  assert.equal(job?.disableAfterFailures, 2);
  assert.deepEqual([job?.currentAttempts, job?.maxAttempts], [2, 2], 'the deprecated aliases keep their values');
  assert.equal(job?.lastStatus, false);
  assert.equal(job?.lastMessage, 'always');
  assert.equal(disabled.length, 1);
  clock.set('2030-01-01T00:05:30Z');
  assert.equal(await internals(kairos).services.ticker.materialise(), 0, 'a disabled job does not fire');
  const enabled = await kairos.enable('fragile');
  assert.equal(enabled.consecutiveFailures, 0);
  assert.equal(enabled.currentAttempts, 0, 'the deprecated alias too');
  assert.equal(iso(enabled.nextRun), '2030-01-01T00:06:00.000Z');
});

test('trigger runs a job now, outside its schedule', async () => {
  const { calls, kairos } = await setup('2030-01-01T00:00:00Z');
  await kairos.schedule({ name: 'manual', task: 'record', payload: { x: 1 } });
  assert.equal((await kairos.getJob('manual'))?.nextRun, null);
  await kairos.trigger('manual');
  assert.equal(await drain(kairos), 1);
  assert.equal(calls[0]?.jobName, 'manual');
  await assert.rejects(kairos.trigger('missing'), /No job named "missing"/);
});

test('bad schedules are refused with a clear error and write nothing', async () => {
  const { kairos } = await setup('2030-01-01T00:00:00Z');
  const before = await db.count('jobs');
  const bad: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['bad cron', () => kairos.schedule({ name: 'x', task: 'record', cron: '61 * * * *' }), /cron/],
    ['4-field cron', () => kairos.schedule({ name: 'x', task: 'record', cron: '* * * *' }), /cron/],
    ['impossible cron', () => kairos.schedule({ name: 'x', task: 'record', cron: '0 0 30 2 *' }), /cron/],
    ['bad time zone', () => kairos.schedule({ name: 'x', task: 'record', cron: '* * * * *', timezone: 'Mars/Olympus' }), /timezone/],
    ['bad interval', () => kairos.schedule({ name: 'x', task: 'record', every: 'often' }), /every/],
    ['too short interval', () => kairos.schedule({ name: 'x', task: 'record', every: 10 }), /every/],
    ['two schedules', () => kairos.schedule({ name: 'x', task: 'record', cron: '* * * * *', every: '1m' }), /one of/],
    ['bad name', () => kairos.schedule({ name: '', task: 'record', every: '1m' }), /name/],
    ['bad at', () => kairos.schedule({ name: 'x', task: 'record', at: 'soon' }), /at/],
    ['bad catch-up', () => kairos.schedule({ name: 'x', task: 'record', every: '1m', catchUp: 'some' as never }), /catchUp/],
    ['bad overlap', () => kairos.schedule({ name: 'x', task: 'record', every: '1m', overlap: 'maybe' as never }), /overlap/],
    ['end before start', () => kairos.schedule({ name: 'x', task: 'record', every: '1m', startAt: '2030-02-01', endAt: '2030-01-01' }), /endAt/],
    ['bad payload', () => kairos.schedule({ name: 'x', task: 'record', every: '1m', payload: { s: '\u0000' } }), /NUL/],
  ];
  for (const [what, call, message] of bad) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof KairosValidationError, `${what}: ${String(error)}`);
      assert.match(error.message, message, what);
      return true;
    });
  }
  assert.equal(await db.count('jobs'), before);
});
