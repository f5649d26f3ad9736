/**
 * The agent's run log: each run this node starts and ends, at `info` (start; end with its
 * duration; a failed attempt with its error), and at `warn` when a job keeps failing (two or more
 * consecutive failed attempts) or disabled itself. Built on the API's events (`status`,
 * `jobDisabled`), so the engine stays unaware of how an operator reads its work.
 */
import type { Kairos } from '../api/kairos.js';
import type { Logger } from '../core/logger.js';
import type { StatusChange } from '../core/types.js';

/** Consecutive failed attempts from which a job's failures are logged at `warn`. */
export const REPEATED_FAILURES = 2;

/** Log the runs `kairos` starts and ends; returns a function that stops logging. */
export function logRuns(kairos: Kairos, logger: Logger): () => void {
  const started = new Map<number, number>();
  const onStatus = (change: StatusChange): void => {
    if (change.next === 'running') {
      started.set(change.runId, Date.now());
      logger.info({ run: change.runId, job: change.job }, `run ${change.runId} of ${change.job} started`);
      return;
    }
    if (change.previous !== 'running') return;
    const since = started.get(change.runId);
    started.delete(change.runId);
    const durationMs = since === undefined ? undefined : Date.now() - since;
    if (change.next === 'completed') {
      logger.info({ run: change.runId, job: change.job, durationMs }, `run ${change.runId} of ${change.job} completed in ${durationMs ?? '?'} ms`);
      return;
    }
    // A failure (or a retry, or a run handed back): its error and the job's count are in the database.
    void logEnd(kairos, logger, change, durationMs).catch((error: unknown) => logger.warn({ err: error, run: change.runId }, 'reading a finished run for the log failed'));
  };
  const onDisabled = ({ job }: { job: string }): void => logger.warn({ job }, `job ${job} disabled itself: it reached its failure limit (\`kairos jobs enable ${job}\` turns it back on)`);
  kairos.on('status', onStatus);
  kairos.on('jobDisabled', onDisabled);
  return () => {
    kairos.off('status', onStatus);
    kairos.off('jobDisabled', onDisabled);
  };
}

/** Log a run that ended other than completed, with its attempt's error and its job's failures. */
async function logEnd(kairos: Kairos, logger: Logger, change: StatusChange, durationMs: number | undefined): Promise<void> {
  const [entry] = await kairos.history({ runId: change.runId, limit: 1 });
  const status = entry?.status ?? change.next;
  const fields = { run: change.runId, job: change.job, status, attempt: entry?.attempt, durationMs: entry?.durationMs ?? durationMs, error: entry?.message ?? undefined, sqlstate: entry?.sqlstate ?? undefined };
  if (status !== 'failed' && status !== 'retrying') {
    logger.info(fields, `run ${change.runId} of ${change.job} ${status}`);
    return;
  }
  const job = entry?.jobName ? await kairos.getJob(entry.jobName) : null;
  const consecutive = job?.consecutiveFailures ?? 0;
  const text = `run ${change.runId} of ${change.job} failed${status === 'retrying' ? ' (will retry)' : ''}: ${entry?.message ?? 'no message'}`;
  if (consecutive >= REPEATED_FAILURES || job?.enabled === false) logger.warn({ ...fields, consecutiveFailures: consecutive, enabled: job?.enabled }, `${text} (${consecutive} consecutive failures${job?.enabled === false ? ', job disabled' : ''})`);
  else logger.info({ ...fields, consecutiveFailures: consecutive }, text);
}
