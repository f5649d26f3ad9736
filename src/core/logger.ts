/**
 * The logger interface Kairos writes to: pino's, so a pino logger can be passed as it is.
 * No logger is constructed here (core does no I/O): the default pino logger is made by the API
 * (src/api/logger.ts), the agent's by the CLI (src/cli/logger.ts).
 */

/** The subset of pino's API Kairos uses. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything (tests, embedded use). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
