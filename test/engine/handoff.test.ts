import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { fixture, eventually } from '../helpers.js';
import { KairosConflictError, KairosValidationError, createMetrics, type Kairos, type KairosOptions, type TaskMap } from '../../src/index.js';
import { drain, waitForRun, waitForStatus } from '../../src/testing/index.js';
import { internals } from '../../src/api/internals.js';

const db = await fixture();

/** The run id a node's hand-off row holds: null while armed, undefined when it has no row. */
async function handoffOf(node: { nodeId: string }): Promise<number | null | undefined> {
  const { rows } = await db.pool.query(`SELECT run_id FROM "${db.schema}".handoffs WHERE node_id = $1`, [node.nodeId]);
  return rows.length === 0 ? undefined : (rows[0].run_id as number | null);
}

const armed = (node: { nodeId: string }): Promise<void> => eventually(async () => (await handoffOf(node)) === null, 10_000, 'the idle node to be armed');

/** A started worker armed for hand-off, and an enqueuing instance that works another queue. */
async function armedWorker<T extends TaskMap>(options: Partial<KairosOptions<T>>): Promise<{ worker: Kairos<T>; producer: Kairos }> {
  const worker = db.node<T>(options);
  const producer = db.node({ queues: ['elsewhere'] });
  await worker.start();
  await armed(worker);
  return { worker, producer };
}

/**
 * From here on a started node misses its hand-off NOTIFYs. Its LISTEN connection stays up: a node
 * whose LISTEN session is gone is not handed runs at all (migration 0021).
 */
function deafen(node: object): void {
  internals(node).services.producer.handoff.accept = () => undefined;
}

async function runRow(id: number): Promise<{ status: string; node_id: string | null; attempt: number } | undefined> {
  const { rows } = await db.pool.query(`SELECT status, node_id, attempt FROM "${db.schema}".runs WHERE run_id = $1`, [id]);
  return rows[0];
}

test('an idle node is handed a run enqueued for now: running on it from the insert, started once, re-armed after', async () => {
  const seen: number[] = [];
  const { worker, producer } = await armedWorker({ tasks: { hand: (p: { i: number }, ctx) => void seen.push(p.i * 10 + ctx.attempt) } });
  const metrics = createMetrics(worker);

  const done = waitForStatus(worker, (c) => c.task === 'hand' && c.next === 'completed');
  const { id } = await producer.enqueue('hand', { i: 1 });
  // Taken by the insert itself: the row names the run, no claim was needed.
  assert.equal(await handoffOf(worker), id);
  assert.equal((await done).runId, id);
  assert.deepEqual(seen, [11]);
  const [log] = await producer.history({ runId: id });
  assert.deepEqual([log?.status, log?.attempt, log?.nodeId], ['completed', 1, worker.nodeId]);

  // Idle again: armed again, and the next run is handed over too.
  await armed(worker);
  const secondDone = waitForStatus(worker, (c) => c.task === 'hand' && c.next === 'completed');
  const second = await producer.enqueue('hand', { i: 2 });
  assert.equal(await handoffOf(worker), second.id);
  assert.equal((await secondDone).runId, second.id);
  assert.deepEqual(seen, [11, 21]);
  assert.match(await metrics.metrics(), /^kairos_handoffs_total\{queue="default"\} 2$/m);
  await Promise.all([worker.stop(), producer.stop()]);
});

