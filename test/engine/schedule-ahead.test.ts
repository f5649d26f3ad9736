import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { TestClock, waitForRun } from '../../src/testing/index.js';
import { Kairos, KairosValidationError } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();

/**
 * A node with a pinned clock 300 ms before a whole second (real clock: the trigger that drops
 * runs planned ahead compares with the database's now(), so the pinned time is now-ish).
 */
async function setup(options: { scheduleAhead?: string | number } = {}) {
  await db.pool.query(`DELETE FROM "${db.schema}".jobs`);
  const start = new Date(Math.ceil((Date.now() + 60_000) / 1000) * 1000 - 300);
  const clock = new TestClock(start);
  const kairos = db.node({ clock, tasks: { record: () => undefined }, ...options });
  const tick = () => internals(kairos).services.ticker.materialise();
  const claim = async (): Promise<number> => {
    const runs = await internals(kairos).store.claim({ id: kairos.nodeId, name: 'n', tags: [] }, ['default'], ['record'], 100, clock.now(), 60_000);
    return runs.length;
  };
  const pending = async (jobId: number) =>
    (await db.pool.query<{ scheduled_at: Date; run_at: Date }>(`SELECT scheduled_at, run_at FROM "${db.schema}".runs WHERE job_id = $1 AND status = 'pending' ORDER BY scheduled_at`, [jobId])).rows;
  const dueAt = new Date(start.getTime() + 300);
  return { clock, kairos, tick, claim, pending, start, dueAt };
}

test('an occurrence due within scheduleAhead is queued early, for its due time, and claimed only then', async () => {
  const { clock, kairos, tick, claim, pending, dueAt } = await setup();
  const job = await kairos.schedule({ name: 'ahead', task: 'record', every: '1m', startAt: dueAt });
  assert.equal(job.nextRun?.getTime(), dueAt.getTime());
  assert.equal(await tick(), 1, 'the job is locked 300 ms before it is due');
  const runs = await pending(job.id);
  assert.deepEqual(runs.map((r) => [r.scheduled_at.getTime(), r.run_at.getTime()]), [[dueAt.getTime(), dueAt.getTime()]]);
  assert.equal(await claim(), 0, 'not claimable before its due time');
  assert.equal(await tick(), 0, 'the occurrence is not planned twice');
  clock.set(dueAt);
  assert.equal(await claim(), 1);
  assert.equal((await kairos.getJob('ahead'))?.nextRun?.getTime(), dueAt.getTime() + 60_000);
});

test('scheduleAhead 0 plans at the due time only', async () => {
  const { clock, kairos, tick, pending, dueAt } = await setup({ scheduleAhead: 0 });
  const job = await kairos.schedule({ name: 'on-time', task: 'record', every: '1m', startAt: dueAt });
  assert.equal(await tick(), 0);
  assert.equal((await pending(job.id)).length, 0);
  clock.set(dueAt);
  assert.equal(await tick(), 1);
  assert.equal((await pending(job.id)).length, 1);
});

test("overlap 'allow' queues every occurrence in the window; other policies one, and none while a run is active", async () => {
  const { kairos, tick, pending, dueAt } = await setup({ scheduleAhead: '5s' });
  const allow = await kairos.schedule({ name: 'fast-allow', task: 'record', every: '1s', startAt: dueAt, overlap: 'allow' });
  const skip = await kairos.schedule({ name: 'fast-skip', task: 'record', every: '1s', startAt: dueAt });
  await tick();
  // Window (now, now + 5 s] with now = due - 300 ms: due, +1, +2, +3 and +4 s.
  assert.equal((await pending(allow.id)).length, 5);
  assert.deepEqual((await pending(skip.id)).map((r) => r.scheduled_at.getTime()), [dueAt.getTime()]);
  assert.equal(await tick(), 0, 'a skip job with a queued run is left for its due time');
  assert.equal((await pending(skip.id)).length, 1);
});

test('disabling or rescheduling a job drops its runs queued ahead and replans them from the new definition', async () => {
  const { kairos, tick, pending, dueAt } = await setup();
  const job = await kairos.schedule({ name: 'changing', task: 'record', every: '1m', startAt: dueAt });
  await tick();
  assert.equal((await pending(job.id)).length, 1);
  await kairos.disable('changing');
  assert.equal((await pending(job.id)).length, 0, 'the disabled job keeps no queued run');
  assert.equal(await db.count('occurrences', 'job_id = $1', [job.id]), 0, 'its occurrence is forgotten, so it can be planned again');
  const back = await kairos.enable('changing');
  assert.equal(back.nextRun?.getTime(), dueAt.getTime(), 'the cursor is back on the dropped occurrence');
  await tick();
  assert.equal((await pending(job.id)).length, 1);
  // Through SQL too: a new payload must not fire with the old one.
  await db.pool.query(`UPDATE "${db.schema}".jobs SET payload = '{"v": 2}' WHERE job_id = $1`, [job.id]);
  assert.equal((await pending(job.id)).length, 0);
  await tick();
  const { rows } = await db.pool.query(`SELECT payload FROM "${db.schema}".runs WHERE job_id = $1`, [job.id]);
  assert.deepEqual(rows.map((r) => r.payload), [{ v: 2 }]);
});

test('scheduleAhead is checked', () => {
  for (const bad of [-1, '2m', 'soon', Number.NaN]) {
    assert.throws(() => new Kairos({ connectionString: 'postgres://localhost/x', scheduleAhead: bad }), KairosValidationError, String(bad));
  }
});

test('a claim may take runs due within aheadMs: their start is recorded at the due time and they say how long to hold', async () => {
  await db.pool.query(`DELETE FROM "${db.schema}".runs`);
  const kairos = db.node({ tasks: { record: () => undefined } });
  const at = (await db.pool.query<{ at: Date }>(`SELECT now() + interval '30 seconds' AS at`)).rows[0]!.at;
  await kairos.enqueue('record', {}, { runAt: at });
  const node = { id: kairos.nodeId, name: 'n', tags: [] };
  assert.equal((await internals(kairos).store.claim(node, ['default'], ['record'], 10, null, 60_000, 0)).length, 0, 'not due: not claimed');
  const [run] = await internals(kairos).store.claim(node, ['default'], ['record'], 10, null, 60_000, 60_000);
  assert.ok(run, 'due within the window: claimed');
  assert.equal(run.started_at.getTime(), at.getTime(), 'recorded as started at its due time, never before');
  assert.ok(run.due_in_ms! > 25_000 && run.due_in_ms! <= 30_000, `held for about 30 s, got ${run.due_in_ms}`);
});

test('a node starts a run claimed ahead no earlier than its due time (by the database clock)', async () => {
  const seen: Array<{ startedAt: Date; dueAt: Date }> = [];
  const kairos = db.node({ tasks: { record: (_p: unknown, ctx) => void seen.push({ startedAt: ctx.startedAt, dueAt: ctx.dueAt }) } });
  await kairos.start();
  try {
    const at = (await db.pool.query<{ at: Date }>(`SELECT now() + interval '15 milliseconds' AS at`)).rows[0]!.at;
    const { id } = await kairos.enqueue('record', {}, { runAt: at });
    await waitForRun(kairos, id);
    assert.equal(seen.length, 1);
    assert.ok(seen[0]!.startedAt.getTime() >= seen[0]!.dueAt.getTime());
  } finally {
    await kairos.stop();
  }
});
