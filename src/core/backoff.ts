/**
 * Retry delays: exponential with full jitter between half and the whole step, capped.
 * attempt 1 → ~base, 2 → ~2·base, 3 → ~4·base … never above `maxMs`.
 */

/** Backoff settings of one run. */
export interface Backoff {
  /** Delay before the first retry, in ms. */
  baseMs: number;
  /** Upper bound of any delay, in ms. */
  maxMs: number;
}

/**
 * The delay before retrying after failed attempt number `attempt` (1-based). `random` is injectable
 * so tests can pin the jitter.
 */
export function retryDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const step = Math.min(backoff.maxMs, backoff.baseMs * 2 ** exponent);
  // Half fixed, half random: spreads a thundering herd without ever retrying immediately.
  return Math.round(step / 2 + (step / 2) * random());
}
