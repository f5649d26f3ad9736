/**
 * Forward-only migrations. Safe to run from many processes at once: the pending files are applied
 * in one transaction, with their version rows, after a transaction-scoped advisory lock and a look
 * at what is applied (all or nothing: a failed file leaves the schema as it was). No session
 * state: a session lock behind a transaction-mode pooler stayed on an idle server connection and
 * made the next `start()` wait for it forever.
 */
import type pg from 'pg';
import { readMigrations, renderSql, quoteIdent, assertSchemaName, assertRoleName, DEFAULT_ROLES, type RoleNames } from './sql.js';
import { databaseError } from './db.js';

/** What a migration run did. */
export interface MigrateResult {
  schema: string;
  /** Versions applied by this call (empty when already up to date). */
  applied: number[];
  /** The schema's version after the call. */
  version: number;
}

/** The latest schema version this code knows. */
export function latestVersion(): number {
  return Math.max(...readMigrations().map((m) => m.version));
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Role names used by the SQL API (only read when the migration that creates them runs). */
  roles?: Partial<RoleNames>;
}

/** Install or upgrade the Kairos schema `schema` through `pool`. Idempotent. */
export async function migrate(pool: pg.Pool, schema: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  assertSchemaName(schema);
  const roles: RoleNames = {
    scheduler: assertRoleName(options.roles?.scheduler ?? DEFAULT_ROLES.scheduler, 'roles.scheduler'),
    monitor: assertRoleName(options.roles?.monitor ?? DEFAULT_ROLES.monitor, 'roles.monitor'),
    shell: assertRoleName(options.roles?.shell ?? DEFAULT_ROLES.shell, 'roles.shell'),
  };
  const client = await pool.connect();
  const q = quoteIdent(schema);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kairos-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${q}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${q}.migrations`)).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const migration of readMigrations()) {
      if (done.has(migration.version)) continue;
      try {
        await client.query(renderSql(migration.text, schema, roles));
      } catch (error) {
        throw databaseError(`Migration ${migration.version}_${migration.name}`, error);
      }
      await client.query(`INSERT INTO ${q}.migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      applied.push(migration.version);
    }
    const version = (await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${q}.migrations`)).rows[0]?.v ?? 0;
    await client.query('COMMIT');
    return { schema, applied, version };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The schema's current version, or 0 when Kairos is not installed there. */
export async function schemaVersion(pool: pg.Pool, schema: string): Promise<number> {
  assertSchemaName(schema);
  const exists = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${quoteIdent(schema)}.migrations`]);
  if (!exists.rows[0]?.t) return 0;
  const row = await pool.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${quoteIdent(schema)}.migrations`);
  return row.rows[0]?.v ?? 0;
}
