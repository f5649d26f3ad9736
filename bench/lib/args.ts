/**
 * Command-line flags of `npm run bench -- …` (or `npx tsx bench/run.ts …`).
 */
import { COLUMNS, type ColumnName } from './types.js';

/** Parsed flags. */
export interface BenchArgs {
  quick: boolean;
  /** Workload names to run (null: all). */
  only: string[] | null;
  /** Systems (and pg_cron, which only the cron workload measures). */
  systems: ColumnName[];
  repeat: number;
  concurrency: number;
  batch: number;
  help: boolean;
}

/** Usage text. */
export const USAGE = `Usage: npm run bench -- [options]   (or: npx tsx bench/run.ts [options])

  --quick                   small sizes, one repetition (about 70 s; a few workloads: under one)
  --only <w1,w2,...>        workloads: drain, enqueue, latency, mixed, cron, scale, idle, memory
  --systems <s1,s2,...>     kairos, graphile, pgboss, pgcron (default: all; pgcron: cron workload only,
                            full mode, needs the postgresql-<major>-cron package)
  --repeat <n>              repetitions (default 3, quick 1)
  --concurrency <n>         handlers at once, every system (default 50)
  --batch <n>               jobs one fetch may lock (default 500)

Uses DATABASE_URL when set, else an embedded PostgreSQL in .kairos/bench-pg (removed after).`;

function list(value: string | undefined, flag: string): string[] {
  if (!value || value.startsWith('--')) throw new Error(`${flag} needs a comma-separated list`);
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function positive(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${value ?? 'nothing'}`);
  return n;
}

/** Parse argv (without node and the script). Throws on unknown flags or bad values. */
export function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { quick: false, only: null, systems: [...COLUMNS], repeat: 0, concurrency: 50, batch: 500, help: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (name) {
      case '--quick':
        args.quick = true;
        break;
      case '--only':
        args.only = list(value(), name);
        break;
      case '--systems': {
        // pg_cron is also accepted under its own spelling.
        const names = list(value(), name).map((s) => (s === 'pg_cron' ? 'pgcron' : s));
        const unknown = names.filter((s) => !COLUMNS.includes(s as ColumnName));
        if (unknown.length > 0) throw new Error(`unknown system(s) ${unknown.join(', ')}; expected ${COLUMNS.join(', ')}`);
        args.systems = COLUMNS.filter((s) => names.includes(s));
        break;
      }
      case '--repeat':
        args.repeat = positive(value(), name);
        break;
      case '--concurrency':
        args.concurrency = positive(value(), name);
        break;
      case '--batch':
        args.batch = positive(value(), name);
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (args.repeat === 0) args.repeat = args.quick ? 1 : 3;
  return args;
}
