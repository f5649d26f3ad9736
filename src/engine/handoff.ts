/**
 * This node's side of the hand-off (migration 0013): while idle it is "armed" (one row in
 * `handoffs`), and a single enqueue that finds it inserts its run already running here, with the
 * run in the NOTIFY. The producer arms it once the node is idle and takes the runs it delivers.
 *
 * A row takes one run; the node arms again once idle again, and only after it has seen the run the
 * row last took (the row names it), so a run handed over is never lost track of: a NOTIFY lost in
 * a reconnect is made good by {@link Handoff.recover}, and stop() hands back a run whose NOTIFY
 * has not arrived.
 *
 * Anyone can NOTIFY the channel (and read node ids), so the NOTIFY is trusted only with the
 * token of this node's arming (migration 0017): a random UUID the node chooses and writes into
 * its row, which insertRunHandoff echoes in the one message of the hand-off that takes the row.
 * The token is good once. A role that LISTENs sees a real hand-off's token too; that is harmless
 * only because it is consumed first: NOTIFYs reach a listener in commit order, and a copy can be
 * committed only after the original was delivered, to the node as to the eavesdropper. (After a
 * reconnect the node may have missed the original, so it drops every token it held.) A message
 * naming this node without a good token is not acted on: it only makes the node read its row,
 * as after a lost NOTIFY (this is also how the token-less hand-offs of an older node's enqueue
 * are taken), and nothing from it is remembered.
 */
import { randomUUID } from 'node:crypto';
import type { EngineContext } from './context.js';
import type { ClaimedRun } from '../store/store.js';
import type { Notice } from '../store/notifier.js';
import { Coalesced } from './coalesce.js';

/** How many handed-over run ids a node remembers (it only ever needs the last few). */
const SEEN = 32;
/** How many tokens a node keeps (armings one at a time: one, plus those of failed writes). */
const TOKENS = 4;

/** Arming, taking and giving back hand-offs for one node. */
export class Handoff {
  /** The row says this node is idle (as far as this node knows). */
  private armed = false;
  private arming: Promise<void> | undefined;
  private stopping = false;
  /** Whether this node ever wrote its row (if not, stop() has nothing to withdraw). */
  private offered = false;
  /** Hand-offs taken so far: an arm that a hand-off overtook must not count as armed. */
  private taken = 0;
  /** Runs handed to this node that it has taken (most recent last). */
  private readonly seen: number[] = [];
  /** Tokens of armings whose hand-off may still arrive (not consumed, not overwritten). */
  private tokens: string[] = [];
  /** Reads the row when a message without a good token names this node (one read at a time). */
  private readonly unverified: Coalesced;
  /**
   * The advisory lock key this node's LISTEN session holds (Notifier.sessionLock; wired by
   * Kairos), undefined while it is down. The row carries it (migration 0021): an enqueue hands a
   * run only to a node whose LISTEN session still lives. Without one the node does not arm: its
   * NOTIFY could not arrive, and the database could not tell whether the node is alive.
   */
  listener: () => number | undefined = () => undefined;

  constructor(
    private readonly ctx: EngineContext,
    /** Start (or buffer) a run handed over. */
    private readonly deliver: (run: ClaimedRun) => void,
    /** The task names this node claims. */
    private readonly tasks: () => string[],
  ) {
    this.unverified = new Coalesced(() => this.recover(), ctx.logger, 'checking for a run handed to this node failed; it is rescued when its lease runs out');
  }

  /** Whether this node offers itself: on, and on the database clock (a pinned test clock claims only). */
  get enabled(): boolean {
    return this.ctx.options.handoff && this.ctx.clock.now() === null && !this.stopping;
  }

  /** Whether the node is armed or arming (the producer need not wake to arm it). */
  get pending(): boolean {
    return this.armed || this.arming !== undefined;
  }

  /** The node is idle: offer it (once; a no-op while armed). Failures are logged, never thrown. */
  arm(): void {
    if (!this.enabled || this.pending) return;
    const tasks = this.tasks();
    if (tasks.length === 0) return;
    const listenerLock = this.listener();
    if (listenerLock === undefined) return;
    const takenBefore = this.taken;
    this.offered = true;
    const { nodeId, options } = this.ctx;
    // An armed row of a node that stopped heartbeating for three intervals is ignored.
    const staleMs = options.heartbeatIntervalMs * 3;
    // Kept before the write: the hand-off may arrive before the write's reply does.
    const token = randomUUID();
    this.tokens = [...this.tokens, token].slice(-TOKENS);
    this.arming = this.ctx.store
      .sql.armHandoff({ node_id: nodeId, queues: options.queues, tasks, lease_ms: options.leaseMs, stale_ms: staleMs, seen_run_ids: this.seen, token, listener_lock: listenerLock })
      .then((rows) => {
        // Written: the row holds this token, so no older one can still come (the write waited
        // for, and was refused by, a row that an older token's hand-off had taken). Not
        // written: this one never will.
        this.tokens = rows.length > 0 ? this.tokens.filter((k) => k === token) : this.tokens.filter((k) => k !== token);
        // A hand-off that arrived meanwhile took the row already.
        this.armed = rows.length > 0 && this.taken === takenBefore && !this.stopping;
      })
      .catch((error: unknown) => this.ctx.logger.warn({ err: error }, 'offering this idle node for hand-off failed; it claims as usual'))
      .finally(() => {
        this.arming = undefined;
      });
  }