test('no hand-off for runs due later, batches, the caller\'s transaction, other queues or tasks, or with handoff off', async () => {
  const worker = db.node({ tasks: { hold: () => undefined } });
  const producer = db.node({ queues: ['elsewhere'] });
  const quiet = db.node({ queues: ['elsewhere'], handoff: false });
  await worker.start();
  await armed(worker);
  const ids: number[] = [];
  ids.push((await producer.enqueue('hold', {}, { runAt: new Date(Date.now() + 3_600_000) })).id);
  ids.push((await producer.enqueue('hold', {}, { delay: '1h' })).id);
  ids.push(...(await producer.enqueueMany([{ task: 'hold', payload: {}, runAt: new Date(Date.now() + 3_600_000) }, { task: 'hold', payload: {}, runAt: new Date(Date.now() + 3_600_000) }])).map((r) => r.id));
  ids.push((await producer.enqueue('hold', {}, { queue: 'elsewhere' })).id);
  ids.push((await producer.enqueue('unknown-task', {})).id);
  ids.push((await quiet.enqueue('unknown-task', {})).id);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    ids.push((await producer.enqueue('unknown-task', {}, { client })).id);
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  assert.equal(await handoffOf(worker), null, 'still armed');
  assert.equal(await db.count('runs', "status = 'running'"), 0);
  // The node itself, with handoff off, never offers itself.
  const off = db.node({ queues: ['off'], handoff: false, tasks: { offTask: () => undefined } });
  const offMetrics = createMetrics(off);
  await off.start();
  assert.equal(internals(off).services.producer.handoff.enabled, false);
  const offDone = waitForStatus(off, (c) => c.task === 'offTask' && c.next === 'completed');
  await producer.enqueue('offTask', {}, { queue: 'off' });
  await offDone;
  assert.equal(await handoffOf(off), undefined);
  assert.doesNotMatch(await offMetrics.metrics(), /^kairos_handoffs_total\{/m, 'a claimed run is not counted as handed off');
  await db.pool.query(`DELETE FROM "${db.schema}".runs WHERE run_id = ANY($1)`, [ids]);
  await Promise.all([worker.stop(), producer.stop(), quiet.stop(), off.stop()]);
});

test('a row takes one run: the next waits in the queue for a claim, and every run runs exactly once', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const seen = new Map<number, number>();
  const { worker, producer } = await armedWorker({ concurrency: 1, tasks: { one: async (p: { i: number }) => { seen.set(p.i, (seen.get(p.i) ?? 0) + 1); if (p.i === 0) await gate; } } });
  const first = await producer.enqueue('one', { i: 0 });
  const second = await producer.enqueue('one', { i: 1 });
  assert.equal(await handoffOf(worker), first.id);
  assert.equal((await runRow(second.id))?.status, 'pending');
  release();
  await waitForRun(worker, second.id);
  assert.deepEqual([...seen.entries()].sort(), [[0, 1], [1, 1]]);
  await Promise.all([worker.stop(), producer.stop()]);
});

test('a refused enqueue (duplicate key) hands nothing over and leaves the node armed', async () => {
  const { worker, producer } = await armedWorker({ tasks: { keyed: () => undefined } });
  await db.pool.query(`INSERT INTO "${db.schema}".runs (task, key, run_at) VALUES ('keyed', 'k1', now() + interval '1 hour')`);
  const before = await db.count('runs');
  await assert.rejects(producer.enqueue('keyed', {}, { key: 'k1' }), KairosConflictError);
  assert.equal(await db.count('runs'), before);
  assert.equal(await handoffOf(worker), null, 'still armed');
  await db.pool.query(`DELETE FROM "${db.schema}".runs WHERE task = 'keyed'`);
  await Promise.all([worker.stop(), producer.stop()]);
});

test('a payload too large for the NOTIFY is read by the node', async () => {
  let got: string | undefined;
  const { worker, producer } = await armedWorker({ tasks: { big: (p: { text: string }) => void (got = p.text) } });
  const metrics = createMetrics(worker);
  const text = 'x'.repeat(20_000);
  const done = waitForStatus(worker, (c) => c.task === 'big' && c.next === 'completed');
  const { id } = await producer.enqueue('big', { text });
  assert.equal(await handoffOf(worker), id);
  await done;
  assert.equal(got, text);
  assert.match(await metrics.metrics(), /^kairos_handoffs_total\{queue="default"\} 1$/m, 'read by the node, still a hand-off');
  await Promise.all([worker.stop(), producer.stop()]);
});

