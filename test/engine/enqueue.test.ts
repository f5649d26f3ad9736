import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { KairosConflictError, KairosValidationError, defineTask, Priority } from '../../src/index.js';
import { drain, waitForRun, TestClock } from '../../src/testing/index.js';

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
