import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';
import { KairosValidationError } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();

test('calendar: start and end dates and exception dates and times', async () => {
  const clock = new TestClock('2025-12-23T00:00:00Z');
  const days: string[] = [];
  const kairos = db.node({ clock, tasks: { daily: (_p: unknown, ctx) => void days.push(ctx.scheduledAt!.toISOString().slice(0, 16)) } });
  await kairos.schedule({
    name: 'business-days',
    task: 'daily',
    cron: '0 2,14 * * *',
    timezone: 'Europe/Paris',
    startAt: '2025-12-24T00:00:00+01:00',
    endAt: '2025-12-27T23:59:00+01:00',
    catchUp: 'all',
    exceptions: [{ date: '2025-12-25' }, { date: '2025-12-26', time: '14:00' }, { time: '02:00' }],
  });
  for (let day = 23; day <= 28; day++) {
    clock.set(`2025-12-${day}T23:00:00Z`);
    await internals(kairos).services.ticker.materialise();
    await drain(kairos);
  }
  // 2:00 never (time exception), 25th never (date exception), 26th 14:00 not (date+time exception).
  assert.deepEqual(days, ['2025-12-24T13:00', '2025-12-27T13:00']);
  const skipped = await db.count('occurrences', "outcome = 'skipped'");
  assert.equal(skipped, 6);
  assert.equal((await kairos.getJob('business-days'))?.nextRun, null, 'finished at the end date');
});

test('exceptions are checked at the API', async () => {
  const kairos = db.node();
  for (const exceptions of [[{ date: '25-12-2025' }], [{ time: '24:00' }], [{}], 'xmas']) {
    await assert.rejects(kairos.schedule({ name: 'bad', task: 't', cron: '* * * * *', exceptions: exceptions as never }), KairosValidationError);
  }
  assert.equal(await db.count('jobs', "job_name = 'bad'"), 0);
});

test('pinning: only the named node, or nodes with every required tag, run a job', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const ran: string[] = [];
  const make = (nodeName: string, nodeTags: string[]) => db.node({ clock, nodeName, nodeTags, tasks: { pinned: (_p: unknown, ctx) => void ran.push(`${ctx.jobName}@${nodeName}`) } });
  const plain = make('plain', []);
  const gpu = make('gpu-box', ['gpu', 'eu']);
  await plain.schedule({ name: 'needs-gpu', task: 'pinned', at: '2030-01-01T00:00:00Z', nodeTags: ['gpu'] });
  await plain.schedule({ name: 'on-plain', task: 'pinned', at: '2030-01-01T00:00:00Z', nodeName: 'plain' });
  await internals(plain).services.ticker.materialise();
  assert.equal(await drain(plain), 1);
  assert.deepEqual(ran, ['on-plain@plain']);
  assert.equal(await drain(gpu), 1);
  assert.deepEqual(ran, ['on-plain@plain', 'needs-gpu@gpu-box']);
});
