/**
 * The suite runs as JavaScript bundled by esbuild, not through the tsx loader: applications run
 * Kairos compiled, and the peers come compiled from node_modules. Under tsx, Kairos alone paid for
 * its TypeScript: about 30 MB more RSS in every worker, and tsx keeps function names by wrapping
 * every closure as it is created, which made enqueue's JavaScript (in the driver) about a third
 * slower than the same code compiled.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * bench/.build sits two levels under the repository root, like src/store/ and bench/lib/: code
 * that finds sql/ or bench/results/ by a path relative to its own file finds them from the bundle.
 */
export const SUITE_BUNDLE = fileURLToPath(new URL('../.build/suite.mjs', import.meta.url));
/** The worker children's entry. */
export const WORKER_BUNDLE = fileURLToPath(new URL('../.build/worker.mjs', import.meta.url));
const ENTRIES = [fileURLToPath(new URL('./suite.ts', import.meta.url)), fileURLToPath(new URL('../worker.ts', import.meta.url))];

/** Bundle the driver and the worker (packages stay imports from node_modules) afresh. */
export async function buildBench(): Promise<void> {
  const outdir = dirname(SUITE_BUNDLE);
  // Chunk names carry content hashes: clear the last build's.
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: ENTRIES,
    outdir,
    outExtension: { '.js': '.mjs' },
    entryNames: '[name]',
    // Shared code in chunks, and one chunk per system (the adapters are imported dynamically): a
    // worker child loads only its own system.
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
}

/** Build unless a bundle is there (the suite, started from its bundle, must not delete itself). */
export async function ensureBench(): Promise<void> {
  if (!existsSync(WORKER_BUNDLE)) await buildBench();
}
