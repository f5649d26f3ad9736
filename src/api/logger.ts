/**
 * The logger a `Kairos` writes to when its options name none: pino, constructed here rather than
 * in core (which does no I/O). The interface is core's `Logger`.
 */
import { pino } from 'pino';
import type { Logger } from '../core/logger.js';

/** The default logger: JSON lines on stderr at level KAIROS_LOG_LEVEL (default `warn`). */
export function defaultLogger(): Logger {
  return pino({ name: 'kairos', level: process.env.KAIROS_LOG_LEVEL ?? 'warn' }, pino.destination(2));
}