test('a hand-off whose NOTIFY was lost is fetched on reconnect, or handed back at stop()', async () => {
  const seen: number[] = [];
  const { worker, producer } = await armedWorker({ tasks: { lost: (p: { i: number }) => void seen.push(p.i) } });
  deafen(worker);
  const { id } = await producer.enqueue('lost', { i: 1 });
  assert.deepEqual(await runRow(id), { status: 'running', node_id: worker.nodeId, attempt: 1 });
  const done = waitForRun(worker, id);
  await internals(worker).services.producer.handoff.recover();
  assert.equal((await done).next, 'completed');
  assert.deepEqual(seen, [1]);

  // Once more, and this time the node stops before learning of it: the run goes back, unspent.
  await armed(worker);
  const again = await producer.enqueue('lost', { i: 2 });
  assert.equal(await handoffOf(worker), again.id);
  await worker.stop();
  assert.deepEqual(await runRow(again.id), { status: 'pending', node_id: null, attempt: 0 });
  assert.equal(await handoffOf(worker), undefined, 'stop() withdraws the node');
  const heir = db.node({ tasks: { lost: (p: { i: number }) => void seen.push(p.i) } });
  assert.equal(await drain(heir), 1);
  assert.deepEqual(seen, [1, 2]);
  const logs = await producer.history({ runId: again.id });
  assert.deepEqual(logs.map((l) => [l.status, l.attempt, l.nodeId]), [['completed', 1, heir.nodeId]]);
  await producer.stop();
});

test('a node whose registry row vanished registers again and offers itself again', async () => {
  const { worker, producer } = await armedWorker({ tasks: { back: () => undefined } });
  // An operator (or the pruner, after a long freeze) deletes the node: its hand-off row goes too.
  await db.pool.query(`DELETE FROM "${db.schema}".nodes WHERE node_id = $1`, [worker.nodeId]);
  assert.equal(await handoffOf(worker), undefined);
  await internals(worker).services.heartbeat.runOnce();
  await armed(worker);
  const done = waitForStatus(worker, (c) => c.task === 'back' && c.next === 'completed');
  const { id } = await producer.enqueue('back', {});
  assert.equal(await handoffOf(worker), id);
  await done;
  await Promise.all([worker.stop(), producer.stop()]);
});

test('a node that stopped heartbeating is not handed runs', async () => {
  const { worker, producer } = await armedWorker({ tasks: { stale: () => undefined } });
  await db.pool.query(`UPDATE "${db.schema}".nodes SET last_heartbeat = now() - interval '1 hour' WHERE node_id = $1`, [worker.nodeId]);
  const { id } = await producer.enqueue('unclaimable', {});
  assert.equal((await runRow(id))?.status, 'pending');
  assert.equal(await handoffOf(worker), null);
  await db.pool.query(`DELETE FROM "${db.schema}".runs WHERE run_id = $1`, [id]);
  await Promise.all([worker.stop(), producer.stop()]);
});

test('three nodes and concurrent single enqueues: runs are handed over and every run runs exactly once', async () => {
  const seen = new Map<number, number>();
  const handler = async (p: { i: number }): Promise<void> => {
    seen.set(p.i, (seen.get(p.i) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, Math.random() * 5));
  };
  const nodes = [1, 2, 3].map(() => db.node({ concurrency: 2, tasks: { many: handler } }));
  const producer = db.node({ queues: ['elsewhere'] });
  await Promise.all(nodes.map((n) => n.start()));
  await Promise.all(nodes.map(armed));
  const listener = new pg.Client(db.connectionString);
  await listener.connect();
  let handoffs = 0;
  listener.on('notification', (m) => void (JSON.parse(m.payload ?? '{}').t === 'handoff' && handoffs++));
  await listener.query(`LISTEN "kairos:${db.schema}"`);
  try {
    for (let i = 0; i < 300; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => producer.enqueue('many', { i: i + j })));
    }
    await eventually(async () => (await db.count('job_logs', "task = 'many' AND status = 'completed'")) === 300, 20_000, '300 completions');
    assert.equal(seen.size, 300);
    assert.ok([...seen.values()].every((n) => n === 1));
    assert.ok(handoffs > 0, 'some runs were handed over');
    assert.equal(await db.count('job_logs', "task = 'many' AND attempt <> 1"), 0);
  } finally {
    await listener.end();
    await Promise.all([...nodes, producer].map((n) => n.stop()));
  }
});

