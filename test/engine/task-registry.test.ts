/**
 * Issue #14, part 1: a task's run options applied only to runs its enqueuer knew the definition
 * of. Runs enqueued by the SQL API's enqueue() or by a Kairos instance without the task's
 * definition took the defaults: an exclusive task's runs took no lock and overlapped, and the
 * task's timeout, retries, backoff, queue and priority were lost. Now every node publishes the
 * tasks it defines at start() to the registry (`tasks`, migration 0032) and every insert fills the
 * options its caller did not give from there, then from the defaults: explicit > registry > default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually } from '../helpers.js';
import { defineTask, type Logger } from '../../src/index.js';
import { silentLogger } from '../../src/core/logger.js';

const db = await fixture();
const s = `"${db.schema}"`;

const OPTIONS = 'task, queue, priority, max_retries, backoff_ms, backoff_max_ms, timeout_ms, lock_key';
const options = async (id: number | string): Promise<Record<string, unknown>> =>
  (await db.pool.query(`SELECT ${OPTIONS} FROM ${s}.runs WHERE run_id = $1`, [id])).rows[0];
const LATER = "run_at => now() + interval '1 hour'";
/** Make held-back runs due at once (they were enqueued an hour ahead so their rows could be read first). */
const release = (ids: Array<number | string>) => db.pool.query(`UPDATE ${s}.runs SET run_at = now() WHERE run_id = ANY($1::bigint[])`, [ids]);
const sqlEnqueue = async (args: string): Promise<string> => (await db.pool.query(`SELECT ${s}.enqueue(${args}) AS id`)).rows[0].id as string;

test('6 runs of an exclusive task enqueued through SQL and an enqueue-only instance never overlap on 2 workers', async () => {
  const spans: Array<{ start: number; end: number }> = [];
  let active = 0;
  let overlapped = 0;
  const handler = async (): Promise<void> => {
    active++;
    if (active > 1) overlapped++;
    const start = performance.now();
    // Work that takes a while (not a synchronisation): long enough for a second worker to claim.
    await new Promise((resolve) => setTimeout(resolve, 40));
    active--;
    spans.push({ start, end: performance.now() });
  };
  const workers = [1, 2].map(() => db.node({ concurrency: 4, pollInterval: 50, tasks: { solo: defineTask(handler, { exclusive: true }) } }));
  await Promise.all(workers.map((w) => w.start()));
  const enqueuer = db.node(); // no task definitions, never started
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await sqlEnqueue(`'solo', '{}', ${LATER}`));
  for (let i = 0; i < 3; i++) ids.push(String((await enqueuer.enqueue('solo', {}, { delay: '1h' })).id));
  for (const id of ids) assert.equal((await options(id)).lock_key, 'task:solo', `run ${id} takes the task's lock`);
  await release(ids);
  await eventually(() => spans.length === 6, { timeoutMs: 20_000, what: 'the 6 runs to finish' });
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const pairs = sorted.flatMap((a, i) => sorted.slice(i + 1).filter((b) => b.start < a.end).map(() => 1)).length;
  assert.equal(pairs, 0, 'no two runs overlapped');
  assert.equal(overlapped, 0);
  await Promise.all(workers.map((w) => w.stop()));
});

test("a task's timeout, retries, backoff, queue and priority defined on the worker apply to runs enqueued elsewhere", async () => {
  const ran: string[] = [];
  const worker = db.node({
    queues: ['reports'], pollInterval: 50,
    tasks: { report: defineTask(async (p: { n: string }) => void ran.push(p.n), { queue: 'reports', priority: 2, retries: 7, backoff: '3s', maxBackoff: '1m', timeout: '9s' }) },
  });
  await worker.start();
  const enqueuer = db.node();
  const fromSql = await sqlEnqueue(`'report', '{"n": "sql"}', ${LATER}`);
  const fromInstance = (await enqueuer.enqueue('report', { n: 'instance' }, { delay: '1h' })).id;
  const batch = await enqueuer.enqueueMany([{ task: 'report', payload: { n: 'batch' }, delay: '1h' }, { task: 'report', payload: { n: 'batch2' }, delay: '1h' }]);
  const fromBatch = batch[0];
  const expected = { task: 'report', queue: 'reports', priority: 2, max_retries: 7, backoff_ms: 3000, backoff_max_ms: 60_000, timeout_ms: 9000, lock_key: null };
  for (const id of [fromSql, fromInstance, fromBatch!.id]) assert.deepEqual(await options(id), expected, `run ${id}`);
  await release([fromSql, fromInstance, ...batch.map((b) => b.id)]);
  await eventually(() => ran.length === 4, { what: "the worker on queue 'reports' to run all four" });
  assert.deepEqual(ran.sort(), ['batch', 'batch2', 'instance', 'sql']);
  // An undefined task still gets the defaults.
  assert.deepEqual(await options(await sqlEnqueue(`'nobody', '{}'`)),
    { task: 'nobody', queue: 'default', priority: 5, max_retries: 3, backoff_ms: 1000, backoff_max_ms: 3_600_000, timeout_ms: null, lock_key: null });
  await worker.stop();
});

