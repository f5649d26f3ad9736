/**
 * The defaults are named once (src/api/options.ts DEFAULTS, exported from the root): what
 * new Kairos() resolves and what the agent's configuration starts from are those values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../../src/index.js';
import { resolveOptions } from '../../src/api/options.js';
import { loadAgentConfig } from '../../src/cli/config.js';

test('new Kairos() resolves to the named defaults', () => {
  const o = resolveOptions({ connectionString: 'postgres://localhost/x' });
  assert.equal(o.schema, DEFAULTS.schema);
  assert.deepEqual(o.queues, [...DEFAULTS.queues]);
  assert.equal(o.concurrency, DEFAULTS.concurrency);
  assert.equal(o.batchSize, DEFAULTS.batchSize);
  assert.equal(o.prefetch, DEFAULTS.prefetch);
  assert.equal(o.pollIntervalMs, DEFAULTS.pollIntervalMs);
  assert.equal(o.leaseMs, DEFAULTS.leaseMs);
  assert.equal(o.heartbeatIntervalMs, Math.min(DEFAULTS.maxHeartbeatIntervalMs, DEFAULTS.leaseMs / 3));
  assert.equal(o.rescueIntervalMs, DEFAULTS.rescueIntervalMs);
  assert.equal(o.maxRescues, DEFAULTS.maxRescues);
  assert.equal(o.shutdownTimeoutMs, DEFAULTS.shutdownTimeoutMs);
  assert.equal(o.maxConnections, DEFAULTS.concurrency + DEFAULTS.extraConnections);
  assert.deepEqual(o.retention, { ...DEFAULTS.retention });
  assert.ok(Object.isFrozen(DEFAULTS) && Object.isFrozen(DEFAULTS.queues), 'nobody changes them for everyone');
});

test("the agent's configuration starts from the same defaults", async () => {
  const config = await loadAgentConfig({ flags: {}, env: { DATABASE_URL: 'postgres://localhost/x' } });
  assert.equal(config.schema, DEFAULTS.schema);
  assert.equal(config.concurrency, DEFAULTS.concurrency);
  assert.deepEqual(config.queues, [...DEFAULTS.queues]);
  assert.equal(config.pollInterval, DEFAULTS.pollIntervalMs);
  assert.equal(config.shutdownTimeout, DEFAULTS.shutdownTimeoutMs);
});
