// Issue #14, part 3: a run is never handed to a node whose process is gone. An idle node that dies
// without stop() (SIGKILL, a crash, Ctrl-C without a signal handler) leaves its armed hand-off row
// behind; its heartbeat stays fresh for up to three intervals, so before migration 0021 an enqueue
// in that window inserted the run running on the dead node, where it waited out the lease. The row
// now names the node's LISTEN backend, and the hand-off only takes a row whose backend is alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, eventually } from '../helpers.js';
import { startNode, type ChaosDb } from './harness.js';

const db = await fixture();
const s = `"${db.schema}"`;
// The child node's tasks write a ledger (test/fixtures/chaos-node.ts); this scenario runs `noop`.
await db.pool.query(`CREATE TABLE ${s}.chaos_ledger (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job text NOT NULL, scheduled_at timestamptz,
  run_id bigint, attempt int, node text, node_time timestamptz, db_time timestamptz NOT NULL DEFAULT clock_timestamp())`);
const chaos: ChaosDb = { ...db, ledger: `${s}.chaos_ledger`, s };

async function handoffRow(nodeId: string): Promise<{ run_id: number | null } | undefined> {
  const { rows } = await db.pool.query(`SELECT run_id FROM ${s}.handoffs WHERE node_id = $1`, [nodeId]);
  return rows[0];
}

test('a run enqueued one second after its armed node was SIGKILLed starts on a live node within two seconds', async () => {
  // The default lease, and a heartbeat slow enough that the dead node's row is not stale yet.
  const doomed = await startNode(chaos, { name: 'doomed', lease: 60_000, heartbeat: 5000, rescue: 500 });
  await eventually(async () => (await handoffRow(doomed.nodeId))?.run_id === null, { timeoutMs: 10_000, what: 'the child node to arm its hand-off row' });

  const started = new Map<number, number>();
  // Armed after the child: the oldest armed row is the one an enqueue takes first.
  const live = db.node({ tasks: { noop: (_p: unknown, ctx) => void started.set(ctx.runId, Date.now()) } });
  const producer = db.node({ queues: ['elsewhere'] });
  await live.start();
  await eventually(async () => (await handoffRow(live.nodeId))?.run_id === null, { timeoutMs: 10_000, what: 'the live node to arm' });

  await doomed.kill();
  // Part of the scenario, not synchronisation: the edit-and-rerun loop enqueues right after the kill.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const enqueuedAt = Date.now();
  const { id } = await producer.enqueue('noop', {});
  await eventually(() => started.has(id), { timeoutMs: 2000, what: 'the run to start on the live node' });
  assert.ok(started.get(id)! - enqueuedAt < 2000);
  const dead = await handoffRow(doomed.nodeId);
  assert.equal(dead?.run_id, null, 'the dead node\'s row took nothing');
  const [log] = await (async () => {
    await eventually(async () => (await producer.history({ runId: id })).length === 1, { timeoutMs: 5000, what: 'the run to be recorded' });
    return producer.history({ runId: id });
  })();
  assert.deepEqual([log?.status, log?.attempt, log?.nodeId], ['completed', 1, live.nodeId]);
  await Promise.all([live.stop(), producer.stop()]);
});
