/**
 * Property tests over the SQL API (hostile and bad input, issue #5): adversarial names, cron
 * strings, intervals, time zones, payloads (huge, deeply nested, NUL escapes, invalid UTF-8 through
 * bytea), priorities and far past or future times, given to add_job, define_job, insert_job,
 * update_job, schedule, alter_job, enqueue, toggle_job, delete_job, trigger_job, set_steps,
 * cron_validate / cron_next / preview. Every call either succeeds and stores what it was given, or
 * fails with a data error whose message says what is wrong — never an internal error, never a
 * partial write. KAIROS_FUZZ_RUNS sets the number of runs per property, KAIROS_FUZZ_SEED the seed; KAIROS_FUZZ_DEBUG=1 prints
 * every outcome (to see that both successes and refusals are explored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type pg from 'pg';
import { fixture } from '../helpers.js';

const db = await fixture();
const s = `"${db.schema}"`;
const RUNS = Number(process.env.KAIROS_FUZZ_RUNS ?? 60);

/**
 * SQLSTATEs a refused call may raise: data exceptions (22xxx: bad values, bad casts of the
 * caller's literals, invalid UTF-8), the API's own raise (P0001) and unknown job (P0002), missing
 * privilege (42501), and program limits (54xxx: a JSON value nested deeper than the server allows).
 */
const CLEAN = /^(22[0-9A-Z]{3}|P0001|P0002|42501|54[0-9]{3})$/;

/** A value as a parameter: text, or raw bytes turned into text by the server (invalid UTF-8). */
type Param = string | number | boolean | null | { bytes: Buffer };

/** One call: SQL with $n parameters and the words a refusal's message may use to name the field. */
interface Call {
  sql: string;
  params: Param[];
  fields: RegExp;
  /** SQL returning one row with `ok` true when the stored state matches the input (same params; $0 = result). */
  check?: string;
  /**
   * A refusal this input may legitimately get besides the clean ones, e.g. 23505 for a key already
   * queued by an earlier case under conflict 'raise': still a refusal that must change nothing.
   */
  expected?: RegExp;
}

const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', ' lead', 'trail ', 'ok_name', 'job.v1:a/b@c d', 'a\u0000b', '\ud800x', 'x'.repeat(201), 'x'.repeat(200),
    "x'; DROP TABLE jobs; --", '$$; SELECT 1; $$', '%s%L%I', 'ジョブ', '🙂', '\\', '"q"'),
);
const badUtf8 = fc.constantFrom(Buffer.from([0xff, 0xfe]), Buffer.from([0x61, 0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('fine', 'utf8'))
  .map((bytes) => ({ bytes }));
/** Mostly valid values, often hostile ones: successes must be explored as much as refusals. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: bad });
const validName = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.:/@-]{0,30}$/);
const name = fc.oneof({ weight: 9, arbitrary: validName }, { weight: 3, arbitrary: hostile }, { weight: 1, arbitrary: badUtf8 });
const cron = mostly(fc.constantFrom('* * * * *', '0 9 * * MON-FRI', '*/5 * * * * *', '@daily', '0 0 29 2 *', '15 3 1 */2 *', '0 0 1 1 *'), fc.oneof(
  fc.constantFrom('* * * * *', '0 9 * * MON-FRI', '*/5 * * * * *', '@daily', '@hourly', '@reboot', '0 0 30 2 *', '61 * * * *',
    '* * * *', '', ' ', 'a b c d e', '1-0 * * * *', '*/0 * * * *', '0 0 31 4 *', '0 0 29 2 *', '0 0 1 1 * 2099',
    '0 12 * * 7', 'L * * * *', '* * * * * * *', '0 9 * * 1\n0 17 * * 5', '9'.repeat(400), '30 seconds', '0 seconds', '60 seconds'),
  hostile,
));
const interval = mostly(fc.constantFrom('1 second', '5 minutes', '1 hour', '1 day', '36:00:00'), fc.constantFrom('1 second', '59 seconds', '1 hour', '0 seconds', '-1 hour', '1 month', '1 year', '999999999 days',
  '1.5 seconds', '00:00:00.5', 'P1D', 'nonsense', '178000000 years', '', '1 day 1 microsecond', '2147483647 hours'));
