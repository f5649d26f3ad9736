/**
 * Running one shell job: a child process in its own process group (so that a timeout, an abort
 * or the end of the job can signal everything the command started), with a minimal environment
 * (the agent's secrets stay in the agent) and bounded memory for its output whatever it prints.
 *
 * Contract: `runShell` rejects only for invalid input, with a KairosValidationError, before
 * anything runs. Everything that happens at run time resolves, including a command that cannot
 * start (not found, not executable, bad `cwd`): `exitCode` and `signal` are then both null,
 * `spawnError` holds the errno code and `stderr` says what went wrong.
 *
 * This file checks the input and keeps the output; the process group, its signals and timers are
 * in `process.ts`.
 */
import { stat } from 'node:fs/promises';
import { planCommand, type ShellCommand } from './argv.js';
import { NOT_STARTED, runProcess, type Outcome } from './process.js';

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
  // Again: an abort during the cwd check came before the process's abort listener exists.
  if (options.signal?.aborted) {
    return result({ ...NOT_STARTED, aborted: true, abortReason: options.signal.reason }, stdout, stderr, started);
  }
  return result(await runProcess(options, stdout, stderr), stdout, stderr, started);
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

async function checkDirectory(path: string): Promise<{ code: string; message: string } | null> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? null : { code: 'ENOTDIR', message: 'not a directory' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return { code, message: code === 'ENOENT' ? 'no such directory' : (error as Error).message };
  }
}
