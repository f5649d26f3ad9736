import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import pg from 'pg';
import { Registry } from 'prom-client';
import { fixture, eventually } from '../helpers.js';
import { drain, TestClock } from '../../src/testing/index.js';
import { createAlerts, KairosValidationError, verifyWebhook, type Alert } from '../../src/index.js';
import { internals } from '../../src/api/internals.js';
import { parseMetrics, recordingLogger, value, webhookReceiver } from './support.js';

const db = await fixture();
const s = `"${db.schema}"`;
const SECRET = 'whsec-0123456789abcdef-very-secret';

/** A LISTEN client on `channel` collecting the alerts it hears. */
async function listener(channel: string): Promise<{ alerts: Alert[]; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  const alerts: Alert[] = [];
  client.on('notification', (n) => { if (n.channel === channel) alerts.push(JSON.parse(n.payload!) as Alert); });
  await client.query(`LISTEN "${channel}"`);
  return { alerts, close: () => client.end() };
}

test('a final failure is posted to a signed webhook, retried after a 500; retried attempts are not alerted', async () => {
  const receiver = await webhookReceiver([500]);
  const logger = recordingLogger();
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const kairos = db.node({ clock, logger, tasks: { boom: () => { throw new Error('it broke'); }, fine: () => 1 } });
  const alerts = createAlerts(kairos, {
    rules: [
      { channel: 'webhook', url: receiver.url, secret: SECRET, events: ['failed'] },
      { channel: 'webhook', url: receiver.url, secret: SECRET, job: 'some-other-job' },
    ],
    sqlRules: false,
    webhookBackoffMs: 10,
  });
  try {
    const { id } = await kairos.enqueue('boom', {}, { runAt: clock.now(), retries: 1, backoff: 1000 });
    await kairos.enqueue('fine', {}, { runAt: clock.now() });
    assert.equal(await drain(kairos), 2);
    await alerts.idle();
    assert.equal(receiver.received.length, 0, 'the first attempt will be retried: no alert');
    clock.advance(1000);
    assert.equal(await drain(kairos), 1);
    await alerts.idle();
    assert.equal(receiver.received.length, 2, 'one alert: a 500, then the retry');
    const [first, second] = receiver.received as [typeof receiver.received[0], typeof receiver.received[0]];
    assert.equal(first.body, second.body);
    assert.equal(first.headers['x-kairos-delivery'], second.headers['x-kairos-delivery'], 'same delivery id on each try');
    for (const { headers, body } of receiver.received) {
      const timestamp = String(headers['x-kairos-timestamp']);
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')}`;
      assert.equal(headers['x-kairos-signature'], expected);
      assert.ok(verifyWebhook(SECRET, { timestamp, signature: String(headers['x-kairos-signature']) }, body));
      assert.ok(!verifyWebhook('another-secret-0123456789', { timestamp, signature: String(headers['x-kairos-signature']) }, body));
      assert.ok(!verifyWebhook(SECRET, { timestamp, signature: String(headers['x-kairos-signature']) }, body.replace('it broke', 'it works')));
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(headers['x-kairos-event'], 'failed');
    }
    const alert = JSON.parse(second.body) as Alert;
    assert.equal(alert.event, 'failed');
    assert.equal(alert.job, 'boom');
    assert.equal(alert.runId, id);
    assert.equal(alert.attempt, 2);
    assert.equal(alert.queue, 'default');
    assert.equal(alert.message, 'it broke');
    assert.equal(alert.node, kairos.nodeId);
    assert.equal(alert.schema, db.schema);
    assert.match(logger.text(), /alert webhook failed; retrying/);
    assert.match(logger.text(), /"webhook":"http:\/\/127\.0\.0\.1:\d+"/, 'the log names the server');
    assert.doesNotMatch(logger.text(), new RegExp(SECRET), 'no secret in the logs');
    assert.doesNotMatch(logger.text(), /t0k3n-in-the-url/, 'no URL token in the logs');
    assert.doesNotMatch(JSON.stringify(await kairos.history({ runId: id })), new RegExp(SECRET), 'nor in the history');
  } finally {
    await alerts.close();
    await receiver.close();
  }
});

test('a webhook that keeps failing is given up after its retries; a 4xx is not retried', async () => {
  const receiver = await webhookReceiver([503, 503, 503, 400]);
  const logger = recordingLogger();
  const kairos = db.node({ logger });
  const registry = new Registry();
  const alerts = createAlerts(kairos, { rules: [{ channel: 'webhook', url: receiver.url, secret: SECRET, retries: 2 }, { channel: 'log' }], sqlRules: false, webhookBackoffMs: 5, registry });
  try {
    const alert: Alert = { event: 'failed', job: 'j', task: 'j', runId: 1, attempt: 1, queue: 'default', message: 'm', scheduledAt: null, startedAt: null, latenessMs: null, node: 'n', schema: db.schema, at: new Date().toISOString() };
    await alerts.dispatch(alert);
    await alerts.idle();
    assert.equal(receiver.received.length, 3, 'the first try and 2 retries');
    assert.match(logger.text(), /alert webhook could not be delivered/);
    await alerts.dispatch(alert);
    await alerts.idle();
    assert.equal(receiver.received.length, 4, 'a 400 is final');
    const m = parseMetrics(await registry.metrics());
    assert.equal(value(m, 'kairos_alerts_failed_total', { channel: 'webhook', event: 'failed' }), 2);
    assert.equal(value(m, 'kairos_alerts_sent_total', { channel: 'log', event: 'failed' }), 2);
    assert.equal(value(m, 'kairos_alerts_sent_total', { channel: 'webhook', event: 'failed' }), 0);
    assert.doesNotMatch(logger.text(), new RegExp(SECRET));
  } finally {
    await alerts.close();
    await receiver.close();
  }
});

