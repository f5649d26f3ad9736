/**
 * The logger interface Kairos writes to: pino's, so a pino logger can be passed as it is.
 */
import { pino } from 'pino';

/** The subset of pino's API Kairos uses. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** The default logger: JSON lines on stderr at level KAIROS_LOG_LEVEL (default `warn`). */
export function defaultLogger(): Logger {
  return pino({ name: 'kairos', level: process.env.KAIROS_LOG_LEVEL ?? 'warn' }, pino.destination(2));
}

/** A logger that drops everything (tests, embedded use). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
