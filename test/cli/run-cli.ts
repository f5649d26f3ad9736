/** Run the CLI from source in a child process, with a bound on how long it may take. */
import { spawn } from 'node:child_process';

export interface Result { code: number | null; stdout: string; stderr: string }

export function kairos(args: string[], options: { env?: Record<string, string | undefined>; signalAfter?: { texts: string[]; signal: NodeJS.Signals } } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (options.signalAfter && !signalled && options.signalAfter.texts.every((t) => stdout.includes(t))) {
        signalled = true;
        child.kill(options.signalAfter.signal);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`kairos ${args.join(' ')} did not finish: ${stdout}\n${stderr}`)); }, 60_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

