/**
 * The shell job executor. A shell job runs a command on the agent's host, so it runs only when the
 * agent allows shell jobs (--allow-shell) and the job's owner is a member of the shell role; the
 * command is spawned without a shell unless the job asks for one (`options.shell`).
 */
import type { ExecutorContext, JobExecutor } from '../types.js';
import type { ClaimedRun } from '../../store/store.js';
import type { TaskContext } from '../../core/contracts.js';
import { KairosError, KairosTimeoutError } from '../../core/errors.js';
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
  shell?: boolean;
  env?: Record<string, string>;
  cwd?: string;
}

/**
 * Refuse unless this node allows shell jobs and `owner` is a member of the shell role (null: the
 * setting is missing, and nobody is a member).
 */
export async function assertShellAllowed(ctx: ExecutorContext, owner: string, shellRole: string | null): Promise<void> {
  if (!ctx.options.allowShell) throw new KairosError('shell jobs are disabled on this node (start the agent with --allow-shell)', { code: 'KAIROS_SHELL_DISABLED' });
  // A role that does not exist raises; pg_has_role of a null role is null: both refuse.
  const [row] = await ctx.store.sql.isRoleMember({ member: owner, role: shellRole }).catch(() => [{ member: false }]);
  if (!row?.member) throw new KairosError(`shell jobs need their owner to be a member of role ${shellRole}; ${owner} is not`, { code: 'KAIROS_SHELL_ROLE' });
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
