/**
 * Sizes of the fault-injection scenarios: the short form runs inside `npm test` (seconds per
 * scenario, 100 000 jobs), the long form in `npm run chaos` (minutes, 1 000 000 jobs).
 */

/** Parameters of every scenario. */
export interface ChaosParams {
  randomKills: { nodes: number; count: number; sql: number; seconds: number; killEveryMs: number; downMs: number };
  databaseFaults: { nodes: number; count: number; sql: number; seconds: number; retries: number };
  clockSkew: { seconds: number; schedules: number; skewMs: number };
  longShutdown: { short: number; long: number; shutdownTimeoutMs: number };
  backPressure: { jobs: number; concurrency: number };
  handoffKills: { nodes: number; seconds: number; everyMs: number; ms: number; killEveryMs: number; downMs: number };
}

/** `npm test`: small and quick, the same faults. */
export const SHORT: ChaosParams = {
  randomKills: { nodes: 3, count: 50, sql: 5, seconds: 10, killEveryMs: 2500, downMs: 800 },
  // No retries: a SQL job cut off mid-statement must be handed back, not failed.
  databaseFaults: { nodes: 2, count: 20, sql: 5, seconds: 9, retries: 0 },
  clockSkew: { seconds: 5, schedules: 5, skewMs: 5 * 60_000 },
  longShutdown: { short: 3, long: 3, shutdownTimeoutMs: 2000 },
  backPressure: { jobs: 100_000, concurrency: 100 },
  handoffKills: { nodes: 3, seconds: 8, everyMs: 20, ms: 100, killEveryMs: 2000, downMs: 600 },
};

/** `npm run chaos`: several minutes of random kills and a million jobs; `minutes` stretches scenarios 2 and 3. */
export function long(minutes = 3, jobs = 1_000_000): ChaosParams {
  const seconds = Math.max(10, Math.round(minutes * 60));
  return {
    randomKills: { nodes: 3, count: 50, sql: 5, seconds, killEveryMs: 5000, downMs: 1500 },
    databaseFaults: { nodes: 3, count: 50, sql: 10, seconds: Math.max(15, Math.round(seconds / 3)), retries: 0 },
    clockSkew: { seconds: 30, schedules: 20, skewMs: 10 * 60_000 },
    longShutdown: { short: 20, long: 20, shutdownTimeoutMs: 5000 },
    backPressure: { jobs, concurrency: 100 },
    handoffKills: { nodes: 3, seconds: Math.max(15, Math.round(seconds / 3)), everyMs: 20, ms: 100, killEveryMs: 3000, downMs: 1000 },
  };
}
