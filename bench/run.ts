/**
 * `npm run bench`: bundles the suite (bench/lib/bundle.ts says why) and runs it with plain node,
 * passing the arguments on. See bench/lib/suite.ts and `npm run bench -- --help`.
 */
import { spawn } from 'node:child_process';
import { buildBench, SUITE_BUNDLE } from './lib/bundle.js';

await buildBench();
const suite = spawn(process.execPath, [SUITE_BUNDLE, ...process.argv.slice(2)], { stdio: 'inherit' });
// Ctrl-C reaches the suite through the terminal's process group; a plain kill is passed on.
process.on('SIGTERM', () => suite.kill('SIGTERM'));
process.on('SIGINT', () => undefined);
suite.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
