/**
 * For demo-shutdown.test.ts: a process that owns an embedded PostgreSQL the way `kairos demo` and
 * `kairos start` do (exitOnShutdown stops it), then crashes with an uncaught exception or an
 * unhandled rejection (argv: data dir, "throw" | "reject") once it has printed "ready".
 */
import { startEmbeddedPostgres } from '../../src/embedded/postgres.js';
import { exitOnShutdown } from '../../src/cli/shutdown.js';

const [dataDir, how] = process.argv.slice(2);
const server = await startEmbeddedPostgres({ dataDir: dataDir! });
exitOnShutdown(() => server.stop(), (error) => console.error(error));
console.log(`ready on port ${server.port}`);
setTimeout(() => {
  if (how === 'reject') void Promise.reject(new Error('an unhandled rejection'));
  else throw new Error('an uncaught exception');
}, 10);
