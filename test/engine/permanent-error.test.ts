/**
 * A handler's KairosPermanentError (exported from the package since issue #14's follow-up): the
 * run fails at once, whatever retries it has left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { drain } from '../../src/testing/index.js';
import { KairosPermanentError } from '../../src/index.js';

const db = await fixture();

test('a handler that throws KairosPermanentError is not retried, with retries left', async () => {
  let attempts = 0;
  const node = db.node({
    tasks: {
      doomed: () => {
        attempts++;
        throw new KairosPermanentError('the account was deleted; no retry can help', 'ACCOUNT_GONE');
      },
      flaky: () => {
        attempts++;
        throw new Error('a plain error is retried');
      },
    },
  });
  const { id } = await node.enqueue('doomed', {}, { retries: 3, backoff: 0 });
  await drain(node);
  assert.equal(attempts, 1, 'one attempt only');
  const { live, last } = await node.getRun(id);
  assert.equal(live, null, 'the run is over');
  assert.equal(last?.status, 'failed');
  // The control: the same shape with a plain error takes its retries.
  attempts = 0;
  await node.enqueue('flaky', {}, { retries: 2, backoff: 0 });
  await drain(node);
  assert.equal(attempts, 3, 'a plain error: 1 attempt + 2 retries');
});
