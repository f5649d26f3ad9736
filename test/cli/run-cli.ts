/** Run the CLI from source in a child process, with bounds on how long anything may take. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Result { code: number | null; stdout: string; stderr: string }

/** A running CLI process. */
export interface Running {
  child: ChildProcess;
  /** Everything printed so far (stdout then stderr). */
  output(): string;
  /** Resolves once `text` has been printed (rejects after `timeoutMs`). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when the process exits. */
  exited: Promise<Result>;
}

/** Start the CLI and return at once. */
export function startCli(args: string[], env: Record<string, string | undefined> = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  const changed = (): void => waiters.splice(0).forEach((w) => w());
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); changed(); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); changed(); });
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const exited = new Promise<Result>((resolve) => child.on('close', (code) => { clearTimeout(killer); changed(); resolve({ code, stdout, stderr }); }));
  const output = (): string => stdout + stderr;
  const waitFor = (text: string | RegExp, timeoutMs = 30_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`"${String(text)}" not printed within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
      const check = (): void => {
        if (typeof text === 'string' ? output().includes(text) : text.test(output())) {
          clearTimeout(timer);
          resolve();
        } else if (child.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`exited before printing "${String(text)}":\n${output()}`));
        } else waiters.push(check);
      };
      check();
    });
  return { child, output, waitFor, exited };
}

/** Run the CLI to completion; with `signalAfter`, send a signal once all the texts are printed. */
export async function kairos(args: string[], options: { env?: Record<string, string | undefined>; signalAfter?: { texts: string[]; signal: NodeJS.Signals } } = {}): Promise<Result> {
  const running = startCli(args, options.env);
  if (options.signalAfter) {
    for (const text of options.signalAfter.texts) await running.waitFor(text, 60_000);
    running.child.kill(options.signalAfter.signal);
  }
  return running.exited;
}
