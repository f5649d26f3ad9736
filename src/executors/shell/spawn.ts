/**
 * Running one shell job: a child process in its own process group (so that a timeout, an abort
 * or the end of the job can signal everything the command started), with a minimal environment
 * (the agent's secrets stay in the agent) and bounded memory for its output whatever it prints.
 *
 * Contract: `runShell` rejects only for invalid input, with a KairosValidationError, before
 * anything runs. Everything that happens at run time resolves, including a command that cannot
 * start (not found, not executable, bad `cwd`): `exitCode` and `signal` are then both null,
 * `spawnError` holds the errno code and `stderr` says what went wrong.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { planCommand, type ShellCommand, type SpawnPlan } from './argv.js';

export { splitArgv, type ShellCommand } from './argv.js';

/** How a command ended and the tail of what it printed. */
export interface ShellResult {
  /** Exit code of the command, null if it was killed by a signal or never started. */
  exitCode: number | null;
  /** The signal that killed the command (e.g. `SIGTERM`), null if it exited or never started. */
  signal: string | null;
  /** The timeout fired before the command exited. */
  timedOut: boolean;
  /** The AbortSignal fired before the command exited (or before it started). */
  aborted: boolean;
  /** `signal.reason` when `aborted`, else undefined. */
  abortReason: unknown;
  /** The last `maxOutputBytes` of stdout, decoded as UTF-8 (a character cut by the limit is dropped). */
  stdout: string;
  /** The last `maxOutputBytes` of stderr, as `stdout`. */
  stderr: string;
  /** Total bytes the command wrote to stdout. */
  stdoutBytes: number;
  /** Total bytes the command wrote to stderr. */
  stderrBytes: number;
  /** Some output was dropped from the start of stdout or stderr. */
  truncated: boolean;
  /** Milliseconds from the call to the result. */
  durationMs: number;
  /** Process id of the command, which is also its process group id; null if it never started. */
  pid: number | null;
  /** Errno code when the command could not be started (`ENOENT`, `EACCES`, `ENOTDIR` …), else null. */
  spawnError: string | null;
}

/** The parts of a result known before the output is decoded. */
type Outcome = Omit<ShellResult, 'stdout' | 'stderr' | 'stdoutBytes' | 'stderrBytes' | 'truncated' | 'durationMs'>;
const NOT_STARTED: Outcome = { exitCode: null, signal: null, timedOut: false, aborted: false, abortReason: undefined, pid: null, spawnError: null };

/** Once nothing is left to signal, how long the pipes may stay open (held by a process that left the group). */
const DRAIN_MS = 1000;
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 250;

/**
 * Run a command and resolve once it and every process left in its group have ended and its output
 * is read. The command leads its own process group (`detached`): a timeout or an abort sends
 * SIGTERM to the whole group, then SIGKILL after `killGraceMs` to whatever is left; and when the
 * command exits, processes it left running in its group are stopped the same way, so nothing a
 * job started outlives it (a process that moved to another session is not followed).
 *
 * @throws {KairosValidationError} (as a rejection) when `cmd` is invalid; nothing is started.
 */
export async function runShell(cmd: ShellCommand): Promise<ShellResult> {
  const started = performance.now();
  const options = planCommand(cmd);
  const stdout = new Tail(options.maxOutputBytes);
  const stderr = new Tail(options.maxOutputBytes);
  if (options.signal?.aborted) {
    return result({ ...NOT_STARTED, aborted: true, abortReason: options.signal.reason }, stdout, stderr, started);
  }
  // Node reports a missing cwd as ENOENT of the command itself, which sends users looking for the
  // wrong thing; checking first gives an error that names the directory.
  const cwdError = options.cwd === undefined ? null : await checkDirectory(options.cwd);
  if (cwdError !== null) {
    stderr.push(Buffer.from(`kairos: cannot run in ${options.cwd}: ${cwdError.message} (${cwdError.code})\n`));
    return result({ ...NOT_STARTED, spawnError: cwdError.code }, stdout, stderr, started);
  }
  return execute(options, stdout, stderr, started);
}

