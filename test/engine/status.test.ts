import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { fixture, eventually } from '../helpers.js';
import { internals } from '../../src/api/internals.js';
import { waitForRun, waitForStatus } from '../../src/testing/index.js';
import { KairosConflictError, KairosValidationError, type Kairos, type StatusChange, type TaskMap } from '../../src/index.js';

const db = await fixture();

/** Record the status changes an instance emits. */
function record<T extends TaskMap>(kairos: Kairos<T>): StatusChange[] {
  const seen: StatusChange[] = [];
  kairos.on('status', (c: StatusChange) => seen.push(c));
  return seen;
}

const pathOf = (seen: StatusChange[], runId: number): string[] => seen.filter((c) => c.runId === runId).map((c) => `${c.previous}->${c.next}`);

test("every run created through the API emits '' -> pending once: enqueue, enqueueMany, trigger", async () => {
  const api = db.node({ queues: ['none'] });
  const seen = record(api);
  const one = await api.enqueue('made', { n: 1 }, { queue: 'status-q', key: 'one' });
  assert.deepEqual(seen, [{ runId: one.id, job: 'made', task: 'made', key: 'one', previous: '', next: 'pending' }]);

  const many = await api.enqueueMany([
    { task: 'made', payload: { n: 2 }, queue: 'status-q' },
    { task: 'other', payload: { n: 3 }, queue: 'status-q', key: 'b' },
  ]);
  assert.deepEqual(seen.slice(1), [
    { runId: many[0]!.id, job: 'made', task: 'made', key: null, previous: '', next: 'pending' },
    { runId: many[1]!.id, job: 'other', task: 'other', key: 'b', previous: '', next: 'pending' },
  ]);

  // A run kept by 'ignore' is not new; a refused or invalid enqueue creates nothing.
  const kept = await api.enqueue('made', { n: 4 }, { queue: 'status-q', key: 'one', conflict: 'ignore' });
  assert.equal(kept.inserted, false);
  await assert.rejects(api.enqueue('made', { n: 5 }, { queue: 'status-q', key: 'one' }), KairosConflictError);
  await assert.rejects(api.enqueue('made', { n: 6 }, { priority: 1e9 }), KairosValidationError);
  await assert.rejects(api.enqueueMany([{ task: 'made', payload: {} }, { task: 'made', payload: {}, key: 'x', conflict: 'ignore' }]), KairosValidationError);
  assert.equal(seen.length, 3, 'nothing new was emitted');

  await api.schedule({ name: 'status-job', task: 'scheduled-task', cron: '0 0 1 1 *', queue: 'status-q' });
  const triggered = await api.trigger('status-job');
  assert.deepEqual(seen.slice(3), [{ runId: triggered, job: 'status-job', task: 'scheduled-task', key: null, previous: '', next: 'pending' }]);
  await assert.rejects(api.trigger('no-such-job'));
  assert.equal(seen.length, 4);
});

test("a run handed straight to an idle node reads '' -> pending -> running -> completed, in order, in every round", async () => {
  const worker = db.node({ tasks: { handed: () => 'ok' } });
  await worker.start();
  const seen = record(worker);
  for (let round = 0; round < 50; round++) {
    await eventually(async () => (await db.pool.query(`SELECT 1 FROM "${db.schema}".handoffs WHERE node_id = $1 AND run_id IS NULL`, [worker.nodeId])).rowCount === 1, { timeoutMs: 10_000, what: 'the node to be armed' });
    const { id } = await worker.enqueue('handed', { round });
    await waitForRun(worker, id);
    await eventually(() => pathOf(seen, id).length === 3, { timeoutMs: 5_000, what: `three changes of run ${id}` });
    assert.deepEqual(pathOf(seen, id), ['->pending', 'pending->running', 'running->completed'], `round ${round}`);
  }
  const handed = await db.count('job_logs', "task = 'handed' AND status = 'completed' AND node_id = $1", [worker.nodeId]);
  assert.equal(handed, 50);
  await worker.stop();
});

test("a triggered run reads '' -> pending first on the node that claims it, in every round", async () => {
  const worker = db.node({ tasks: { pulled: () => 'ok' } });
  await worker.schedule({ name: 'pulled-job', task: 'pulled', cron: '0 0 1 1 *' });
  await worker.start();
  const seen = record(worker);
  for (let round = 0; round < 20; round++) {
    const id = await worker.trigger('pulled-job');
    await waitForRun(worker, id);
    await eventually(() => pathOf(seen, id).length === 3, { timeoutMs: 5_000, what: `three changes of run ${id}` });
    assert.deepEqual(pathOf(seen, id), ['->pending', 'pending->running', 'running->completed'], `round ${round}`);
    assert.equal(seen.find((c) => c.runId === id)?.job, 'pulled-job');
  }
  await worker.stop();
});

