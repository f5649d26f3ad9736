/**
 * The shell job executor. A shell job runs a command on the agent's host, so it runs only when the
 * agent allows shell jobs (--allow-shell) and the job's owner is a member of the shell role. Its
 * command is one of two things, as the job's `options.shell` says: false or absent, an argv
 * command line that Kairos splits itself (argv.ts, no shell); true, a script given to
 * `/bin/sh -c`. Seed 000's add_job and pgAgent-style batch steps store `true` (migration 0028);
 * a command that cannot run as written is refused when the job is defined (api_check_argv).
 *
 * A refusal that no retry can change (shell jobs off on this node, an owner outside the shell
 * role, an argv command the splitter refuses) is a {@link KairosPermanentError}: the run fails at
 * once, without its retries (it still counts as a failed attempt toward the failure limit).
 */
import type { ExecutorContext, JobExecutor } from '../types.js';
import type { ClaimedRun } from '../../store/store.js';
import type { TaskContext } from '../../core/contracts.js';
import { KairosError, KairosPermanentError, KairosPermissionError, KairosTimeoutError, KairosValidationError } from '../../core/errors.js';
import { loadJob } from '../sql/index.js';
import { runShell, type ShellResult } from './spawn.js';

/** A command that exited non-zero (or could not start); `output` holds what it printed. */
export class ShellCommandError extends KairosError {
  override name = 'ShellCommandError';

  constructor(
    message: string,
    readonly output: unknown,
  ) {
    super(message, { code: 'KAIROS_SHELL' });
  }
}

/** Options of a shell job or step. */
export interface ShellOptions {
  /** True: the command is a `/bin/sh -c` script; false or absent: an argv command line. */
  shell?: boolean | null;
  env?: Record<string, string>;
  cwd?: string;
}

/**
 * Refuse unless this node allows shell jobs and `owner` is a member of the shell role (null: the
 * setting is missing, and nobody is a member).
 */
export async function assertShellAllowed(ctx: ExecutorContext, owner: string, shellRole: string | null): Promise<void> {
  if (!ctx.options.allowShell) throw new KairosPermanentError('shell jobs are disabled on this node (start the agent with --allow-shell); not retried', 'KAIROS_SHELL_DISABLED');
  // A role that does not exist raises; pg_has_role of a null role is null: both refuse.
  const [row] = await ctx.store.sql.isRoleMember({ member: owner, role: shellRole }).catch(() => [{ member: false }]);
  // A KairosPermissionError is not retried (see the engine's executor).
  if (!row?.member) throw new KairosPermissionError(`shell jobs need their owner to be a member of role ${shellRole}; ${owner} is not (not retried)`);
}

/** Run a shell command for a job or step; resolves with its output or throws with it. */
export async function runShellJob(command: string, options: ShellOptions, timeoutMs: number | null, signal: AbortSignal): Promise<ShellResult> {
  const result = await runShell({
    command,
    shell: options.shell ?? false,
    env: options.env ?? undefined,
    cwd: options.cwd ?? undefined,
    timeoutMs: timeoutMs || undefined,
    signal,
    killGraceMs: 5000,
  }).catch((error: unknown) => {
    // Refused before anything ran (a row written around the definition checks): the same command
    // is refused again by every retry.
    if (error instanceof KairosValidationError) throw new KairosPermanentError(`${error.message}; not retried`, 'KAIROS_SHELL_COMMAND');
    throw error;
  });
  if (result.timedOut) throw new KairosTimeoutError(`timed out after ${timeoutMs} ms (SIGTERM, then SIGKILL)`);
  if (result.aborted) throw signal.reason as Error;
  if (result.exitCode !== 0) {
    const why = result.spawnError
      ? `could not start (${result.spawnError})`
      : result.exitCode === null ? `killed by ${result.signal ?? 'a signal'}` : `exit code ${result.exitCode}`;
    const lastLine = result.stderr.trim().split('\n').at(-1) ?? '';
    throw new ShellCommandError(`${why}${lastLine ? `: ${lastLine}` : ''}`, result);
  }
  return result;
}

/** Runs shell jobs. */
export class ShellExecutor implements JobExecutor {
  constructor(private readonly ctx: ExecutorContext) {}

  async execute(run: ClaimedRun, context: TaskContext): Promise<unknown> {
    const job = await loadJob(this.ctx, run);
    await assertShellAllowed(this.ctx, job.owner, job.shell_role);
    // jsonb of unknown shape (checkRunJob made sure it is an object, when set).
    return runShellJob(job.command, (job.options ?? {}) as ShellOptions, run.timeout_ms, context.signal);
  }
}
