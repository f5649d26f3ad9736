/**
 * The life of one started command: its process group, its timers and its pipes, from spawn to
 * the outcome. {@link runProcess} starts the command and resolves once everything it started has
 * ended; `spawn.ts` turns the outcome and the output into a ShellResult.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { SpawnPlan } from './argv.js';
import type { ShellResult } from './spawn.js';

/** How a command ended: the parts of a ShellResult known before the output is decoded. */
export type Outcome = Omit<ShellResult, 'stdout' | 'stderr' | 'stdoutBytes' | 'stderrBytes' | 'truncated' | 'durationMs'>;

/** The outcome of a command that did not start (yet). */
export const NOT_STARTED: Readonly<Outcome> = { exitCode: null, signal: null, timedOut: false, aborted: false, abortReason: undefined, pid: null, spawnError: null };

/** Where the bytes a command prints go (the bounded Tail of `spawn.ts`). */
export interface OutputSink {
  push(chunk: Buffer): void;
}

/** Once nothing is left to signal, how long the pipes may stay open (held by a process that left the group). */
const DRAIN_MS = 1000;
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 250;

/**
 * Start `plan`'s command as the leader of a new process group and resolve with how it ended, once
 * it has exited, nothing alive is left in its group and its pipes are closed (see {@link ShellProcess}).
 * Never rejects: a command that cannot start resolves with `spawnError`, and says why on `stderr`.
 */
export function runProcess(plan: SpawnPlan, stdout: OutputSink, stderr: OutputSink): Promise<Outcome> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(plan.file, plan.args, {
        cwd: plan.cwd, env: plan.env, detached: true, stdio: [plan.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      resolve(startFailure(plan.file, error, stderr));
      return;
    }
    const pid = child.pid;
    let failed = false;
    child.on('error', (error) => {
      // Without a pid the start failed, and this says why. After a successful start, errors come
      // from signalling, which signalGroup handles itself.
      if (pid !== undefined || failed) return;
      failed = true;
      resolve(startFailure(plan.file, error, stderr));
    });
    if (pid !== undefined) new ShellProcess(child, pid, plan, stdout, stderr, resolve).start();
  });
}

/**
 * A started command and its process group, until the outcome is settled.
 *
 * Lifecycle: started → exited → group empty → pipes closed → settled. When the command exits with
 * processes still alive in its group (e.g. `sleep 60 &`), they are stopped as below; pipes still
 * open once the group is empty belong to a process outside it, and are waited for DRAIN_MS at most.
 *
 * Stopping (timeout, abort, or leftovers after the exit): SIGTERM to the group → poll until it is
 * empty → SIGKILL after killGraceMs → poll again → stop waiting after DRAIN_MS.
 *
 * Settling happens once: every timer is cleared, the abort listener removed, the pipes destroyed.
 */
class ShellProcess {
  private readonly outcome: Outcome;
  /** The command itself has ended ('exit'). */
  private exited = false;
  /** Its stdout and stderr are closed ('close'): every process holding them has ended. */
  private closed = false;
  /** SIGTERM was sent to the group (or the group was found gone when it was to be sent). */
  private terminating = false;
  /** No live process is left in the group, or waiting for one was given up. */
  private groupDone = false;
  private settled = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  /** The grace before SIGKILL, then the bound on waiting after it. */
  private killTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  /** A bound function, so that the very listener that was added can be removed. */
  private readonly onAbort = (): void => this.stop('abort');

  constructor(
    private readonly child: ChildProcess,
    /** The command's pid, which is also its process group id. */
    private readonly pid: number,
    private readonly plan: SpawnPlan,
    private readonly stdout: OutputSink,
    private readonly stderr: OutputSink,
    private readonly resolve: (outcome: Outcome) => void,
  ) {
    this.outcome = { ...NOT_STARTED, pid };
  }

