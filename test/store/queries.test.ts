/**
 * src/store/queries.ts against sql/queries/: generated again from a freshly migrated schema, the
 * typed seam must equal the committed file. The comparison is shown to fail on a changed schema
 * (inside a transaction that is rolled back), and the named-parameter binding on its edge cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fixture } from '../helpers.js';
import { generateQueries } from '../../scripts/codegen/queries.js';
import { bindNamedParameters, querySources } from '../../src/store/sql.js';
import { KairosValidationError } from '../../src/core/errors.js';

const db = await fixture();
const committed = readFileSync(fileURLToPath(new URL('../../src/store/queries.ts', import.meta.url)), 'utf8');

test('src/store/queries.ts is what `npm run gen:queries` generates from sql/queries/', async () => {
  const client = await db.pool.connect();
  try {
    const generated = await generateQueries(client, db.schema);
    assert.ok(generated === committed, 'src/store/queries.ts is out of date: run `npm run gen:queries` and commit the result');
  } finally {
    client.release();
  }
});

test('a column whose nullability changed changes the generated types', async () => {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`ALTER TABLE "${db.schema}".runs ALTER COLUMN queue DROP NOT NULL`);
    const generated = await generateQueries(client, db.schema);
    assert.notEqual(generated, committed);
    assert.match(generated, /queue: string \| null;/);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

test('every named query names its parameters (@name, not $n)', () => {
  const positional = [...querySources().values()].filter((q) => q.params.length === 0 && /\$\d/.test(q.text)).map((q) => `${q.name} (${q.file})`);
  assert.deepEqual(positional, []);
  assert.ok(querySources().size > 90);
});

test('named parameters: numbered by first use, repeated names share a number', () => {
  const bound = bindNamedParameters('SELECT @a, @b_2, @a, x::int, y @> z, 1 -- mail@example.com', 'q');
  assert.deepEqual(bound.params, ['a', 'b_2']);
  assert.equal(bound.text, 'SELECT $1, $2, $1, x::int, y @> z, 1 -- mail@example.com');
});

test('a query mixing $n and @name is refused', () => {
  assert.throws(() => bindNamedParameters('SELECT @a, $2', 'Query q'), (error: unknown) => error instanceof KairosValidationError && /mixes \$n and @name/.test(error.message));
});
