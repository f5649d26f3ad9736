/**
 * `kairos runs show ID` for a person: the run as `key: value` lines, then each attempt with its
 * error (SQLSTATE, DETAIL, HINT, CONTEXT) and a shell job's output tails, rather than one JSON
 * blob (`--json` still gives the API's `{ live, last }`).
 */
import type { HistoryEntry, Run } from '../core/types.js';
import { valueText } from './output.js';

/** A shell job's output (the executor's result): the tails of stdout and stderr, and the exit code. */
interface ShellTails { stdout: string; stderr: string; exitCode?: number | null }

/** The output when it is a shell job's tails, else undefined. */
export function shellTails(output: unknown): ShellTails | undefined {
  const o = output as Partial<ShellTails> | null;
  return o && typeof o === 'object' && typeof o.stdout === 'string' && typeof o.stderr === 'string' ? (o as ShellTails) : undefined;
}

/** Print `key: value` lines, aligned, skipping empty values; `indent` before each. */
function lines(pairs: Array<[string, unknown]>, indent = ''): void {
  const shown = pairs.filter(([, v]) => v !== null && v !== undefined && v !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  for (const [key, value] of shown) console.log(`${indent}${`${key}:`.padEnd(width + 1)} ${valueText(value)}`);
}

/** A tail of output, indented, or nothing when empty. */
function tail(label: string, text: string): void {
  if (text.trim() === '') return;
  console.log(`    ${label}:`);
  for (const line of text.replace(/\n$/, '').split('\n')) console.log(`      ${line}`);
}

/** Print a run: live state (when queued or running) and its attempts, oldest first. */
export function printRunRecord(live: Run | null, attempts: HistoryEntry[]): void {
  const first = attempts[0];
  const job = live?.jobName ?? live?.task ?? first?.jobName ?? first?.task;
  lines([
    ['run', live?.id ?? first?.runId], ['job', job], ['status', live?.status ?? first?.status], ['queue', live?.queue ?? first?.queue],
    ['due', live?.runAt], ['started', live?.startedAt], ['node', live?.nodeId], ['attempt', live?.attempt], ['retries', live?.retries],
    ['last error', live?.lastError],
  ]);
  if (attempts.length === 0) return;
  console.log('');
  console.log('attempts:');
  for (const a of [...attempts].reverse()) {
    console.log(`  attempt ${a.attempt}: ${a.status}`);
    const tails = shellTails(a.output);
    lines([
      ['started', a.startedAt], ['finished', a.finishedAt], ['duration', a.durationMs === null ? null : `${Math.round(a.durationMs)} ms`], ['node', a.nodeId],
      ['error', a.status === 'completed' ? null : a.message], ['sqlstate', a.sqlstate === '00000' ? null : a.sqlstate], ['detail', a.detail], ['hint', a.hint], ['context', a.context],
      ['exit code', tails?.exitCode], ['output', tails || a.output === null ? null : a.output],
    ], '    ');
    if (tails) {
      tail('stdout', tails.stdout);
      tail('stderr', tails.stderr);
    }
  }
}