/** The advisory lock key a node's row carries (migration 0021), and whether a session holds it. */
async function listenerLockOf(node: { nodeId: string }): Promise<{ key: number | null; held: boolean }> {
  const { rows } = await db.pool.query(
    `SELECT listener_lock AS key, EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
              AND (l.classid::bigint << 32 | l.objid::bigint) = h.listener_lock AND l.objsubid = 1) AS held
       FROM "${db.schema}".handoffs h WHERE node_id = $1`, [node.nodeId]);
  return rows[0];
}

test('the row names the LISTEN session: a row whose session is gone takes nothing, and the run is claimed as usual', async () => {
  const seen: number[] = [];
  const { worker, producer } = await armedWorker({ tasks: { orphan: (_p: unknown, ctx) => void seen.push(ctx.runId) } });
  const live = await listenerLockOf(worker);
  assert.equal(live.held, true, 'the LISTEN session holds the row\'s key');
  // Held by the listener's backend, the one named after the node.
  const { rows: [holder] } = await db.pool.query(
    `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND (l.classid::bigint << 32 | l.objid::bigint) = $1`, [live.key]);
  assert.equal(holder?.application_name, `kairos-listener:${worker.nodeId}`.slice(0, 63));
  // The key of a session that ended (a dead node's, or its listener's before a reconnect).
  await db.pool.query(`UPDATE "${db.schema}".handoffs SET listener_lock = $2 WHERE node_id = $1`, [worker.nodeId, live.key! + 1]);
  const { id } = await producer.enqueue('orphan', {});
  assert.equal((await runRow(id))?.status, 'pending', 'not handed to a node whose LISTEN session is gone');
  assert.equal(await handoffOf(worker), null, 'the row took nothing');
  await waitForRun(worker, id);
  assert.deepEqual(seen, [id], 'claimed and run as usual');
  await Promise.all([worker.stop(), producer.stop()]);
});

test('a node whose LISTEN connection dropped arms again with its new session, and is handed runs again', async () => {
  const { worker, producer } = await armedWorker({ tasks: { back: () => undefined } });
  const before = await listenerLockOf(worker);
  const { rows: [killed] } = await db.pool.query(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1`, [`kairos-listener:${worker.nodeId}`.slice(0, 63)]);
  assert.equal(killed.n, 1);
  await eventually(async () => {
    const now = await listenerLockOf(worker);
    return now.key !== before.key && now.held && (await handoffOf(worker)) === null;
  }, { timeoutMs: 10_000, what: 'the node to arm again with its new LISTEN session' });
  const done = waitForStatus(worker, (c) => c.task === 'back' && c.next === 'completed');
  const { id } = await producer.enqueue('back', {});
  assert.equal(await handoffOf(worker), id, 'handed over again');
  assert.equal((await done).runId, id);
  await Promise.all([worker.stop(), producer.stop()]);
});

test('a node without a LISTEN connection does not arm', async () => {
  const { worker, producer } = await armedWorker({ tasks: { quiet: () => undefined } });
  const handoff = internals(worker).services.producer.handoff;
  const listener = handoff.listener;
  // From here on the node has no LISTEN session to name. It takes one run by hand-off (its row
  // was armed before), so its row is spent and it would arm again once idle.
  handoff.listener = () => undefined;
  const done = waitForStatus(worker, (c) => c.task === 'quiet' && c.next === 'completed');
  const { id } = await producer.enqueue('quiet', {});
  await done;
  await eventually(() => !handoff.pending, { timeoutMs: 10_000, what: 'the node to take the run' });
  const before = await handoffOf(worker);
  handoff.arm();
  assert.equal(handoff.pending, false, 'no arming without a LISTEN session');
  assert.equal(await handoffOf(worker), before);
  assert.equal(before, id, 'the row still names the run it took');
  handoff.listener = listener;
  handoff.arm();
  await armed(worker);
  await Promise.all([worker.stop(), producer.stop()]);
});

test('the handoff option must be a boolean', () => {
  assert.throws(() => db.node({ handoff: 'yes' as unknown as boolean }), (error: unknown) => error instanceof KairosValidationError && /Expected `handoff` to be true or false, got "yes"/.test(error.message));
});
