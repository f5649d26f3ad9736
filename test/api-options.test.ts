/**
 * Issue #14 (5): every public function that takes an options object refuses a key it does not
 * know, naming the key and the one most likely meant, before anything changes; and accepts every
 * documented key (each "accepts" object is `Required<…>` of the options type, so an option added
 * to an interface and not here fails the type-check of this file too).
 */
import { test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { fixture } from './helpers.js';
import { Kairos, defineTask, KairosValidationError, type EnqueueOptions, type KairosOptions, type PeriodicOptions, type ScheduleOptions, type TaskOptions } from '../src/index.js';
import type { EnqueueItem, HistoryFilter, JobFilter, RunFilter } from '../src/api/types.js';
import { closestKey, didYouMean } from '../src/core/validate.js';
import { createAlerts, createMetrics, observabilityHandler, parseAlertRules, startObservabilityServer, type AlertsOptions, type HandlerOptions, type MetricsOptions } from '../src/observability/index.js';
import type { ServerOptions } from '../src/observability/http.js';
import { drain, runTask, silentLogger, TestClock } from '../src/testing/index.js';
import type { TaskContext } from '../src/api/tasks.js';
import { promClient } from '../src/observability/metrics.js';
import { loadAgentConfig } from '../src/cli/config.js';
import { kairos as cli } from './cli/run-cli.js';

const db = await fixture();

/** An options object with a key the type does not have, as a JavaScript caller (or a cast) passes it. */
const typo = <T>(options: Record<string, unknown>): T => options as T;

/** The refusal of an unknown key `field` that suggests `meant`. */
const unknown = (field: string, where: string, meant: string) => (error: unknown): boolean => {
  assert.ok(error instanceof KairosValidationError, `expected a KairosValidationError, got ${String(error)}`);
  assert.equal(error.field, field);
  assert.equal(error.message, `Unknown option \`${field}\` of ${where}; did you mean \`${meant}\`?`);
  return true;
};

test('closestKey: a typo within two edits (a swap counts one), another spelling of the same key, else none', () => {
  const schedule = ['name', 'task', 'every', 'cron', 'at', 'timezone', 'maxRuns', 'startAt'];
  assert.equal(closestKey('evrey', schedule), 'every');
  assert.equal(closestKey('evry', schedule), 'every');
  assert.equal(closestKey('timeZone', schedule), 'timezone');
  assert.equal(closestKey('max_runs', schedule), 'maxRuns');
  assert.equal(closestKey('start-at', schedule), 'startAt');
  assert.equal(closestKey('frobnicate', schedule), undefined);
  // Short names: one edit at most, so `id` is not taken for `at`.
  assert.equal(closestKey('id', schedule), undefined);
  assert.equal(closestKey('ta', schedule), 'at');
  assert.equal(didYouMean('frobnicate', ['a', 'b']), '; known options: a, b');
  assert.equal(didYouMean('concurency', ['concurrency'], 'settings'), '; did you mean `concurrency`?');
});

test('new Kairos() refuses an unknown option and an unknown retention key, naming the one meant', () => {
  const base = { connectionString: db.connectionString, schema: db.schema, logger: silentLogger };
  assert.throws(() => new Kairos(typo<KairosOptions>({ ...base, concurency: 5 })), unknown('concurency', 'new Kairos()', 'concurrency'));
  assert.throws(() => new Kairos(typo<KairosOptions>({ ...base, pollIntervall: '1s' })), unknown('pollIntervall', 'new Kairos()', 'pollInterval'));
  assert.throws(() => new Kairos(typo<KairosOptions>({ ...base, retention: { completd: '1d' } })), unknown('retention.completd', 'new Kairos()', 'completed'));
  assert.throws(() => new Kairos(typo<KairosOptions>({ ...base, retention: '7d' })), { name: 'KairosValidationError', message: /Expected `retention` to be an object/ });
  assert.throws(() => new Kairos(typo<KairosOptions>({ ...base, frobnicate: true })), { message: /^Unknown option `frobnicate` of new Kairos\(\); known options: connectionString, pool, listenConnectionString, schema,/ });
});

test('new Kairos() accepts every documented option', async () => {
  const all: Required<KairosOptions> = {
    connectionString: db.connectionString, pool: db.pool, listenConnectionString: db.connectionString, schema: db.schema, tasks: { t: () => 'ok' }, queues: ['default'], concurrency: 2,
    batchSize: 2, prefetch: 0, nodeName: 'options-node', nodeTags: ['a'], pollInterval: '1s', scheduleAhead: '100ms', heartbeatInterval: '5s',
    lease: '30s', rescueInterval: '5s', maxRescues: 3, shutdownTimeout: '1s',
    retention: { completed: '1d', failed: '2d', cancelled: '1d', nodes: '1d', interval: '1h' },
    migrate: false, handoff: true, preparedStatements: true, clusterEvents: false, logger: silentLogger, clock: new TestClock(new Date()),
    maxConnections: 4, runSqlJobs: false, allowShell: false, connections: {},
  };
  const kairos = new Kairos(all);
  assert.equal(kairos.options.nodeName, 'options-node');
  await kairos.stop();
});

test('schedule() refuses a typo: no job is stored, and the message names the key meant', async () => {
  const kairos = db.node();
  await assert.rejects(kairos.schedule(typo<ScheduleOptions>({ name: 'typo-every', task: 't', evrey: '1m' })), unknown('evrey', 'schedule()', 'every'));
  await assert.rejects(kairos.schedule(typo<ScheduleOptions>({ name: 'typo-tz', task: 't', cron: '0 9 * * *', timeZone: 'Europe/Paris' })), unknown('timeZone', 'schedule()', 'timezone'));
  await assert.rejects(kairos.schedule(typo<ScheduleOptions>({ name: 'typo-retries', task: 't', every: '1m', retires: 2 })), unknown('retires', 'schedule()', 'retries'));
  assert.equal(await db.count('jobs', "job_name LIKE 'typo-%'"), 0);
  // Not even an update of an existing job: the stored definition stays as it was.
  await kairos.schedule({ name: 'typo-kept', task: 't', every: '1m' });
  await assert.rejects(kairos.schedule(typo<ScheduleOptions>({ name: 'typo-kept', task: 't', every: '5m', maxRun: 3 })), unknown('maxRun', 'schedule()', 'maxRuns'));
  assert.equal(await db.count('jobs', "job_name = 'typo-kept' AND schedule_interval = interval '1 minute' AND max_runs IS NULL"), 1);
});

test('schedule() accepts every documented option', async () => {
  const kairos = db.node();
  const all: Required<Omit<ScheduleOptions, 'every' | 'at' | 'nextRun'>> = {
    name: 'all-options', task: 't', payload: { a: 1 }, cron: '0 9 * * *', timezone: 'Europe/Paris', startAt: new Date('2030-01-01T00:00:00Z'),
    endAt: new Date('2031-01-01T00:00:00Z'), maxRuns: 10, catchUp: 'skip', maxLateness: '1h', misfireGrace: '5m', overlap: 'allow',
    runImmediately: false, disableAfterFailures: 3, enabled: true, queue: 'default', priority: 5, retries: 1, backoff: '1s', maxBackoff: '1m',
    timeout: '10s', description: 'every option', labels: ['l'], exceptions: [{ date: '2030-12-25' }], nodeName: 'n', nodeTags: ['x'],
  };
  await kairos.schedule(all);
  await kairos.schedule({ name: 'all-every', task: 't', every: '1m' });
  await kairos.schedule({ name: 'all-at', task: 't', at: new Date('2030-01-01T00:00:00Z') });
  await kairos.schedule({ name: 'all-next', task: 't', nextRun: () => null });
  assert.equal(await db.count('jobs', "job_name LIKE 'all-%'"), 4);
});

test('enqueue() and enqueueMany() refuse a typo before any run is inserted', async () => {
  const kairos = db.node();
  await assert.rejects(kairos.enqueue('typo-task', {}, typo<EnqueueOptions>({ dealy: '1h' })), unknown('dealy', 'enqueue()', 'delay'));
  await assert.rejects(kairos.enqueue('typo-task', {}, typo<EnqueueOptions>({ runat: new Date() })), unknown('runat', 'enqueue()', 'runAt'));
  // One bad item of a batch: none of the batch is inserted.
  await assert.rejects(
    kairos.enqueueMany([{ task: 'typo-task', payload: {} }, typo<EnqueueItem>({ task: 'typo-task', payload: {}, priorty: 1 })]),
    unknown('items[1].priorty', 'enqueueMany()', 'priority'),
  );
  // `client` belongs to the call, not to an item.
  await assert.rejects(kairos.enqueueMany([typo<EnqueueItem>({ task: 'typo-task', payload: {}, client: db.pool })]), { name: 'KairosValidationError', field: 'items[0].client' });
  await assert.rejects(kairos.enqueueMany([{ task: 'typo-task', payload: {} }], typo({ conflcit: 'ignore' })), unknown('conflcit', 'enqueueMany()', 'conflict'));
  // An item that is not an object: a validation error naming it (a TypeError before).
  for (const bad of [null, 'typo-task', ['typo-task', {}]]) {
    await assert.rejects(kairos.enqueueMany([{ task: 'typo-task', payload: {} }, bad as unknown as EnqueueItem]), { name: 'KairosValidationError', field: 'items[1]', message: /^Expected `items\[1\]` to be an object such as \{ task, payload \}, got / });
  }
  assert.equal(await db.count('runs', "task = 'typo-task'"), 0);
});

test('enqueue() and enqueueMany() accept every documented option', async () => {
  const kairos = db.node();
  const all: Required<EnqueueOptions> = {
    runAt: new Date(), delay: '1h', priority: 3, queue: 'default', key: 'k1', conflict: 'raise', retries: 1, backoff: '1s', maxBackoff: '1m',
    timeout: '10s', misfireGrace: '5m', client: db.pool,
  };
  await kairos.enqueue('all-task', {}, all);
  const { client, ...item } = all;
  await kairos.enqueueMany([{ ...item, key: 'k2', task: 'all-task', payload: {} }], { client, conflict: 'raise' });
  assert.equal(await db.count('runs', "task = 'all-task'"), 2);
});

test('defineTask(), task definitions and periodic() refuse a typo; periodic() registers nothing then', () => {
  assert.throws(() => defineTask(() => 'ok', typo<TaskOptions>({ retires: 2 })), unknown('retires', 'defineTask()', 'retries'));
  assert.throws(() => defineTask(() => 'ok', typo<TaskOptions>({ exclusve: true })), unknown('exclusve', 'defineTask()', 'exclusive'));
  assert.throws(() => db.node({ tasks: { send: typo({ handler: () => 'ok', timout: '1s' }) } }), unknown('tasks.send.timout', 'the definition of task `send`', 'timeout'));
  const kairos = db.node();
  assert.throws(() => kairos.task('t', typo({ handler: () => 'ok', queu: 'q' })), unknown('tasks.t.queu', 'the definition of task `t`', 'queue'));
  assert.throws(() => kairos.periodic(typo<PeriodicOptions>({ name: 'p', every: '1m', evrey: '5m' }), () => 'ok'), unknown('evrey', 'periodic()', 'every'));
  // at and nextRun are schedule() options, not periodic() ones.
  assert.throws(() => kairos.periodic(typo<PeriodicOptions>({ name: 'p', every: '1m', at: new Date() }), () => 'ok'), { name: 'KairosValidationError', field: 'at' });
  // A bad value refuses before the task is registered, too.
  assert.throws(() => kairos.periodic({ name: 'p', every: '1m', priority: 5000 }, () => 'ok'), { field: 'priority' });
  assert.equal(kairos.periodic({ name: 'p', every: '1m', exclusive: 'x', validate: (p) => p }, () => 'ok'), 'p');
});

test('defineTask() and periodic() accept every documented option', () => {
  const task: Required<TaskOptions> = { retries: 1, backoff: '1s', maxBackoff: '1m', timeout: '10s', queue: 'q', priority: 1, exclusive: true, validate: (p) => p };
  assert.equal(defineTask(() => 'ok', task).retries, 1);
  const kairos = db.node();
  const all: Required<Omit<PeriodicOptions, 'cron'>> = {
    ...task, name: 'periodic-all', payload: {}, timezone: 'UTC', every: '1m', startAt: new Date('2030-01-01T00:00:00Z'), endAt: new Date('2031-01-01T00:00:00Z'),
    maxRuns: 3, catchUp: 'skip', maxLateness: '1h', misfireGrace: '1m', overlap: 'skip', runImmediately: false, disableAfterFailures: 2, enabled: true,
    description: 'd', labels: [], exceptions: [], nodeName: 'n', nodeTags: [],
  };
  assert.equal(kairos.periodic(all, () => 'ok'), 'periodic-all');
});

test('listJobs(), listRuns(), history(), trigger() and stop() refuse a typo and accept every documented key', async () => {
  const kairos = db.node();
  await assert.rejects(kairos.listJobs(typo<JobFilter>({ enabeld: true })), unknown('enabeld', 'listJobs()', 'enabled'));
  await assert.rejects(kairos.listRuns(typo<RunFilter>({ stauts: 'pending' })), unknown('stauts', 'listRuns()', 'status'));
  await assert.rejects(kairos.history(typo<HistoryFilter>({ runid: 1 })), unknown('runid', 'history()', 'runId'));
  await kairos.schedule({ name: 'filters-job', task: 't' });
  await assert.rejects(kairos.trigger('filters-job', typo({ paylod: {} })), unknown('paylod', 'trigger()', 'payload'));
  const jobRuns = `job_id = (SELECT job_id FROM "${db.schema}".jobs WHERE job_name = 'filters-job')`;
  assert.equal(await db.count('runs', jobRuns), 0);
  const jobFilter: Required<JobFilter> = { enabled: true, task: 't', search: 'filters', label: 'none', type: 'task', limit: 5 };
  const runFilter: Required<RunFilter> = { status: 'pending', task: 't', queue: 'default', job: 'filters-job', limit: 5 };
  const historyFilter: Required<HistoryFilter> = { job: 'filters-job', runId: 1, status: 'completed', task: 't', limit: 5 };
  assert.deepEqual(await kairos.listJobs(jobFilter), []);
  assert.deepEqual(await kairos.listRuns(runFilter), []);
  assert.deepEqual(await kairos.history(historyFilter), []);
  assert.ok((await kairos.trigger('filters-job', { payload: { a: 1 } })) > 0);
  assert.equal(await db.count('runs', jobRuns), 1);
  await assert.rejects(kairos.stop(typo({ timeot: 1 })), unknown('timeot', 'stop()', 'timeout'));
  await kairos.stop({ timeout: 1000 });
});

test('createMetrics(), createAlerts(), observabilityHandler() and startObservabilityServer() refuse a typo and accept every documented key', async () => {
  const kairos = db.node();
  assert.throws(() => createMetrics(kairos, typo<MetricsOptions>({ maxJobLabel: 5 })), unknown('maxJobLabel', 'createMetrics()', 'maxJobLabels'));
  assert.throws(() => createAlerts(kairos, typo<AlertsOptions>({ sqlrules: false })), unknown('sqlrules', 'createAlerts()', 'sqlRules'));
  assert.throws(() => observabilityHandler(kairos, typo<HandlerOptions>({ prefx: '/k' })), unknown('prefx', 'observabilityHandler()', 'prefix'));
  await assert.rejects(startObservabilityServer(kairos, typo<ServerOptions>({ port: 0, hots: '127.0.0.1' })), unknown('hots', 'startObservabilityServer()', 'host'));
  // Alert rules are checked by their own strict schema: an unknown key is refused there.
  assert.throws(() => parseAlertRules([{ channel: 'log', evnts: ['failed'] }]), { name: 'KairosValidationError', field: 'alerts[0].evnts', message: 'Unknown key `evnts` of the log alert rule `alerts[0]`; did you mean `events`?' });
  assert.throws(() => parseAlertRules([{ channel: 'notify', name: 'n' }, { channel: 'webhook', url: 'https://hooks.example/x', secret: 's'.repeat(16), retires: 2 }]), { field: 'alerts[1].retires', message: /did you mean `retries`\?$/ });
  // The agent's YAML says the same, with where the rule came from.
  const yaml = join(mkdtempSync(join(tmpdir(), 'kairos-options-')), 'kairos.yaml');
  writeFileSync(yaml, 'alerts:\n  - channel: log\n    evnts: [failed]\n');
  await assert.rejects(loadAgentConfig({ flags: {}, env: {}, configFile: yaml }), { field: 'alerts[0].evnts', message: /^Unknown key `evnts` of the log alert rule `alerts\[0\]` \(from .*kairos\.yaml:alerts at line 1\); did you mean `events`\?$/ });
  const metricsOptions: Required<MetricsOptions> = { maxJobLabels: 10, registry: new (promClient().Registry)(), defaultLabels: { service: 'test' } };
  const metrics = createMetrics(kairos, metricsOptions);
  const alertsOptions: Required<AlertsOptions> = {
    rules: [{ channel: 'log' }], checkedRules: [], sqlRules: false, refreshMs: 1000, webhookBackoffMs: 10, env: {}, registry: metrics.registry,
  };
  await createAlerts(kairos, alertsOptions).close();
  const handler: Required<HandlerOptions> = { metrics, prefix: '/k', readyTimeoutMs: 500 };
  assert.equal(typeof observabilityHandler(kairos, handler), 'function');
  const server: Required<ServerOptions> = { ...handler, port: 0, host: '127.0.0.1' };
  await (await startObservabilityServer(kairos, server)).close();
});

test('the kairos/testing helpers refuse a typo and accept every documented key', async () => {
  await assert.rejects(runTask(() => 'ok', {}, typo({ attmpt: 2 })), unknown('attmpt', 'runTask() context', 'attempt'));
  const context: Required<TaskContext> = {
    runId: 7, attempt: 2, retries: 3, task: 't', jobName: null, key: null, queue: 'q', priority: 1, scheduledAt: null, dueAt: new Date(),
    startedAt: new Date(), latenessMs: 0, signal: new AbortController().signal, logger: silentLogger,
  };
  assert.equal(await runTask((_p, ctx) => ctx.attempt, {}, context), 2);
  const kairos = db.node({ queues: ['testing-helpers'] });
  await assert.rejects(drain(kairos, typo({ timeout: 1000 })), unknown('timeout', 'drain()', 'timeoutMs'));
  assert.equal(await drain(kairos, { timeoutMs: 5000 }), 0);
});

test("the CLI's flags are refused with commander's suggestion, before anything connects", async () => {
  const start = await cli(['start', '--pol-interval', '5s'], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
  assert.equal(start.code, 2, 'bad input exits 2 (docs/sql.md)');
  assert.match(start.stderr, /unknown option '--pol-interval'\n\(Did you mean --poll-interval\?\)/);
  const list = await cli(['jobs', 'list', '--enabeld'], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
  assert.match(list.stderr, /unknown option '--enabeld'\n\(Did you mean --enabled\?\)/);
});
