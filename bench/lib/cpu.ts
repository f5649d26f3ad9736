/**
 * CPU time from /proc: of one process (a worker child) and of a PostgreSQL server (its postmaster
 * and every backend, found by parent pid). Linux only; other systems get NaN.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** [ppid, own user+system ms, waited-for children's user+system ms] of a process, or undefined when it is gone. */
function stat(pid: number): [number, number, number] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // after "pid (comm) ": state ppid …; utime, stime, cutime, cstime are fields 14–17 overall (index 11–14 here)
    const ms = (a: number, b: number): number => ((Number(fields[a]) + Number(fields[b])) * 1000) / clockTicks();
    return [Number(fields[1]), ms(11, 12), ms(13, 14)];
  } catch {
    return undefined;
  }
}

/** User + system CPU ms of one process (NaN when unreadable). */
export function processCpuMs(pid: number): number {
  return stat(pid)?.[1] ?? NaN;
}

/**
 * User + system CPU ms of a PostgreSQL server: the postmaster, its children alive now, and those
 * that exited (the postmaster's cutime/cstime). NaN without a pid (external server).
 */
export function serverCpuMs(postmasterPid: number | undefined): number {
  const own = postmasterPid ? stat(postmasterPid) : undefined;
  if (!own) return NaN;
  let total = own[1] + own[2];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s && s[0] === postmasterPid) total += s[1] + s[2];
  }
  return total;
}
