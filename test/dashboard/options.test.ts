/**
 * Issue #14 (5), the dashboard's part of test/api-options.test.ts: createDashboard() refuses a key
 * it does not know in its options, its `auth` and its users, naming the key meant; and accepts
 * every documented key (`Required<…>` of the options type).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers.js';
import { KairosValidationError } from '../../src/index.js';
import { createDashboard, type DashboardOptions } from '../../src/dashboard/index.js';
import { silentLogger } from '../../src/testing/index.js';

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

test('createDashboard() refuses a typo in its options, its auth and its users (a mistyped token must not open it)', async () => {
  const base = { pool: db.pool, schema: db.schema };
  assert.throws(() => createDashboard(typo<DashboardOptions>({ ...base, readonly: true })), unknown('readonly', 'createDashboard()', 'readOnly'));
  assert.throws(() => createDashboard(typo<DashboardOptions>({ ...base, auth: { tokne: 'a'.repeat(32) } })), unknown('auth.tokne', 'createDashboard()', 'token'));
  assert.throws(() => createDashboard(typo<DashboardOptions>({ ...base, auth: { users: [{ name: 'u', pasword: 'p' }] } })), unknown('auth.users[0].pasword', 'createDashboard()', 'password'));
  const all: Required<Omit<DashboardOptions, 'databaseUrl'>> = {
    ...base, connectionString: db.connectionString, basePath: '/kairos', readOnly: true, secureCookies: true, logger: silentLogger,
    auth: { token: 'a'.repeat(32), role: 'pg_monitor', users: [{ name: 'u', password: 'p'.repeat(16), role: 'pg_monitor' }] },
    allowedHosts: ['localhost'], sampleIntervalMs: 60_000,
  };
  await createDashboard(all).close();
  await createDashboard({ pool: db.pool, schema: db.schema, databaseUrl: db.connectionString }).close();
});
