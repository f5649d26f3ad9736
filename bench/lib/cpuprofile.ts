/**
 * Reading a V8 .cpuprofile (node --cpu-prof): self time per function and per area (Kairos engine,
 * pg driver, logger, node internals, GC), optionally restricted to a time window given in
 * CLOCK_MONOTONIC ms (V8's profile timestamps are CLOCK_MONOTONIC microseconds on Linux).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function or area, ms and share of the window. */
export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

/** Which part of the process a frame belongs to. */
export function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle (waiting for I/O)';
  if (fn === '(program)') return 'V8/native (program)';
  if (url.includes('node_modules/pg-protocol') || url.includes('node_modules/pg/') || url.includes('node_modules/pg-pool') || url.includes('node_modules/pg-types')) return 'pg driver';
  if (url.includes('node_modules/pino') || url.includes('node_modules/sonic-boom')) return 'pino logger';
  if (url.includes('/src/engine/')) return 'Kairos engine';
  if (url.includes('/src/')) return 'Kairos other';
  if (url.includes('/bench/')) return 'benchmark handler';
  if (url.includes('node_modules/')) return `other packages (${url.split('node_modules/')[1]?.split('/')[0] ?? '?'})`;
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other';
}

/** Self time by function and by area within [fromMs, toMs] (monotonic), largest first. */
export function summariseProfile(file: string, fromMs = -Infinity, toMs = Infinity): { total: number; functions: SelfTime[]; areas: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t / 1000 < fromMs || t / 1000 > toMs) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|src|bench)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    const ms = delta / 1000;
    fns.set(key, (fns.get(key) ?? 0) + ms);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    total += ms;
  }
  const sorted = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()].map(([name, ms]) => ({ name, ms, share: total ? ms / total : 0 })).sort((a, b) => b.ms - a.ms);
  return { total, functions: sorted(fns), areas: sorted(areas) };
}
