/**
 * `npm test`: runs every test file under test/ with node's test runner against a real PostgreSQL:
 * the server in DATABASE_URL when set, otherwise an embedded one started here and removed after.
 * Arguments filter test files by substring: `npm test -- cron schedule`.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/embedded/postgres.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = testFiles('test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`No test files match ${filters.join(' ')}`);
  process.exit(1);
}

let server: EmbeddedPostgres | undefined;
if (!process.env.DATABASE_URL) {
  server = await startEmbeddedPostgres({
    dataDir: `.kairos/test-pg-${process.pid}`,
    settings: { max_connections: '400', shared_buffers: '128MB' },
  });
  process.env.DATABASE_URL = server.url;
  console.log(`Tests use an embedded PostgreSQL on port ${server.port} (set DATABASE_URL to use another server)`);
}

const code = await new Promise<number>((resolve) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
    { stdio: 'inherit', env: process.env },
  );
  child.on('close', (exitCode) => resolve(exitCode ?? 1));
});
await server?.stop({ remove: true });
process.exit(code);