const zone = mostly(fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'), fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Mars/Olympus', '', 'EST5EDT', '+05:00',
  'UTC+3', 'posix/Europe/Paris', 'Etc/GMT-14', 'localtime', 'z'.repeat(300), "UTC'; --"));
const time = mostly(fc.date({ min: new Date('2020-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((d) => d.toISOString()), fc.oneof(
  fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('infinity', '-infinity', '294276-12-31 23:59:59+00', '4714-11-24 00:00:00+00 BC', 'epoch', '2030-02-30', 'today', 'tomorrow', '99999-01-01'),
));
const priority = mostly(fc.integer({ min: -10, max: 10 }), fc.oneof(fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }), fc.constantFrom(0, 5, 2_147_483_648, -2_147_483_649)));
const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }), hostile,
    fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(hostile, tie('v'), { maxKeys: 4 })),
})).v;
/** Payload text: JSON values, huge ones, deep ones, NUL escapes, not-JSON, non-objects. */
const payload = fc.oneof(
  { weight: 12, arbitrary: jsonValue.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom(
    JSON.stringify({ big: 'x'.repeat(2_000_000) }), JSON.stringify(Array.from({ length: 100_000 }, (_, i) => i)),
    '['.repeat(5000) + ']'.repeat(5000), '['.repeat(200_000) + ']'.repeat(200_000), '{"a": "\\u0000"}', '{"a": "\\ud800"}',
    '{"a": 1', 'null', '"str"', '42', '{}', '{"k": 1e400}') },
  { weight: 1, arbitrary: badUtf8 },
);
const sqlCommand = mostly(fc.constantFrom('SELECT 1', 'SELECT now()', "UPDATE pg_temp.x SET a = 1", 'VACUUM'), fc.oneof(fc.constantFrom('SELECT 1', 'SELEC 1', '', '   ', 'SELECT 1; SELECT 2', 'VACUUM', "SELECT 'a\u0000'", 'SELECT pg_sleep(0)'), hostile));

/** A parameter placeholder: bytes go through convert_from so the server sees invalid UTF-8. */
const ph = (params: Param[], i: number, type: string): string => {
  const p = params[i];
  return typeof p === 'object' && p !== null ? `convert_from($${i + 1}::bytea, 'UTF8')::${type}` : `$${i + 1}::${type}`;
};
const toValue = (p: Param): unknown => (typeof p === 'object' && p !== null ? p.bytes : p);

async function counts(client: pg.PoolClient): Promise<string> {
  const r = await client.query(`SELECT (SELECT count(*) FROM ${s}.jobs) j, (SELECT count(*) FROM ${s}.runs) r,
    (SELECT count(*) FROM ${s}.job_steps) st, (SELECT count(*) FROM ${s}.job_logs) l`);
  return JSON.stringify(r.rows[0]);
}