  /** A hand-off NOTIFY (for any node: the channel is shared; from anyone: see the file comment). */
  accept(notice: Notice): void {
    if (notice.n !== this.ctx.nodeId) return;
    const index = typeof notice.k === 'string' ? this.tokens.indexOf(notice.k) : -1;
    if (index < 0) {
      // Forged, replayed, or from an older node's enqueue: the row says whether a run came.
      this.unverified.trigger();
      return;
    }
    this.tokens.splice(index, 1);
    this.taken++;
    this.armed = false;
    const runId = Number(notice.run_id);
    // Stopping: stop() hands the run back (it is not marked seen).
    if (this.stopping || this.seen.includes(runId)) return;
    this.remember(runId);
    if (notice.task === undefined) void this.fetch(runId);
    else this.deliver(fromNotice(notice));
  }

  /**
   * After a reconnect: the messages of the gap are lost, and one of them could reach this node
   * later as an eavesdropper's copy with a token still good, so every token is dropped; a run
   * handed over meanwhile is fetched from the row, and a row still armed is armed again with a
   * new token (else its hand-off would arrive untrusted and cost a read).
   */
  async reconnected(): Promise<void> {
    this.tokens = [];
    await this.recover();
    if (!this.armed) return;
    this.armed = false;
    this.arm();
  }

  /** A run handed over while its NOTIFY could not arrive (or was not trusted) is fetched. */
  async recover(): Promise<void> {
    if (this.stopping || !this.offered) return;
    await this.arming;
    const takenBefore = this.taken;
    const [row] = await this.ctx.store.sql.handoffState({ node_id: this.ctx.nodeId });
    // A hand-off taken meanwhile is newer than this read (and the row it read named no unseen
    // run: the row is re-armed only once its run was seen). Anyone can make this read happen,
    // so a stale one must not say "armed" over a row that was taken.
    if (this.taken !== takenBefore) return;
    // An arming started meanwhile says for itself whether it armed.
    if (!this.arming) this.armed = row !== undefined && row.run_id === null;
    const runId = row?.run_id;
    if (runId === null || runId === undefined || this.seen.includes(runId)) return;
    this.taken++;
    this.remember(runId);
    await this.fetch(runId);
  }

  /** No more hand-offs; a run handed over whose NOTIFY has not arrived goes back to the queue. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.tokens = [];
    await this.arming;
    await this.unverified.idle();
    this.armed = false;
    if (!this.offered) return;
    const [row] = await this.ctx.store.sql.disarmHandoff({ node_id: this.ctx.nodeId });
    const runId = row?.run_id;
    if (runId === null || runId === undefined || this.seen.includes(runId)) return;
    // uncount: the attempt never ran.
    await this.ctx.store.release(this.ctx.nodeId, [runId], null, this.ctx.clock.now(), 0, true);
  }

  private remember(runId: number): void {
    this.seen.push(runId);
    if (this.seen.length > SEEN) this.seen.shift();
  }

  /** Read a run handed over (NOTIFY too large, or lost) and deliver it. */
  private async fetch(runId: number): Promise<void> {
    try {
      const [run] = await this.ctx.store.sql.handedRun({ run_id: runId, node_id: this.ctx.nodeId });
      if (run && !this.stopping) this.deliver({ ...run, handed_off: true });
      else if (run) await this.ctx.store.release(this.ctx.nodeId, [runId], null, this.ctx.clock.now(), 0, true);
    } catch (error) {
      // The lease runs out and the rescuer hands the run back to the queue.
      this.ctx.logger.warn({ err: error, run: runId }, 'reading a run handed to this node failed; it is rescued when its lease runs out');
    }
  }
}

/** The run as the NOTIFY carries it (see insertRunHandoff), in the shape of a claimed run. */
function fromNotice(n: Notice): ClaimedRun {
  const at = new Date(Number(n.at));
  return {
    run_id: Number(n.run_id),
    job_id: null,
    job_name: null,
    task: String(n.task),
    job_type: 'task',
    queue: String(n.queue),
    priority: Number(n.priority),
    payload: n.payload,
    key: (n.key as string | null) ?? null,
    scheduled_at: null,
    run_at: at,
    attempt: 1,
    max_retries: Number(n.max_retries),
    backoff_ms: Number(n.backoff_ms),
    backoff_max_ms: Number(n.backoff_max_ms),
    timeout_ms: n.timeout_ms === null || n.timeout_ms === undefined ? null : Number(n.timeout_ms),
    lock_key: (n.lock_key as string | null) ?? null,
    started_at: at,
    rescues: 0,
    cancel_requested: false,
    handed_off: true,
  };
}
