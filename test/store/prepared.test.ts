import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestSchema } from '../../src/testing/index.js';
import { Store } from '../../src/store/store.js';
import { KAIROS_TYPES } from '../../src/store/db.js';
import { buildRun } from '../../src/api/enqueue.js';
import { runSql } from '../../src/executors/sql/run.js';
import { KairosValidationError, Kairos } from '../../src/index.js';

const schema = await createTestSchema();
// One connection: every statement below runs in the same session.
const pool = new pg.Pool({ connectionString: schema.connectionString, max: 1, types: KAIROS_TYPES });
after(async () => {
  await pool.end();
  await schema.drop();
});

const node = { id: 'prep-node', name: 'prep', tags: [] as string[] };
const enqueue = (store: Store, task: string): Promise<unknown> => store.insertRuns([buildRun(task, { n: 1 }, {}, undefined)], 'raise', null);
const sessionStatements = async (): Promise<string[]> =>
  (await pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((r) => r.name);

test('the hot statements are prepared once per connection, and not at all with preparedStatements off', async () => {
  const store = new Store(pool, schema.schema);
  await enqueue(store, 'p1');
  await enqueue(store, 'p1');
  assert.equal((await store.claim(node, ['default'], ['p1'], 10, null, 60_000)).length, 2);
  const names = await sessionStatements();
  assert.equal(names.length, 2, names.join());
  assert.ok(names.every((n) => /^kairos\d+_(insertRun|claimRuns)$/.test(n)), names.join());

  await pool.query('DEALLOCATE ALL');
  const plain = new Store(pool, schema.schema, false);
  await enqueue(plain, 'p1');
  await plain.claim(node, ['default'], ['p1'], 10, null, 60_000);
  assert.deepEqual(await sessionStatements(), []);
});

test('a statement the session lost (DEALLOCATE, or a SQL job\'s DISCARD ALL) is prepared again', async () => {
  const store = new Store(pool, schema.schema);
  await enqueue(store, 'p2');
  await pool.query('DEALLOCATE ALL');
  await enqueue(store, 'p2');
  // A SQL job on the same pool ends with DISCARD ALL; the connection forgets its statements too.
  const { rows } = await pool.query<{ r: string }>('SELECT current_user AS r');
  await runSql({ pool, queries: store.sql, sql: 'SELECT 1', role: rows[0]!.r, timeoutMs: null, signal: new AbortController().signal, transaction: true });
  assert.deepEqual(await sessionStatements(), []);
  await enqueue(store, 'p2');
  assert.equal((await store.claim(node, ['default'], ['p2'], 10, null, 60_000)).length, 3);
});

test('a prepared statement whose result type changed under it (a migration) is dropped and prepared again', async () => {
  const store = new Store(pool, schema.schema);
  await enqueue(store, 'p3');
  assert.equal((await store.claim(node, ['default'], ['p3'], 10, null, 60_000)).length, 1);
  // Same function, one more output column: the cached plan of `SELECT * FROM claim_runs(…)` is stale.
  const q = `"${schema.schema}"`;
  const { rows } = await pool.query<{ def: string }>(`SELECT pg_get_functiondef('${q}.claim_runs'::regproc) AS def`);
  const widened = rows[0]!.def.replace('due_in_ms double precision)', 'due_in_ms double precision, extra integer)').replace(/\* 1000\)::double precision;/, '* 1000)::double precision, 1;');
  assert.notEqual(widened, rows[0]!.def);
  await pool.query(`DROP FUNCTION ${q}.claim_runs(text, text[], integer, text[], timestamptz, bigint, text, text[], bigint)`);
  await pool.query(widened);
  await enqueue(store, 'p3');
  const claimed = await store.claim(node, ['default'], ['p3'], 10, null, 60_000);
  assert.equal(claimed.length, 1);
  assert.equal((claimed[0] as unknown as { extra: number }).extra, 1);
});

test('the preparedStatements option must be a boolean', () => {
  assert.throws(
    () => new Kairos({ connectionString: schema.connectionString, preparedStatements: 'no' as unknown as boolean }),
    (error: unknown) => error instanceof KairosValidationError && /Expected `preparedStatements` to be true or false, got "no"/.test(error.message),
  );
});
