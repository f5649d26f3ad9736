/**
 * What a node trusts a NOTIFY for. Any role that can connect may NOTIFY the installation's
 * channel and read node ids from pg_stat_activity, so no message is taken at its word:
 *
 * - `runs`, `jobs` (wake-ups): only a reason to look. A time due now or past wakes the loop (a
 *   wake-up coalesces: one pass at a time, one more after it); a future due time is looked up
 *   in `runs` before the producer sets a timer for it (Producer.notified); malformed ones are
 *   dropped here.
 * - `cancel`: only a reason to ask the database which of this node's runs are flagged, and why
 *   (CancelCheck, src/engine/cancels.ts).
 * - `handoff`: trusted only with the single-use token of the node's current arming; otherwise
 *   the node reads its hand-off row (Handoff.accept, src/engine/handoff.ts).
 * - `status` (clusterEvents): HMAC-signed under the installation secret (ClusterEvents,
 *   src/engine/cluster-events.ts).
 */
import type { Notice } from '../store/notifier.js';

/** Longest timestamp text json_build_object writes (with microseconds and a zone offset), and then some. */
const MAX_TIME_TEXT = 40;

/** A database time as a NOTIFY carries it (timestamptz as JSON text); undefined for anything else. */
export function noticeTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' || value.length > MAX_TIME_TEXT) return undefined;
  const ms = Date.parse(value);
  // 'infinity', 'NaN', '1e308'… parse to NaN: a NaN due time once set a 1 ms timer for ever.
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** A `runs` notice (pending runs in queue `q`, the earliest due `at`), or undefined when malformed. */
export function runsNotice(n: Notice): { queue: string; at: Date } | undefined {
  const at = noticeTime(n.at);
  return typeof n.q === 'string' && at ? { queue: n.q, at } : undefined;
}

/** A `jobs` notice (a definition changed: the earliest next run, and whether one needs planning). */
export function jobsNotice(n: Notice): { at: Date | null; plan: boolean } | undefined {
  const at = n.at === null || n.at === undefined ? null : noticeTime(n.at);
  if (at === undefined) return undefined;
  if (n.plan !== undefined && n.plan !== null && typeof n.plan !== 'boolean') return undefined;
  return { at, plan: n.plan === true };
}

/** A `cancel` notice for node `nodeId`: true when the node should ask which of its runs to stop. */
export function cancelNotice(n: Notice, nodeId: string): boolean {
  return n.node === nodeId;
}