test('a clusterEvents node hears the changes of every node, whatever their own setting; other nodes emit only their own', async () => {
  const watcher = db.node({ clusterEvents: true, queues: ['none'] });
  const worker = db.node({ tasks: { heard: () => 'ok' }, handoff: false });
  const producer = db.node({ queues: ['none'] });
  await Promise.all([watcher.start(), worker.start(), producer.start()]);
  const remote = record(watcher);
  const workerSeen = record(worker);
  const producerSeen = record(producer);
  const done = waitForStatus(watcher, (c) => c.task === 'heard' && c.next === 'completed');
  const { id } = await producer.enqueue('heard', {}, { key: 'h-1' });
  await done;
  await eventually(() => pathOf(remote, id).length === 3, { timeoutMs: 5_000, what: 'the enqueue\'s change at the watcher' });
  // From two senders: each one's changes arrive in its order, the two may interleave.
  assert.deepEqual(pathOf(remote, id).sort(), ['->pending', 'pending->running', 'running->completed']);
  assert.deepEqual(pathOf(remote, id).filter((p) => p !== '->pending'), ['pending->running', 'running->completed']);
  assert.equal(remote.find((c) => c.runId === id)?.key, 'h-1');
  // Without clusterEvents, a node emits only what it did itself.
  assert.deepEqual(pathOf(producerSeen, id), ['->pending']);
  assert.deepEqual(pathOf(workerSeen, id), ['pending->running', 'running->completed']);
  await Promise.all([watcher.stop(), worker.stop(), producer.stop()]);
});

/** A plain connection LISTENing on the installation's channel: the status messages anyone could read. */
async function eavesdrop(): Promise<{ client: pg.Client; events: () => unknown[][] }> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  const messages: Array<{ t?: string; events?: unknown[] }> = [];
  client.on('notification', (m) => messages.push(JSON.parse(m.payload ?? '{}') as { t?: string; events?: unknown[] }));
  await client.query(`LISTEN "${internals(db.node()).store.channel}"`);
  return { client, events: () => messages.filter((m) => m.t === 'status' && (m.events?.length ?? 0) > 0).map((m) => m.events!) };
}

const publishing = (node: object): boolean => (node as { cluster: { publishing: boolean } }).cluster.publishing;

test('without a listening node, no status change goes on the channel; a forged "I listen" changes nothing', async () => {
  const { client, events } = await eavesdrop();
  const worker = db.node({ tasks: { quiet: () => 'ok' } });
  await worker.start();
  // start() asked who listens; nobody answered.
  assert.equal(publishing(worker), false);
  const forged = JSON.stringify({ t: 'status', node: 'eve', seq: 1, at: Date.now(), listen: true, events: [] });
  await client.query('SELECT pg_notify($1, $2)', [internals(worker).store.channel, `${forged.slice(0, -1)},"mac":"${'0'.repeat(64)}"}`]);
  for (let round = 1; round <= 5; round++) {
    const { id } = await worker.enqueue('quiet', {}, { key: `quiet-${round}` });
    await waitForRun(worker, id);
  }
  await worker.stop();
  assert.equal(publishing(worker), false);
  // The stop's own flush is over: anything sent would have arrived before this round trip's answer.
  await client.query('SELECT 1');
  assert.deepEqual(events(), []);
  await client.end();
});

test('a listener started after a node hears it from the moment the node has heard the listener say so', async () => {
  const worker = db.node({ tasks: { late: () => 'ok' } });
  await worker.start();
  assert.equal(publishing(worker), false);
  const watcher = db.node({ clusterEvents: true, queues: ['none'] });
  await watcher.start();
  await eventually(() => publishing(worker), { timeoutMs: 5_000, what: 'the node to hear the listener' });
  const remote = record(watcher);
  const { id } = await worker.enqueue('late', {});
  await waitForRun(worker, id);
  await eventually(() => pathOf(remote, id).length === 3, { timeoutMs: 5_000, what: "the run's changes at the listener" });
  assert.deepEqual(pathOf(remote, id), ['->pending', 'pending->running', 'running->completed']);
  await Promise.all([worker.stop(), watcher.stop()]);
});

test('a node started after the listener sends its very first changes (start() waits for the answer to its question)', async () => {
  const watcher = db.node({ clusterEvents: true, queues: ['none'] });
  await watcher.start();
  const remote = record(watcher);
  const api = db.node({ queues: ['none'] });
  for (let round = 0; round < 5; round++) {
    // Queued before the node starts: it claims the run at once, in its first moments.
    const queued = await api.enqueue('early', { round, queued: true });
    const worker = db.node({ tasks: { early: () => 'ok' } });
    await worker.start();
    const { id } = await worker.enqueue('early', { round });
    await waitForRun(worker, id);
    await waitForRun(worker, queued.id);
    await eventually(() => pathOf(remote, id).length === 3 && pathOf(remote, queued.id).length === 2, { timeoutMs: 5_000, what: `the changes of runs ${queued.id} and ${id} at the listener` });
    assert.deepEqual(pathOf(remote, queued.id), ['pending->running', 'running->completed'], `round ${round}`);
    assert.deepEqual(pathOf(remote, id), ['->pending', 'pending->running', 'running->completed'], `round ${round}`);
    await worker.stop();
  }
  await watcher.stop();
});
