/**
 * `npm run dump:schema`: rewrite sql/schema.sql, the current schema at a glance. Migrates a scratch
 * schema on DATABASE_URL (or on an embedded PostgreSQL started here when it is unset), dumps it
 * from the catalogs (src/store/schema-dump.ts) and drops it again. Run it on the major version CI's
 * embedded server has (the header records it): other versions deparse some SQL differently, and
 * the test then compares only the version-independent part.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/embedded/postgres.js';
import { migrate } from '../src/store/migrate.js';
import { quoteIdent } from '../src/store/sql.js';
import { dumpSchema, SCHEMA_DUMP_FILE } from '../src/store/schema-dump.js';

let server: EmbeddedPostgres | undefined;
let url = process.env.DATABASE_URL;
if (!url) {
  server = await startEmbeddedPostgres({ dataDir: `.kairos/dump-pg-${process.pid}` });
  url = server.url;
}
// A name of its own, so that the dump never touches an installation on a shared server.
const schema = `kairos_dump_${randomBytes(5).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 4 });
let failed = false;
try {
  await migrate(pool, schema);
  const text = await dumpSchema(pool, schema);
  writeFileSync(SCHEMA_DUMP_FILE, text);
  console.log(`Wrote ${SCHEMA_DUMP_FILE} (${text.split('\n').length} lines)`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch((error: unknown) => console.error(error));
  await pool.end();
  await server?.stop({ remove: true });
}
process.exit(failed ? 1 : 0);
