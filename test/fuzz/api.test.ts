/**
 * Property tests over the TypeScript API (a first part of the hostile-input suite): whatever the
 * input, a call either succeeds with a consistent state or fails with a KairosError that says what
 * is wrong — never a crash, a driver error, or a half-written row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fixture } from '../helpers.js';
import { isKairosError, KairosValidationError } from '../../src/index.js';

const db = await fixture();
const kairos = db.node();
const RUNS = Number(process.env.KAIROS_FUZZ_RUNS ?? 150);

/** Strings that stress names and keys: unicode, NULs, lone surrogates, SQL, huge. */
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', 'a\u0000b', '\ud800', "x'; DROP TABLE runs; --", '"quoted"', 'a'.repeat(300), '../etc/passwd', 'ok-name'),
);

const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null), fc.boolean(), fc.double(), fc.integer(), hostileString, fc.bigInt(), fc.constant(undefined), fc.date(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

async function counts(): Promise<string> {
  const r = await db.pool.query(`SELECT (SELECT count(*) FROM "${db.schema}".runs) AS runs, (SELECT count(*) FROM "${db.schema}".jobs) AS jobs`);
  return JSON.stringify(r.rows[0]);
}

test('enqueue: any task name, payload, key and priority either works or is refused cleanly', async () => {
  await fc.assert(
    fc.asyncProperty(hostileString, jsonish, fc.option(hostileString), fc.oneof(fc.integer(), fc.double()), async (task, payload, key, priority) => {
      const before = await counts();
      try {
        const result = await kairos.enqueue(task, payload, { key: key ?? undefined, priority, conflict: 'ignore' });
        assert.ok(result.id > 0);
        const [row] = (await db.pool.query(`SELECT task FROM "${db.schema}".runs WHERE run_id = $1`, [result.id])).rows;
        assert.equal(row.task, task, 'what was accepted is what was stored');
      } catch (error) {
        assert.ok(isKairosError(error), `not a KairosError: ${String(error)}`);
        assert.ok((error as Error).message.length > 10);
        assert.equal(await counts(), before, 'a refused call writes nothing');
      }
    }),
    { numRuns: RUNS },
  );
});

test('schedule: any cron, time zone, interval and dates either work or are refused cleanly', async () => {
  const cron = fc.oneof(
    hostileString,
    fc.tuple(...Array.from({ length: 5 }, () => fc.constantFrom('*', '*/5', '0', '59', '60', '1-5', '5-1', 'L', '15W', '5#3', 'MON', 'JAN', '?', '*/0', 'a/b'))).map((f) => f.join(' ')),
  );
  const tz = fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York', 'Mars/Olympus', '+02:00', '', 'utc', 'Asia/Kolkata');
  await fc.assert(
    fc.asyncProperty(hostileString, cron, tz, fc.option(fc.oneof(fc.integer(), hostileString)), fc.option(fc.date({ noInvalidDate: false })), async (name, expr, timezone, every, at) => {
      const before = await counts();
      const options = every !== null ? { name, task: 't', every } : at !== null ? { name, task: 't', at } : { name, task: 't', cron: expr, timezone };
      try {
        const job = await kairos.schedule(options as never);
        assert.equal(job.name, name);
        assert.ok(job.nextRun === null || job.nextRun instanceof Date);
        await kairos.unschedule(name);
      } catch (error) {
        assert.ok(error instanceof KairosValidationError, `not a validation error: ${String(error)}`);
        assert.equal(await counts(), before);
      }
    }),
    { numRuns: RUNS },
  );
});
