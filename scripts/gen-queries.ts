/**
 * `npm run gen:queries`: rewrite src/store/queries.ts, the typed method of every named query in
 * sql/queries/. Migrates a scratch schema on DATABASE_URL (or on an embedded PostgreSQL started
 * here when it is unset), asks the server to describe each query (scripts/codegen/queries.ts) and
 * drops the schema again.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/embedded/postgres.js';
import { migrate } from '../src/store/migrate.js';
import { quoteIdent } from '../src/store/sql.js';
import { generateQueries, QUERIES_FILE } from './codegen/queries.js';

let server: EmbeddedPostgres | undefined;
let url = process.env.DATABASE_URL;
if (!url) {
  server = await startEmbeddedPostgres({ dataDir: `.kairos/gen-pg-${process.pid}` });
  url = server.url;
}
// A name of its own, so that generating never touches an installation on a shared server.
const schema = `kairos_gen_${randomBytes(5).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 2 });
let failed = false;
try {
  await migrate(pool, schema);
  const client = await pool.connect();
  const text = await generateQueries(client, schema).finally(() => client.release());
  writeFileSync(QUERIES_FILE, text);
  console.log(`Wrote ${QUERIES_FILE} (${text.split('\n').length} lines)`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch((error: unknown) => console.error(error));
  await pool.end();
  await server?.stop({ remove: true });
}
process.exit(failed ? 1 : 0);
