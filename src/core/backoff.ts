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

/** Attempts {@link retryWithBackoff} makes before it gives up. */
const RETRY_ATTEMPTS = 12;

/**
 * Run `write` until it succeeds, waiting 400 ms, 800 ms … (at most 10 s) after each failure, 12
 * attempts in all: about a minute, long enough to ride out a database restart, so a result or a
 * hand-back is not lost to a blip. `onRetry` hears each failure that will be retried; after the
 * last attempt the promise rejects with its error.
 */
export async function retryWithBackoff<T>(write: () => Promise<T>, onRetry?: (error: unknown, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt >= RETRY_ATTEMPTS) throw error;
      onRetry?.(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 10_000)));
    }
  }
}