test('an explicit option still wins over the registry, through SQL, the single-run, hand-off and batch paths', async () => {
  const worker = db.node({ queues: ['slow'], tasks: { tuned: defineTask(async () => undefined, { queue: 'slow', priority: 9, retries: 4, backoff: 500, maxBackoff: 5000, timeout: 2000 }) } });
  await worker.start();
  const viaSql = await sqlEnqueue(`'tuned', '{}', priority => 1, queue => 'fast', retries => 0, run_at => now() + interval '1 hour'`);
  assert.deepEqual(await options(viaSql), { task: 'tuned', queue: 'fast', priority: 1, max_retries: 0, backoff_ms: 500, backoff_max_ms: 5000, timeout_ms: 2000, lock_key: null });
  const enqueuer = db.node();
  const explicit = { queue: 'fast', priority: 3, retries: 1, backoff: 10, maxBackoff: 20, timeout: 30, delay: '1h' } as const;
  const single = (await enqueuer.enqueue('tuned', {}, explicit)).id;
  const [batch] = await enqueuer.enqueueMany([{ task: 'tuned', payload: {}, ...explicit }, { task: 'tuned', payload: {}, ...explicit }]);
  const want = { task: 'tuned', queue: 'fast', priority: 3, max_retries: 1, backoff_ms: 10, backoff_max_ms: 20, timeout_ms: 30, lock_key: null };
  assert.deepEqual(await options(single), want);
  assert.deepEqual(await options(batch!.id), want);
  // A started enqueuer takes the hand-off statement for a run due now (no node is armed for 'fast').
  const started = db.node({ queues: ['elsewhere'] });
  await started.start();
  const handed = (await started.enqueue('tuned', {}, { queue: 'fast', retries: 2 })).id;
  assert.deepEqual(await options(handed), { ...want, priority: 9, max_retries: 2, backoff_ms: 500, backoff_max_ms: 5000, timeout_ms: 2000 });
  // Without a queue, the registry's.
  const registered = (await started.enqueue('tuned', {}, { delay: '1h' })).id;
  assert.equal((await options(registered)).queue, 'slow');
  await Promise.all([worker.stop(), started.stop()]);
});

test('a node publishes its definitions at start(); a different definition of the same task wins last and is logged', async () => {
  const warned: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (_o: unknown, message?: string) => void warned.push(String(message)), child: () => logger };
  const a = db.node({ queues: ['none'], tasks: { shared: defineTask(async () => undefined, { retries: 1 }) } });
  await a.start();
  const row = async () => (await db.pool.query(`SELECT max_retries, published_by FROM ${s}.tasks WHERE task = 'shared'`)).rows[0];
  assert.deepEqual(await row(), { max_retries: 1, published_by: a.nodeId });
  const b = db.node({ queues: ['none'], logger, tasks: { shared: defineTask(async () => undefined, { retries: 2 }) } });
  await b.start();
  assert.deepEqual(await row(), { max_retries: 2, published_by: b.nodeId });
  assert.ok(warned.some((m) => /differs from the one another node published/.test(m)), warned.join('; '));
  // A task defined after start() is published too.
  b.task('later', defineTask(async () => undefined, { exclusive: 'reports-lock' }));
  await eventually(async () => (await db.count('tasks', `task = 'later' AND lock_key = 'lock:reports-lock'`)) === 1, { what: 'the later task to be published' });
  assert.equal((await options(await sqlEnqueue(`'later', '{}', ${LATER}`))).lock_key, 'lock:reports-lock');
  await Promise.all([a.stop(), b.stop()]);
});

test('bad explicit options through SQL are still refused and store nothing', async () => {
  const before = await db.count('runs');
  await assert.rejects(db.pool.query(`SELECT ${s}.enqueue('x', '{}', retries => -1)`), (e: { code?: string }) => e.code === '22023');
  await assert.rejects(db.pool.query(`SELECT ${s}.enqueue('x', '{}', queue => ' bad')`), (e: { code?: string }) => e.code === '22023');
  assert.equal(await db.count('runs'), before);
});
