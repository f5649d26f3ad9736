import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { KairosConflictError, KairosValidationError, defineTask, Priority } from '../../src/index.js';
import { drain, waitForRun, TestClock } from '../../src/testing/index.js';
import { Store, runsJson } from '../../src/store/store.js';

const db = await fixture();

test('an enqueued run is executed once and recorded in the history', async () => {
  const seen: Array<{ to: string; attempt: number }> = [];
  const kairos = db.node({ tasks: { email: defineTask<{ to: string }>((p, ctx) => { seen.push({ to: p.to, attempt: ctx.attempt }); return { sent: true }; }) } });
  await kairos.start();
  const { id } = await kairos.enqueue('email', { to: 'a@example.com' });
  await waitForRun(kairos, id);
  assert.deepEqual(seen, [{ to: 'a@example.com', attempt: 1 }]);
  const [log] = await kairos.history({ runId: id });
  assert.equal(log?.status, 'completed');
  assert.deepEqual(log?.output, { sent: true });
  assert.equal(log?.nodeId, kairos.nodeId);
  assert.equal(await db.count('runs', 'run_id = $1', [id]), 0, 'a finished run leaves the queue');
  await kairos.stop();
});

test('enqueueMany inserts a batch in one statement and all of it runs', async () => {
  let ran = 0;
  const kairos = db.node({ tasks: { noop: () => void ran++ } });
  const results = await kairos.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ task: 'noop', payload: { i } })));
  assert.equal(results.length, 50);
  assert.equal(new Set(results.map((r) => r.id)).size, 50);
  assert.equal(await drain(kairos), 50);
  assert.equal(ran, 50);
  assert.equal(await db.count('job_logs', "task = 'noop' AND status = 'completed'"), 50);
});

test('enqueue inside the caller transaction is rolled back with it', async () => {
  const kairos = db.node({ tasks: { tx: () => undefined } });
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await kairos.enqueue('tx', { n: 1 }, { client });
    await client.query('ROLLBACK');
    assert.equal(await db.count('runs', "task = 'tx'"), 0);
    await client.query('BEGIN');
    await kairos.enqueue('tx', { n: 2 }, { client });
    assert.equal(await db.count('runs', "task = 'tx'"), 0, 'not visible before commit');
    await client.query('COMMIT');
    assert.equal(await db.count('runs', "task = 'tx'"), 1);
  } finally {
    client.release();
  }
});

test('job keys: raise, ignore and replace', async () => {
  const kairos = db.node({ tasks: { keyed: () => undefined } });
  const first = await kairos.enqueue('keyed', { v: 1 }, { key: 'k1', runAt: new Date(Date.now() + 3_600_000) });
  await assert.rejects(kairos.enqueue('keyed', { v: 2 }, { key: 'k1' }), KairosConflictError);
  const ignored = await kairos.enqueue('keyed', { v: 3 }, { key: 'k1', conflict: 'ignore' });
  assert.equal(ignored.id, first.id);
  assert.equal(ignored.inserted, false);
  const replaced = await kairos.enqueue('keyed', { v: 4 }, { key: 'k1', conflict: 'replace' });
  assert.equal(replaced.id, first.id);
  const runs = await kairos.listRuns({ task: 'keyed' });
  assert.equal(runs.length, 1);
  assert.deepEqual(runs[0]?.payload, { v: 4 });
  // A batch that collides is refused whole.
  await assert.rejects(kairos.enqueueMany([{ task: 'keyed', payload: {}, key: 'k2' }, { task: 'keyed', payload: {}, key: 'k1' }]), KairosConflictError);
  assert.equal(await db.count('runs', "task = 'keyed'"), 1);
});

