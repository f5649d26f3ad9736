/**
 * Occurrences that do not run are written to the history (issue #14, item 6): 'missed' for those
 * dropped by the catch-up policy (skip, latest, all beyond maxLateness), 'skipped' for those the
 * overlap policy skipped; one entry each up to NOT_RUN_ENTRIES_CAP, else one for them all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, fixture } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';
import type { HistoryEntry } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';
import { NOT_RUN_ENTRIES_CAP } from '../../src/core/planner.js';

const db = await fixture();

async function setup(start: string, tasks: Record<string, (payload: unknown) => unknown> = {}) {
  await db.pool.query(`DELETE FROM "${db.schema}".jobs`);
  const clock = new TestClock(start);
  const ran: string[] = [];
  const kairos = db.node({ clock, tasks: { record: () => void ran.push('record'), ...tasks } as Record<string, (payload: unknown) => unknown> });
  const tick = async (): Promise<number> => {
    await internals(kairos).services.ticker.materialise();
    return drain(kairos);
  };
  const notRun = async (job: string): Promise<HistoryEntry[]> =>
    (await kairos.history({ job, limit: 1000 })).filter((e) => e.status === 'missed' || e.status === 'skipped')
      .sort((a, b) => a.scheduledAt!.getTime() - b.scheduledAt!.getTime());
  return { clock, kairos, tick, notRun, ran };
}

const iso = (d: Date | null | undefined): string | undefined => d?.toISOString();
const minutes = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `2030-01-01T00:${String(from + i).padStart(2, '0')}:00.000Z`);

test("catch-up 'latest' after a 10-minute outage of a per-minute job writes each missed occurrence as missed", async () => {
  const { clock, kairos, tick, notRun } = await setup('2030-01-01T00:00:30Z');
  await kairos.schedule({ name: 'latest', task: 'record', cron: '* * * * *', catchUp: 'latest', startAt: '2030-01-01T00:01:00Z' });
  clock.set('2030-01-01T00:10:30Z');
  await tick();
  const entries = await notRun('latest');
  assert.deepEqual(entries.map((e) => iso(e.scheduledAt)), minutes(1, 9), '00:10 ran; 00:01-00:09 were missed');
  const node = kairos.nodeId;
  for (const e of entries) {
    assert.equal(e.status, 'missed');
    assert.equal(e.attempt, 0);
    assert.equal(e.nodeId, node, 'the node whose ticker dropped it');
    assert.equal(e.jobName, 'latest');
    assert.match(e.message ?? '', /^missed: catch-up policy latest/);
    assert.equal(iso(e.finishedAt), '2030-01-01T00:10:30.000Z', 'written when the ticker decided');
  }
  assert.equal(new Set(entries.map((e) => e.runId)).size, 9, 'each has a run id of its own');
  assert.equal(await db.count('runs', 'run_id = ANY($1)', [entries.map((e) => e.runId)]), 0, 'that names no run');
  assert.equal((await kairos.history({ job: 'latest' })).filter((e) => e.status === 'completed').length, 1);
  await tick();
  assert.equal((await notRun('latest')).length, 9, 'a second pass writes nothing more');
  assert.equal((await kairos.history({ job: 'latest', status: 'missed' })).length, 9, 'the status filter finds them');
});

test("catch-up 'skip': the missed ones before the next, and one beyond the misfire grace, are written as missed", async () => {
  const { clock, kairos, tick, notRun, ran } = await setup('2030-01-01T00:00:30Z');
  await kairos.schedule({ name: 'skip', task: 'record', cron: '* * * * *', catchUp: 'skip', startAt: '2030-01-01T00:01:00Z' });
  await kairos.schedule({ name: 'strict', task: 'record', cron: '0 * * * *', catchUp: 'skip', misfireGrace: '10s', startAt: '2030-01-01T01:00:00Z' });
  clock.set('2030-01-01T00:03:30Z');
  await tick();
  const skip = await notRun('skip');
  assert.deepEqual(skip.map((e) => iso(e.scheduledAt)), minutes(1, 2));
  assert.match(skip[0]!.message!, /^missed: catch-up policy skip: missed occurrences are dropped, the next one runs$/);
  clock.set('2030-01-01T01:00:11Z');
  const before = ran.length;
  await tick();
  const strict = await notRun('strict');
  assert.equal(strict.length, 1);
  assert.equal(iso(strict[0]!.scheduledAt), '2030-01-01T01:00:00.000Z');
  assert.equal(strict[0]!.message, 'missed: catch-up policy skip: more than the misfire grace of 10s late');
  assert.equal(ran.length - before, 1, 'only skip ran (its 01:00 occurrence); strict ran nothing');
});

test("max lateness: catch-up 'all' writes the occurrences later than maxLateness as missed and runs the rest", async () => {
  const { clock, kairos, tick, notRun } = await setup('2030-01-01T00:00:30Z');
  await kairos.schedule({ name: 'all', task: 'record', cron: '* * * * *', catchUp: 'all', overlap: 'allow', maxLateness: '3m', startAt: '2030-01-01T00:01:00Z' });
  clock.set('2030-01-01T00:10:30Z');
  await tick();
  const entries = await notRun('all');
  assert.deepEqual(entries.map((e) => iso(e.scheduledAt)), minutes(1, 7), 'up to 00:07 was more than 3m late at 00:10:30');
  assert.equal(entries[0]!.message, 'missed: later than the max lateness of 3m');
  assert.equal((await kairos.history({ job: 'all' })).filter((e) => e.status === 'completed').length, 3, '00:08, 00:09, 00:10 ran');
});

test('past the cap, one pass writes one summary entry with the count and the range', async () => {
  const { clock, kairos, tick, notRun } = await setup('2030-01-01T00:00:30Z');
  await kairos.schedule({ name: 'outage', task: 'record', cron: '* * * * *', catchUp: 'latest', startAt: '2030-01-01T00:01:00Z' });
  await kairos.schedule({ name: 'at-cap', task: 'record', cron: '* * * * *', catchUp: 'latest', startAt: '2030-01-01T00:01:00Z' });
  // at-cap: exactly the cap missed (00:01-00:10, 00:11 runs) gets one entry each.
  clock.set('2030-01-01T00:11:30Z');
  await tick();
  assert.equal((await notRun('at-cap')).length, NOT_RUN_ENTRIES_CAP);
  assert.equal((await notRun('outage')).length, NOT_RUN_ENTRIES_CAP);
  // A week's outage of a per-minute job: 10 079 missed, one entry.
  await db.pool.query(`DELETE FROM "${db.schema}".job_logs`);
  clock.set('2030-01-08T00:11:30Z');
  await tick();
  const entries = await notRun('outage');
  assert.equal(entries.length, 1);
  assert.equal(iso(entries[0]!.scheduledAt), '2030-01-01T00:12:00.000Z', 'at the first missed one');
  assert.equal(entries[0]!.status, 'missed');
  assert.match(entries[0]!.message!, /^at least 10000 occurrences missed between 2030-01-01T00:12:00.000Z and 2030-01-08T00:10:00.000Z: catch-up policy latest/);
  // Eleven missed: past the cap, counted exactly.
  clock.set('2030-01-08T00:23:30Z');
  await tick();
  const eleven = (await notRun('outage')).filter((e) => e.scheduledAt! > new Date('2030-01-08T00:00:00Z'));
  assert.equal(eleven.length, 1);
  assert.equal(eleven[0]!.message, '11 occurrences missed between 2030-01-08T00:12:00.000Z and 2030-01-08T00:22:00.000Z: catch-up policy latest: only the latest missed occurrence runs');
});

test("overlap 'skip': an occurrence skipped because the previous run is still active is written as skipped", async () => {
  let release: () => void = () => undefined;
  const { clock, kairos, notRun } = await setup('2030-01-01T00:00:00Z', {
    slow: () => new Promise<void>((resolve) => { release = resolve; }),
  });
  await kairos.schedule({ name: 'slow', task: 'slow', cron: '* * * * *', overlap: 'skip', catchUp: 'all', startAt: '2030-01-01T00:00:00Z' });
  const ticker = internals(kairos).services.ticker;
  await ticker.materialise();
  const running = drain(kairos);
  await eventually(async () => (await db.count('runs', `status = 'running'`)) === 1, { timeoutMs: 10_000, what: 'the first run to start' });
  clock.set('2030-01-01T00:02:00Z');
  await ticker.materialise();
  const entries = await notRun('slow');
  assert.deepEqual(entries.map((e) => iso(e.scheduledAt)), minutes(1, 2));
  for (const e of entries) {
    assert.equal(e.status, 'skipped');
    assert.equal(e.message, 'skipped: a run of the job was still active (overlap policy skip)');
    assert.equal(e.attempt, 0);
  }
  assert.equal(await db.count('occurrences', `outcome = 'skipped'`), 2, 'still recorded in occurrences');
  release();
  await running;
});
