// Fault-injection suite, short form (scenarios 1, 4, 5): real node processes, real PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killMidRun, clockSkew, longShutdown } from './faults.js';
import { SHORT } from './params.js';
import type { ScenarioReport } from './harness.js';

function assertClean(r: ScenarioReport): void {
  const why = `${r.scenario}: ${r.notes.join('; ')} ${JSON.stringify(r.invariants.detail)}`;
  assert.equal(r.lost, 0, `nothing lost — ${why}`);
  assert.equal(r.duplicates, 0, `nothing doubled — ${why}`);
  assert.equal(r.stuck, 0, `nothing stuck — ${why}`);
}

test('1. kill -9 mid-run: rescued after the lease, completed once; a frozen node is fenced off', async () => {
  const r = await killMidRun();
  assertClean(r);
  assert.equal(r.invariants.completed, 3, 'the task run, the SQL run and the frozen node\'s run each completed once');
  assert.equal(r.rescued, 3, 'each was rescued once');
  assert.match(r.notes[1]!, /^history (\d+:1:rescued \d+:2:completed ?){3}$/, 'attempt 1 rescued, attempt 2 completed');
});

test('4. a node whose clock is off by minutes fires on the database time', async () => {
  const p = SHORT.clockSkew;
  const r = await clockSkew(p);
  assertClean(r);
  const d = r.invariants.detail;
  assert.equal(r.invariants.expected, p.seconds * p.schedules);
  assert.equal(r.invariants.unexpected, 0, 'no occurrence outside the window');
  assert.ok(d.min_skew_ms! >= p.skewMs - 10_000, `the nodes really had skewed clocks: ${d.min_skew_ms} ms`);
  assert.ok(d.min_late_ms! >= 0, 'never fired early');
  assert.ok(d.max_late_ms! < p.skewMs / 5, `fired on the database time, not the node's: at most ${d.max_late_ms} ms late`);
  assert.equal(r.rescued, 0, 'no lease was cut short by a node clock');
});

test('5. SIGTERM while jobs run: they finish or are handed back within the shutdown timeout', async () => {
  const p = SHORT.longShutdown;
  const r = await longShutdown(p);
  assertClean(r);
  const d = r.invariants.detail;
  assert.equal(d.exit_code, 0, 'the node exited cleanly');
  assert.ok(d.exit_ms! < p.shutdownTimeoutMs + 10_000, `exited soon after the shutdown timeout: ${d.exit_ms} ms`);
  assert.equal(d.running_after_stop, 0, 'nothing left running by the stopped node');
  assert.equal(d.left_after_stop, p.long, 'the long runs were handed back to the queue');
  assert.equal(r.invariants.released, p.long);
  assert.equal(r.invariants.completed, p.short + p.long, 'everything completed once');
});