test('bad input is refused with a clear error and writes nothing', async () => {
  const kairos = db.node();
  const before = await db.count('runs');
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['empty task', () => kairos.enqueue('' as never, {}), /task/],
    ['task with newline', () => kairos.enqueue('a\nb' as never, {}), /task/],
    ['NUL in payload', () => kairos.enqueue('t', { s: 'a\u0000b' }), /NUL/],
    ['lone surrogate', () => kairos.enqueue('t', { s: '\ud800' }), /Unicode/],
    ['circular payload', () => kairos.enqueue('t', circular), /circular/],
    ['function in payload', () => kairos.enqueue('t', { f: () => 1 }), /JSON value/],
    ['NaN in payload', () => kairos.enqueue('t', { n: Number.NaN }), /finite/],
    ['bigint in payload', () => kairos.enqueue('t', { n: 10n }), /JSON value/],
    ['Date in payload', () => kairos.enqueue('t', { d: new Date() }), /plain object/],
    ['huge payload', () => kairos.enqueue('t', { s: 'x'.repeat(1024 * 1024 + 10) }), /bytes/],
    ['deep payload', () => kairos.enqueue('t', JSON.parse('['.repeat(200) + ']'.repeat(200))), /nested/],
    ['fractional priority', () => kairos.enqueue('t', {}, { priority: 1.5 }), /priority/],
    ['bad runAt', () => kairos.enqueue('t', {}, { runAt: 'yesterday-ish' }), /runAt/],
    ['bad delay', () => kairos.enqueue('t', {}, { delay: '5 parsecs' }), /delay/],
    ['negative retries', () => kairos.enqueue('t', {}, { retries: -1 }), /retries/],
    ['bad conflict', () => kairos.enqueue('t', {}, { key: 'x', conflict: 'merge' as never }), /conflict/],
    ['replace without key', () => kairos.enqueue('t', {}, { conflict: 'replace' }), /key/],
    ['empty key', () => kairos.enqueue('t', {}, { key: '' }), /key/],
    ['bad queue', () => kairos.enqueue('t', {}, { queue: ' spaced' }), /queue/],
  ];
  for (const [what, call, message] of cases) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof KairosValidationError, `${what}: expected KairosValidationError, got ${String(error)}`);
      assert.match(error.message, message, what);
      return true;
    }, what);
  }
  // One bad item fails the whole batch before anything is written.
  await assert.rejects(kairos.enqueueMany([{ task: 't', payload: {} }, { task: 't', payload: { bad: 'a\u0000' } }]), /items\[1\]\.payload/);
  assert.equal(await db.count('runs'), before);
});

test('runs are claimed by priority, then due time; future runs wait', async () => {
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const order: string[] = [];
  const kairos = db.node({ clock, concurrency: 1, tasks: { ordered: (p: { name: string }) => void order.push(p.name) } });
  await kairos.enqueue('ordered', { name: 'normal-early' }, { runAt: '2029-12-31T23:00:00Z' });
  await kairos.enqueue('ordered', { name: 'critical-late' }, { runAt: '2029-12-31T23:30:00Z', priority: Priority.CRITICAL });
  await kairos.enqueue('ordered', { name: 'low' }, { runAt: '2029-12-31T22:00:00Z', priority: Priority.LOW });
  await kairos.enqueue('ordered', { name: 'future' }, { runAt: '2030-01-01T00:00:05Z', priority: Priority.CRITICAL });
  assert.equal(await drain(kairos), 3);
  assert.deepEqual(order, ['critical-late', 'normal-early', 'low']);
  clock.advance(5000);
  assert.equal(await drain(kairos), 1);
  assert.deepEqual(order.at(-1), 'future');
});

test('a typed task validates its payload at enqueue', async () => {
  const kairos = db.node({
    tasks: {
      typed: defineTask<{ n: number }>(() => undefined, {
        validate: (p) => {
          if (typeof (p as { n?: unknown }).n !== 'number') throw new Error('n must be a number');
          return p as { n: number };
        },
      }),
    },
  });
  await assert.rejects(kairos.enqueue('typed', { n: 'x' } as never), /n must be a number/);
  await kairos.enqueue('typed', { n: 1 });
  assert.equal(await db.count('runs', "task = 'typed'"), 1);
});

