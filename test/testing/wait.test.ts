import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { waitForRun, waitForStatus } from '../../src/testing/index.js';
import { KairosTimeoutError, KairosValidationError, type StatusChange } from '../../src/index.js';

const db = await fixture();

test('waitForRun finds a run that finished before it was called, in every one of 50 rounds', async () => {
  const kairos = db.node({ tasks: { quick: () => 'done', broken: () => { throw new Error('no'); } } });
  await kairos.start();
  for (let round = 0; round < 50; round++) {
    // Finished for sure before waitForRun is called: the wait for it was subscribed before the enqueue.
    const finished = waitForStatus(kairos, (c) => c.task === 'quick' && c.next === 'completed');
    const { id } = await kairos.enqueue('quick', { round });
    assert.equal((await finished).runId, id);
    const change = await waitForRun(kairos, id, 2_000);
    assert.deepEqual(change, { runId: id, job: 'quick', task: 'quick', key: null, previous: 'running', next: 'completed' }, `round ${round}`);
  }
  // The pattern of the issue: enqueue, then wait (the run may or may not have finished yet).
  for (let round = 0; round < 50; round++) {
    const { id } = await kairos.enqueue('quick', { round }, { key: `k-${round}` });
    const change = await waitForRun(kairos, id, 5_000);
    assert.equal(change.runId, id);
    assert.equal(change.next, 'completed');
    assert.equal(change.key, `k-${round}`);
  }
  // A failed run is final too, from the history as from the event.
  const failing = waitForStatus(kairos, (c) => c.task === 'broken' && c.next === 'failed');
  const { id: failedId } = await kairos.enqueue('broken', {}, { retries: 0 });
  await failing;
  assert.equal((await waitForRun(kairos, failedId, 2_000)).next, 'failed');
  await kairos.stop();
});

test('waitForRun waits for a run that finishes later, and for a pending run cancelled meanwhile', async () => {
  const producer = db.node({ queues: ['none'] });
  const { id } = await producer.enqueue('later', {}, { queue: 'later-q' });
  const waiting = waitForRun(producer, id, 5_000);
  let settled = false;
  void waiting.then(() => (settled = true), () => (settled = true));
  // Still pending: the history has nothing, the wait goes on.
  assert.equal((await producer.getRun(id)).live?.status, 'pending');
  assert.equal(settled, false);
  assert.equal(await producer.cancel(id), 'cancelled');
  assert.deepEqual(await waiting, { runId: id, job: 'later', task: 'later', key: null, previous: 'pending', next: 'cancelled' });
  // Already cancelled: found in the history, with the same change.
  assert.deepEqual(await waitForRun(producer, id, 2_000), { runId: id, job: 'later', task: 'later', key: null, previous: 'pending', next: 'cancelled' });
});

test('waitForRun rejects a bad run id at once, and times out on a run that never finishes', async () => {
  const kairos = db.node({ queues: ['none'] });
  await assert.rejects(waitForRun(kairos, 'x' as unknown as number), KairosValidationError);
  await assert.rejects(waitForRun(kairos, 0), KairosValidationError);
  const { id } = await kairos.enqueue('never', {}, { queue: 'never-q' });
  await assert.rejects(waitForRun(kairos, id, 200), (error: unknown) => error instanceof KairosTimeoutError && /Run \d+ did not reach a final state/.test(error.message));
  assert.equal(kairos.listenerCount('status'), 0, 'the listener is removed after a timeout');
  const seen: StatusChange[] = [];
  kairos.on('status', (c: StatusChange) => seen.push(c));
  assert.equal(await kairos.cancel(id), 'cancelled');
  assert.deepEqual(seen.map((c) => c.next), ['cancelled']);
});
