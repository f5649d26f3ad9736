/**
 * Time. Due times always come from the database clock; a Clock only lets tests pin "now".
 * Queries take `coalesce($now, now())`: the real clock passes null, a test clock a fixed time.
 */

/** Source of "now" for the database queries. */
export interface Clock {
  /** A fixed time to use instead of the database's `now()`, or null to use the database clock. */
  now(): Date | null;
}

/** The production clock: always the database's. */
export const databaseClock: Clock = { now: () => null };

/** A clock for tests: stands still until moved. */
export class TestClock implements Clock {
  private current: Date;

  constructor(start: Date | string) {
    this.current = new Date(start);
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Set the time. */
  set(time: Date | string): void {
    this.current = new Date(time);
  }

  /** Move the time forward by `ms`. */
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}