test('a job disabled after consecutive failures, and its failures, are sent on a NOTIFY channel', async () => {
  const heard = await listener('ops_alerts');
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const kairos = db.node({ clock, tasks: { failing: () => { throw new Error('down'); } } });
  const alerts = createAlerts(kairos, { rules: [{ channel: 'notify', name: 'ops_alerts', job: 'fragile' }], sqlRules: false });
  try {
    await kairos.schedule({ name: 'fragile', task: 'failing', every: '1h', disableAfterFailures: 2, enabled: true });
    for (let i = 0; i < 2; i++) {
      await kairos.trigger('fragile');
      assert.equal(await drain(kairos), 1);
    }
    await alerts.idle();
    await eventually(() => heard.alerts.length === 3, { what: 'three notifications', intervalMs: 20 });
    assert.deepEqual(heard.alerts.map((a) => a.event).sort(), ['disabled', 'failed', 'failed']);
    const disabled = heard.alerts.find((a) => a.event === 'disabled')!;
    assert.equal(disabled.job, 'fragile');
    assert.match(disabled.message, /job fragile disabled after 2 consecutive failed attempts \(failure limit 2\); last error: down/);
    assert.equal((await kairos.getJob('fragile'))?.enabled, false);
  } finally {
    await alerts.close();
    await heard.close();
  }
});

test('a late start passes its rule\'s threshold (and not a laxer one); an expired run is alerted in the log', async () => {
  await db.pool.query(`DELETE FROM ${s}.jobs`);
  const heard = await listener('late_alerts');
  const logger = recordingLogger();
  const clock = new TestClock('2030-01-01T00:00:00Z');
  const kairos = db.node({ clock, logger, tasks: { tick: () => 1 } });
  const alerts = createAlerts(kairos, {
    rules: [
      { channel: 'log', events: ['late', 'expired'], lateAfter: '5s' },
      { channel: 'notify', name: 'late_alerts', events: ['late'], lateAfter: 60 },
    ],
    sqlRules: false,
  });
  try {
    await kairos.schedule({ name: 'every-5', task: 'tick', cron: '*/5 * * * *' });
    assert.equal(await drain(kairos), 0);
    clock.set('2030-01-01T00:00:03Z');
    await internals(kairos).services.ticker.materialise();
    assert.equal(await drain(kairos), 1, 'the 00:00 run, 3 s late: under both thresholds');
    clock.set('2030-01-01T00:05:07Z');
    await internals(kairos).services.ticker.materialise();
    assert.equal(await drain(kairos), 1, 'the 00:05 run, 7 s late');
    await alerts.idle();
    const late = logger.lines.map((l) => JSON.parse(l) as { msg: string; alert?: Alert }).filter((l) => l.alert?.event === 'late');
    assert.equal(late.length, 1);
    assert.equal(late[0]!.alert!.job, 'every-5');
    assert.equal(late[0]!.alert!.latenessMs, 7000);
    assert.equal(late[0]!.alert!.scheduledAt, '2030-01-01T00:05:00.000Z');
    assert.match(late[0]!.msg, /kairos alert: run \d+ of every-5 started 7 s after its scheduled time/);

    const { id } = await kairos.enqueue('tick', {}, { runAt: clock.now(), misfireGrace: 1000, queue: 'nobody-listens' });
    clock.advance(5000);
    assert.equal(await internals(kairos).services.rescuer.expire(), 1);
    await alerts.idle();
    const expired = logger.lines.map((l) => JSON.parse(l) as { alert?: Alert }).filter((l) => l.alert?.event === 'expired');
    assert.equal(expired.length, 1);
    assert.equal(expired[0]!.alert!.runId, id);
    assert.match(expired[0]!.alert!.message, /misfire grace/);
    assert.equal(heard.alerts.length, 0, 'the 60 s rule heard nothing');
  } finally {
    await alerts.close();
    await heard.close();
  }
});