test('a null payload is kept as JSON null (found by the fuzz test: it used to hit NOT NULL)', async () => {
  const seen: unknown[] = [];
  const kairos = db.node({ tasks: { nullish: (p: unknown) => void seen.push(p) } });
  await kairos.enqueue('nullish', null);
  await kairos.schedule({ name: 'nullish-job', task: 'nullish', payload: null, every: '1h' });
  await kairos.trigger('nullish-job');
  assert.equal(await drain(kairos), 2);
  assert.deepEqual(seen, [null, null]);
});

test('a batch sends shared options once: each run still gets exactly its own options', async () => {
  const kairos = db.node({ tasks: { a: () => undefined, b: () => undefined } });
  const at = new Date('2031-01-01T00:00:00Z');
  const results = await kairos.enqueueMany([
    { task: 'a', payload: { n: 1 }, timeout: '5s', queue: 'q1', priority: 2, runAt: at },
    { task: 'a', payload: null, queue: 'q1', priority: 2, runAt: at },
    { task: 'b', payload: [1, 'two'], timeout: '5s', queue: 'q1', retries: 0, key: 'k', runAt: at, delay: '1m' },
  ]);
  const { rows } = await db.pool.query(
    `SELECT task, queue, priority, payload, key, run_at, max_retries, timeout_ms FROM "${db.schema}".runs WHERE run_id = ANY($1) ORDER BY run_id`,
    [results.map((r) => r.id)],
  );
  assert.deepEqual(rows.map((r) => [r.task, r.queue, r.priority, r.payload, r.key, r.run_at.toISOString(), r.max_retries, r.timeout_ms]), [
    ['a', 'q1', 2, { n: 1 }, null, '2031-01-01T00:00:00.000Z', 3, 5000],
    ['a', 'q1', 2, null, null, '2031-01-01T00:00:00.000Z', 3, null],
    ['b', 'q1', 5, [1, 'two'], 'k', '2031-01-01T00:01:00.000Z', 0, 5000],
  ]);
});

test('a single enqueue (its own statement) stores what the batch statement stores', async () => {
  const kairos = db.node({ tasks: { a: () => undefined } });
  const at = new Date('2031-02-01T00:00:00Z');
  const options = { runAt: at, delay: '1m', misfireGrace: '30s', timeout: '5s', retries: 7, priority: 2, queue: 'q2' } as const;
  const one = await kairos.enqueue('a', { n: 1 }, { ...options, key: 'single' });
  const [many] = await kairos.enqueueMany([{ task: 'a', payload: { n: 1 }, ...options, key: 'batch' }, { task: 'a', payload: null }]);
  const { rows } = await db.pool.query(
    `SELECT run_id, queue, priority, payload, run_at, expires_at, max_retries, timeout_ms FROM "${db.schema}".runs WHERE run_id = ANY($1) ORDER BY run_id`,
    [[one.id, many!.id]],
  );
  const shape = (r: Record<string, unknown>) => [r.queue, r.priority, r.payload, (r.run_at as Date).toISOString(), (r.expires_at as Date).toISOString(), r.max_retries, r.timeout_ms];
  assert.deepEqual(shape(rows[0]), ['q2', 2, { n: 1 }, '2031-02-01T00:01:00.000Z', '2031-02-01T00:01:30.000Z', 7, 5000]);
  assert.deepEqual(shape(rows[0]), shape(rows[1]));
  assert.equal(one.runAt.toISOString(), '2031-02-01T00:01:00.000Z');
  await assert.rejects(kairos.enqueue('a', {}, { key: 'single' }), KairosConflictError, 'a taken key is refused by the single statement too');
});

// Issue #13, one owner per rule: enqueue's conflict policies live in insert_runs (migration 0019),
// called by the TypeScript batch statement and by the SQL API's enqueue().
const RUN_FIELDS = 'task, queue, priority, payload, status, run_at, expires_at, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key';
const runRow = async (id: number): Promise<Record<string, unknown>> =>
  (await db.pool.query(`SELECT ${RUN_FIELDS} FROM "${db.schema}".runs WHERE run_id = $1`, [id])).rows[0];