  /** Collect the output, write the input, listen for the end, arm the timeout and the abort. */
  start(): void {
    const { child, plan } = this;
    child.stdout?.on('data', (chunk: Buffer) => this.stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    if (plan.stdin !== undefined && child.stdin) {
      // A command that exits without reading its input makes the write fail with EPIPE: not an error of the job.
      child.stdin.on('error', () => undefined);
      child.stdin.end(plan.stdin);
    }
    child.on('exit', (code, signal) => this.onExit(code, signal));
    child.on('close', () => this.onClose());
    if (plan.timeoutMs !== undefined) this.timeoutTimer = setTimeout(() => this.stop('timeout'), plan.timeoutMs);
    plan.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The command has ended: no timeout or abort applies any more, but its group may still hold processes. */
  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    Object.assign(this.outcome, { exitCode: code, signal });
    clearTimeout(this.timeoutTimer);
    this.plan.signal?.removeEventListener('abort', this.onAbort);
    if (this.terminating) this.maybeFinish();
    else if (processGroupAlive(this.pid)) this.terminate(); // leftovers, e.g. `sleep 60 &`
    else this.groupEnded();
  }

  /** Every process holding stdout and stderr has ended (or closed them). */
  private onClose(): void {
    this.closed = true;
    this.maybeFinish();
  }

  /** A timeout or an abort, while the command runs; the first one is what the outcome reports. */
  private stop(why: 'timeout' | 'abort'): void {
    if (this.terminating || this.exited) return;
    if (why === 'timeout') this.outcome.timedOut = true;
    else Object.assign(this.outcome, { aborted: true, abortReason: this.plan.signal?.reason });
    this.terminate();
  }

  /** SIGTERM to the whole group, then SIGKILL to whatever is left after killGraceMs. */
  private terminate(): void {
    if (this.terminating || this.groupDone) return;
    this.terminating = true;
    if (!signalGroup(this.pid, 'SIGTERM')) return this.groupEnded();
    this.pollGroup(FIRST_POLL_MS);
    this.killTimer = setTimeout(() => this.kill(), this.plan.killGraceMs);
  }

  /** The grace is over: SIGKILL to what is left of the group. */
  private kill(): void {
    signalGroup(this.pid, 'SIGKILL');
    // SIGKILL cannot be refused, but dying takes a moment (longer in uninterruptible I/O): poll
    // again from the start, and stop waiting after DRAIN_MS.
    clearTimeout(this.pollTimer);
    this.pollGroup(FIRST_POLL_MS);
    this.killTimer = setTimeout(() => this.groupEnded(), DRAIN_MS);
  }

  /**
   * Check the group after `delay`, then ever less often (up to MAX_POLL_MS) until it is empty: the
   * result does not wait the whole grace period for processes that obeyed SIGTERM at once.
   */
  private pollGroup(delay: number): void {
    this.pollTimer = setTimeout(() => {
      if (processGroupAlive(this.pid)) this.pollGroup(Math.min(delay * 2, MAX_POLL_MS));
      else this.groupEnded();
    }, delay);
  }

  /** Nothing alive is left in the group (or waiting was given up): no more signals or polls. */
  private groupEnded(): void {
    this.groupDone = true;
    clearTimeout(this.killTimer);
    clearTimeout(this.pollTimer);
    this.maybeFinish();
  }

  /**
   * Done when the command has exited, its group holds nothing alive, and its pipes are closed;
   * pipes still open then belong to a process outside the group, which is not waited for long.
   */
  private maybeFinish(): void {
    if (this.settled || !this.exited || !this.groupDone) return;
    if (this.closed) this.finish();
    else this.drainTimer ??= setTimeout(() => this.finish(), DRAIN_MS);
  }

  /** Settle, once: clear every timer, drop the abort listener and the pipes, resolve. */
  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    [this.timeoutTimer, this.killTimer, this.pollTimer, this.drainTimer].forEach(clearTimeout);
    this.plan.signal?.removeEventListener('abort', this.onAbort);
    // After a drain, a process outside the group may still hold the pipes: stop reading them.
    this.child.stdin?.destroy();
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.resolve(this.outcome);
  }
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

/** The outcome of a command that could not start, with a line on `stderr` saying why in words. */
function startFailure(file: string, error: unknown, stderr: OutputSink): Outcome {
  const code = (error as NodeJS.ErrnoException).code ?? 'ESPAWN';
  const reason = code === 'ENOENT' ? 'command not found' : code === 'EACCES' ? 'permission denied (is it executable?)' : (error as Error).message;
  stderr.push(Buffer.from(`kairos: cannot start ${file}: ${reason} (${code})\n`));
  return { ...NOT_STARTED, spawnError: code };
}
