/**
 * The name rule exists twice on purpose: src/core/validate.ts `isName` (the TypeScript API, the
 * YAML configuration, alert rules) and the SQL API's `api_check_name` (define_job, enqueue, …).
 * Random strings, weighted towards the rule's edges, must get the same answer from both; and the
 * TypeScript copies that drifted (no trim in the YAML queues and alert rules) now refuse what the
 * API refuses. Seed: NAME_SEED (printed on failure).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isName } from '../../src/core/validate.js';
import { loadAgentConfig } from '../../src/cli/config.js';
import { parseAlertRules } from '../../src/observability/alert-rules.js';
import { fixture } from '../helpers.js';

const db = await fixture();
const seed = Number(process.env.NAME_SEED ?? Date.now() % 1_000_000);

/** mulberry32: small, seedable, good enough to pick characters. */
function random(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Mostly allowed characters, with the edges: space, symbols first, tabs, newlines, non-ASCII.
const ALPHABET = [...'abcXYZ019_.:-/@ ', ' ', ' ', '\t', '\n', '\r', 'é', 'ß', '\u00a0', '\u2028', '!', '$', "'", '"', '\\', '*', '%', '😀'];

function randomName(next: () => number): string {
  const roll = next();
  // Lengths around the 200 limit as often as short ones.
  const length = roll < 0.1 ? 0 : roll < 0.3 ? 195 + Math.floor(next() * 10) : 1 + Math.floor(next() * 12);
  let text = '';
  for (let i = 0; i < length; i++) text += next() < 0.85 ? ALPHABET[Math.floor(next() * 16)]! : ALPHABET[Math.floor(next() * ALPHABET.length)]!;
  return text;
}

test(`TypeScript and SQL agree on 3000 random names (NAME_SEED=${seed})`, async () => {
  const next = random(seed);
  const names = Array.from({ length: 3000 }, () => randomName(next));
  const client = await db.pool.connect();
  try {
    await client.query(`CREATE FUNCTION pg_temp.accepts(v text) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN PERFORM "${db.schema}".api_check_name(v, 'name'); RETURN true;
      EXCEPTION WHEN invalid_parameter_value THEN RETURN false; END $$`);
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_temp.accepts(v) AS ok FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n', [names]);
    const differ = names.filter((name, i) => isName(name) !== rows[i]!.ok).map((name, i) => `${JSON.stringify(name)}: TypeScript ${isName(name)}, SQL ${rows[i]!.ok}`);
    assert.deepEqual(differ.slice(0, 10), [], `NAME_SEED=${seed}: ${differ.length} names differ`);
    // Not vacuous: both answers occur.
    const accepted = rows.filter((r) => r.ok).length;
    assert.ok(accepted > 300 && accepted < 2700, `accepted ${accepted} of 3000`);
  } finally {
    client.release();
  }
});

test('a queue with a trailing space is refused in the YAML configuration, as by the API', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-name-'));
  const configFile = join(dir, 'kairos.yaml');
  writeFileSync(configFile, 'kairos:\n  database_url: postgres://localhost/x\n  queues: ["reports "]\n');
  try {
    await assert.rejects(loadAgentConfig({ flags: {}, env: {}, configFile }), /queue name of 1-200 characters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an alert rule for a job name with a trailing space is refused, as by the API', () => {
  assert.throws(() => parseAlertRules([{ name: 'r', on: ['failed'], job: 'nightly ', channel: 'log' }], 'test'), /job name of 1-200 characters/);
});
