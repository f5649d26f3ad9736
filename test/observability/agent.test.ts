import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, eventually } from '../helpers.js';
import { AgentConfigError, loadAgentConfig, redactConfig } from '../../src/cli/config.js';
import { startCli } from '../cli/run-cli.js';
import { webhookReceiver } from './support.js';
import type { Alert } from '../../src/index.js';

const db = await fixture();
const s = `"${db.schema}"`;
const dir = mkdtempSync(join(tmpdir(), 'kairos-obs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'agent-webhook-secret-0123456789';
let files = 0;

function yamlFile(text: string): string {
  const path = join(dir, `config-${(files += 1)}.yaml`);
  writeFileSync(path, text);
  return path;
}

async function problems(flags: Record<string, unknown>, env: Record<string, string>, yaml: string | undefined): Promise<string> {
  const error = await loadAgentConfig({ flags, env, ...(yaml === undefined ? {} : { configFile: yamlFile(yaml) }) }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof AgentConfigError, `an AgentConfigError, got ${String(error)}`);
  return error.message;
}

test('http port and host: flag over KAIROS_HTTP_PORT over YAML `http:`; absent by default', async () => {
  const file = yamlFile('kairos:\n  http:\n    port: 9000\n    host: 0.0.0.0\n');
  assert.deepEqual(await loadAgentConfig({ flags: {}, env: {}, configFile: file }).then((c) => [c.httpPort, c.httpHost]), [9000, '0.0.0.0']);
  assert.deepEqual(await loadAgentConfig({ flags: {}, env: { KAIROS_HTTP_PORT: '9100' }, configFile: file }).then((c) => [c.httpPort, c.httpHost]), [9100, '0.0.0.0']);
  assert.deepEqual(await loadAgentConfig({ flags: { httpPort: '9200', httpHost: '::1' }, env: { KAIROS_HTTP_PORT: '9100' }, configFile: file }).then((c) => [c.httpPort, c.httpHost]), [9200, '::1']);
  const none = await loadAgentConfig({ flags: {}, env: {} });
  assert.ok(!('httpPort' in none) && !('httpHost' in none) && !('alerts' in none));
  assert.match(await problems({}, {}, 'http:\n  port: 70000\n'), /`httpPort` \(from .*http\.port at line 2\) to be an integer from 0 to 65535, got number 70000/);
  assert.match(await problems({}, {}, 'http:\n  prot: 80\n'), /Unknown setting `prot` under `http`.*line 2\); did you mean `port`\?$/);
  assert.match(await problems({}, {}, 'http:\n  address: 0.0.0.0\n'), /Unknown setting `address` under `http`.*line 2\); known settings: port, host$/);
  assert.match(await problems({}, {}, 'http: 8080\n'), /Expected `http` in .* to be a mapping with `port` and `host`, got number 8080/);
  assert.match(await problems({ httpPort: 'eighty' }, {}, undefined), /`httpPort` \(from --http-port\)/);
  assert.match(await problems({}, { KAIROS_HTTP_HOST: 'a host' }, undefined), /`httpHost` \(from KAIROS_HTTP_HOST\) to be a host name or IP address/);
});

test('alerts in YAML are checked; secrets and URL paths never show in errors or the logged configuration', async () => {
  const config = await loadAgentConfig({
    flags: {}, env: {},
    configFile: yamlFile(`alerts:\n  - channel: webhook\n    url: https://hooks.example.com/T000/SECRETPATH\n    secret: ${SECRET}\n    events: [failed, disabled]\n    timeout: 2s\n  - channel: notify\n    name: ops\n    job: nightly\n    late_after: 90\n  - channel: log\n`),
  });
  assert.deepEqual(config.alerts, [
    { job: undefined, events: ['failed', 'disabled'], lateAfterMs: 60_000, source: 'config', channel: 'webhook', url: 'https://hooks.example.com/T000/SECRETPATH', secret: SECRET, secretEnv: undefined, retries: 3, timeoutMs: 2000 },
    { job: 'nightly', events: ['failed', 'disabled', 'late', 'expired', 'missed', 'broken'], lateAfterMs: 90_000, source: 'config', channel: 'notify', name: 'ops' },
    { job: undefined, events: ['failed', 'disabled', 'late', 'expired', 'missed', 'broken'], lateAfterMs: 60_000, source: 'config', channel: 'log' },
  ]);
  const logged = JSON.stringify(redactConfig(config));
  assert.doesNotMatch(logged, new RegExp(`${SECRET}|SECRETPATH`));
  assert.match(logged, /"url":"https:\/\/hooks\.example\.com\/\*\*\*"/);
  const message = await problems({}, {}, 'alerts:\n  - channel: webhook\n    url: https://x.example.com/hook\n    secret: tooshort-secret\n  - channel: pager\n');
  assert.match(message, /`alerts\[0\]\.secret` \(from .*alerts at line 1\) to be a secret of at least 16 characters, got a value \(not shown\)/);
  assert.match(message, /`alerts\[1\]\.channel`/);
  assert.doesNotMatch(message, /tooshort-secret/);
  assert.match(await problems({}, {}, 'alerts:\n  - channel: webhook\n    url: not a url\n    secret_env: HOOK_SECRET\n'), /`alerts\[0\]\.url` .* got a value \(not shown\)/);
});

test('the agent sends alerts from its YAML (secret from the environment) and logs no secret', async () => {
  const receiver = await webhookReceiver();
  const file = yamlFile(`kairos:\n  schema: ${db.schema}\n  log_format: json\n  log_level: info\n  alerts:\n    - channel: webhook\n      url: ${receiver.url}\n      secret_env: HOOK_SECRET\n      events: [failed]\n    - channel: log\n      events: [failed]\n`);
  const agent = startCli(['start', '--config', file, '--poll-interval', '1'], { DATABASE_URL: db.connectionString, HOOK_SECRET: SECRET });
  try {
    await agent.waitFor('kairos agent started');
    await db.pool.query(`SELECT * FROM ${s}.define_job('divide', 'SELECT 1/0')`);
    await db.pool.query(`SELECT ${s}.trigger_job('divide')`);
    await eventually(async () => receiver.received.length === 1, 15_000, 'the webhook');
    const alert = JSON.parse(receiver.received[0]!.body) as Alert;
    assert.equal(alert.event, 'failed');
    assert.equal(alert.job, 'divide');
    assert.match(alert.message, /division by zero/);
    await agent.waitFor(/kairos alert: run \d+ of divide failed: division by zero/);
    agent.child.kill('SIGTERM');
    const result = await agent.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(`${SECRET}|t0k3n-in-the-url`));
  } finally {
    agent.child.kill('SIGKILL');
    await receiver.close();
  }
});

test('the agent refuses to start when a webhook secret variable is missing', async () => {
  const file = yamlFile(`alerts:\n  - channel: webhook\n    url: https://example.com/hook\n    secret_env: MISSING_HOOK_SECRET\n`);
  const agent = startCli(['start', '--config', file, '--schema', db.schema], { DATABASE_URL: db.connectionString, MISSING_HOOK_SECRET: undefined });
  const result = await agent.exited;
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /environment variable MISSING_HOOK_SECRET/);
});
