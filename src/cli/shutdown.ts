/**
 * Every way a CLI process can be told to end, routed to one stop function, then exit. For the
 * commands that own an embedded PostgreSQL (`kairos demo`, `kairos start` without a database): the
 * server runs in its own process group (so Ctrl-C reaches Kairos first), which also means that
 * nothing stops it when this process dies. So this process must not die without stopping it:
 *
 * - SIGINT (Ctrl-C), SIGTERM, SIGHUP (the terminal was closed);
 * - an error on stdout or stderr, such as EPIPE when the output is piped to `head` that has exited
 *   (without a listener, Node throws it as an uncaught exception);
 * - an uncaught exception or an unhandled rejection.
 *
 * Each runs `stop` once (a second signal while stopping is ignored: the server stop is quick and
 * bounded), then exits: 0 after a signal or closed output, 1 after an error.
 */

/** How the process was told to end, for `stop`'s first line. */
export type ShutdownReason = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'output closed' | 'uncaught error';

/** Installed hooks; `dispose()` removes them (for a command that ends on its own). */
export interface ShutdownHooks {
  /** Stop (once) and exit with `code`. */
  shutdown(reason: ShutdownReason, code: number): Promise<void>;
  dispose(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Route the signals, closed output and uncaught errors to `stop`, then exit (see the file's comment). */
export function exitOnShutdown(stop: (reason: ShutdownReason) => Promise<void>, onStopError: (error: unknown) => void): ShutdownHooks {
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: ShutdownReason, code: number): Promise<void> =>
    (stopping ??= stop(reason)
      .catch((error: unknown) => {
        onStopError(error);
        code = 1;
      })
      .finally(() => process.exit(code)));
  const onSignal = (signal: NodeJS.Signals): void => void shutdown(signal as ShutdownReason, 0);
  // Any error on the output means nobody reads it any more: stop quietly (writing about it would fail too).
  const onOutputError = (): void => void shutdown('output closed', 0);
  const onError = (error: unknown): void => {
    try {
      process.stderr.write(`kairos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    } catch {
      // stderr is gone too: stopping matters more than saying why
    }
    void shutdown('uncaught error', 1);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    shutdown,
    dispose() {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      process.stdout.off('error', onOutputError);
      process.stderr.off('error', onOutputError);
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}