/** Make the call; assert success-with-consistent-state or a clean refusal that changed nothing. */
async function attempt(call: Call): Promise<void> {
  const client = await db.pool.connect();
  try {
    const values = call.params.map(toValue);
    const before = await counts(client);
    let result: pg.QueryResult;
    try {
      result = await client.query(call.sql, values);
    } catch (error) {
      const e = error as { code?: string; message: string; where?: string };
      if (process.env.KAIROS_FUZZ_DEBUG) console.log('refused', e.code, e.message.slice(0, 160), '|', (e.where ?? '').split('\n')[0]);
      const legitimate = call.expected?.test(e.code ?? '') === true;
      if (!legitimate) assert.match(e.code ?? 'none', CLEAN, `${call.sql} ${JSON.stringify(values).slice(0, 300)} -> ${e.code} ${e.message}`);
      assert.ok(e.message.length > 0 && e.message.length < 2000, `a readable message: ${e.message.slice(0, 200)}`);
      // Raised inside the API (not by the caller's casts): it must be the API's own refusal.
      if (e.where && /function/.test(e.where) && !legitimate) {
        assert.match(e.code ?? '', /^(22023|P0002|42501)$/, `the API itself checks this: ${call.sql} ${JSON.stringify(values).slice(0, 300)} -> ${e.code} ${e.message}`);
      }
      if (e.code === '22023') assert.match(e.message, call.fields, `the message names the field: ${e.message}`);
      assert.equal(await counts(client), before, `a refused call writes nothing: ${call.sql}`);
      return;
    }
    if (process.env.KAIROS_FUZZ_DEBUG) console.log('accepted', call.sql.slice(0, 60));
    if (call.check) {
      const value = result.rows[0] ? Object.values(result.rows[0])[0] : null;
      const first = value instanceof Date ? value.toISOString() : value;
      // Parameters the check does not use are still sent: name them (as NULL text) so that the
      // server can type them.
      const checkValues = [...values, first === null || first === undefined ? null : String(first)];
      const check = call.check.replaceAll('$0', `$${checkValues.length}`);
      const unused = checkValues.map((_, i) => i + 1).filter((n) => !new RegExp(`\\$${n}(?!\\d)`).test(check));
      for (const n of unused) checkValues[n - 1] = null;
      const dummy = unused.length === 0 ? '' : ` CROSS JOIN (SELECT ${unused.map((n) => `$${n}::text AS d${n}`).join(', ')}) d`;
      const sql = `SELECT c.ok FROM (${check}) c${dummy}`;
      const ok = await client.query(sql, checkValues);
      assert.equal(ok.rows[0]?.ok, true, `stored as given: ${call.sql} ${JSON.stringify(values).slice(0, 300)}`);
    }
  } finally {
    client.release();
  }
}

/** KAIROS_FUZZ_SEED replays a reported failure (fast-check prints its seed). */
const SEED = process.env.KAIROS_FUZZ_SEED ? Number(process.env.KAIROS_FUZZ_SEED) : undefined;

const property = <T extends unknown[]>(arbs: { [K in keyof T]: fc.Arbitrary<T[K]> }, build: (...args: T) => Call, runs = RUNS) =>
  fc.assert(fc.asyncProperty(...(arbs as unknown as [fc.Arbitrary<unknown>]), (...args: unknown[]) => attempt(build(...(args as T)))), { numRuns: runs, includeErrorInReport: true, ...(SEED === undefined ? {} : { seed: SEED }) });

test('add_job: names, commands, intervals, times and attempt limits', async () => {
  await property([name, fc.constantFrom('sql', 'shell', 'task', 'SQL', ''), sqlCommand, fc.option(interval), fc.option(time), fc.option(fc.integer({ min: -3, max: 10 }))],
    (n, type, cmd, every, at, attempts) => {
      const params: Param[] = [n, type, cmd, every, at, attempts];
      return {
        sql: `SELECT ${s}.add_job(${ph(params, 0, 'text')}, $2, $3, $4::interval, $5::timestamptz, $6::int)`,
        params,
        fields: /name|type|command|SQL|interval|max_attempts|time|role|shell/i,
        check: `SELECT (job_type = $2 AND command = $3 AND schedule_interval IS NOT DISTINCT FROM $4::interval AND max_attempts = $6::int
                 AND (NOT enabled OR NOT planned OR next_run IS NOT NULL)) AS ok FROM ${s}.jobs WHERE job_name = ${ph(params, 0, 'text')}`,
      };
    }, 2 * RUNS);
});

