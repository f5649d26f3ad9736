import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstant } from '../../src/core/instant.js';
import { KairosValidationError } from '../../src/core/errors.js';

test('parseInstant reads ISO 8601 as UTC without an offset, and as written with one', () => {
  const cases: Array<[string, string]> = [
    ['2026-12-24', '2026-12-24T00:00:00.000Z'],
    ['2026-12-24T18:00', '2026-12-24T18:00:00.000Z'],
    ['2026-12-24 18:00:30', '2026-12-24T18:00:30.000Z'],
    ['2026-12-24T18:00:00.250Z', '2026-12-24T18:00:00.250Z'],
    ['2026-12-24T18:00:00+02:00', '2026-12-24T16:00:00.000Z'],
    ['2026-12-24T18:00:00+0200', '2026-12-24T16:00:00.000Z'],
    ['2026-12-24T18:00-05', '2026-12-24T23:00:00.000Z'],
    [' 2026-12-24T18:00z ', '2026-12-24T18:00:00.000Z'],
  ];
  for (const [text, iso] of cases) assert.equal(parseInstant(text, 'at').toISOString(), iso, text);
});

test('parseInstant refuses what is not a time, saying how to write one', () => {
  for (const text of ['tomorrow', '', '2026-12-24T18:00+2:00', '2026-12-24T18:00 CET', '2026-02-30', '2026-13-01T00:00', '2026-12-24T18:00+25:00', '2026-12-24T25:00', '24.12.2026']) {
    assert.throws(() => parseInstant(text, 'at'), (error: unknown) => error instanceof KairosValidationError && error.field === 'at' && /2026-12-24T18:00:00\+02:00/.test(error.message), text);
  }
  assert.throws(() => parseInstant('2026-12-24T18:00+2:00', 'at'), /two-digit hours: \+02:00, not \+2:00/);
});
