/**
 * The npm package as a team installs it: build into a temporary folder, `npm pack` it (the real
 * "files" list), check what the tarball holds, install it into a fresh consumer project (from the
 * registry, cache first), compile a consumer with `tsc --strict` and `skipLibCheck: false` that
 * imports `kairos-scheduler`, `/testing` and `/dashboard`, run a task through it against
 * DATABASE_URL, and `require()` it from CommonJS (Node >= 20.19 loads ES modules with require).
 * Everything lives in one temporary folder, removed at the end; the repository's dist/ is untouched.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; files: string[]; exports: Record<string, { types: string; default: string }> };
const work = mkdtempSync(join(tmpdir(), 'kairos-package-'));
const packageDir = join(work, 'package');
const consumer = join(work, 'consumer');
let files: string[] = [];
let tarball = '';

/** Run a command; on failure the error carries its output. */
async function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

before(async () => {
  // What "files" names (dist is built), plus what npm always adds.
  mkdirSync(packageDir);
  for (const entry of [...pkg.files.filter((f) => !f.startsWith('!') && f !== 'dist'), 'package.json', 'README.md', 'LICENSE']) {
    cpSync(join(ROOT, entry), join(packageDir, entry), { recursive: true });
  }
  await sh(process.execPath, [TSC, '-p', 'tsconfig.build.json', '--outDir', join(packageDir, 'dist')], ROOT);
  // A map left over from an older build (tsc never cleans dist/) must not reach the tarball either.
  writeFileSync(join(packageDir, 'dist', 'stale.js.map'), '{"version":3,"sources":["../src/stale.ts"],"mappings":""}');
  const packed = JSON.parse(await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], packageDir)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = packed[0]!.files.map((f) => f.path);
  tarball = join(work, packed[0]!.filename);
});

after(() => rmSync(work, { recursive: true, force: true }));

test('the tarball holds the package and nothing else: entry points, SQL, assets, LICENSE; no tests, sources, maps or .kairos', () => {
  assert.equal(tarball, join(work, `kairos-scheduler-${pkg.version}.tgz`));
  for (const path of ['package.json', 'README.md', 'LICENSE', 'bin/kairos.js', 'dist/cli/index.js', 'sql/schema.sql']) {
    assert.ok(files.includes(path), `${path} is missing from the tarball`);
  }
  for (const target of Object.values(pkg.exports).flatMap((e) => [e.types, e.default])) {
    assert.ok(files.includes(target.replace(/^\.\//, '')), `exports target ${target} is missing from the tarball`);
  }
  assert.ok(files.some((f) => f.startsWith('sql/migrations/')) && files.some((f) => f.startsWith('assets/dashboard/')), 'migrations and dashboard assets are shipped');
  const unwanted = files.filter((f) => /^(test|src|docs|bench|scripts|deploy|node_modules|\.kairos|\.ci)\//.test(f) || f.endsWith('.map') || f.endsWith('.tsbuildinfo'));
  assert.deepEqual(unwanted, []);
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 The Kairos authors\n/);
  // docs/ is not shipped: README images must be absolute URLs (npm's page shows the README).
  const images = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
  assert.ok(images.length > 0);
  for (const image of images) assert.ok(/^https:\/\//.test(image) || files.includes(image), `README image ${image} is neither an absolute URL nor in the package`);
});

test('a strict TypeScript consumer (skipLibCheck false) installs the tarball, compiles, and runs a task against DATABASE_URL', async () => {
  assert.ok(process.env.DATABASE_URL, 'DATABASE_URL is set by npm test');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // --omit=optional: no embedded PostgreSQL binaries (60 MB); the consumer uses DATABASE_URL.
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', '--ignore-scripts', tarball], consumer);
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, skipLibCheck: false, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', outDir: 'out' },
    files: ['main.ts'],
  }));
  writeFileSync(join(consumer, 'main.ts'), `
import { Kairos, defineTask, type StatusChange } from 'kairos-scheduler';
import { createTestSchema, waitForRun } from 'kairos-scheduler/testing';
import { createDashboard } from 'kairos-scheduler/dashboard';

let seen = 0;
const db = await createTestSchema(process.env.DATABASE_URL, 'consumer');
const kairos = new Kairos({
  connectionString: db.connectionString, schema: db.schema, pollInterval: 200,
  tasks: { double: defineTask<{ n: number }>(async ({ n }) => { seen = n; return { doubled: n * 2 }; }) },
});
// The types are real, not any: a wrong payload does not compile (never called).
export function typed(): void {
  // @ts-expect-error n must be a number
  void kairos.enqueue('double', { n: 'twenty-one' });
}
try {
  await kairos.start();
  const { id } = await kairos.enqueue('double', { n: 21 });
  const change: StatusChange = await waitForRun(kairos, id, 20_000);
  console.log(JSON.stringify({ next: change.next, seen, dashboard: typeof createDashboard }));
} finally {
  await kairos.stop();
  await db.drop();
}
`);
  await sh(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer);
  const out = await sh(process.execPath, ['out/main.js'], consumer);
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { next: 'completed', seen: 21, dashboard: 'function' });
});

test('CommonJS: require("kairos-scheduler") works on Node >= 20.19 (require of ES modules), as the README says', async () => {
  assert.ok(existsSync(join(consumer, 'node_modules', 'kairos-scheduler')), 'installed by the test before');
  writeFileSync(join(consumer, 'main.cjs'), `
const { Kairos, defineTask } = require('kairos-scheduler');
const { createTestSchema } = require('kairos-scheduler/testing');
console.log(JSON.stringify([typeof Kairos, typeof defineTask, typeof createTestSchema]));
`);
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  if (major > 20 || (major === 20 && minor >= 19)) {
    const out = await sh(process.execPath, ['main.cjs'], consumer);
    assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), ['function', 'function', 'function']);
  } else {
    await assert.rejects(sh(process.execPath, ['main.cjs'], consumer), /ERR_REQUIRE_ESM/);
  }
});