test("SQL enqueue(conflict => 'replace') on a TypeScript run replaces every option, as TypeScript's replace does", async () => {
  const s = `"${db.schema}"`;
  const maker = db.node({ tasks: { swap: defineTask(() => undefined, { exclusive: true, timeout: '5s', backoff: '3s', maxBackoff: '1m' }) } });
  const later = new Date(Date.now() + 3_600_000);
  const options = { runAt: later, misfireGrace: '10m', priority: 1, queue: 'q1', retries: 9 } as const;
  const bySql = await maker.enqueue('swap', { v: 1 }, { ...options, key: 'by-sql' });
  const byTs = await maker.enqueue('swap', { v: 1 }, { ...options, key: 'by-ts' });
  assert.equal((await runRow(bySql.id)).lock_key, 'task:swap');
  const at = new Date('2031-03-01T00:00:00Z');
  const { rows } = await db.pool.query(
    `SELECT ${s}.enqueue('swap', '{"v": 2}', run_at => $1, priority => 3, queue => 'q2', job_key => 'by-sql', conflict => 'replace', retries => 1, delay => '1 minute') AS id`,
    [at],
  );
  assert.equal(rows[0].id, bySql.id, 'the pending run was replaced, not a new one inserted');
  // TypeScript's replace with what enqueue() gives: the defaults for the options it has no argument for.
  const plain = db.node();
  const replaced = await plain.enqueue('swap', { v: 2 }, { runAt: at, delay: '1m', priority: 3, queue: 'q2', retries: 1, key: 'by-ts', conflict: 'replace' });
  assert.equal(replaced.id, byTs.id);
  const row = await runRow(bySql.id);
  assert.deepEqual(row, await runRow(byTs.id));
  assert.deepEqual([row.payload, (row.run_at as Date).toISOString(), row.expires_at, row.backoff_ms, row.backoff_max_ms, row.timeout_ms, row.lock_key],
    [{ v: 2 }, '2031-03-01T00:01:00.000Z', null, 1000, 3_600_000, null, null]);
});

test("'ignore' returns the existing run's id through both APIs, and a batch gets one result per item", async () => {
  const s = `"${db.schema}"`;
  const kairos = db.node();
  const later = new Date(Date.now() + 3_600_000);
  const ts = await kairos.enqueue('keep', { v: 1 }, { key: 'ts', runAt: later });
  const sqlIgnore = async (key: string): Promise<number> =>
    (await db.pool.query(`SELECT ${s}.enqueue('keep', '{"v": 2}', job_key => $1, conflict => 'ignore') AS id`, [key])).rows[0].id as number;
  assert.equal(await sqlIgnore('ts'), ts.id);
  const sql = await sqlIgnore('sql');
  assert.notEqual(sql, ts.id);
  assert.equal(await sqlIgnore('sql'), sql, 'a run enqueued by SQL is found by SQL');
  const again = await kairos.enqueue('keep', { v: 3 }, { key: 'sql', conflict: 'ignore' });
  assert.deepEqual([again.id, again.inserted], [sql, false]);
  assert.deepEqual((await runRow(ts.id)).payload, { v: 1 }, 'ignore changes nothing');
  // Unkeyed items, a key repeated in the batch, and taken keys, in one batch: one result each, in order.
  const results = await kairos.enqueueMany([
    { task: 'keep', payload: 1 }, { task: 'keep', payload: 2, key: 'new' }, { task: 'keep', payload: 3, key: 'ts' },
    { task: 'keep', payload: 4 }, { task: 'keep', payload: 5, key: 'new' }, { task: 'other', payload: 6 },
  ], { conflict: 'ignore' });
  assert.deepEqual(results.map((r) => r.inserted), [true, true, false, true, false, true]);
  assert.equal(results[2]!.id, ts.id);
  assert.equal(results[4]!.id, results[1]!.id, 'the repeated key gets the run its first item inserted');
  assert.equal(new Set([0, 1, 3, 5].map((i) => results[i]!.id)).size, 4);
  const { rows } = await db.pool.query(`SELECT run_id, payload FROM ${s}.runs WHERE run_id = ANY($1)`, [results.map((r) => r.id)]);
  const payloads = new Map(rows.map((r) => [r.run_id as number, r.payload]));
  assert.deepEqual(results.map((r) => payloads.get(r.id)), [1, 2, { v: 1 }, 4, 2, 6], 'each id is its own item\'s run (or the run holding its key)');
});