test('define_job: every option at once', async () => {
  const schedule = fc.oneof(
    fc.record({ cron: fc.array(cron, { minLength: 0, maxLength: 2 }) }), fc.record({ every: interval }), fc.record({ at: time }), fc.constant({}),
  );
  await property([name, mostly(fc.constantFrom('sql', 'task'), fc.constantFrom('steps', 'shell', 'nope')), sqlCommand, schedule, zone, fc.option(time, { freq: 2 }),
    fc.option(time, { freq: 2 }), payload, mostly(fc.constant('default'), name), priority, fc.option(mostly(fc.nat(5), fc.integer({ min: -2, max: -1 }))),
    mostly(fc.constantFrom('[]', '[{"date": "2030-12-25"}]'), fc.constantFrom('{}', '"x"', '[1]'))],
  (n, type, cmd, sched, tz, start, end, body, queue, prio, retries, exceptions) => {
    const params: Param[] = [n, cmd, type, 'cron' in sched ? `{${sched.cron.map((c) => JSON.stringify(c)).join(',')}}` : null,
      'every' in sched ? sched.every : null, 'at' in sched ? sched.at : null, tz, start, end, body, queue, prio, retries, exceptions];
    return {
      sql: `SELECT job_id FROM ${s}.define_job(${ph(params, 0, 'text')}, $2, $3, cron => $4::text[], every => $5::interval, at => $6::timestamptz,
              timezone => $7, start_at => $8::timestamptz, end_at => $9::timestamptz, payload => ${ph(params, 9, 'jsonb')},
              queue => ${ph(params, 10, 'text')}, priority => $12::int, retries => $13::int, exceptions => $14::jsonb)`,
      params,
      fields: /name|command|SQL|type|cron|crontab|schedule|expression|field|every|interval|zone|catch_up|overlap|retries|end_at|start_at|\bat\b|timeout|exceptions|queue|task|shell|only one|at least|payload|options/i,
      check: `SELECT (j.job_id = $0::int AND j.command = $2 AND j.job_type = $3 AND j.timezone = $7 AND j.payload = ${ph(params, 9, 'jsonb')}
                AND j.queue = ${ph(params, 10, 'text')} AND j.priority = $12::int AND j.max_retries = coalesce($13::int, 0)
                AND j.cron IS NOT DISTINCT FROM array_to_string($4::text[], E'\\n') AND j.schedule_interval IS NOT DISTINCT FROM $5::interval
                AND (j.schedule_kind <> 'once' OR j.schedule_time = $6::timestamptz)) AS ok
                FROM ${s}.jobs j WHERE j.job_name = ${ph(params, 0, 'text')}`,
    };
  }, 3 * RUNS);
});

test('insert_job / update_job / delete_job(id): elephant_worker\'s API', async () => {
  await property([sqlCommand, fc.option(fc.array(cron, { minLength: 1, maxLength: 2 })), fc.option(interval), fc.option(hostile)],
    (cmd, sched, timeout, description) => {
      const arr = (a: string[] | null) => (a === null ? null : `{${a.map((c) => JSON.stringify(c)).join(',')}}`);
      const params: Param[] = [cmd, arr(sched), timeout, description];
      const call: Call = {
        sql: `SELECT job_id FROM ${s}.insert_job($1, schedule => $2::text[], job_timeout => $3::interval, job_description => $4)`,
        params,
        fields: /SQL|command|cron|crontab|schedule|field|expression|job_timeout|datname/i,
        check: `SELECT (command = $1 AND cron IS NOT DISTINCT FROM array_to_string($2::text[], E'\\n') AND description IS NOT DISTINCT FROM $4
                  AND (schedule_kind = 'manual' OR next_run IS NOT NULL OR NOT enabled OR NOT planned)) AS ok FROM ${s}.jobs WHERE job_id = $0::int`,
      };
      return call;
    });
  const [{ job_id: id }] = (await db.pool.query(`SELECT job_id FROM ${s}.insert_job('SELECT 1', schedule => '{"0 * * * *"}')`)).rows;
  await property([fc.option(sqlCommand), fc.option(fc.array(cron, { minLength: 1, maxLength: 2 })), fc.option(interval), fc.option(fc.boolean())], (cmd, sched, timeout, enabled) => {
    const params: Param[] = [id, cmd, sched === null ? null : `{${sched.map((c) => JSON.stringify(c)).join(',')}}`, timeout, enabled];
    return {
      sql: `SELECT job_id FROM ${s}.update_job($1::int, job_command => $2, schedule => $3::text[], job_timeout => $4::interval, enabled => $5::boolean)`,
      params,
      fields: /SQL|command|cron|crontab|schedule|field|expression|job_timeout/i,
      check: `SELECT (($2::text IS NULL OR command = $2) AND ($3::text[] IS NULL OR cron = array_to_string($3::text[], E'\\n'))
                AND ($5::boolean IS NULL OR enabled = $5::boolean) AND (NOT enabled OR NOT planned OR next_run IS NOT NULL)) AS ok FROM ${s}.jobs WHERE job_id = $1::int`,
    };
  });
  await attempt({ sql: `SELECT job_id FROM ${s}.delete_job($1::int)`, params: [id], fields: /job/, check: `SELECT NOT EXISTS (SELECT 1 FROM ${s}.jobs WHERE job_id = $1::int) AS ok` });
});

