import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runShell, splitArgv } from '../../src/executors/shell/spawn.js';
import { KairosValidationError } from '../../src/core/errors.js';
import { eventually } from '../helpers.js';

/** Quote a word for splitArgv (and for sh): the test needs paths such as process.execPath verbatim. */
const q = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;
/** A command line running a Node.js script. */
const node = (script: string): string => `${q(process.execPath)} -e ${q(script)}`;

/** Members of a process group that are still running (not zombies), from `ps`, independently of the code under test. */
function liveMembers(pgid: number): string[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, state]) => Number(group) === pgid && state !== undefined && !state.startsWith('Z'))
    .map((fields) => fields.join(' '));
}

/**
 * Nothing of the group survives. `kill(-pgid, 0)` failing with ESRCH proves it; where it succeeds
 * only zombies may be left (killed orphans that PID 1 does not reap, as in this sandbox).
 */
function assertNoSurvivor(pgid: number | null): void {
  assert.ok(pgid !== null, 'the command started');
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ESRCH');
    return;
  }
  assert.deepEqual(liveMembers(pgid), [], `process group ${pgid} still has live members`);
}

function assertRefused(command: string, pattern: RegExp): void {
  assert.throws(() => splitArgv(command), (error: unknown) => {
    assert.ok(error instanceof KairosValidationError);
    assert.equal(error.field, 'command');
    assert.match(error.message, /^Expected `command` to be /);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('splitArgv', () => {
  test('splits words on blanks and joins adjacent quoted pieces', () => {
    assert.deepEqual(splitArgv('  ls   -la\t/tmp  '), ['ls', '-la', '/tmp']);
    assert.deepEqual(splitArgv(`echo 'a b' "c d" e'f'"g"h`), ['echo', 'a b', 'c d', 'efgh']);
    assert.deepEqual(splitArgv('cmd arg\r\n'), ['cmd', 'arg'], 'CRLF and a trailing newline are blanks');
  });

  test('single quotes are literal; double quotes keep all but \\$ \\` \\" \\\\ escapes', () => {
    assert.deepEqual(splitArgv(`x '\\n $HOME "q" | ;'`), ['x', '\\n $HOME "q" | ;']);
    assert.deepEqual(splitArgv(`x "a\\"b" "c\\\\d" "\\$e" "\\n" "| & ; < >"`), ['x', 'a"b', 'c\\d', '$e', '\\n', '| & ; < >']);
  });

  test('backslashes escape outside quotes, and backslash-newline continues the line', () => {
    assert.deepEqual(splitArgv('echo a\\ b \\| \\$HOME \\\\ \\\''), ['echo', 'a b', '|', '$HOME', '\\', "'"]);
    assert.deepEqual(splitArgv('echo a\\\nb \\\n c'), ['echo', 'ab', 'c']);
  });

  test('empty quotes are empty arguments', () => {
    assert.deepEqual(splitArgv(`cmd '' "" a''`), ['cmd', '', '', 'a']);
  });

  test('unicode passes through, escaped astral characters included', () => {
    assert.deepEqual(splitArgv('echo héllo 日本 "😀 x" \\😀'), ['echo', 'héllo', '日本', '😀 x', '😀']);
    assert.deepEqual(splitArgv('echo a\u00a0b'), ['echo', 'a\u00a0b'], 'a no-break space is not a blank, as in sh');
  });

  test('globs, tildes, $ without a name and # inside a word are literal', () => {
    assert.deepEqual(splitArgv('curl https://x/?a=1 *.txt ~/f 5$ a#b'), ['curl', 'https://x/?a=1', '*.txt', '~/f', '5$', 'a#b']);
  });

  test('refuses shell syntax it does not interpret, pointing at shell: true', () => {
    for (const [command, what] of [
      ['grep x | wc', /unquoted `\|` at column 8/],
      ['sleep 1 &', /unquoted `&`/],
      ['a; b', /unquoted `;`/],
      ['sort < in', /unquoted `<`/],
      ['echo x > out', /unquoted `>`/],
      ['echo $(id)', /unquoted `\$\(` expansion/],
      ['echo `id`', /unquoted backquote/],
      ['echo $HOME', /unquoted `\$H` expansion/],
      ['echo ${X}', /`\$\{` expansion/],
      ['echo "$HOME"', /expansion inside double quotes/],
      ['echo "`id`"', /backquote inside double quotes/],
      ['(echo)', /unquoted `\(`/],
      ['echo a\necho b', /newline \(a second command\)/],
      ['echo #comment', /`#` \(a shell comment\)/],
    ] as const) {
      assertRefused(command, what);
      assertRefused(command, /set `shell: true`/);
    }
  });

  test('refuses empty commands, NUL bytes, unclosed quotes and dangling backslashes', () => {
    assertRefused('', /non-empty/);
    assertRefused(' \n ', /non-empty/);
    assertRefused('a\u0000b', /NUL/);
    assertRefused(`echo 'abc`, /the ' opened at column 6 is never closed/);
    assertRefused('echo "abc', /the " opened at column 6 is never closed/);
    assertRefused('echo abc\\', /trailing backslash at column 9/);
  });
});

describe('runShell', () => {
  test('reports exit codes and both outputs', async () => {
    const ok = await runShell({ command: 'true' });
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.signal, null);
    const failed = await runShell({ command: `sh -c 'echo out; echo err >&2; exit 42'` });
    assert.deepEqual(
      { exitCode: failed.exitCode, stdout: failed.stdout, stderr: failed.stderr, stdoutBytes: failed.stdoutBytes, stderrBytes: failed.stderrBytes },
      { exitCode: 42, stdout: 'out\n', stderr: 'err\n', stdoutBytes: 4, stderrBytes: 4 },
    );
    assert.equal(failed.truncated, false);
    assert.equal(failed.timedOut, false);
    assert.ok(failed.pid !== null && failed.durationMs >= 0);
  });

  test('passes argv verbatim, without a shell in between', async () => {
    const result = await runShell({ command: node('console.log(JSON.stringify(process.argv.slice(1)))') + ` 'a b' "" '$HOME' '*' 日本` });
    assert.deepEqual(JSON.parse(result.stdout), ['a b', '', '$HOME', '*', '日本']);
  });

  test('passes env on top of PATH, HOME, LANG and TZ only: the agent\'s secrets stay out', async () => {
    const saved = { DATABASE_URL: process.env.DATABASE_URL, PGPASSWORD: process.env.PGPASSWORD };
    process.env.DATABASE_URL = 'postgres://agent:secret@db/kairos';
    process.env.PGPASSWORD = 'secret';
    try {
      const result = await runShell({ command: node('console.log(JSON.stringify(process.env))'), env: { FOO: 'bar baz', LANG: 'C' } });
      const env = JSON.parse(result.stdout) as Record<string, string>;
      assert.equal(env.FOO, 'bar baz');
      assert.equal(env.LANG, 'C', 'cmd.env overrides what is inherited');
      assert.equal(env.DATABASE_URL, undefined);
      assert.equal(env.PGPASSWORD, undefined);
      assert.equal(env.PATH, process.env.PATH);
      assert.deepEqual(Object.keys(env).filter((k) => !['PATH', 'HOME', 'LANG', 'TZ', 'FOO'].includes(k)), []);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test('runs in cwd, and a bad cwd resolves with an error naming the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kairos-shell-'));
    try {
      assert.equal((await runShell({ command: 'pwd', cwd: dir })).stdout.trim(), dir);
      const missing = await runShell({ command: 'pwd', cwd: join(dir, 'nope') });
      assert.deepEqual([missing.exitCode, missing.signal, missing.pid, missing.spawnError], [null, null, null, 'ENOENT']);
      assert.match(missing.stderr, /cannot run in .*nope: no such directory/);
      writeFileSync(join(dir, 'file'), '');
      assert.equal((await runShell({ command: 'pwd', cwd: join(dir, 'file') })).spawnError, 'ENOTDIR');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('keeps only the tail of a 5 MB output, with exact totals', async () => {
    const size = 5 * 1024 * 1024;
    const script = `const b = Buffer.alloc(${size - 3}, 'x'); process.stdout.write(b); process.stdout.write('END'); process.stderr.write('e'.repeat(100000));`;
    const result = await runShell({ command: node(script) });
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdoutBytes, size);
    assert.equal(result.stderrBytes, 100000);
    assert.equal(result.stdout.length, 64 * 1024);
    assert.ok(result.stdout.endsWith('xxEND'));
    assert.equal(result.stderr, 'e'.repeat(64 * 1024));
    assert.equal(result.truncated, true);
  });

  test('a cut inside a multi-byte character drops the fragment instead of decoding garbage', async () => {
    // Fifteen bytes of €; the last ten start on the third byte of the second €.
    const result = await runShell({ command: 'printf €€€€€', maxOutputBytes: 10 });
    assert.equal(result.stdoutBytes, 15);
    assert.equal(result.stdout, '€€€');
    assert.equal(result.truncated, true);
    const none = await runShell({ command: 'echo hidden', maxOutputBytes: 0 });
    assert.deepEqual([none.stdout, none.stdoutBytes, none.truncated], ['', 7, true]);
  });

  test('a timeout kills the command', async () => {
    const result = await runShell({ command: 'sleep 30', timeoutMs: 100, killGraceMs: 1000 });
    assert.deepEqual([result.timedOut, result.exitCode, result.signal], [true, null, 'SIGTERM']);
    assert.ok(result.durationMs < 1000, `took ${result.durationMs} ms`);
    assertNoSurvivor(result.pid);
  });

  test('a timeout kills the whole process tree, background children included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kairos-shell-'));
    try {
      const pidFile = join(dir, 'child');
      const result = await runShell({ command: `sh -c 'sleep 30 & echo $! > "$0"; sleep 30' ${q(pidFile)}`, timeoutMs: 200, killGraceMs: 1000 });
      assert.equal(result.timedOut, true);
      assert.ok(result.durationMs < 1000, `took ${result.durationMs} ms`);
      const child = Number(readFileSync(pidFile, 'utf8'));
      assert.deepEqual(liveMembers(result.pid as number).concat(liveMembers(child)), []);
      assertNoSurvivor(result.pid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('processes that ignore SIGTERM get SIGKILL after the grace period', async () => {
    const result = await runShell({ command: `sh -c 'trap "" TERM; sleep 30 & sleep 30'`, timeoutMs: 100, killGraceMs: 300 });
    assert.deepEqual([result.timedOut, result.signal], [true, 'SIGKILL']);
    assert.ok(result.durationMs >= 380 && result.durationMs < 1500, `took ${result.durationMs} ms`);
    assertNoSurvivor(result.pid);
  });

  test('processes the command leaves behind are stopped when it exits', async () => {
    const result = await runShell({ command: `sh -c 'sleep 30 & echo started'`, killGraceMs: 500 });
    assert.deepEqual([result.exitCode, result.timedOut, result.stdout], [0, false, 'started\n']);
    assert.ok(result.durationMs < 1000, `took ${result.durationMs} ms`);
    assertNoSurvivor(result.pid);
  });

  test('leftovers that ignore SIGTERM get SIGKILL after the grace period, and the exit status is kept', async () => {
    const result = await runShell({ command: `sh -c 'trap "" TERM; sleep 30 & echo started'`, killGraceMs: 200 });
    assert.deepEqual([result.exitCode, result.signal, result.timedOut, result.stdout], [0, null, false, 'started\n']);
    assert.ok(result.durationMs < 5000, `took ${result.durationMs} ms`);
    assertNoSurvivor(result.pid);
  });

  test('pipes held by a process outside the group are waited for only briefly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kairos-shell-'));
    const pidFile = join(dir, 'escaped');
    try {
      // setsid moves the sleep to a session of its own, where the group's signals do not reach,
      // while it keeps the command's stdout open. The command exits only once it has moved (it
      // wrote its pid), or else the leftover stop could kill it first.
      const escape = `setsid sh -c "echo \\$\\$ > \\"\\$0\\"; exec sleep 30" "$0" &`;
      const result = await runShell({ command: `sh -c '${escape} until [ -s "$0" ]; do sleep 0.01; done; echo started' ${q(pidFile)}` });
      assert.deepEqual([result.exitCode, result.timedOut, result.stdout], [0, false, 'started\n']);
      assert.ok(result.durationMs < 10_000, `took ${result.durationMs} ms`);
      assertNoSurvivor(result.pid);
      const escaped = Number(readFileSync(pidFile, 'utf8'));
      assert.doesNotThrow(() => process.kill(escaped, 0), 'the escaped process still holds the pipes when the result comes');
    } finally {
      const escaped = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
      try {
        if (escaped > 0) process.kill(escaped, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the abort listener is removed once the command has ended, however it ended', async () => {
    const controller = new AbortController();
    await runShell({ command: 'true', signal: controller.signal });
    await runShell({ command: 'sleep 30', signal: controller.signal, timeoutMs: 50, killGraceMs: 1000 });
    await runShell({ command: `sh -c 'sleep 30 & exit 3'`, signal: controller.signal, killGraceMs: 1000 });
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  test('an abort stops the command like a timeout and keeps the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kairos-shell-'));
    try {
      const ready = join(dir, 'ready');
      const controller = new AbortController();
      const running = runShell({ command: `sh -c 'touch "$0"; exec sleep 30' ${q(ready)}`, signal: controller.signal, killGraceMs: 1000 });
      await eventually(() => existsSync(ready), { timeoutMs: 1500, what: 'the command to start', intervalMs: 5 });
      const reason = new Error('shutting down');
      controller.abort(reason);
      const result = await running;
      assert.deepEqual([result.aborted, result.timedOut, result.signal], [true, false, 'SIGTERM']);
      assert.equal(result.abortReason, reason);
      assertNoSurvivor(result.pid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an already aborted signal starts nothing', async () => {
    const result = await runShell({ command: 'sleep 30', signal: AbortSignal.abort('too late') });
    assert.deepEqual([result.aborted, result.abortReason, result.pid, result.exitCode], [true, 'too late', null, null]);
  });

  test('an abort while the working directory is checked starts nothing', async () => {
    const controller = new AbortController();
    // runShell checks the signal, then awaits the cwd check: the abort lands during that await.
    const pending = runShell({ command: 'sleep 30', cwd: tmpdir(), signal: controller.signal });
    controller.abort('stop now');
    const result = await pending;
    assert.deepEqual([result.aborted, result.abortReason, result.pid, result.exitCode], [true, 'stop now', null, null]);
  });

  test('shell: true runs pipelines, redirections and expansions through /bin/sh', async () => {
    const result = await runShell({ command: `printf 'b\\na\\n' | sort | tr a-z A-Z; echo "$GREETING" >&2`, shell: true, env: { GREETING: 'hi there' } });
    assert.deepEqual([result.exitCode, result.stdout, result.stderr], [0, 'A\nB\n', 'hi there\n']);
    assert.equal((await runShell({ command: 'exit 7', shell: true })).exitCode, 7);
  });

  test('a command that cannot start resolves with spawnError', async () => {
    const missing = await runShell({ command: 'kairos-no-such-command --flag' });
    assert.deepEqual([missing.exitCode, missing.signal, missing.pid, missing.spawnError], [null, null, null, 'ENOENT']);
    assert.match(missing.stderr, /cannot start kairos-no-such-command: command not found/);
    const dir = mkdtempSync(join(tmpdir(), 'kairos-shell-'));
    try {
      const script = join(dir, 'script.sh');
      writeFileSync(script, '#!/bin/sh\necho hi\n');
      chmodSync(script, 0o644);
      assert.equal((await runShell({ command: q(script) })).spawnError, 'EACCES');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Through a shell, "not found" is the shell's own exit status 127.
    assert.equal((await runShell({ command: 'kairos-no-such-command', shell: true })).exitCode, 127);
  });

  test('stdin is written then closed; without it, the command reads end-of-file', async () => {
    assert.equal((await runShell({ command: 'cat', stdin: 'line 1\nline 2 é\n' })).stdout, 'line 1\nline 2 é\n');
    assert.equal((await runShell({ command: 'cat' })).stdout, '');
    // A command that never reads a large input must not fail the run with EPIPE.
    assert.equal((await runShell({ command: 'true', stdin: 'x'.repeat(1024 * 1024) })).exitCode, 0);
  });

  test('rejects invalid options with a KairosValidationError before starting anything', async () => {
    const cases: Array<[Parameters<typeof runShell>[0], string]> = [
      [{ command: 'echo | x' }, 'command'],
      [{ command: '   ', shell: true }, 'command'],
      [{ command: "''" }, 'command'],
      [{ command: 'true', timeoutMs: -1 }, 'timeoutMs'],
      [{ command: 'true', timeoutMs: 2 ** 31 }, 'timeoutMs'],
      [{ command: 'true', killGraceMs: 1.5 }, 'killGraceMs'],
      [{ command: 'true', maxOutputBytes: -1 }, 'maxOutputBytes'],
      [{ command: 'true', env: { A: 1 as unknown as string } }, 'env.A'],
      [{ command: 'true', env: { 'A=B': 'x' } }, 'env'],
      [{ command: 'true', cwd: '' }, 'cwd'],
    ];
    for (const [cmd, field] of cases) {
      await assert.rejects(runShell(cmd), (error: unknown) => {
        assert.ok(error instanceof KairosValidationError, String(error));
        assert.equal(error.field, field);
        assert.match(error.message, /^Expected `/);
        return true;
      });
    }
  });
});

describe('runShellJob: argv command lines and /bin/sh scripts (issue #14, item 12)', () => {
  test('a /bin/sh script runs pipes and > / >> redirections; the same text as argv is refused for good', async () => {
    const { runShellJob } = await import('../../src/executors/shell/index.js');
    const { KairosPermanentError } = await import('../../src/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'kairos-sh-'));
    try {
      const out = join(dir, 'out.txt');
      const script = `echo Backup completed | tr a-z A-Z > ${q(out)}; echo more >> ${q(out)}`;
      const result = await runShellJob(script, { shell: true }, null, new AbortController().signal);
      assert.equal(result.exitCode, 0);
      assert.equal(readFileSync(out, 'utf8'), 'BACKUP COMPLETED\nmore\n');
      await assert.rejects(runShellJob(script, { shell: false }, null, new AbortController().signal), (error: unknown) => {
        assert.ok(error instanceof KairosPermanentError);
        assert.equal(error.retryable, false);
        assert.equal(error.code, 'KAIROS_SHELL_COMMAND');
        assert.match(error.message, /unquoted `\|` at column 23.*; not retried$/);
        return true;
      });
      // A JSON null (a stored option) is the argv default.
      const argv = await runShellJob(`touch ${q(join(dir, 'argv'))}`, { shell: null }, null, new AbortController().signal);
      assert.equal(argv.exitCode, 0);
      assert.ok(existsSync(join(dir, 'argv')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a command with no word at all is refused before anything runs', async () => {
    await assert.rejects(runShell({ command: '\\\n' }), (error: unknown) => error instanceof KairosValidationError && /first word names a program/.test(error.message));
  });
});
