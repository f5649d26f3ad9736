// Fault-injection suite, short form (scenarios 2, 3, 6): real node processes, real PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomKills, databaseFaults, backPressure } from './load.js';
import { SHORT } from './params.js';
import type { ScenarioReport } from './harness.js';

function assertClean(r: ScenarioReport): void {
  const why = `${r.scenario}: ${r.notes.join('; ')} ${JSON.stringify(r.invariants.detail)}`;
  assert.equal(r.lost, 0, `nothing lost — ${why}`);
  assert.equal(r.duplicates, 0, `nothing doubled — ${why}`);
  assert.equal(r.stuck, 0, `nothing stuck — ${why}`);
  assert.equal(r.invariants.unexpected, 0, `no occurrence skipped or outside its window — ${why}`);
}

test('2. three nodes killed and restarted at random: every second of 50 schedules runs once', async () => {
  const p = SHORT.randomKills;
  const r = await randomKills(p);
  assertClean(r);
  assert.equal(r.invariants.expected, p.count * p.seconds);
  assert.equal(r.occurrences, r.invariants.expected);
  assert.ok(r.kills >= 1 && r.restarts === r.kills, `nodes were killed and restarted (${r.kills})`);
});

test('3. connections terminated and the server restarted: nodes reconnect, LISTEN included', async () => {
  const p = SHORT.databaseFaults;
  const r = await databaseFaults(p);
  assertClean(r);
  assert.equal(r.invariants.expected, p.count * p.seconds);
  assert.equal(r.invariants.detail.nodes_died, 0, `every node survived the faults — ${r.notes.join('; ')}`);
  assert.ok(r.invariants.detail.notify_ms! < 10_000, `a new run was picked up through NOTIFY, not the 30 s poll (${r.invariants.detail.notify_ms} ms)`);
});

test('6. back-pressure: a 100 000-run backlog drains with bounded memory and a responsive database', async () => {
  const p = SHORT.backPressure;
  const r = await backPressure(p);
  assertClean(r);
  assert.equal(r.invariants.completed, p.jobs, 'every run completed once');
  assert.ok(r.maxRssMb < 400, `node RSS stayed bounded: ${r.maxRssMb} MiB`);
  assert.ok(r.invariants.detail.probe_p99_ms! < 2000, `the database stayed responsive: p99 ${r.invariants.detail.probe_p99_ms} ms`);
});
