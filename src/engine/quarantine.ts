/**
 * Quarantine of malformed job rows (migration 0016): what counts as a row's own failure, how the
 * ticker marks such a job broken, and how it tells about it (an error log line and the
 * `jobBroken` event, which alerts turn into `broken` alerts). Only the node that quarantined a
 * job reports it, once, after its transaction committed.
 */
import type { Queryable } from '../store/db.js';
import type { EngineContext } from './context.js';

/** A job the ticker could not plan, and why. */
export interface BrokenJob {
  jobId: number;
  /** The name, when the row could be read. */
  name?: string;
  reason: string;
}

/** What a node reports for each job it quarantined. */
export interface JobBrokenEvent {
  job: string;
  jobId: number;
  reason: string;
}

/** How long a node skips a job whose quarantine could not be written, before it tries again. */
const SKIP_MS = 10 * 60_000;

/**
 * Whether a failure of the ticker's statements can come from a row's values: a data exception
 * (class 22: out of range, invalid time), a constraint (23) or a program limit (54). Anything else
 * (a lost connection, a cancelled statement, a missing privilege, a bug in a statement) would fail
 * for every row alike; quarantining on it would quarantine every job, so it fails the pass instead.
 */
export function isRowError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/** The reason given for a failure while planning a row: the check's own message, or the database's. */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? `the database refused its plan: ${message} (SQLSTATE ${code})` : message;
}

/** Marks jobs broken, and remembers those whose mark could not be written. */
export class Quarantine {
  /** Job id → local time until which this node skips it. */
  private readonly skipped = new Map<number, number>();

  constructor(private readonly ctx: EngineContext) {}

  /** Jobs this node leaves out of its batches for now. */
  skippedIds(): number[] {
    const now = Date.now();
    for (const [id, until] of this.skipped) if (until <= now) this.skipped.delete(id);
    return [...this.skipped.keys()];
  }

  /** Mark `jobs` broken on `db` (the caller's transaction). Returns those this call marked. */
  async write(jobs: BrokenJob[], db: Queryable): Promise<JobBrokenEvent[]> {
    const marked: JobBrokenEvent[] = [];
    for (const job of jobs) {
      const [row] = await this.ctx.store.sql.quarantineJob({ job_id: job.jobId, reason: job.reason, now: this.ctx.clock.now() }, db);
      if (row) marked.push({ job: row.job_name, jobId: job.jobId, reason: job.reason });
    }
    return marked;
  }

  /**
   * The mark itself was refused (e.g. by a constraint of a later migration that does not waive
   * broken rows): this node skips the job for a while rather than failing on it every pass.
   */
  unwritable(job: BrokenJob, error: unknown): void {
    this.skipped.set(job.jobId, Date.now() + SKIP_MS);
    this.ctx.logger.error({ err: error, jobId: job.jobId, job: job.name, reason: job.reason },
      `job ${job.name ?? job.jobId} cannot be planned (${job.reason}) and its quarantine could not be written; this node skips it for ${SKIP_MS / 60_000} minutes`);
  }

  /** Tell about jobs quarantined by a committed transaction. */
  report(marked: JobBrokenEvent[]): void {
    for (const event of marked) {
      this.ctx.logger.error({ job: event.job, jobId: event.jobId, reason: event.reason },
        `job ${event.job} is broken and quarantined: ${event.reason}. It does not fire until it is redefined or enabled`);
      this.ctx.events.emit('jobBroken', event);
    }
  }
}
