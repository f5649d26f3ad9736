// Fault-injection suite, short form (scenario 7): runs handed to idle nodes that are killed at random.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handoffKills } from './handoff.js';
import { SHORT } from './params.js';

test('7. single enqueues handed to idle nodes killed and restarted at random: every run completes once', async () => {
  const p = SHORT.handoffKills;
  const r = await handoffKills(p);
  const why = `${r.notes.join('; ')} ${JSON.stringify(r.invariants.detail)}`;
  assert.equal(r.lost, 0, `nothing lost — ${why}`);
  assert.equal(r.duplicates, 0, `nothing doubled — ${why}`);
  assert.equal(r.stuck, 0, `nothing stuck — ${why}`);
  assert.ok(r.invariants.detail.enqueued! > 50, `runs were enqueued — ${why}`);
  assert.ok(r.invariants.detail.handoffs! > 0, `runs were handed over — ${why}`);
  assert.ok(r.kills >= 1 && r.restarts === r.kills, `nodes were killed and restarted (${r.kills})`);
});
