/**
 * Identifying strings get the payload's string checks (issue #12, item 8): a lone surrogate or a
 * NUL in a key, name, queue, tag or lock name is refused before anything is written. node-postgres
 * would otherwise send a lone surrogate as U+FFFD, so 'a\uD800' would be stored as, and collide
 * with, the different key 'a\uFFFD'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { Kairos, KairosValidationError, defineTask, type KairosOptions } from '../../src/index.js';
import { assertText } from '../../src/core/validate.js';

const db = await fixture();
const kairos = db.node();
const LONE = 'a\uD800';
const REPLACED = 'a\uFFFD';

/** Counts of every table a refused call could have written to. */
async function counts(): Promise<string> {
  const r = await db.pool.query(`SELECT (SELECT count(*) FROM "${db.schema}".runs) AS runs, (SELECT count(*) FROM "${db.schema}".jobs) AS jobs`);
  return JSON.stringify(r.rows[0]);
}

/** Assert that `call` is refused with a KairosValidationError on `field` that names the problem, writing nothing. */
async function refused(call: () => unknown, field: string, problem: RegExp): Promise<void> {
  const before = await counts();
  await assert.rejects(async () => call(), (error: unknown) => {
    assert.ok(error instanceof KairosValidationError, `expected KairosValidationError, got ${String(error)}`);
    assert.equal(error.field, field);
    assert.match(error.message, problem);
    assert.match(error.message, new RegExp(`^Expected \`${field.replace(/[[\]]/g, '\\$&')}\``));
    return true;
  });
  assert.equal(await counts(), before, `${field}: a refused call writes nothing`);
}

const SURROGATE = /lone surrogate/;
const NUL = /NUL/;

test('the helper: a lone surrogate or a NUL is refused, U+FFFD and other Unicode pass', () => {
  assert.equal(assertText(REPLACED, 'x'), REPLACED);
  assert.equal(assertText('Zürich 東京 🎉', 'x'), 'Zürich 東京 🎉');
  assert.throws(() => assertText(LONE, 'x'), SURROGATE);
  assert.throws(() => assertText('\uDC00b', 'x'), SURROGATE);
  assert.throws(() => assertText('a\u0000b', 'x'), NUL);
});

test('a run key with a lone surrogate is refused and does not collide with U+FFFD', async () => {
  const first = await kairos.enqueue('keyed', {}, { key: REPLACED });
  assert.equal(first.inserted, true);
  const [row] = (await db.pool.query(`SELECT key FROM "${db.schema}".runs WHERE run_id = $1`, [first.id])).rows;
  assert.equal(row.key, REPLACED, 'U+FFFD is stored as given');
  await refused(() => kairos.enqueue('keyed', {}, { key: LONE, conflict: 'ignore' }), 'key', SURROGATE);
  await refused(() => kairos.enqueue('keyed', {}, { key: LONE }), 'key', SURROGATE);
  await refused(() => kairos.enqueueMany([{ task: 'keyed', payload: {}, key: 'fine' }, { task: 'keyed', payload: {}, key: LONE }]), 'items[1].key', SURROGATE);
  await refused(() => kairos.enqueue('keyed', {}, { key: 'a\u0000b' }), 'key', NUL);
});

test('task names, queues and job names with a lone surrogate are refused', async () => {
  await refused(() => kairos.enqueue(LONE, {}), 'task', SURROGATE);
  await refused(() => kairos.enqueue('t', {}, { queue: LONE }), 'queue', SURROGATE);
  await refused(() => kairos.schedule({ name: LONE, task: 't', every: '1h' }), 'name', SURROGATE);
  await refused(() => kairos.schedule({ name: 'job', task: LONE, every: '1h' }), 'task', SURROGATE);
  await refused(() => kairos.schedule({ name: 'job', task: 't', every: '1h', queue: LONE }), 'queue', SURROGATE);
  await refused(() => kairos.schedule({ name: 'job', task: 't', every: '1h', labels: [LONE] }), 'labels[0]', SURROGATE);
  await refused(() => kairos.schedule({ name: 'job', task: 't', every: '1h', nodeName: LONE }), 'nodeName', SURROGATE);
  await refused(() => kairos.schedule({ name: 'job', task: 't', every: '1h', nodeTags: ['ok', LONE] }), 'nodeTags[1]', SURROGATE);
  await refused(() => kairos.schedule({ name: 'job', task: 't', every: '1h', description: `about ${LONE}` }), 'description', SURROGATE);
  await refused(() => kairos.schedule({ name: 'job', task: 't', every: '1h', description: 'a\u0000b' }), 'description', NUL);
  await refused(() => kairos.trigger(LONE), 'name', SURROGATE);
  await refused(() => kairos.enable(LONE), 'name', SURROGATE);
  await refused(() => kairos.unschedule(LONE), 'name', SURROGATE);
  // Names allow only letters, digits and _ . : - / @ space: U+FFFD was never a valid name.
  await refused(() => kairos.enqueue(REPLACED, {}), 'task', /letters, digits/);
});

test('node names, node tags and queues of a node with a lone surrogate are refused', async () => {
  const options = { connectionString: db.connectionString, schema: db.schema, migrate: false };
  const cases: Array<[Partial<KairosOptions>, string]> = [[{ nodeName: LONE }, 'nodeName'], [{ nodeTags: [LONE] }, 'nodeTags[0]'], [{ queues: ['default', LONE] }, 'queues[1]']];
  for (const [extra, field] of cases) {
    assert.throws(() => new Kairos({ ...options, ...extra }), (error: unknown) => error instanceof KairosValidationError && error.field === field && SURROGATE.test(error.message));
  }
});

test('a lock name (exclusive) with a lone surrogate is refused; U+FFFD works', async () => {
  const handler = (): void => undefined;
  assert.throws(() => db.node({ tasks: { locked: defineTask(handler, { exclusive: LONE }) } }),
    (error: unknown) => error instanceof KairosValidationError && error.field === 'tasks.locked.exclusive' && SURROGATE.test(error.message));
  assert.throws(() => db.node({ tasks: { locked: defineTask(handler, { exclusive: '' }) } }),
    (error: unknown) => error instanceof KairosValidationError && error.field === 'tasks.locked.exclusive');
  assert.throws(() => db.node().task('locked', defineTask(handler, { exclusive: 5 as never })),
    (error: unknown) => error instanceof KairosValidationError && error.field === 'tasks.locked.exclusive');
  const node = db.node({ tasks: { locked: defineTask(handler, { exclusive: REPLACED }) } });
  const run = await node.enqueue('locked', {});
  const [row] = (await db.pool.query(`SELECT lock_key FROM "${db.schema}".runs WHERE run_id = $1`, [run.id])).rows;
  assert.equal(row.lock_key, `lock:${REPLACED}`);
});

test('filters of the read side with a lone surrogate or a NUL are refused (not a driver error)', async () => {
  await refused(() => kairos.listRuns({ task: LONE }), 'task', SURROGATE);
  await refused(() => kairos.listRuns({ queue: 'a\u0000b' }), 'queue', NUL);
  await refused(() => kairos.listJobs({ search: LONE }), 'search', SURROGATE);
  await refused(() => kairos.history({ job: 'a\u0000b' }), 'job', NUL);
});