test('fires dropped by the catch-up policy or skipped by the overlap policy are alerted as missed, once, by the planning node', async () => {
  await db.pool.query(`DELETE FROM ${s}.jobs`);
  const logger = recordingLogger();
  const clock = new TestClock('2030-01-01T00:00:00Z');
  let release: () => void = () => undefined;
  const kairos = db.node({ clock, logger, tasks: { tick: () => 1, slow: () => new Promise<void>((resolve) => (release = resolve)) } });
  const alerts = createAlerts(kairos, { rules: [{ channel: 'log', events: ['missed'] }], sqlRules: false });
  const missed = (): Alert[] => logger.lines.map((l) => JSON.parse(l) as { alert?: Alert }).filter((l) => l.alert?.event === 'missed').map((l) => l.alert!);
  try {
    await kairos.schedule({ name: 'minutely', task: 'tick', cron: '* * * * *', catchUp: 'latest' });
    await internals(kairos).services.ticker.materialise();
    await drain(kairos);
    clock.set('2030-01-01T00:10:00Z'); // no node ran for ten minutes: 'latest' fires 00:10 only
    await internals(kairos).services.ticker.materialise();
    await alerts.idle();
    assert.equal(missed().length, 1);
    assert.equal(missed()[0]!.job, 'minutely');
    assert.match(missed()[0]!.message, /9 occurrence\(s\) dropped by catch-up policy latest/);
    await drain(kairos);
    clock.set('2030-01-01T00:11:00Z'); // on time: nothing missed
    await internals(kairos).services.ticker.materialise();
    await drain(kairos);
    await alerts.idle();
    assert.equal(missed().length, 1);

    await kairos.schedule({ name: 'overlapping', task: 'slow', cron: '* * * * *' });
    await internals(kairos).services.ticker.materialise();
    const running = internals(kairos).services.producer.runOnce();
    await running;
    clock.set('2030-01-01T00:12:00Z'); // the 00:11 run still holds the job: 00:12 is skipped
    await internals(kairos).services.ticker.materialise();
    await alerts.idle();
    assert.ok(missed().some((a) => a.job === 'overlapping' && /1 skipped: a run was still active \(overlap policy skip\)/.test(a.message)));
  } finally {
    release();
    await alerts.close();
  }
});

test('rules added in SQL are used by the node', async () => {
  const heard = await listener('sql_rule_alerts');
  const kairos = db.node({ tasks: { sqlfail: () => { throw new Error('from a SQL rule'); } } });
  const alerts = createAlerts(kairos, { refreshMs: 0 });
  try {
    await kairos.schedule({ name: 'sql-ruled', task: 'sqlfail', every: '1h' });
    const [{ id }] = (await db.pool.query(`SELECT ${s}.add_alert('notify', 'sql_rule_alerts', job_name => 'sql-ruled', events => '{failed}') AS id`)).rows;
    assert.ok((await alerts.rules()).some((r) => r.source === `sql:${id}` && r.channel === 'notify' && r.job === 'sql-ruled'));
    await kairos.trigger('sql-ruled');
    assert.equal(await drain(kairos), 1);
    await alerts.idle();
    await eventually(() => heard.alerts.length === 1, { what: 'the notification', intervalMs: 20 });
    assert.equal(heard.alerts[0]!.message, 'from a SQL rule');
    await db.pool.query(`SELECT ${s}.remove_alert($1)`, [id]);
    assert.ok(!(await alerts.rules()).some((r) => r.source === `sql:${id}`));
  } finally {
    await alerts.close();
    await heard.close();
  }
});

test('bad rules are refused with a clear error that never shows a secret', () => {
  const kairos = db.node();
  const refused = (rules: unknown[], field: string, pattern: RegExp): void => {
    assert.throws(() => createAlerts(kairos, { rules, sqlRules: false }), (e: unknown) => {
      assert.ok(e instanceof KairosValidationError, String(e));
      assert.equal(e.field, field);
      assert.match(e.message, pattern);
      assert.doesNotMatch(e.message, /tooshort/);
      return true;
    });
  };
  refused([{ channel: 'email', target: 'ops@example.com' }], 'alerts[0].channel', /`channel: webhook`, `channel: notify` or `channel: log`/);
  refused([{ channel: 'webhook', url: 'ftp://example.com', secret: SECRET }], 'alerts[0].url', /http:\/\/ or https:\/\/ URL/);
  refused([{ channel: 'webhook', url: 'https://example.com/hook', secret: 'tooshort' }], 'alerts[0].secret', /at least 16 characters, got a value \(not shown\)/);
  refused([{ channel: 'webhook', url: 'https://example.com/hook' }], 'alerts[0].secret', /exactly once/);
  refused([{ channel: 'log' }, { channel: 'notify', name: '9lives' }], 'alerts[1].name', /channel name/);
  refused([{ channel: 'log', events: ['exploded'] }], 'alerts[0].events[0]', /one of failed, disabled, late, expired, missed/);
  refused([{ channel: 'log', events: [] }], 'alerts[0].events', /at least one event/);
  refused([{ channel: 'log', lateAfter: 'soon' }], 'alerts[0].late_after', /duration/);
  refused([{ channel: 'log', color: 'red' }], 'alerts[0].color', /^Unknown key `color` of the log alert rule `alerts\[0\]`; known keys: channel, job, events, late_after$/);
  assert.throws(() => createAlerts(kairos, { rules: [{ channel: 'webhook', url: 'https://example.com', secretEnv: 'NOT_SET_ANYWHERE' }], env: {} }), /environment variable NOT_SET_ANYWHERE/);
});