test('schedule / alter_job / unschedule: pg_cron\'s API', async () => {
  await property([name, cron, sqlCommand], (n, expr, cmd) => {
    const params: Param[] = [n, expr, cmd];
    return {
      sql: `SELECT ${s}.schedule(${ph(params, 0, 'text')}, $2, $3)`,
      params,
      fields: /name|SQL|command|cron|expression|field|schedule|seconds|interval|crontab/i,
      check: `SELECT (job_id = $0::int AND command = $3 AND (cron = btrim($2) OR schedule_interval IS NOT NULL) AND next_run IS NOT NULL) AS ok
                FROM ${s}.jobs WHERE job_name = ${ph(params, 0, 'text')}`,
    };
  });
  const [{ id }] = (await db.pool.query(`SELECT ${s}.schedule('alter-me', '0 * * * *', 'SELECT 1') AS id`)).rows;
  await property([fc.option(cron), fc.option(sqlCommand), fc.option(fc.boolean())], (expr, cmd, active) => ({
    sql: `SELECT ${s}.alter_job($1::bigint, schedule => $2, command => $3, active => $4::boolean)`,
    params: [id, expr, cmd, active],
    fields: /SQL|command|cron|expression|field|schedule|seconds|interval|crontab/i,
    check: `SELECT (($3::text IS NULL OR command = $3) AND ($4::boolean IS NULL OR enabled = $4::boolean) AND (NOT enabled OR NOT planned OR next_run IS NOT NULL) AND (enabled OR next_run IS NULL)) AS ok FROM ${s}.jobs WHERE job_id = $1::int`,
  }));
  await property([name], (n) => ({ sql: `SELECT ${s}.unschedule(${ph([n], 0, 'text')})`, params: [n], fields: /job/ }));
});

test('enqueue and trigger_job: tasks, payloads, keys, priorities, due times', async () => {
  // retries NULL: the task's published definition, else 3 (the registry, migration 0032; no node defines these tasks).
  await property([name, payload, fc.option(time), priority, name, fc.option(name), fc.constantFrom('raise', 'ignore', 'replace', 'merge', ''), fc.option(fc.integer({ min: -2, max: 30 })), fc.option(interval)],
    (task, body, at, prio, queue, key, conflict, retries, delay) => {
      const params: Param[] = [task, body, at, prio, queue, key, conflict, retries, delay];
      return {
        sql: `SELECT ${s}.enqueue(${ph(params, 0, 'text')}, ${ph(params, 1, 'jsonb')}, $3::timestamptz, $4::int, ${ph(params, 4, 'text')},
                ${ph(params, 5, 'text')}, $7, $8::int, $9::interval)`,
        params,
        fields: /task|queue|conflict|retries|job_key|payload|priority|run_at|delay/i,
        // The generator repeats keys: a key an earlier case left queued is a conflict under 'raise'.
        expected: conflict === 'raise' && key !== null ? /^23505$/ : undefined,
        check: `SELECT (r.task = ${ph(params, 0, 'text')} AND r.queue = ${ph(params, 4, 'text')} AND r.key IS NOT DISTINCT FROM ${ph(params, 5, 'text')}
                  AND ($7 <> 'raise' OR (r.payload = coalesce(${ph(params, 1, 'jsonb')}, '{}') AND r.priority = $4::int AND r.max_retries = coalesce($8::int, 3)))
                  AND r.status = 'pending' AND r.run_at IS NOT NULL) AS ok FROM ${s}.runs r WHERE r.run_id = $0::bigint`,
      };
    });
  await db.pool.query(`SELECT ${s}.define_job('trig', 'trig-task', job_type => 'task')`);
  await property([fc.oneof(name, fc.constant('trig')), fc.option(payload), fc.option(time)], (n, body, at) => {
    const params: Param[] = [n, body, at];
    return {
      sql: `SELECT ${s}.trigger_job(${ph(params, 0, 'text')}, ${ph(params, 1, 'jsonb')}, $3::timestamptz)`,
      params,
      fields: /job|payload|run_at/i,
      check: `SELECT (j.job_name = ${ph(params, 0, 'text')} AND r.payload = coalesce(${ph(params, 1, 'jsonb')}, j.payload) AND r.status = 'pending'
                AND r.run_at = coalesce($3::timestamptz, r.run_at)) AS ok FROM ${s}.runs r JOIN ${s}.jobs j USING (job_id) WHERE r.run_id = $0::bigint`,
    };
  });
});