test("'replace' of a running run is refused by both APIs and changes nothing", async () => {
  const s = `"${db.schema}"`;
  const kairos = db.node();
  const { id } = await kairos.enqueue('busy', { v: 1 }, { key: 'b', timeout: '7s' });
  await db.pool.query(`UPDATE ${s}.runs SET status = 'running', node_id = 'n', attempt = 1 WHERE run_id = $1`, [id]);
  const before = await runRow(id);
  await assert.rejects(kairos.enqueue('busy', { v: 2 }, { key: 'b', conflict: 'replace' }), KairosConflictError);
  await assert.rejects(kairos.enqueueMany([{ task: 'busy', payload: 0, key: 'free' }, { task: 'busy', payload: 2, key: 'b' }], { conflict: 'replace' }), /already running/);
  await assert.rejects(db.pool.query(`SELECT ${s}.enqueue('busy', '{"v": 3}', job_key => 'b', conflict => 'replace')`),
    (e: { code?: string; message: string }) => e.code === '23505' && e.message === `run ${id} with key 'b' is already running; replace only applies to pending runs`);
  assert.deepEqual(await runRow(id), before);
  assert.equal(await db.count('runs', "task = 'busy'"), 1, 'the refused batch left nothing behind');
});

test('the single-run statements compute the due time and expiry by the batch statement\'s rule', async () => {
  const store = new Store(db.pool, db.schema, false);
  const base = { queue: 'default', priority: 5, payload: '{}', max_retries: 0, backoff_ms: 1000, backoff_max_ms: 1000, timeout_ms: null, lock_key: null };
  const cases: Array<{ run_at: string | null; delay_ms: number | null; grace_ms: number | null; now: Date | null }> = [];
  for (const run_at of [null, '2031-04-01T10:00:00.123Z']) {
    for (const delay_ms of [null, 0, 1, 90_000, -5_000]) {
      for (const grace_ms of [null, 0, 30_000]) {
        for (const now of [null, new Date('2030-01-01T00:00:00.456Z')]) cases.push({ run_at, delay_ms, grace_ms, now });
      }
    }
  }
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN'); // one now() for every statement
    const times = async (id: number | null): Promise<[string, string | null]> => {
      const { rows: [r] } = await client.query(`SELECT run_at, expires_at FROM "${db.schema}".runs WHERE run_id = $1`, [id]);
      return [r.run_at.toISOString(), r.expires_at?.toISOString() ?? null];
    };
    let n = 0;
    for (const c of cases) {
      const one = { ...base, task: 'due', key: `one-${n}`, run_at: c.run_at, delay_ms: c.delay_ms, grace_ms: c.grace_ms };
      const [single] = await store.sql.insertRun({ ...one, now: c.now }, client);
      const [items, defaults] = runsJson([{ ...one, key: `batch-${n++}`, payload_json: '{}' }]);
      const [batch] = await store.sql.insertRunBatch({ items, defaults, now: c.now, conflict: 'raise' }, client);
      assert.deepEqual(await times(single!.run_id), await times(batch!.run_id), JSON.stringify(c));
      assert.equal(single!.run_at_ms, batch!.run_at_ms);
      if (c.run_at === null && !c.delay_ms && c.now === null) {
        // The hand-off statement's case (no node armed here: it inserts a pending run).
        const [handed] = await store.sql.insertRunHandoff({ ...one, key: `handoff-${n}` }, client);
        assert.deepEqual(await times(handed!.run_id), await times(batch!.run_id), `hand-off ${JSON.stringify(c)}`);
      }
    }
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});
