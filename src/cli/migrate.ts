/**
 * `kairos migrate --database-url URL --schema NAME`: install or upgrade a schema.
 */
import pg from 'pg';
import { migrate } from '../store/migrate.js';
import { assertSchemaName } from '../store/sql.js';
import { redactConnectionString } from '../core/redact.js';
import { KairosDatabaseError, KairosValidationError } from '../core/errors.js';
import { assertPostgresUrl } from './errors.js';

/** Action of `kairos migrate`. */
export async function migrateCommand(options: { databaseUrl?: string; schema: string }): Promise<void> {
  if (!options.databaseUrl) throw new KairosValidationError('database-url', 'migrate needs --database-url (or DATABASE_URL)');
  assertSchemaName(options.schema);
  assertPostgresUrl(options.databaseUrl);
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 1, connectionTimeoutMillis: 10_000 });
  try {
    const result = await migrate(pool, options.schema).catch((error: unknown) => {
      throw new KairosDatabaseError(`cannot migrate ${redactConnectionString(options.databaseUrl!)}: ${(error as Error).message}`, { cause: error });
    });
    const what = result.applied.length > 0 ? `applied ${result.applied.join(', ')}` : 'already up to date';
    console.log(`schema ${result.schema}: version ${result.version} (${what})`);
  } finally {
    await pool.end();
  }
}
