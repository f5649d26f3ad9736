/**
 * The agent's logger: pino JSON lines, or one readable line per record on a terminal.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../core/logger.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** Turn a pino JSON line into `HH:MM:SS.mmm LEVEL message key=value …`. */
export function prettyLine(line: string): string {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    const time = new Date(Number(record.time)).toISOString().slice(11, 23);
    const extra = Object.entries(record)
      .filter(([k]) => !HIDDEN.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    return `${time} ${(LEVELS[Number(record.level)] ?? 'LOG').padEnd(5)} ${String(record.msg ?? '')}${extra ? `  ${extra}` : ''}`;
  } catch {
    return line;
  }
}

/** A logger at `level`, JSON or pretty (`auto`: pretty when stderr is a terminal). */
export function agentLogger(level: string, format: 'json' | 'pretty' | 'auto'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY);
  if (!pretty) return pino({ name: 'kairos', level }, pino.destination(2));
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) process.stderr.write(`${prettyLine(line)}\n`);
      done();
    },
  });
  return pino({ name: 'kairos', level }, out);
}
