import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClockOffset } from '../../src/core/offset.js';

test('the clock offset is the database time minus the midpoint of the round trip', () => {
  const offset = new ClockOffset();
  assert.equal(offset.ms, 0, 'no sample yet');
  assert.equal(offset.sample(10_050, 10_000, 10_002), 49);
});

test('a round trip that waited (a new connection, a lock) does not replace a tight sample', () => {
  const offset = new ClockOffset();
  offset.sample(10_001, 10_000, 10_002); // 2 ms round trip: offset 0 ± 1 ms
  // 30 ms round trip whose database read came at its very end: its midpoint is 15 ms off.
  assert.equal(offset.sample(10_130, 10_100, 10_130), 0);
  // About as tight as the kept one (within 2 ms): fresher, so it replaces it.
  assert.equal(offset.sample(10_205, 10_200, 10_203), 3.5);
});

test('a loose sample replaces a kept one that is older than a minute (clocks drift)', () => {
  const offset = new ClockOffset();
  offset.sample(10_001, 10_000, 10_002);
  assert.equal(offset.sample(80_020, 70_000, 70_020), 10_010);
});