test('toggle_job, delete_job(name), set_steps and the cron functions', async () => {
  await db.pool.query(`SELECT ${s}.define_job('steady', 'SELECT 1', every => '1 hour')`);
  await property([fc.oneof(name, fc.constant('steady')), fc.option(fc.boolean())], (n, on) => ({
    sql: `SELECT ${s}.toggle_job(${ph([n, on], 0, 'text')}, $2::boolean)`,
    params: [n, on],
    fields: /job|enabled/i,
    // A manual job (define_job without a schedule, under a name the generators share) has no next run.
    check: `SELECT (enabled = $2::boolean AND (schedule_kind = 'manual' OR NOT enabled OR NOT planned OR next_run IS NOT NULL)) AS ok
              FROM ${s}.jobs WHERE job_name = ${ph([n, on], 0, 'text')}`,
  }));
  const step = fc.record({ name: fc.option(hostile), kind: fc.constantFrom('sql', 'shell', 'js'), command: sqlCommand, on_error: fc.constantFrom('fail', 'ignore', 'explode'),
    timeout: fc.option(interval), resumable: fc.constantFrom(true, false, 'yes', 'maybe') }, { requiredKeys: ['kind', 'command'] });
  await property([fc.oneof(fc.constant('steady'), name), fc.oneof(fc.array(step, { maxLength: 3 }).map((a) => JSON.stringify(a)), payload)], (n, steps) => ({
    sql: `SELECT ${s}.set_steps(${ph([n, steps], 0, 'text')}, ${ph([n, steps], 1, 'jsonb')})`,
    params: [n, steps],
    fields: /step|job|steps|name|kind|SQL|command|on_error|timeout|resumable|shell/i,
    check: `SELECT (count(*) = $0::int) AS ok FROM ${s}.job_steps st JOIN ${s}.jobs j USING (job_id) WHERE j.job_name = ${ph([n, steps], 0, 'text')}`,
  }));
  await property([cron, zone, time], (expr, tz, after) => ({
    sql: `SELECT ${s}.cron_next($1, $2, $3::timestamptz)`,
    params: [expr, tz, after],
    fields: /cron|expression|field|zone|after|minute|hour|day|month|week|second|value|step|range/i,
    check: `SELECT ($0::timestamptz IS NULL OR $0::timestamptz > $3::timestamptz) AS ok`,
  }));
  await property([cron, zone, fc.integer({ min: -5, max: 2000 })], (expr, tz, n) => ({
    sql: `SELECT count(*) FROM ${s}.preview($1, $2, $3::int)`,
    params: [expr, tz, n],
    fields: /cron|expression|field|zone|count|minute|hour|day|month|week|second|value|step|range/i,
    check: `SELECT ($0::int <= $3::int) AS ok`,
  }));
  await property([name], (n) => ({ sql: `SELECT ${s}.delete_job(${ph([n], 0, 'text')})`, params: [n], fields: /job/,
    check: `SELECT NOT EXISTS (SELECT 1 FROM ${s}.jobs WHERE job_name = ${ph([n], 0, 'text')}) AS ok` }));
});

test('after the storm: no run is stuck and no job is enabled without a next run', async () => {
  const stuck = await db.pool.query(`SELECT run_id FROM ${s}.runs WHERE status <> 'pending' OR run_at IS NULL`);
  assert.deepEqual(stuck.rows, []);
  const lost = await db.pool.query(`SELECT job_name, schedule_kind FROM ${s}.jobs
    WHERE enabled AND planned AND next_run IS NULL AND schedule_kind IN ('cron', 'interval') AND end_time IS NULL`);
  assert.deepEqual(lost.rows, []);
});