function execute(o: SpawnPlan, stdout: Tail, stderr: Tail, started: number): Promise<ShellResult> {
  return new Promise((resolve) => {
    const state: Outcome = { ...NOT_STARTED };
    let child: ChildProcess;
    try {
      child = spawn(o.file, o.args, {
        cwd: o.cwd, env: o.env, detached: true, stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      resolve(startFailure(o.file, error, state, stdout, stderr, started));
      return;
    }
    const pid = child.pid;
    let exited = false;
    let closed = false;
    let terminating = false;
    let groupDone = false;
    let settled = false;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let pollTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const finish = (): void => {
      if (settled) return;
      settled = true;
      [timeoutTimer, killTimer, pollTimer, drainTimer].forEach(clearTimeout);
      o.signal?.removeEventListener('abort', onAbort);
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(result(state, stdout, stderr, started));
    };
    // Done when the command has exited, its group holds nothing alive, and its pipes are closed;
    // pipes still open then belong to a process outside the group, which is not waited for long.
    const maybeFinish = (): void => {
      if (settled || !exited || !groupDone) return;
      if (closed) finish();
      else drainTimer ??= setTimeout(finish, DRAIN_MS);
    };
    const groupEnded = (): void => {
      groupDone = true;
      clearTimeout(killTimer);
      clearTimeout(pollTimer);
      maybeFinish();
    };
    // Polls until the group is empty, so the result does not wait the whole grace period for
    // processes that obeyed SIGTERM at once.
    const poll = (delay: number): void => {
      pollTimer = setTimeout(() => {
        if (processGroupAlive(pid as number)) poll(Math.min(delay * 2, MAX_POLL_MS));
        else groupEnded();
      }, delay);
    };
    const terminate = (): void => {
      if (terminating || groupDone) return;
      terminating = true;
      if (!signalGroup(pid as number, 'SIGTERM')) return groupEnded();
      poll(FIRST_POLL_MS);
      killTimer = setTimeout(() => {
        signalGroup(pid as number, 'SIGKILL');
        // SIGKILL cannot be refused, but dying takes a moment (longer in uninterruptible I/O):
        // poll again from the start, and stop waiting after DRAIN_MS.
        clearTimeout(pollTimer);
        poll(FIRST_POLL_MS);
        killTimer = setTimeout(groupEnded, DRAIN_MS);
      }, o.killGraceMs);
    };
    const stop = (why: 'timeout' | 'abort'): void => {
      if (terminating || exited) return;
      if (why === 'timeout') state.timedOut = true;
      else Object.assign(state, { aborted: true, abortReason: o.signal?.reason });
      terminate();
    };
    const onAbort = (): void => stop('abort');

    child.on('error', (error) => {
      // After a successful start, errors come from signalling, which signalGroup does itself.
      if (pid === undefined && !settled) {
        settled = true;
        resolve(startFailure(o.file, error, state, stdout, stderr, started));
      }
    });
    if (pid === undefined) return;
    state.pid = pid;
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    if (o.stdin !== undefined && child.stdin) {
      // A command that exits without reading its input makes the write fail with EPIPE: not an error of the job.
      child.stdin.on('error', () => undefined);
      child.stdin.end(o.stdin);
    }
    child.on('exit', (code, signal) => {
      exited = true;
      Object.assign(state, { exitCode: code, signal });
      clearTimeout(timeoutTimer);
      o.signal?.removeEventListener('abort', onAbort);
      if (terminating) maybeFinish();
      else if (processGroupAlive(pid)) terminate(); // leftovers, e.g. `sleep 60 &`
      else groupEnded();
    });
    child.on('close', () => {
      closed = true;
      maybeFinish();
    });
    if (o.timeoutMs !== undefined) timeoutTimer = setTimeout(() => stop('timeout'), o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * True while a process group has a member that is not a zombie. `kill(-pgid, 0)` alone also
 * succeeds for zombies, and killed orphans stay zombies forever where PID 1 does not reap them
 * (containers without an init, e.g. `node` itself as PID 1); on Linux, /proc tells them apart.
 */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it ended while we looked
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/** Signal a whole process group; false when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * The last `limit` bytes of a stream. Chunks are kept as they come and trimmed from the front, so
 * memory stays at `limit` plus one chunk however much the command prints.
 */
class Tail {
  total = 0;
  private kept = 0;
  private chunks: Buffer[] = [];

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.kept > this.limit) {
      const first = this.chunks[0] as Buffer;
      const excess = this.kept - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.kept -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.kept -= excess;
      }
    }
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }

  text(): string {
    let bytes = Buffer.concat(this.chunks);
    // The cut may fall inside a multi-byte character: drop its continuation bytes (10xxxxxx, at
    // most three) rather than decode them as U+FFFD. Invalid bytes elsewhere do become U+FFFD.
    if (this.truncated) {
      let skip = 0;
      while (skip < 3 && skip < bytes.length && ((bytes[skip] as number) & 0xc0) === 0x80) skip += 1;
      bytes = bytes.subarray(skip);
    }
    return bytes.toString('utf8');
  }
}

function result(state: Outcome, stdout: Tail, stderr: Tail, started: number): ShellResult {
  return {
    ...state,
    stdout: stdout.text(),
    stderr: stderr.text(),
    stdoutBytes: stdout.total,
    stderrBytes: stderr.total,
    truncated: stdout.truncated || stderr.truncated,
    durationMs: Math.round(performance.now() - started),
  };
}

function startFailure(file: string, error: unknown, state: Outcome, stdout: Tail, stderr: Tail, started: number): ShellResult {
  const code = (error as NodeJS.ErrnoException).code ?? 'ESPAWN';
  const reason = code === 'ENOENT' ? 'command not found' : code === 'EACCES' ? 'permission denied (is it executable?)' : (error as Error).message;
  stderr.push(Buffer.from(`kairos: cannot start ${file}: ${reason} (${code})\n`));
  return result({ ...state, spawnError: code }, stdout, stderr, started);
}

async function checkDirectory(path: string): Promise<{ code: string; message: string } | null> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? null : { code: 'ENOTDIR', message: 'not a directory' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return { code, message: code === 'ENOENT' ? 'no such directory' : (error as Error).message };
  }
}
